//! One PostgreSQL connection with the statements prepared on it, and the store's values as the
//! driver's.

use crate::store::sql::Param;
use crate::store::{SortValue, StoreError};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;

/// A connection and the statements prepared on it.
pub struct Conn {
    pub client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    pub fn statement(&mut self, text: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(text) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(text)?;
        if self.statements.len() > 512 {
            self.statements.clear();
        }
        self.statements.insert(text.to_string(), s.clone());
        Ok(s)
    }
}

pub fn connect(config: &postgres::Config) -> Result<Conn, StoreError> {
    let client = config
        .connect(NoTls)
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(Conn {
        client,
        statements: HashMap::new(),
    })
}

pub fn boxed(params: &[Param]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                Param::Bool(b) => Box::new(*b),
                Param::Int(n) => Box::new(*n),
                Param::Real(r) => Box::new(*r),
                Param::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

pub fn refs(params: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref()).collect()
}

/// A sort-key column's value, whatever its SQL type.
pub fn sort_value(row: &postgres::Row, i: usize) -> SortValue {
    if let Ok(v) = row.try_get::<_, Option<i64>>(i) {
        return v.map_or(SortValue::Null, SortValue::Int);
    }
    if let Ok(v) = row.try_get::<_, Option<String>>(i) {
        return v.map_or(SortValue::Null, SortValue::Text);
    }
    if let Ok(v) = row.try_get::<_, Option<bool>>(i) {
        return v.map_or(SortValue::Null, SortValue::Bool);
    }
    if let Ok(v) = row.try_get::<_, Option<f64>>(i) {
        return v.map_or(SortValue::Null, SortValue::Real);
    }
    SortValue::Null
}

//! Parsed query options + the model → a bound query: every property resolved and typed, every
//! literal checked against what it is compared with. Only a `BoundQuery` reaches the store.
//!
//! `types` is what a bound query is made of; `options` binds `$select` and `$expand`; `resolve`
//! walks a member path through the model; `operand` and `condition` bind `$filter` and
//! `$orderby` expressions.

mod condition;
mod operand;
mod options;
mod resolve;
#[cfg(test)]
mod tests;
mod types;

pub use operand::type_of;
pub use types::*;

use super::QueryOptions;
use crate::edm::{Model, StructuredType, Version};
use crate::ODataError;

fn bad(message: impl Into<String>) -> ODataError {
    ODataError::bad_request(message)
}

/// Binds parsed options for a collection (or entity) of `ty`.
pub fn bind<'m>(
    model: &'m Model,
    version: Version,
    ty: &'m StructuredType,
    q: &QueryOptions,
) -> Result<BoundQuery<'m>, ODataError> {
    bind_counting(model, version, ty, q, &mut 0)
}

/// `bind`, adding the navigations it expands (at every level) to `expanded`.
fn bind_counting<'m>(
    model: &'m Model,
    version: Version,
    ty: &'m StructuredType,
    q: &QueryOptions,
    expanded: &mut usize,
) -> Result<BoundQuery<'m>, ODataError> {
    let mut binder = Binder {
        model,
        version,
        root: ty,
        vars: Vec::new(),
    };
    let filter = q.filter.as_ref().map(|e| binder.condition(e)).transpose()?;
    let orderby = q
        .orderby
        .iter()
        .map(|(e, desc)| {
            let operand = binder.operand(e)?;
            if matches!(operand, Operand::Literal(_)) {
                return Err(bad(format!("Invalid $orderby: '{e}' is not a property.")));
            }
            if let Some(name) = binder.followed_in(&operand) {
                // Its stored value may lag the entity it is read from (a filter asks that one).
                return Err(bad(format!(
                    "Invalid $orderby: '{name}' is read from another entity and cannot be sorted on."
                )));
            }
            Ok((operand, *desc))
        })
        .collect::<Result<_, _>>()?;
    let select = q
        .select
        .as_ref()
        .map(|items| binder.select(items))
        .transpose()?;
    let mut expand: Vec<BoundExpand<'m>> = Vec::new();
    for item in &q.expand {
        binder.expand(item, expanded, &mut expand)?;
    }
    Ok(BoundQuery {
        filter,
        orderby,
        select,
        expand,
        top: q.top,
        skip: q.skip,
        skiptoken: q.skiptoken.clone(),
        count: q.count,
    })
}

/// What a lambda variable stands for.
#[derive(Clone)]
enum Element<'m> {
    Scalar(Scalar, Vec<(String, i64)>),
    Complex(&'m StructuredType),
}

struct Binder<'m> {
    model: &'m Model,
    version: Version,
    root: &'m StructuredType,
    vars: Vec<(String, Element<'m>)>,
}

//! A device's check-in (complyd's own API, `POST /complyd/v1/devices/{id}/checkIn`): what it
//! reports (any `managedDevice` property, and the facts Graph has no property for) is stored and
//! the device evaluated, in one write.

use super::{results, DeviceInput, Engine, Verdict};
use crate::error::ApiError;
use crate::service::Service;
use compliance::rules::FactType;
use odata::validate::{Mode, Validator};
use odata::Version;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The most installed apps one check-in reports.
pub const MAX_INSTALLED_APPS: usize = 1_000;

/// A check-in, split and checked before the write.
#[derive(Debug, Clone, Default)]
pub struct CheckIn {
    /// `managedDevice` properties, validated as an update of the device.
    pub properties: Map<String, Value>,
    /// Reported facts beyond them (`crates/compliance/rules/facts.rules`).
    pub facts: Map<String, Value>,
}

impl CheckIn {
    pub fn parse(engine: &Engine, body: &Value) -> Result<Self, ApiError> {
        let object = body.as_object().ok_or_else(|| {
            ApiError::bad_request("A check-in is a JSON object of reported properties and facts.")
        })?;
        let device = engine
            .model
            .structured("microsoft.graph.managedDevice")
            .ok_or_else(|| ApiError::Internal("managedDevice is not in the model".into()))?;
        let mut properties = Map::new();
        let mut out = Self::default();
        for (name, value) in object {
            if name.starts_with('@') || name.contains("@odata.") {
                continue;
            }
            if name == "id" {
                return Err(ApiError::bad_request(
                    "A check-in names its device in the path, not with 'id'.",
                ));
            }
            if engine.model.property(device, name, Version::Beta).is_some() {
                properties.insert(name.clone(), value.clone());
            } else if let Some(fact) = engine.rules.fact(name) {
                out.facts
                    .insert(name.clone(), checked_fact(name, fact.ty, value)?);
            } else {
                return Err(ApiError::bad_request(format!(
                    "'{name}' is neither a managedDevice property nor a reported fact (crates/compliance/rules/facts.rules lists the facts)."
                )));
            }
        }
        let validated = Validator::new(engine.model, Version::Beta).entity(
            device,
            &Value::Object(properties),
            Mode::Update,
        )?;
        out.properties = validated.properties;
        Ok(out)
    }
}

fn checked_fact(name: &str, ty: FactType, value: &Value) -> Result<Value, ApiError> {
    let ok = match (ty, value) {
        (_, Value::Null) => true,
        (FactType::Boolean, Value::Bool(_)) => true,
        (FactType::Int, Value::Number(n)) => n.is_i64(),
        (FactType::String, Value::String(_)) => true,
        (FactType::List, Value::Array(items)) => {
            if items.len() > MAX_INSTALLED_APPS {
                return Err(ApiError::bad_request(format!(
                    "'{name}' lists more than {MAX_INSTALLED_APPS} items (the limit)."
                )));
            }
            items.iter().all(|i| i.is_string() || i.is_object())
        }
        _ => false,
    };
    if ok {
        Ok(value.clone())
    } else {
        let wanted = match ty {
            FactType::Boolean => "true or false",
            FactType::Int => "a whole number",
            FactType::String => "a string",
            FactType::List => "a list of app ids, names or {appId, name} objects",
        };
        Err(ApiError::bad_request(format!(
            "The reported fact '{name}' takes {wanted}, not {value}."
        )))
    }
}

impl Service {
    /// Stores what the device reported and evaluates it; answers its verdict.
    pub async fn check_in(
        &self,
        tenant: &str,
        device_id: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let engine = Arc::clone(&self.engine);
        let report = CheckIn::parse(&engine, body)?;
        self.warm_view(tenant);
        let (tenant, device_id) = (tenant.to_string(), device_id.to_string());
        let verdict: Verdict = self
            .store
            .write(move |tx| {
                Engine::hold_tenant(tx, &tenant)?;
                let now_ms = crate::service::time::now_ms(tx, &tenant)?;
                let now = now_ms / 1000;
                let mut input = DeviceInput::load(tx, &tenant, &device_id)?;
                let device = input.device_mut();
                device.extend(report.properties.clone());
                super::actions::complete_pending(device, &crate::service::time::text(now_ms));
                device.insert("lastSyncDateTime".into(), results::utc(now).into());
                let mut facts = input
                    .record
                    .get("facts")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                facts.extend(report.facts.clone());
                input.record.insert("facts".into(), Value::Object(facts));
                engine.evaluate_reported(tx, &tenant, &device_id, now, input)
            })
            .await?;
        Ok(verdict.to_json())
    }
}

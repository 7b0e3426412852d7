//! Secrets (`secret` properties, such as `passwordProfile.password`): never stored in the body
//! nor answered; the first one becomes the password of the token service's sign-in record,
//! named by the entity's alternate key (its user principal name). The record is written in the
//! same write as the entity and follows its renames, password changes and deletion.

use super::errors::bad_request;
use crate::error::ApiError;
use crate::identity::registry::{self, sign_in, User};
use crate::store::{StoreError, WriteTx};
use odata::edm::{Model, StructuredType, ValueType};
use serde_json::{Map, Value};

/// A secret taken out of a body: where it was, and its text.
pub type Secrets = Vec<(String, String)>;

/// Takes every secret out of `properties` (top-level ones, and members of complex values one
/// level down), leaving `null` in its place.
pub fn take_secrets(
    model: &Model,
    ty: &StructuredType,
    properties: &mut Map<String, Value>,
) -> Secrets {
    let mut out = Vec::new();
    for p in model.all_properties(ty) {
        let Some(value) = properties.get_mut(&p.name) else {
            continue;
        };
        if p.secret {
            if let Some(text) = value.as_str() {
                out.push((p.name.clone(), text.to_string()));
            }
            *value = Value::Null;
            continue;
        }
        let (ValueType::Complex(name), Some(object)) = (&p.ty.value, value.as_object_mut()) else {
            continue;
        };
        let Some(complex) = model.structured(name) else {
            continue;
        };
        for q in model
            .all_properties(complex)
            .into_iter()
            .filter(|q| q.secret)
        {
            if let Some(slot) = object.get_mut(&q.name) {
                if let Some(text) = slot.as_str() {
                    out.push((format!("{}.{}", p.name, q.name), text.to_string()));
                }
                *slot = Value::Null;
            }
        }
    }
    out
}

/// On create, a complex property that holds a secret must come with it: Entra's "A password
/// must be specified to create a new user." (msgraph-sdk-powershell#3307).
pub fn require_secret(
    model: &Model,
    ty: &StructuredType,
    properties: &Map<String, Value>,
    secrets: &Secrets,
) -> Result<(), ApiError> {
    for p in model.all_properties(ty) {
        let ValueType::Complex(name) = &p.ty.value else {
            continue;
        };
        let holds_secret = model
            .structured(name)
            .is_some_and(|c| model.all_properties(c).iter().any(|q| q.secret));
        let given = properties.get(&p.name).is_some_and(Value::is_object);
        let prefix = format!("{}.", p.name);
        if holds_secret && given && !secrets.iter().any(|(at, _)| at.starts_with(&prefix)) {
            return Err(bad_request(format!(
                "A password must be specified to create a new {}.",
                ty.short_name()
            )));
        }
    }
    Ok(())
}

/// The sign-in record of a new entity with a secret and an alternate key, if it has both.
pub fn new_sign_in(
    tenant: &str,
    id: &str,
    keys: &[(String, String)],
    secrets: &Secrets,
) -> Option<User> {
    let (_, username) = keys.first()?;
    let (_, password) = secrets.first()?;
    Some(User {
        id: id.to_string(),
        tenant: tenant.to_string(),
        username: username.clone(),
        password: registry::hash_secret(password),
        scopes: Vec::new(),
        created: crate::common::now_unix(),
    })
}

fn name_taken(keys: &[(String, String)]) -> ApiError {
    let prop = keys
        .first()
        .map_or("userPrincipalName", |(p, _)| p.as_str());
    bad_request(format!(
        "Another object with the same value for property {prop} already exists."
    ))
}

pub fn put(tx: &mut dyn WriteTx, user: &User, keys: &[(String, String)]) -> Result<(), ApiError> {
    match sign_in::put(tx, user) {
        Err(StoreError::Conflict) => Err(name_taken(keys)),
        other => Ok(other?),
    }
}

/// After an update: the record renamed to the entity's alternate key, its password replaced
/// when a new secret was given (a record is made for an entity that had none).
pub fn update(
    tx: &mut dyn WriteTx,
    model: &Model,
    ty: &StructuredType,
    id: &str,
    after: &Map<String, Value>,
    secrets: &Secrets,
) -> Result<(), ApiError> {
    let keys: Vec<(String, String)> = model
        .all_properties(ty)
        .into_iter()
        .filter(|p| p.alternate_key)
        .filter_map(|p| Some((p.name.clone(), after.get(&p.name)?.as_str()?.to_string())))
        .collect();
    let Some((_, username)) = keys.first() else {
        return Ok(());
    };
    let Some(old) = sign_in::get(tx, id)? else {
        return Ok(());
    };
    let mut new = old.clone();
    new.username = username.clone();
    if let Some((_, password)) = secrets.first() {
        new.password = registry::hash_secret(password);
    }
    match sign_in::replace(tx, &old, &new) {
        Err(StoreError::Conflict) => Err(name_taken(&keys)),
        other => Ok(other?),
    }
}

pub fn remove(tx: &mut dyn WriteTx, id: &str) -> Result<(), ApiError> {
    Ok(sign_in::remove(tx, id)?)
}

impl crate::service::Service {
    /// Creates a directory user that can sign in (`complyd user add`): the same checks and
    /// writes as `POST /users` with a password. Answers its id.
    pub async fn add_user(
        &self,
        tenant: &str,
        username: &str,
        password: &str,
    ) -> Result<String, ApiError> {
        let local = username.split('@').next().unwrap_or(username);
        let nickname: String = local
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let body = serde_json::json!({
            "accountEnabled": true,
            "displayName": local,
            "mailNickname": if nickname.is_empty() { "user".to_string() } else { nickname },
            "userPrincipalName": username,
            "passwordProfile": { "password": password, "forceChangePasswordNextSignIn": false },
        });
        let reply = self
            .run_as_client(tenant, crate::service::Operation::Post, "users", Some(body))
            .await?;
        match reply {
            crate::service::Reply::Entity { body, .. } => body.to_value()["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| ApiError::Internal("the new user has no id".into())),
            _ => Err(ApiError::Internal(
                "creating a user answered no entity".into(),
            )),
        }
    }

    /// Deletes a directory user (and so its sign-in record); false when there is none.
    pub async fn remove_user(&self, tenant: &str, id: &str) -> Result<bool, ApiError> {
        match self
            .run_as_client(
                tenant,
                crate::service::Operation::Delete,
                &format!("users/{id}"),
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => Ok(false),
            Err(e) => Err(e),
        }
    }
}

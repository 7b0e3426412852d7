//! A tenant's webhook (`/complyd/v1/webhook`): its URL and signing secret, one row in the tenant's
//! partition, and the list of its deliveries.

use super::queue::Target;
use super::{Kind, DELIVERIES_PAGE_LIMIT};
use crate::error::ApiError;
use crate::service::{parse_body, Service};
use crate::store::{CountBy, Key, Query, StoreError, WriteTx};
use serde_json::{json, Map, Value};

const WEBHOOK: &str = "_webhook";
const CONFIG_ID: &str = "config";
const CONFIG_TYPE: &str = "complyd.webhook";
/// The longest webhook URL.
pub const MAX_URL: usize = 2048;
/// A signing secret's length, in characters.
pub const SECRET_LENGTH: std::ops::RangeInclusive<usize> = 16..=256;

pub fn config_key(tenant: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: WEBHOOK.into(),
        parent: String::new(),
        id: CONFIG_ID.into(),
    }
}

/// The tenant's webhook, as this write sees it.
pub fn read(tx: &mut dyn WriteTx, tenant: &str) -> Result<Option<Target>, StoreError> {
    let Some(row) = tx.get(&config_key(tenant))? else {
        return Ok(None);
    };
    let body = parse_body(&row.body).unwrap_or_default();
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    Ok(text("url").map(|url| Target {
        url,
        secret: text("secret"),
    }))
}

/// A `PUT` body checked: `url` (http or https, at most [`MAX_URL`]) and an optional `secret`.
fn validate(body: &Value) -> Result<(String, Option<String>), ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("A webhook is a JSON object with url and secret."))?;
    if let Some(other) = object
        .keys()
        .find(|k| !["url", "secret"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "A webhook takes url and secret only, not '{other}'."
        )));
    }
    let url = match object.get("url") {
        Some(Value::String(url)) => url.clone(),
        None | Some(Value::Null) => return Err(ApiError::bad_request("A webhook needs a url.")),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'url' takes a string, not {other}."
            )))
        }
    };
    check_url(&url)?;
    let secret = match object.get("secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(secret)) => {
            let length = secret.chars().count();
            if !SECRET_LENGTH.contains(&length) {
                return Err(ApiError::bad_request(format!(
                    "'secret' is {} to {} characters (the limits), not {length}.",
                    SECRET_LENGTH.start(),
                    SECRET_LENGTH.end()
                )));
            }
            if secret.chars().any(char::is_control) {
                return Err(ApiError::bad_request(
                    "'secret' cannot contain control characters.",
                ));
            }
            Some(secret.clone())
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'secret' takes a string, not {other}."
            )))
        }
    };
    Ok((url, secret))
}

fn check_url(url: &str) -> Result<(), ApiError> {
    if url.len() > MAX_URL {
        return Err(ApiError::bad_request(format!(
            "'url' is at most {MAX_URL} characters (the limit)."
        )));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        ApiError::bad_request(format!("'url' is not an absolute URL ({e}): '{url}'."))
    })?;
    if !["http", "https"].contains(&parsed.scheme()) {
        return Err(ApiError::bad_request(format!(
            "'url' must be http or https, not {}.",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request("'url' needs a host."));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::bad_request(
            "'url' cannot carry credentials (they would be shown); the secret signs deliveries.",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(ApiError::bad_request("'url' cannot have a fragment (#…)."));
    }
    Ok(())
}

impl Service {
    /// `GET /complyd/v1/webhook`: the URL, whether a secret is set (never the secret), and how
    /// many of the tenant's webhook deliveries are pending, delivered and failed.
    pub async fn webhook(&self, tenant: &str) -> Result<Value, ApiError> {
        let config = match self.store.get(&config_key(tenant)).await? {
            Some(row) => parse_body(&row.body)?,
            None => Map::new(),
        };
        let counts = self
            .store
            .count_by(CountBy {
                tenant,
                collection: Kind::Webhook.collection(),
                parent: Some(""),
                property: "state",
            })
            .await?;
        let count = |state: &str| {
            counts
                .iter()
                .find(|(value, _)| value == state)
                .map_or(0, |(_, n)| *n)
        };
        Ok(json!({
            "configured": config.contains_key("url"),
            "url": config.get("url"),
            "secretSet": config.get("secret").is_some_and(Value::is_string),
            "modifiedDateTime": config.get("modifiedDateTime"),
            "deliveries": {
                "pending": count("pending"),
                "delivered": count("delivered"),
                "failed": count("failed"),
            },
        }))
    }

    /// `PUT /complyd/v1/webhook`: sets the tenant's webhook; answers it as `GET` does.
    pub async fn put_webhook(&self, tenant: &str, body: &Value) -> Result<Value, ApiError> {
        let (url, secret) = validate(body)?;
        let key = config_key(tenant);
        let tenant_id = tenant.to_string();
        self.store
            .write(move |tx| {
                let modified = crate::service::time::now_text(tx, &tenant_id)?;
                let stored = json!({ "url": url, "secret": secret, "modifiedDateTime": modified })
                    .to_string();
                if !tx.update(&key, &stored)? {
                    tx.insert(&key, CONFIG_TYPE, &stored)?;
                }
                Ok::<_, ApiError>(())
            })
            .await?;
        self.webhook(tenant).await
    }

    /// `DELETE /complyd/v1/webhook`: no more deliveries are queued; pending ones fail when their
    /// turn comes. Nothing configured is no error.
    pub async fn delete_webhook(&self, tenant: &str) -> Result<(), ApiError> {
        let key = config_key(tenant);
        self.store
            .write(move |tx| Ok::<_, ApiError>(tx.delete_tree(&key).map(|_| ())?))
            .await
    }

    /// The tenant's deliveries of `kind`, oldest first: at most `top` after the first `skip`.
    pub async fn deliveries(
        &self,
        tenant: &str,
        kind: Kind,
        skip: usize,
        top: usize,
    ) -> Result<Vec<Value>, ApiError> {
        let mut query = Query::all(tenant, kind.collection(), "");
        query.skip = skip;
        query.limit = top.min(DELIVERIES_PAGE_LIMIT);
        let rows = self.store.query(query).await?;
        rows.iter()
            .map(|(row, _)| {
                let body = parse_body(&row.body)?;
                let mut shown = Map::new();
                shown.insert("id".into(), Value::String(row.key.id.clone()));
                shown.insert("kind".into(), json!(kind.as_str()));
                shown.extend(body);
                Ok(Value::Object(shown))
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_body_is_checked_and_its_errors_named() {
        let good = json!({"url": "https://hooks.example/in", "secret": "0123456789abcdef"});
        assert_eq!(
            validate(&good).unwrap(),
            (
                "https://hooks.example/in".into(),
                Some("0123456789abcdef".into())
            )
        );
        assert_eq!(validate(&json!({"url": "http://h/"})).unwrap().1, None);
        let long = format!("https://h/{}", "a".repeat(MAX_URL));
        let cases = [
            (json!([]), "JSON object"),
            (json!({}), "needs a url"),
            (json!({"url": 3}), "takes a string"),
            (json!({"url": "ftp://h/x"}), "http or https"),
            (json!({"url": "/relative"}), "not an absolute URL"),
            (json!({"url": long}), "at most 2048"),
            (json!({"url": "https://u:p@h/"}), "credentials"),
            (json!({"url": "https://h/#x"}), "fragment"),
            (json!({"url": "https://h/", "secret": "short"}), "16 to 256"),
            (
                json!({"url": "https://h/", "secret": "x".repeat(257)}),
                "16 to 256",
            ),
            (json!({"url": "https://h/", "secret": 7}), "takes a string"),
            (
                json!({"url": "https://h/", "secret": "0123456789abcde\n"}),
                "control",
            ),
            (json!({"url": "https://h/", "events": []}), "not 'events'"),
        ];
        for (body, words) in cases {
            let message = validate(&body).unwrap_err().message();
            assert!(message.contains(words), "{body}: {message}");
        }
    }
}

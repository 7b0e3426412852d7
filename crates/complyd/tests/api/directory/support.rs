//! Bodies and clients for the directory's tests.

use crate::support::{Client, Server, TENANT, WRITE};
use complyd::auth::TokenRequest;
use serde_json::{json, Value};

pub const DIRECTORY_WRITE: &str = "Directory.ReadWrite.All";

/// A delegated caller that may read and write the directory and the policies.
pub fn admin(server: &Server) -> Client {
    server.client_with(TokenRequest::delegated(TENANT, &[DIRECTORY_WRITE, WRITE]))
}

pub fn user(name: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": name,
        "mailNickname": name.replace(' ', ""),
        "userPrincipalName": format!("{}@contoso.test", name.replace(' ', ".").to_lowercase()),
        "passwordProfile": { "forceChangePasswordNextSignIn": false, "password": "Pa55word!" }
    })
}

pub fn group(name: &str) -> Value {
    json!({
        "displayName": name,
        "mailEnabled": false,
        "mailNickname": name.replace(' ', ""),
        "securityEnabled": true
    })
}

pub fn dynamic_group(name: &str, rule: &str) -> Value {
    let mut body = group(name);
    body["groupTypes"] = json!(["DynamicMembership"]);
    body["membershipRule"] = json!(rule);
    body["membershipRuleProcessingState"] = json!("On");
    body
}

pub fn device(name: &str, os: &str, version: &str) -> Value {
    json!({
        "accountEnabled": true,
        "alternativeSecurityIds": [{ "type": 2, "identityProvider": null, "key": "eA==" }],
        "deviceId": uuid::Uuid::new_v4().to_string(),
        "displayName": name,
        "operatingSystem": os,
        "operatingSystemVersion": version
    })
}

/// `{"@odata.id": …/directoryObjects/{id}}` as the SDKs send it.
pub fn reference(id: &str) -> Value {
    json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}") })
}

pub async fn create(client: &Client, version: &str, path: &str, body: &Value) -> String {
    client.post(version, path, body).await.expect(201).id()
}

pub async fn add_member(client: &Client, group: &str, member: &str) {
    client
        .post(
            "v1.0",
            &format!("groups/{group}/members/$ref"),
            &reference(member),
        )
        .await
        .expect(204);
}

/// The ids of a collection, sorted.
pub async fn sorted_ids(client: &Client, version: &str, path: &str) -> Vec<String> {
    let mut ids = client.ids(version, path).await;
    ids.sort();
    ids
}

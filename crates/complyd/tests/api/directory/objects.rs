//! Users, groups and devices: create, read, list, update, delete, with Entra's rules and errors.

use super::support::*;
use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn users_are_created_read_listed_updated_and_deleted() {
    let server = Server::start().await;
    let c = admin(&server);
    let created = c
        .post("v1.0", "users", &user("Ada Lovelace"))
        .await
        .expect(201);
    let body = created.json();
    let id = created.id();
    assert_eq!(body["@odata.type"], "#microsoft.graph.user");
    assert_eq!(body["userPrincipalName"], "ada.lovelace@contoso.test");
    assert!(
        body.get("passwordProfile").is_none(),
        "not in v1.0's default set: {body}"
    );
    let read = c
        .get("v1.0", &format!("users/{id}"))
        .await
        .expect(200)
        .json();
    let mut keys: Vec<&str> = read
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "@odata.context",
            "@odata.type",
            "businessPhones",
            "displayName",
            "givenName",
            "id",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName"
        ]
    );
    let beta = c
        .get("beta", &format!("users/{id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        beta["mailNickname"], "AdaLovelace",
        "beta answers every property"
    );
    assert_eq!(
        beta["passwordProfile"]["password"],
        json!(null),
        "the password is never shown"
    );
    let by_upn = c
        .get("v1.0", "users/ada.lovelace@contoso.test")
        .await
        .expect(200);
    assert_eq!(by_upn.id(), id);
    let by_upn_case = c
        .get("v1.0", "users/ADA.Lovelace@Contoso.test")
        .await
        .expect(200);
    assert_eq!(by_upn_case.id(), id);
    c.patch(
        "v1.0",
        &format!("users/{id}"),
        &json!({"jobTitle": "Analyst"}),
    )
    .await
    .expect(204);
    let selected = c
        .get("v1.0", &format!("users/{id}?$select=jobTitle,department"))
        .await
        .expect(200)
        .json();
    assert_eq!(selected["jobTitle"], "Analyst");
    assert!(selected.get("department").is_some() && selected.get("displayName").is_none());
    assert_eq!(c.ids("v1.0", "users").await, vec![id.clone()]);
    c.delete("v1.0", &format!("users/{id}")).await.expect(204);
    c.get("v1.0", &format!("users/{id}"))
        .await
        .expect_error(404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn groups_and_devices_are_views_of_the_directory() {
    let server = Server::start().await;
    let c = admin(&server);
    let g = create(&c, "v1.0", "groups", &group("Sales")).await;
    let d = create(
        &c,
        "v1.0",
        "devices",
        &device("PC-1", "Windows", "10.0.19045"),
    )
    .await;
    let u = create(&c, "v1.0", "users", &user("Bob")).await;
    assert_eq!(c.ids("v1.0", "groups").await, vec![g.clone()]);
    assert_eq!(c.ids("v1.0", "devices").await, vec![d.clone()]);
    let mut all = c.ids("v1.0", "directoryObjects").await;
    all.sort();
    let mut expected = vec![g.clone(), d.clone(), u.clone()];
    expected.sort();
    assert_eq!(all, expected);
    let as_object = c
        .get("v1.0", &format!("directoryObjects/{g}"))
        .await
        .expect(200)
        .json();
    assert_eq!(as_object["@odata.type"], "#microsoft.graph.group");
    c.get("v1.0", &format!("users/{g}"))
        .await
        .expect_error(404, "Request_ResourceNotFound");
    c.post("v1.0", "directoryObjects", &json!({"displayName": "x"}))
        .await
        .expect_error(400, "Request_BadRequest");
}

#[tokio::test]
async fn required_properties_and_unique_names_are_entras_rules() {
    let server = Server::start().await;
    let c = admin(&server);
    let mut body = user("Cy");
    body.as_object_mut().unwrap().remove("mailNickname");
    let resp = c
        .post("v1.0", "users", &body)
        .await
        .expect_error(400, "Request_BadRequest");
    assert_eq!(
        resp.error_message(),
        "Property mailNickname value is required but is empty or missing."
    );
    c.post("v1.0", "users", &user("Cy")).await.expect(201);
    let resp = c
        .post("v1.0", "users", &user("Cy"))
        .await
        .expect_error(400, "Request_BadRequest");
    assert_eq!(
        resp.error_message(),
        "Another object with the same value for property userPrincipalName already exists."
    );
    let mut upper = user("Cy");
    upper["userPrincipalName"] = json!("CY@CONTOSO.TEST");
    upper["mailNickname"] = json!("other");
    c.post("v1.0", "users", &upper)
        .await
        .expect_error(400, "Request_BadRequest");
    let mut no_password = user("Di");
    no_password["passwordProfile"] = json!({"forceChangePasswordNextSignIn": true});
    let resp = c
        .post("v1.0", "users", &no_password)
        .await
        .expect_error(400, "Request_BadRequest");
    assert_eq!(
        resp.error_message(),
        "A password must be specified to create a new user."
    );
    for missing in [
        "displayName",
        "mailEnabled",
        "mailNickname",
        "securityEnabled",
    ] {
        let mut body = group("G");
        body.as_object_mut().unwrap().remove(missing);
        let resp = c
            .post("v1.0", "groups", &body)
            .await
            .expect_error(400, "Request_BadRequest");
        assert!(resp.error_message().contains(missing), "{}", resp.text);
    }
}

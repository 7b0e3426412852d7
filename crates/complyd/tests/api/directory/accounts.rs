//! One identity: a directory user created through Graph (or by `complyd user add`) signs in
//! with the password grant as its user principal name; the token's `oid` is its id; the record
//! follows renames, password changes and deletion.

use super::support::*;
use crate::durability::complyd;
use crate::identity::{payload, registered, PUBLIC_CLIENT};
use crate::support::*;
use complyd::identity::registry;
use serde_json::{json, Value};

/// The password grant for `username`: the status, and the access token when there is one.
async fn sign_in(server: &Server, username: &str, password: &str) -> (u16, Option<String>) {
    let res = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", server.base))
        .form(&[
            ("grant_type", "password"),
            ("client_id", PUBLIC_CLIENT),
            ("username", username),
            ("password", password),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["access_token"].as_str().map(str::to_string))
}

#[tokio::test]
async fn a_user_created_through_graph_signs_in_as_itself() {
    let (server, store) = registered().await;
    let c = admin(&server);
    let id = create(&c, "v1.0", "users", &user("Grace Hopper")).await;
    let (status, token) = sign_in(&server, "grace.hopper@contoso.test", "Pa55word!").await;
    assert_eq!(status, 200);
    let claims = payload(&token.unwrap());
    assert_eq!(claims["oid"], json!(id));
    assert_eq!(
        claims["scp"], "",
        "a user made through Graph has no consented permissions"
    );
    assert_eq!(
        sign_in(&server, "grace.hopper@contoso.test", "wrong")
            .await
            .0,
        400
    );
    // Consented permissions (`complyd user grant`) go into its tokens.
    assert!(
        registry::set_scopes(&store, &id, vec!["User.Read.All".into()])
            .await
            .unwrap()
    );
    let (_, token) = sign_in(&server, "GRACE.HOPPER@contoso.test", "Pa55word!").await;
    let reader = server.client_with_token(token);
    assert_eq!(
        reader.get("v1.0", "users").await.expect(200).values().len(),
        1
    );
    // A rename and a new password move the record with the user.
    c.patch(
        "v1.0",
        &format!("users/{id}"),
        &json!({"userPrincipalName": "grace@contoso.test", "passwordProfile": {"password": "N3w-one!"}}),
    )
    .await
    .expect(204);
    assert_eq!(
        sign_in(&server, "grace.hopper@contoso.test", "Pa55word!")
            .await
            .0,
        400
    );
    assert_eq!(
        sign_in(&server, "grace@contoso.test", "Pa55word!").await.0,
        400
    );
    assert_eq!(
        sign_in(&server, "grace@contoso.test", "N3w-one!").await.0,
        200
    );
    c.get("v1.0", "users/grace@contoso.test").await.expect(200);
    c.get("v1.0", "users/grace.hopper@contoso.test")
        .await
        .expect_error(404, "Request_ResourceNotFound");
    // The old name is free again; the new one is taken (by the user or by a sign-in record).
    create(
        &c,
        "v1.0",
        "users",
        &json!({
            "accountEnabled": true, "displayName": "Other", "mailNickname": "other",
            "userPrincipalName": "grace.hopper@contoso.test", "passwordProfile": {"password": "x"}
        }),
    )
    .await;
    c.post(
        "v1.0",
        "users",
        &json!({
            "accountEnabled": true, "displayName": "Ada", "mailNickname": "ada",
            "userPrincipalName": "ada@example.test", "passwordProfile": {"password": "x"}
        }),
    )
    .await
    .expect_error(400, "Request_BadRequest");
    c.delete("v1.0", &format!("users/{id}")).await.expect(204);
    assert_eq!(
        sign_in(&server, "grace@contoso.test", "N3w-one!").await.0,
        400
    );
}

#[tokio::test]
async fn complyd_user_add_makes_a_directory_user_and_remove_deletes_it() {
    let (server, _store) = registered().await;
    let c = admin(&server);
    let out = complyd(
        &[
            "user",
            "add",
            "--tenant",
            TENANT,
            "--username",
            "lin@contoso.test",
            "--password",
            "s3cret!",
            "--scopes",
            "User.Read.All,Group.Read.All",
        ],
        server.data_dir(),
    )
    .output()
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = printed["id"].as_str().unwrap().to_string();
    let read = c
        .get("beta", "users/lin@contoso.test")
        .await
        .expect(200)
        .json();
    assert_eq!(read["id"], json!(id));
    assert_eq!(read["accountEnabled"], json!(true));
    let (status, token) = sign_in(&server, "lin@contoso.test", "s3cret!").await;
    assert_eq!(status, 200);
    let claims = payload(token.as_deref().unwrap());
    assert_eq!(claims["oid"], json!(id));
    assert_eq!(claims["scp"], "User.Read.All Group.Read.All");
    let listed = complyd(&["user", "list", "--json"], server.data_dir())
        .output()
        .await
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == json!(id)),
        "{listed}"
    );
    let again = complyd(
        &[
            "user",
            "add",
            "--tenant",
            TENANT,
            "--username",
            "LIN@contoso.test",
            "--password",
            "x",
        ],
        server.data_dir(),
    )
    .output()
    .await
    .unwrap();
    assert!(
        !again.status.success(),
        "a second user of that name is refused"
    );
    let removed = complyd(&["user", "remove", "lin@contoso.test"], server.data_dir())
        .output()
        .await
        .unwrap();
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    c.get("v1.0", &format!("users/{id}"))
        .await
        .expect_error(404, "Request_ResourceNotFound");
    assert_eq!(sign_in(&server, "lin@contoso.test", "s3cret!").await.0, 400);
    // A sign-in record without a directory user (as registered before the directory) goes too.
    let legacy = complyd(&["user", "remove", "ada@example.test"], server.data_dir())
        .output()
        .await
        .unwrap();
    assert!(
        legacy.status.success(),
        "{}",
        String::from_utf8_lossy(&legacy.stderr)
    );
}

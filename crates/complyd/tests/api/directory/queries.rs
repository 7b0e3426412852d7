//! The directory's query behaviours: `$filter`, `$orderby`, `$select`, `$expand=members`,
//! paging, and `$search`/`$count` with and without `ConsistencyLevel: eventual`.

use super::support::*;
use crate::support::*;
use serde_json::{json, Value};

const EVENTUAL: (&str, &str) = ("ConsistencyLevel", "eventual");

async fn get_with(c: &Client, version: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    c.send_with(reqwest::Method::GET, &c.url(version, path), None, headers)
        .await
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v["displayName"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn three_groups(c: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, unified) in [("Beta team", true), ("Alpha team", false), ("Gamma", false)] {
        let mut body = group(name);
        if unified {
            body["groupTypes"] = json!(["Unified"]);
            body["mailEnabled"] = json!(true);
        }
        ids.push(create(c, "v1.0", "groups", &body).await);
    }
    ids
}

#[tokio::test]
async fn filters_orders_selects_and_pages_as_graph_does() {
    let server = Server::start_with(|config| config.page_size = 2).await;
    let c = admin(&server);
    three_groups(&c).await;
    let cases = [
        ("groups?$filter=displayName eq 'Gamma'", vec!["Gamma"]),
        (
            "groups?$filter=startswith(displayName,'Al')",
            vec!["Alpha team"],
        ),
        (
            "groups?$filter=groupTypes/any(c:c eq 'Unified')",
            vec!["Beta team"],
        ),
        (
            "groups?$filter=displayName in ('Gamma','Alpha team')&$orderby=displayName",
            vec!["Alpha team", "Gamma"],
        ),
        (
            "groups?$filter=displayName ne 'Gamma'&$orderby=displayName desc",
            vec!["Beta team", "Alpha team"],
        ),
    ];
    for (path, wanted) in cases {
        let found = names(&c.list("v1.0", path).await);
        assert_eq!(found, wanted, "{path}");
    }
    let first = c
        .get(
            "v1.0",
            "groups?$orderby=displayName&$select=displayName,groupTypes",
        )
        .await
        .expect(200);
    assert_eq!(names(&first.values()), ["Alpha team", "Beta team"]);
    assert!(first.values()[0].get("mailNickname").is_none());
    let next = first.json()["@odata.nextLink"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        names(&c.get_url(&next).await.expect(200).values()),
        ["Gamma"]
    );
}

#[tokio::test]
async fn search_and_count_need_the_consistency_header() {
    let server = Server::start().await;
    let c = admin(&server);
    three_groups(&c).await;
    let no_header = c.get("v1.0", "groups?$search=\"displayName:team\"").await;
    let no_header = no_header.expect_error(400, "Request_UnsupportedQuery");
    assert_eq!(
        no_header.error_message(),
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
    );
    let found = get_with(
        &c,
        "v1.0",
        "groups?$search=\"displayName:tea\"&$orderby=displayName",
        &[EVENTUAL],
    )
    .await;
    assert_eq!(
        names(&found.expect(200).values()),
        ["Alpha team", "Beta team"]
    );
    let either = get_with(
        &c,
        "v1.0",
        "groups?$search=\"displayName:gam\" OR \"displayName:alp\"&$count=true",
        &[EVENTUAL],
    )
    .await
    .expect(200);
    assert_eq!(either.json()["@odata.count"], json!(2));
    let counted = c.get("v1.0", "groups?$count=true").await.expect(200);
    assert!(
        counted.json().get("@odata.count").is_none(),
        "no count without the header"
    );
    let count = c
        .get("v1.0", "groups/$count")
        .await
        .expect_error(400, "Request_BadRequest");
    assert_eq!(count.error_message(), "$count is not currently supported.");
    let count = get_with(&c, "v1.0", "groups/$count", &[EVENTUAL])
        .await
        .expect(200);
    assert_eq!(count.text, "3");
    get_with(&c, "v1.0", "groups?$search=\"displayName\"", &[EVENTUAL])
        .await
        .expect_error(400, "Request_BadRequest");
    // Policies do not take $search at all, as before.
    c.get("v1.0", &format!("{POLICIES}?$search=\"displayName:x\""))
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn members_expand_count_and_search_below_a_group() {
    let server = Server::start().await;
    let c = admin(&server);
    let g = create(&c, "v1.0", "groups", &group("Team")).await;
    for name in ["Ada", "Bob"] {
        let u = create(&c, "v1.0", "users", &user(name)).await;
        add_member(&c, &g, &u).await;
    }
    let expanded = c
        .get(
            "v1.0",
            &format!("groups/{g}?$select=id,displayName&$expand=members($select=displayName)"),
        )
        .await
        .expect(200)
        .json();
    let mut members = names(expanded["members"].as_array().unwrap());
    members.sort();
    assert_eq!(members, ["Ada", "Bob"]);
    let listed = get_with(
        &c,
        "v1.0",
        &format!("groups/{g}/members?$count=true"),
        &[EVENTUAL],
    )
    .await
    .expect(200);
    assert_eq!(listed.json()["@odata.count"], json!(2));
    let counted = get_with(
        &c,
        "v1.0",
        &format!("groups/{g}/members/$count"),
        &[EVENTUAL],
    )
    .await
    .expect(200);
    assert_eq!(counted.text, "2");
    let searched = get_with(
        &c,
        "v1.0",
        &format!("groups/{g}/members?$search=\"displayName:bo\""),
        &[EVENTUAL],
    )
    .await
    .expect(200);
    assert_eq!(names(&searched.values()), ["Bob"]);
}

#[tokio::test]
async fn each_permission_admits_what_graph_says() {
    let server = Server::start().await;
    let c = admin(&server);
    let g = create(&c, "v1.0", "groups", &group("Team")).await;
    let u = create(&c, "v1.0", "users", &user("Ada")).await;
    let cases: [(&str, reqwest::Method, String, Option<Value>, u16); 10] = [
        (
            "User.Read.All",
            reqwest::Method::GET,
            "users".into(),
            None,
            200,
        ),
        (
            "User.Read.All",
            reqwest::Method::POST,
            "users".into(),
            Some(user("Bob")),
            403,
        ),
        (
            "User.ReadWrite.All",
            reqwest::Method::POST,
            "users".into(),
            Some(user("Cy")),
            201,
        ),
        (
            "Group.Read.All",
            reqwest::Method::GET,
            "groups".into(),
            None,
            200,
        ),
        (
            "Group.Read.All",
            reqwest::Method::GET,
            "users".into(),
            None,
            403,
        ),
        (
            "GroupMember.Read.All",
            reqwest::Method::GET,
            format!("groups/{g}/members"),
            None,
            200,
        ),
        (
            "GroupMember.ReadWrite.All",
            reqwest::Method::POST,
            format!("groups/{g}/members/$ref"),
            Some(reference(&u)),
            204,
        ),
        (
            "Group.Read.All",
            reqwest::Method::DELETE,
            format!("groups/{g}/members/{u}/$ref"),
            None,
            403,
        ),
        (
            "Device.Read.All",
            reqwest::Method::GET,
            "devices".into(),
            None,
            200,
        ),
        (
            "Directory.Read.All",
            reqwest::Method::POST,
            "directoryObjects/getByIds".into(),
            Some(json!({"ids": [u]})),
            200,
        ),
    ];
    for (scope, method, path, body, status) in cases {
        for token in [
            complyd::auth::TokenRequest::delegated(TENANT, &[scope]),
            complyd::auth::TokenRequest {
                app_only: true,
                ..complyd::auth::TokenRequest::delegated(TENANT, &[scope])
            },
        ] {
            let client = server.client_with(token);
            let resp = client
                .send(
                    method.clone(),
                    &client.url("v1.0", &path),
                    body.as_ref().map(Value::to_string),
                )
                .await;
            assert_eq!(
                resp.status, status,
                "{scope} {method} {path}: {}",
                resp.text
            );
            if status == 204 {
                c.delete("v1.0", &format!("groups/{g}/members/{u}/$ref"))
                    .await
                    .expect(204);
            }
            if status == 201 {
                c.delete("v1.0", &format!("users/{}", resp.id()))
                    .await
                    .expect(204);
            }
        }
    }
}

/// What backup tools do: resolve each assignment's group by id inside `$batch`, and look groups
/// up by name on restore; the header travels with each batch item.
#[tokio::test]
async fn groups_are_resolved_inside_batch_as_backup_tools_do() {
    let server = Server::start().await;
    let c = admin(&server);
    let ids = three_groups(&c).await;
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/groups/{}?$select=displayName,id,groupTypes,membershipRule", ids[0])},
        {"id": "2", "method": "GET", "url": "/groups?$filter=displayName%20eq%20'Gamma'"},
        {"id": "3", "method": "GET", "url": "/groups/$count", "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "4", "method": "GET", "url": "/groups/5b0a7a3c-0000-4000-8000-000000000000"},
    ]});
    let body = c.post("v1.0", "$batch", &batch).await.expect(200).json();
    let answer = |id: &str| {
        body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(answer("1")["status"], 200);
    assert_eq!(answer("1")["body"]["displayName"], "Beta team");
    assert_eq!(answer("1")["body"]["groupTypes"], json!(["Unified"]));
    assert!(answer("1")["body"].get("mailNickname").is_none());
    assert_eq!(
        answer("2")["body"]["value"][0]["id"],
        json!(ids[2]),
        "{}",
        answer("2")
    );
    assert_eq!(answer("3")["status"], 200);
    assert_eq!(answer("4")["status"], 404);
    assert_eq!(
        answer("4")["body"]["error"]["code"],
        "Request_ResourceNotFound"
    );
}

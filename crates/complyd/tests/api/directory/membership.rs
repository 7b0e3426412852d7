//! Links: members added with `$ref` and `members@odata.bind`, removed with `$ref`, read one level
//! or every level in both directions, asked about with the membership actions; and the errors
//! Graph gives for each bad request.

use super::support::*;
use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn members_are_added_listed_and_removed_with_ref() {
    let server = Server::start().await;
    let c = admin(&server);
    let g = create(&c, "v1.0", "groups", &group("Sales")).await;
    let u = create(&c, "v1.0", "users", &user("Ada")).await;
    let d = create(&c, "v1.0", "devices", &device("PC-1", "Windows", "10.0")).await;
    let inner = create(&c, "v1.0", "groups", &group("Inner")).await;
    add_member(&c, &g, &u).await;
    // The other spellings of a reference: complyd's own host, relative, by alternate key.
    c.post(
        "v1.0",
        &format!("groups/{g}/members/$ref"),
        &json!({"@odata.id": format!("{}/v1.0/devices/{d}", c.base)}),
    )
    .await
    .expect(204);
    c.post(
        "beta",
        &format!("groups/{g}/members/$ref"),
        &json!({"@odata.id": format!("directoryObjects('{inner}')")}),
    )
    .await
    .expect(204);
    let members = c.list("v1.0", &format!("groups/{g}/members")).await;
    let mut types: Vec<&str> = members
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "#microsoft.graph.device",
            "#microsoft.graph.group",
            "#microsoft.graph.user"
        ]
    );
    let user_member = members.iter().find(|m| m["id"] == json!(u)).unwrap();
    assert!(
        user_member.get("mailNickname").is_none(),
        "v1.0's default set for a user: {user_member}"
    );
    assert_eq!(
        c.get("v1.0", &format!("groups/{g}/members/{u}"))
            .await
            .expect(200)
            .id(),
        u
    );
    assert_eq!(
        c.ids("v1.0", &format!("users/{u}/memberOf")).await,
        vec![g.clone()]
    );
    assert_eq!(
        c.ids("v1.0", &format!("devices/{d}/memberOf")).await,
        vec![g.clone()]
    );
    c.delete("v1.0", &format!("groups/{g}/members/{u}/$ref"))
        .await
        .expect(204);
    assert!(c
        .ids("v1.0", &format!("users/{u}/memberOf"))
        .await
        .is_empty());
    // The SDKs' form: the member named in `@id`.
    let by_id = format!(
        "groups/{g}/members/$ref?%40id=https://graph.microsoft.com/v1.0/directoryObjects/{d}"
    );
    c.delete("v1.0", &by_id).await.expect(204);
    assert!(c
        .ids("v1.0", &format!("devices/{d}/memberOf"))
        .await
        .is_empty());
    c.get("v1.0", &format!("groups/{g}/members/{u}"))
        .await
        .expect_error(404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn bad_membership_requests_get_graphs_errors() {
    let server = Server::start().await;
    let c = admin(&server);
    let g = create(&c, "v1.0", "groups", &group("Sales")).await;
    let u = create(&c, "v1.0", "users", &user("Ada")).await;
    add_member(&c, &g, &u).await;
    let path = format!("groups/{g}/members/$ref");
    let twice = c
        .post("v1.0", &path, &reference(&u))
        .await
        .expect_error(400, "Request_BadRequest");
    assert_eq!(
        twice.error_message(),
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    let unknown = "5b0a7a3c-0000-4000-8000-000000000000";
    let missing = c
        .post("v1.0", &path, &reference(unknown))
        .await
        .expect_error(404, "Request_ResourceNotFound");
    assert_eq!(
        missing.error_message(),
        format!("Resource '{unknown}' does not exist or one of its queried reference-property objects are not present.")
    );
    c.post(
        "v1.0",
        &format!("groups/{unknown}/members/$ref"),
        &reference(&u),
    )
    .await
    .expect_error(404, "Request_ResourceNotFound");
    c.post(
        "v1.0",
        &path,
        &json!({"@odata.id": "https://graph.microsoft.com/v1.0/nowhere/x"}),
    )
    .await
    .expect_error(400, "Request_BadRequest");
    c.post("v1.0", &path, &reference(&g))
        .await
        .expect_error(400, "Request_BadRequest");
    let empty = c
        .send(reqwest::Method::POST, &c.url("v1.0", &path), None)
        .await
        .expect_error(400, "Request_BadRequest");
    assert!(
        empty.error_message().contains("EndOfInput"),
        "{}",
        empty.text
    );
    c.delete("v1.0", &format!("groups/{g}/members/{unknown}/$ref"))
        .await
        .expect_error(404, "Request_ResourceNotFound");
    // Only a direct, forward navigation is written.
    c.post("v1.0", &format!("users/{u}/memberOf/$ref"), &reference(&g))
        .await
        .expect_error(400, ROUTE_ERROR);
    c.post(
        "v1.0",
        &format!("groups/{g}/transitiveMembers/$ref"),
        &reference(&u),
    )
    .await
    .expect_error(400, ROUTE_ERROR);
}

#[tokio::test]
async fn members_bind_on_create_and_update() {
    let server = Server::start().await;
    let c = admin(&server);
    let a = create(&c, "v1.0", "users", &user("Ada")).await;
    let b = create(&c, "v1.0", "users", &user("Bob")).await;
    let mut body = group("Team");
    body["members@odata.bind"] = json!([format!(
        "https://graph.microsoft.com/v1.0/directoryObjects/{a}"
    )]);
    let g = create(&c, "v1.0", "groups", &body).await;
    c.patch(
        "v1.0",
        &format!("groups/{g}"),
        &json!({"members@odata.bind": [format!("https://graph.microsoft.com/v1.0/users/{b}")]}),
    )
    .await
    .expect(204);
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("groups/{g}/members")).await,
        expected
    );
    // A bad member leaves nothing behind: neither the group nor any link.
    let mut bad = group("Broken");
    bad["members@odata.bind"] = json!([
        format!("https://graph.microsoft.com/v1.0/directoryObjects/{a}"),
        "https://graph.microsoft.com/v1.0/directoryObjects/5b0a7a3c-0000-4000-8000-000000000000"
    ]);
    c.post("v1.0", "groups", &bad)
        .await
        .expect_error(404, "Request_ResourceNotFound");
    assert_eq!(c.ids("v1.0", "groups").await, vec![g.clone()]);
    assert_eq!(c.ids("v1.0", &format!("users/{a}/memberOf")).await, vec![g]);
}

#[tokio::test]
async fn transitive_walks_follow_nesting_and_end_on_cycles() {
    let server = Server::start().await;
    let c = admin(&server);
    let top = create(&c, "v1.0", "groups", &group("Top")).await;
    let middle = create(&c, "v1.0", "groups", &group("Middle")).await;
    let bottom = create(&c, "v1.0", "groups", &group("Bottom")).await;
    let d = create(&c, "v1.0", "devices", &device("PC", "Windows", "10.0")).await;
    add_member(&c, &top, &middle).await;
    add_member(&c, &middle, &bottom).await;
    add_member(&c, &bottom, &d).await;
    let mut up = vec![top.clone(), middle.clone(), bottom.clone()];
    up.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("devices/{d}/transitiveMemberOf")).await,
        up
    );
    assert_eq!(
        c.ids("v1.0", &format!("devices/{d}/memberOf")).await,
        vec![bottom.clone()]
    );
    let mut down = vec![middle.clone(), bottom.clone(), d.clone()];
    down.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("groups/{top}/transitiveMembers")).await,
        down
    );
    // A cycle: bottom contains top. Every walk still ends, the anchor left out.
    add_member(&c, &bottom, &top).await;
    let mut all_but_top = vec![middle.clone(), bottom.clone(), d.clone()];
    all_but_top.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("groups/{top}/transitiveMembers")).await,
        all_but_top
    );
    let mut groups_of_bottom = vec![top.clone(), middle.clone()];
    groups_of_bottom.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("groups/{bottom}/transitiveMemberOf")).await,
        groups_of_bottom
    );
    let checked = c
        .post(
            "v1.0",
            &format!("devices/{d}/checkMemberGroups"),
            &json!({"groupIds": [top, "nope"]}),
        )
        .await
        .expect(200);
    assert_eq!(checked.json()["value"], json!([top]));
    let groups = c
        .post(
            "v1.0",
            &format!("devices/{d}/getMemberGroups"),
            &json!({"securityEnabledOnly": true}),
        )
        .await
        .expect(200);
    let mut found: Vec<String> = groups
        .values()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    found.sort();
    assert_eq!(found, up);
    let objects = c
        .post(
            "beta",
            &format!("directoryObjects/{d}/getMemberObjects"),
            &json!({"securityEnabledOnly": false}),
        )
        .await
        .expect(200);
    assert_eq!(objects.values().len(), 3);
}

#[tokio::test]
async fn deleting_an_object_removes_its_links_both_ways() {
    let server = Server::start().await;
    let c = admin(&server);
    let outer = create(&c, "v1.0", "groups", &group("Outer")).await;
    let g = create(&c, "v1.0", "groups", &group("G")).await;
    let u = create(&c, "v1.0", "users", &user("Ada")).await;
    add_member(&c, &outer, &g).await;
    add_member(&c, &g, &u).await;
    c.delete("v1.0", &format!("groups/{g}")).await.expect(204);
    assert!(c
        .ids("v1.0", &format!("groups/{outer}/members"))
        .await
        .is_empty());
    assert!(c
        .ids("v1.0", &format!("users/{u}/memberOf"))
        .await
        .is_empty());
    // A new group may take the old one's members without a conflict.
    let again = create(&c, "v1.0", "groups", &group("G")).await;
    add_member(&c, &again, &u).await;
}

#[tokio::test]
async fn get_by_ids_answers_the_objects_of_the_types_asked() {
    let server = Server::start().await;
    let c = admin(&server);
    let g = create(&c, "v1.0", "groups", &group("G")).await;
    let u = create(&c, "v1.0", "users", &user("Ada")).await;
    let d = create(&c, "v1.0", "devices", &device("PC", "Windows", "10.0")).await;
    let all = c
        .post(
            "v1.0",
            "directoryObjects/getByIds",
            &json!({"ids": [g, u, d, "missing"]}),
        )
        .await
        .expect(200)
        .expect_context("v1.0", "Collection(microsoft.graph.directoryObject)");
    assert_eq!(all.values().len(), 3);
    let users = c
        .post(
            "v1.0",
            "directoryObjects/getByIds",
            &json!({"ids": [g, u, d], "types": ["user"]}),
        )
        .await
        .expect(200);
    assert_eq!(users.values().len(), 1);
    assert_eq!(users.values()[0]["id"], json!(u));
    c.post(
        "v1.0",
        "directoryObjects/getByIds",
        &json!({"ids": [g], "types": ["policy"]}),
    )
    .await
    .expect_error(400, "Request_BadRequest");
    c.post("v1.0", "directoryObjects/getByIds", &json!({}))
        .await
        .expect_error(400, "Request_BadRequest");
}

//! JSON batching: envelope rules, dependsOn, and inner requests that meet the same checks as
//! direct ones.

use crate::support::*;
use complyd::auth::TokenRequest;
use serde_json::{json, Value};

fn responses(body: &Value) -> Vec<Value> {
    body["responses"].as_array().cloned().unwrap_or_default()
}

fn by_id<'a>(responses: &'a [Value], id: &str) -> &'a Value {
    responses
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no response {id}"))
}

#[tokio::test]
async fn inner_requests_run_in_dependency_order_with_their_own_statuses() {
    let server = Server::start().await;
    let client = server.client();
    let json_headers = json!({"Content-Type": "application/json"});
    let batch = json!({"requests": [
        {"id": "2", "method": "GET", "url": "/deviceManagement/deviceCompliancePolicies", "dependsOn": ["1"]},
        {"id": "1", "method": "POST", "url": "/deviceManagement/deviceCompliancePolicies",
         "headers": json_headers, "body": windows10_policy("batched")},
        {"id": "3", "method": "GET", "url": "deviceManagement/deviceCompliancePolicies/nosuch"},
        {"id": "4", "method": "GET", "url": "/deviceManagement/deviceCompliancePolicies/$count"},
        {"id": "5", "method": "GET", "url": "/v1.0/deviceManagement/deviceCompliancePolicies", "dependsOn": ["1"]},
    ]});
    let body = client
        .post("v1.0", "$batch", &batch)
        .await
        .expect(200)
        .json();
    let all = responses(&body);
    assert_eq!(all.len(), 5);
    let created = by_id(&all, "1");
    assert_eq!(created["status"], 201);
    assert_eq!(created["body"]["displayName"], "batched");
    assert!(created["headers"]["request-id"].is_string());
    let listed = by_id(&all, "2");
    assert_eq!(listed["status"], 200);
    assert_eq!(
        listed["body"]["value"][0]["id"], created["body"]["id"],
        "the GET ran after the POST"
    );
    let missing = by_id(&all, "3");
    assert_eq!(missing["status"], 404);
    assert_eq!(missing["body"]["error"]["code"], "ResourceNotFound");
    assert_eq!(by_id(&all, "4")["body"], "1");
    // A URL that repeats the version (as the JavaScript client's batch helper writes it).
    assert_eq!(
        by_id(&all, "5")["body"]["value"][0]["id"],
        created["body"]["id"]
    );
    assert!(by_id(&all, "5")["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn a_failed_dependency_answers_424() {
    let server = Server::start().await;
    let client = server.client();
    let batch = json!({"requests": [
        {"id": "a", "method": "POST", "url": "/deviceManagement/deviceCompliancePolicies",
         "headers": {"content-type": "application/json"}, "body": {"@odata.type": "#microsoft.graph.deviceCompliancePolicy", "displayName": "abstract"}},
        {"id": "b", "method": "GET", "url": "/deviceManagement/deviceCompliancePolicies", "dependsOn": ["a"]},
        {"id": "c", "method": "GET", "url": "/deviceManagement/deviceCompliancePolicies", "dependsOn": ["b"]},
    ]});
    let all = responses(
        &client
            .post("beta", "$batch", &batch)
            .await
            .expect(200)
            .json(),
    );
    assert_eq!(by_id(&all, "a")["status"], 400);
    assert_eq!(by_id(&all, "b")["status"], 424);
    assert_eq!(by_id(&all, "c")["status"], 424);
    // Items the batch answers itself carry Graph's whole error body, ids included.
    let error = &by_id(&all, "b")["body"]["error"];
    assert_eq!(error["code"], "FailedDependency");
    let inner = &error["innerError"];
    assert!(
        inner["request-id"].is_string() && inner["date"].is_string(),
        "{error}"
    );
    assert_eq!(
        by_id(&all, "b")["headers"]["Content-Type"],
        "application/json"
    );
    assert!(
        client.list("beta", POLICIES).await.is_empty(),
        "nothing stored"
    );
}

#[tokio::test]
async fn inner_requests_meet_the_callers_permissions() {
    let server = Server::start().await;
    let reader = server.client_with(TokenRequest::delegated(TENANT, &[READ]));
    let batch = json!({"requests": [
        {"id": "r", "method": "GET", "url": "/deviceManagement/deviceCompliancePolicies"},
        {"id": "w", "method": "POST", "url": "/deviceManagement/deviceCompliancePolicies",
         "headers": {"Content-Type": "application/json"}, "body": windows10_policy("denied")},
    ]});
    let all = responses(
        &reader
            .post("v1.0", "$batch", &batch)
            .await
            .expect(200)
            .json(),
    );
    assert_eq!(by_id(&all, "r")["status"], 200);
    assert_eq!(by_id(&all, "w")["status"], 403);
    assert_eq!(by_id(&all, "w")["body"]["error"]["code"], "Forbidden");
    server
        .client_with_token(None)
        .post("v1.0", "$batch", &batch)
        .await
        .expect_error(401, "InvalidAuthenticationToken");
}

#[tokio::test]
async fn malformed_envelopes_refuse_the_whole_batch() {
    let server = Server::start().await;
    let client = server.client();
    let get = |id: &str| json!({"id": id, "method": "GET", "url": "/deviceManagement/deviceCompliancePolicies"});
    let too_many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
    let cases = [
        json!({"requests": too_many}),
        json!({"requests": []}),
        json!({"nope": []}),
        json!({"requests": [get("x"), get("X")]}),
        json!({"requests": [{"id": "1", "method": "GET"}]}),
        json!({"requests": [{"id": "1", "method": "FETCH", "url": "/x"}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "/x", "dependsOn": ["2"]}]}),
        json!({"requests": [
            {"id": "1", "method": "GET", "url": "/x", "dependsOn": ["2"]},
            {"id": "2", "method": "GET", "url": "/x", "dependsOn": ["1"]}]}),
        json!({"requests": [{"id": "1", "method": "POST", "url": "/x", "body": {"a": 1}}]}),
    ];
    for case in cases {
        client
            .post("v1.0", "$batch", &case)
            .await
            .expect_error(400, "BadRequest");
    }
    assert!(client.list("v1.0", POLICIES).await.is_empty());
    client
        .get("v1.0", "$batch")
        .await
        .expect_error(400, ROUTE_ERROR);
}

#[tokio::test]
async fn a_batch_inside_a_batch_is_refused() {
    let server = Server::start().await;
    let client = server.client();
    let inner = json!({"requests": [{"id": "1", "method": "GET", "url": "/deviceManagement/deviceCompliancePolicies"}]});
    let batch = json!({"requests": [
        {"id": "outer", "method": "POST", "url": "/$batch", "headers": {"Content-Type": "application/json"}, "body": inner}
    ]});
    let all = responses(
        &client
            .post("v1.0", "$batch", &batch)
            .await
            .expect(200)
            .json(),
    );
    assert_eq!(by_id(&all, "outer")["status"], 400);
}

#[tokio::test]
async fn numeric_ids_are_accepted_and_answered_as_numbers() {
    let server = Server::start().await;
    let client = server.client();
    let policy = client
        .post("beta", POLICIES, &windows10_policy("numbered"))
        .await
        .expect(201)
        .json();
    let id = policy["id"].as_str().unwrap();
    // As backup tools write it: numbered requests, one depending on another by number or text.
    let batch = json!({"requests": [
        {"id": 1, "method": "GET", "url": format!("deviceManagement/deviceCompliancePolicies/{id}/assignments")},
        {"id": 2, "method": "GET", "url": format!("deviceManagement/deviceCompliancePolicies/{id}"), "dependsOn": [1]},
        {"id": "3", "method": "GET", "url": "deviceManagement/deviceCompliancePolicies", "dependsOn": ["2", 1]},
        {"id": 4.5, "method": "GET", "url": "deviceManagement/deviceCompliancePolicies/nosuch"},
    ]});
    let all = responses(
        &client
            .post("beta", "$batch", &batch)
            .await
            .expect(200)
            .json(),
    );
    let find = |id: Value| {
        all.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no response with id {id} (as sent) in {all:?}"))
    };
    assert_eq!(find(json!(1))["status"], 200);
    assert_eq!(find(json!(2))["body"]["displayName"], "numbered");
    assert_eq!(find(json!("3"))["status"], 200);
    assert_eq!(find(json!(4.5))["status"], 404);
    assert!(
        all.iter()
            .all(|r| r["id"] != json!("1") && r["id"] != json!("2")),
        "a numeric id stays a number: {all:?}"
    );
}

#[tokio::test]
async fn a_missing_or_mistyped_id_is_named_for_what_it_is() {
    let server = Server::start().await;
    let client = server.client();
    let get = |id: Value| json!({"id": id, "method": "GET", "url": "deviceManagement/deviceCompliancePolicies"});
    let cases = [
        (
            json!({"requests": [{"method": "GET", "url": "deviceManagement/deviceCompliancePolicies"}]}),
            "Request 0 of the batch has no 'id'.",
        ),
        (
            json!({"requests": [get(json!(1)), get(json!(null))]}),
            "Request 1 of the batch has no 'id'.",
        ),
        (
            json!({"requests": [get(json!(true))]}),
            "The 'id' of request 0 of the batch must be a string or a number, not a boolean.",
        ),
        (
            json!({"requests": [get(json!({"n": 1}))]}),
            "The 'id' of request 0 of the batch must be a string or a number, not an object.",
        ),
        (
            json!({"requests": [get(json!([1]))]}),
            "The 'id' of request 0 of the batch must be a string or a number, not an array.",
        ),
        (
            json!({"requests": [get(json!(""))]}),
            "The 'id' of request 0 of the batch is empty.",
        ),
        (
            json!({"requests": [get(json!(1)), get(json!("1"))]}),
            "The batch has more than one request with id '1'.",
        ),
        (
            json!({"requests": [{"id": 1, "method": "GET", "url": "x", "dependsOn": [2]}]}),
            "Request '1' depends on an unknown request 2.",
        ),
        (
            json!({"requests": [{"id": 1, "method": "GET", "url": "x", "dependsOn": [true]}]}),
            "Request '1' depends on an unknown request true.",
        ),
    ];
    for (case, message) in cases {
        let error = client
            .post("beta", "$batch", &case)
            .await
            .expect_error(400, "BadRequest")
            .json();
        assert_eq!(error["error"]["message"], message, "{case}");
    }
}

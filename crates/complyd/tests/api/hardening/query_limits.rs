//! Query-option limits and request-controlled depth: long flat filters, every option past its
//! limit, deeply nested bodies.

use crate::support::*;
use odata::query::{
    MAX_EXPAND_ITEMS, MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_OPTION_LENGTH, MAX_ORDERBY_KEYS,
    MAX_SELECT_ITEMS,
};
use serde_json::{json, Value};

/// `n` copies of `term` joined by `op`.
fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(&format!(" {op} "))
}

/// A query-string value: spaces as `+`, the few characters that would end or split it encoded.
fn form(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' ' => out.push('+'),
            '&' | '+' | '#' | '%' | '=' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn policies_where(filter: &str) -> String {
    format!("{POLICIES}?$filter={}", form(filter))
}

fn by_id<'a>(responses: &'a Value, id: &str) -> &'a Value {
    responses["responses"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("no response {id} in {responses}"))
}

#[track_caller]
fn assert_refused(item: &Value, limit: &str) {
    assert_eq!(item["status"], 400, "{item}");
    assert_eq!(item["body"]["error"]["code"], "BadRequest", "{item}");
    let message = item["body"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(limit),
        "{message:?} does not name {limit:?}"
    );
}

fn names(values: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = values
        .iter()
        .map(|v| v["displayName"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn batch_items_past_the_filter_limits_are_refused_and_the_server_lives() {
    let server = Server::start().await;
    let client = server.client();
    for name in ["keep-1", "keep-2"] {
        client.create_policy("v1.0", name).await;
    }
    let length_limit = format!("longer than {MAX_OPTION_LENGTH} bytes (the limit)");
    let node_limit = format!("more than {MAX_FILTER_NODES} nodes (the limit)");
    // Items of ~2,000 terms crashed the server (stack overflow) before; 100,000 terms are
    // past what the HTTP layer carries in a URL, and that limit is named instead.
    let items = [
        ("huge", chain("id eq 'a'", "or", 100_000)),
        ("or", chain("displayName eq 'a'", "or", 2_000)),
        ("and", chain("displayName eq 'a'", "and", 2_000)),
        ("contains", chain("contains(displayName, 'a')", "or", 1_500)),
        ("nodes", chain("id eq 'a'", "or", 300)),
        ("fine", "displayName eq 'keep-1'".to_string()),
    ];
    let requests: Vec<Value> = items
        .iter()
        .map(|(id, filter)| json!({"id": id, "method": "GET", "url": policies_where(filter)}))
        .collect();
    let batch = json!({ "requests": requests });
    let body = batch.to_string();
    assert!(body.len() < 2 * 1024 * 1024, "{} bytes", body.len());
    let answer = client
        .post_raw("v1.0", "$batch", &body)
        .await
        .expect(200)
        .json();
    assert_refused(by_id(&answer, "huge"), "bytes (the limit)");
    for id in ["or", "and", "contains"] {
        assert_refused(by_id(&answer, id), &length_limit);
    }
    assert_refused(by_id(&answer, "nodes"), &node_limit);
    let fine = by_id(&answer, "fine");
    assert_eq!(fine["status"], 200, "{fine}");
    assert_eq!(fine["body"]["value"].as_array().map(Vec::len), Some(1));
    // Still serving.
    let all = client.list("v1.0", POLICIES).await;
    assert_eq!(names(&all), ["keep-1", "keep-2"]);
}

#[tokio::test]
async fn a_filter_just_under_the_node_limit_answers_with_the_right_rows() {
    let server = Server::start().await;
    let client = server.client();
    for i in 0..5 {
        client.create_policy("v1.0", &format!("p{i}")).await;
    }
    // `displayName eq '…'` is three nodes and each `or` one more.
    let terms = (MAX_FILTER_NODES + 1) / 4;
    assert!(4 * terms - 1 <= MAX_FILTER_NODES);
    let name = |i: usize| match i {
        10 => "p1".to_string(),
        200 => "p3".to_string(),
        _ => format!("absent-{i}"),
    };
    let any: Vec<String> = (0..terms)
        .map(|i| format!("displayName eq '{}'", name(i)))
        .collect();
    let any = any.join(" or ");
    assert!(any.len() <= MAX_OPTION_LENGTH);
    for version in VERSIONS {
        let found = client.list(version, &policies_where(&any)).await;
        assert_eq!(names(&found), ["p1", "p3"], "{version}");
    }
    let count = client
        .get("v1.0", &format!("{POLICIES}/$count?$filter={}", form(&any)))
        .await
        .expect(200);
    assert_eq!(count.text, "2");
    // A chain of `and` as long: every policy but the two it excludes.
    let all_but: Vec<String> = (0..terms)
        .map(|i| format!("displayName ne '{}'", name(i)))
        .collect();
    let found = client
        .list("v1.0", &policies_where(&all_but.join(" and ")))
        .await;
    assert_eq!(names(&found), ["p0", "p2", "p4"]);
    // Grouped: (a or b) and not (c or d), with the `or` chains long.
    let grouped = format!(
        "({}) and not ({})",
        chain("displayName eq 'p0' or displayName eq 'p2'", "or", 40),
        chain("displayName eq 'p2'", "or", 40)
    );
    let found = client.list("v1.0", &policies_where(&grouped)).await;
    assert_eq!(names(&found), ["p0"]);
    // The longest chain the node limit allows (one-node terms), through a derived type's
    // property: the SQL stays within the database's own expression limits.
    let longest = chain("passwordRequired", "or", MAX_FILTER_NODES.div_ceil(2));
    assert_eq!(
        client.list("v1.0", &policies_where(&longest)).await.len(),
        5
    );
    // The longest `in` list: the property, `in` and the values.
    let values: Vec<String> = (0..MAX_FILTER_NODES - 2)
        .map(|i| {
            format!(
                "'{}'",
                if i == 7 {
                    "p4".to_string()
                } else {
                    format!("x{i}")
                }
            )
        })
        .collect();
    let listed = format!("displayName in ({})", values.join(","));
    assert!(listed.len() <= MAX_OPTION_LENGTH);
    let found = client.list("v1.0", &policies_where(&listed)).await;
    assert_eq!(names(&found), ["p4"]);
}

#[tokio::test]
async fn direct_gets_past_the_query_limits_are_refused_naming_the_limit() {
    let server = Server::start().await;
    let client = server.client();
    client.create_policy("v1.0", "x").await;
    // Past the option's length limit, within the URI limit of the HTTP layer (longer URIs are 414).
    let long = policies_where(&chain("displayName eq 'a'", "or", 800));
    let url = client.url("v1.0", &long);
    assert!(
        url.len() <= complyd::server::MAX_URI_BYTES,
        "{} bytes",
        url.len()
    );
    let resp = client.get_url(&url).await.expect_error(400, "BadRequest");
    assert!(resp.error_message().contains(&format!(
        "longer than {MAX_OPTION_LENGTH} bytes (the limit)"
    )));
    let nodes = format!("more than {MAX_FILTER_NODES} nodes (the limit)");
    let depth = format!("nested deeper than {MAX_FILTER_DEPTH} levels (the limit)");
    let past = MAX_FILTER_DEPTH + 1;
    let refused = [
        (
            policies_where(&chain("id eq 'a'", "or", 300)),
            nodes.clone(),
        ),
        (
            policies_where(&chain("contains(displayName, 'a')", "and", 300)),
            nodes.clone(),
        ),
        (
            policies_where(&format!("displayName{}", " eq 'a'".repeat(past))),
            depth.clone(),
        ),
        (
            policies_where(&format!("displayName{}", " in ('a')".repeat(past))),
            depth.clone(),
        ),
        (
            policies_where(&format!("{}displayName eq 'a'", "(".repeat(past))),
            depth.clone(),
        ),
        (
            format!(
                "{POLICIES}?$orderby={}",
                vec!["displayName"; MAX_ORDERBY_KEYS + 1].join(",")
            ),
            format!("more than {MAX_ORDERBY_KEYS} keys (the limit)"),
        ),
        (
            format!(
                "{POLICIES}?$orderby={}",
                form(&chain("id", "or", MAX_FILTER_NODES))
            ),
            nodes.clone(),
        ),
        (
            format!(
                "{POLICIES}?$select={}",
                vec!["id"; MAX_SELECT_ITEMS + 1].join(",")
            ),
            format!("more than {MAX_SELECT_ITEMS} items (the limit)"),
        ),
        (
            format!(
                "{POLICIES}?$expand={}",
                vec!["assignments"; MAX_EXPAND_ITEMS + 1].join(",")
            ),
            format!("more than {MAX_EXPAND_ITEMS} items at one level (the limit)"),
        ),
    ];
    for (path, limit) in refused {
        let resp = client
            .get("v1.0", &path)
            .await
            .expect_error(400, "BadRequest");
        let message = resp.error_message();
        assert!(
            message.contains(&limit),
            "{message:?} does not name {limit:?}"
        );
    }
    // Nesting up to the limit is served: the parser, binder and SQL all walk it.
    let nots = format!(
        "{}(tolower(displayName) eq 'x')",
        "not ".repeat(MAX_FILTER_DEPTH - 3)
    );
    assert!(client.list("v1.0", &policies_where(&nots)).await.is_empty());
    let nots = format!(
        "{}(tolower(displayName) eq 'x')",
        "not ".repeat(MAX_FILTER_DEPTH - 4)
    );
    assert_eq!(client.list("v1.0", &policies_where(&nots)).await.len(), 1);
    assert_eq!(client.list("v1.0", POLICIES).await.len(), 1);
}

/// `{"@odata.type": …, "displayName": …, "description": [[…]]}`, `depth` levels deep in all.
fn nested_policy(depth: usize) -> String {
    let arrays = depth - 1;
    format!(
        r##"{{"@odata.type":"#microsoft.graph.windows10CompliancePolicy","displayName":"deep","description":{}{}}}"##,
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
}

#[tokio::test]
async fn deeply_nested_json_bodies_are_refused_without_a_crash() {
    let server = Server::start().await;
    let client = server.client();
    // serde_json takes 127 levels; every walk over a body (validation, error messages) is
    // then at most that deep, which the stack holds.
    let resp = client
        .post_raw("v1.0", POLICIES, &nested_policy(127))
        .await
        .expect_error(400, "ModelValidationFailure");
    assert!(
        resp.error_message().contains("description"),
        "{}",
        resp.text
    );
    for depth in [128, 10_000] {
        let resp = client
            .post_raw("v1.0", POLICIES, &nested_policy(depth))
            .await
            .expect_error(400, "BadRequest");
        assert!(
            resp.error_message().contains("recursion limit"),
            "{depth}: {}",
            resp.text
        );
    }
    // In a batch the envelope takes three levels: `{"requests": [{"body": …}]}`.
    let inner: Value = serde_json::from_str(&nested_policy(124)).unwrap();
    let batch = json!({"requests": [{
        "id": "deep", "method": "POST", "url": POLICIES,
        "headers": {"Content-Type": "application/json"}, "body": inner
    }]});
    let answer = client
        .post("v1.0", "$batch", &batch)
        .await
        .expect(200)
        .json();
    let item = by_id(&answer, "deep");
    assert_eq!(item["status"], 400, "{item}");
    assert_eq!(item["body"]["error"]["code"], "ModelValidationFailure");
    let envelope = format!(
        r#"{{"requests":[{{"id":"deep","method":"POST","url":"{POLICIES}","body":{}}}]}}"#,
        nested_policy(10_000)
    );
    let resp = client
        .post_raw("v1.0", "$batch", &envelope)
        .await
        .expect_error(400, "BadRequest");
    assert!(
        resp.error_message().contains("recursion limit"),
        "{}",
        resp.text
    );
    // Nothing was stored, and the server still answers.
    assert!(client.list("v1.0", POLICIES).await.is_empty());
}

//! OData query options computed in the store: $filter, $orderby, keyset paging, $select,
//! $expand, $count, and the safety of literals.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::HashSet;

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b'('
            | b')'
            | b','
            | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A policy with statuses for users u0..u{n-1}; every third is nonCompliant.
async fn policy_with_statuses(client: &Client, version: &str, n: usize) -> (String, Vec<Value>) {
    let policy = client.create_policy(version, "query").await;
    let mut created = Vec::new();
    for i in 0..n {
        let status = if i % 3 == 0 {
            "nonCompliant"
        } else {
            "compliant"
        };
        let body = json!({
            "deviceDisplayName": format!("device-{:02}", n - i),
            "userName": format!("u{}", i % 4),
            "userPrincipalName": format!("u{i}@contoso.example"),
            "status": status,
            "complianceGracePeriodExpirationDateTime": "2024-01-01T00:00:00Z",
            "lastReportedDateTime": format!("2024-03-{:02}T10:00:00+02:00", i % 28 + 1),
        });
        let resp = client
            .post(
                version,
                &format!("{}/deviceStatuses", policy_path(&policy)),
                &body,
            )
            .await
            .expect(201);
        created.push(resp.json());
    }
    (policy, created)
}

/// Follows `@odata.nextLink` to the end; returns every item and the number of pages.
async fn walk(client: &Client, first: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages) = (Vec::new(), 0);
    let mut next = Some(first.to_string());
    while let Some(url) = next {
        let page = client.get_url(&url).await.expect(200).json();
        pages += 1;
        items.extend(page["value"].as_array().unwrap().iter().cloned());
        next = page["@odata.nextLink"].as_str().map(str::to_string);
        assert!(pages < 1000, "runaway paging");
    }
    (items, pages)
}

#[tokio::test]
async fn filter_by_enum_walks_every_match_exactly_once() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, created) = policy_with_statuses(&client, "v1.0", 25).await;
    let expected: HashSet<String> = created
        .iter()
        .filter(|s| s["status"] == "nonCompliant")
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let url = client.url(
        "v1.0",
        &format!(
            "{}/deviceStatuses?$filter={}&$top=2",
            policy_path(&policy),
            enc("status eq 'nonCompliant'")
        ),
    );
    let (items, pages) = walk(&client, &url).await;
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), expected.len(), "no duplicates, nothing missing");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), expected);
    assert_eq!(pages, expected.len().div_ceil(2));
    let first = client.get_url(&url).await.json();
    let link = first["@odata.nextLink"].as_str().unwrap();
    assert!(
        link.starts_with(&server.base),
        "absolute on our host: {link}"
    );
    assert!(
        link.contains("$filter=") && link.contains("$top=2") && link.contains("$skiptoken="),
        "{link}"
    );
}

#[tokio::test]
async fn server_paging_uses_the_page_size_and_top_up_to_999() {
    let server = Server::start_with(|c| c.page_size = 5).await;
    let client = server.client();
    let (policy, _) = policy_with_statuses(&client, "beta", 12).await;
    let path = format!("{}/deviceStatuses", policy_path(&policy));
    let (items, pages) = walk(&client, &client.url("beta", &path)).await;
    assert_eq!((items.len(), pages), (12, 3));
    let all = client
        .get("beta", &format!("{path}?$top=999"))
        .await
        .expect(200)
        .json();
    assert_eq!(all["value"].as_array().unwrap().len(), 12);
    assert!(all.get("@odata.nextLink").is_none());
    client
        .get("beta", &format!("{path}?$top=1000"))
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn orderby_several_keys_pages_in_order() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, created) = policy_with_statuses(&client, "v1.0", 14).await;
    let mut expected: Vec<(String, String)> = created
        .iter()
        .map(|s| {
            (
                s["userName"].as_str().unwrap().to_string(),
                s["deviceDisplayName"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let url = client.url(
        "v1.0",
        &format!(
            "{}/deviceStatuses?$orderby={}&$top=3",
            policy_path(&policy),
            enc("userName desc,deviceDisplayName asc")
        ),
    );
    let (items, _) = walk(&client, &url).await;
    let got: Vec<(String, String)> = items
        .iter()
        .map(|s| {
            (
                s["userName"].as_str().unwrap().to_string(),
                s["deviceDisplayName"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn dates_compare_as_instants_across_offsets() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, created) = policy_with_statuses(&client, "v1.0", 10).await;
    let path = format!("{}/deviceStatuses", policy_path(&policy));
    let expected_ge = created
        .iter()
        .filter(|s| s["lastReportedDateTime"].as_str().unwrap() >= "2024-03-05")
        .count();
    // (filter, expected count, why); day d is reported at 2024-03-0dT10:00:00+02:00 (08:00Z).
    let cases = [
        (
            "lastReportedDateTime ge 2024-03-05T08:00:00Z",
            expected_ge,
            "ge 08:00Z includes day 5",
        ),
        (
            "lastReportedDateTime gt 2024-03-05T08:00:00Z",
            expected_ge - 1,
            "gt 08:00Z excludes day 5",
        ),
        (
            "lastReportedDateTime eq 2024-03-05T09:00:00.0000000+01:00",
            1,
            "the same instant in another offset",
        ),
        (
            "year(lastReportedDateTime) eq 2024 and day(lastReportedDateTime) le 2",
            2,
            "date parts in the value's own offset: days 1 and 2",
        ),
    ];
    for (filter, expected, why) in cases {
        let url = format!("{path}/$count?$filter={}", enc(filter));
        let count = client.get("v1.0", &url).await.expect(200).text;
        assert_eq!(count, expected.to_string(), "{filter}: {why}");
    }
}

#[tokio::test]
async fn select_projects_and_shapes_the_context() {
    let server = Server::start().await;
    let client = server.client();
    let policy = client.create_policy("v1.0", "selected").await;
    let list = client
        .get("v1.0", &format!("{POLICIES}?$select=displayName,version"))
        .await
        .expect(200);
    assert!(
        list.context()
            .ends_with("#deviceManagement/deviceCompliancePolicies(displayName,version)"),
        "{}",
        list.context()
    );
    let item = &list.values()[0];
    let keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["@odata.type", "id", "displayName", "version"]);
    let one = client
        .get(
            "v1.0",
            &format!("{}?$select=description", policy_path(&policy)),
        )
        .await
        .expect(200);
    assert!(
        one.context()
            .ends_with("deviceCompliancePolicies(description)/$entity"),
        "{}",
        one.context()
    );
    client
        .get("v1.0", &format!("{POLICIES}?$select=nosuch"))
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn expand_reads_scheduled_actions_and_assignments_nested() {
    let server = Server::start().await;
    let client = server.client();
    let policy = client.create_policy("beta", "expanded").await;
    let assign = json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]});
    client
        .post("beta", &format!("{}/assign", policy_path(&policy)), &assign)
        .await
        .expect(200);
    let expand = enc("assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)");
    let body = client
        .get(
            "beta",
            &format!("{}?$expand={expand}", policy_path(&policy)),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(body["assignments"].as_array().unwrap().len(), 1);
    let rules = body["scheduledActionsForRule"].as_array().unwrap();
    assert_eq!(rules[0]["ruleName"], "PasswordRequired");
    assert_eq!(
        rules[0]["scheduledActionConfigurations"][0]["actionType"],
        "block"
    );
    let list = client
        .get(
            "beta",
            &format!(
                "{POLICIES}?$expand={}",
                enc("scheduledActionsForRule($select=ruleName),deviceStatusOverview")
            ),
        )
        .await;
    let first = &list.expect(200).values()[0];
    assert_eq!(
        first["scheduledActionsForRule"][0]
            .as_object()
            .unwrap()
            .len(),
        3,
        "@odata.type, id, ruleName"
    );
    assert_eq!(first["deviceStatusOverview"]["id"], policy.as_str());
    let plain = client.get("beta", &policy_path(&policy)).await.json();
    assert!(plain.get("scheduledActionsForRule").is_none() && plain.get("assignments").is_none());
    client
        .get("beta", &format!("{POLICIES}?$expand=nosuch"))
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn counts_follow_the_filter() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, created) = policy_with_statuses(&client, "v1.0", 9).await;
    let path = format!("{}/deviceStatuses", policy_path(&policy));
    let non = created
        .iter()
        .filter(|s| s["status"] == "nonCompliant")
        .count();
    let body = client
        .get(
            "v1.0",
            &format!(
                "{path}?$count=true&$top=1&$filter={}",
                enc("status eq 'nonCompliant'")
            ),
        )
        .await
        .json();
    assert_eq!(body["@odata.count"], non);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    let plain = client
        .get("v1.0", &format!("{path}/$count"))
        .await
        .expect(200);
    assert_eq!(plain.text, "9");
    assert!(plain
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
}

/// `$count` and the page it comes with are read from one snapshot: while statuses are being
/// created, every answer's count is the number of items it lists (all fit on one page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_agrees_with_its_page_while_writes_land() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, _) = policy_with_statuses(&client, "beta", 1).await;
    let path = format!("{}/deviceStatuses", policy_path(&policy));
    let writer = {
        let (client, path) = (client.clone(), path.clone());
        tokio::spawn(async move {
            for i in 0..150 {
                let body = json!({"deviceDisplayName": format!("d{i}"), "status": "compliant"});
                client.post("beta", &path, &body).await.expect(201);
            }
        })
    };
    let mut answers = 0;
    let mut last = 0;
    while !writer.is_finished() || answers == 0 {
        let body = client
            .get("beta", &format!("{path}?$count=true&$top=999"))
            .await
            .json();
        let listed = body["value"].as_array().unwrap().len();
        assert_eq!(body["@odata.count"], listed, "answer {answers}");
        assert!(listed >= last, "a later answer lists fewer");
        last = listed;
        answers += 1;
    }
    writer.await.unwrap();
    assert!(answers > 1);
}

/// Status filters over `policy_with_statuses(12)`: (filter, expected count, why).
const STATUS_FILTERS: &[(&str, &str, &str)] = &[
    ("startswith(userPrincipalName, 'u1')", "3", "u1, u10, u11"),
    (
        "endswith(userPrincipalName, '1@contoso.example')",
        "2",
        "u1, u11",
    ),
    ("contains(deviceDisplayName, '-1')", "3", "device-10..12"),
    (
        "toupper(userName) eq 'U2' and length(userName) eq 2",
        "3",
        "userName u2 for i = 2, 6, 10",
    ),
    (
        "status in ('compliant', 'error') and not (userName eq 'u1')",
        "6",
        "8 compliant, less u1's two (i = 1, 5)",
    ),
];

/// Policy filters over the statuses' policy ("query"), an iOS policy tagged 0 and TAG (a scope tag
/// created first; `TAG` is replaced by its id) and a Windows 10 policy with BitLocker ("bl"):
/// (filter, expected names, why).
const POLICY_FILTERS: &[(&str, &[&str], &str)] = &[
    (
        "roleScopeTagIds/any(t: t eq 'TAG')",
        &["ios"],
        "only ios has the created tag",
    ),
    (
        "roleScopeTagIds/all(t: t eq '0')",
        &["bl", "query"],
        "every tag is 0 (the default); ios also has the created tag",
    ),
    (
        "microsoft.graph.windows10CompliancePolicy/bitLockerEnabled eq true",
        &["bl"],
        "a derived type's property through a cast",
    ),
    (
        "isof('microsoft.graph.iosCompliancePolicy')",
        &["ios"],
        "the runtime type",
    ),
    (
        "displayName eq 'ios' or displayName eq 'bl'",
        &["bl", "ios"],
        "either name",
    ),
];

#[tokio::test]
async fn functions_lambdas_casts_and_isof() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, _) = policy_with_statuses(&client, "beta", 12).await;
    let path = format!("{}/deviceStatuses/$count", policy_path(&policy));
    for (filter, expected, why) in STATUS_FILTERS {
        let count = client
            .get("beta", &format!("{path}?$filter={}", enc(filter)))
            .await
            .expect(200)
            .text;
        assert_eq!(count, *expected, "{filter}: {why}");
    }

    let tag = client.create_scope_tag("seven").await;
    let ios = json!({"@odata.type": "#microsoft.graph.iosCompliancePolicy", "displayName": "ios", "roleScopeTagIds": ["0", tag]});
    client.post("beta", POLICIES, &ios).await.expect(201);
    let bitlocker = json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "bl", "bitLockerEnabled": true});
    client.post("beta", POLICIES, &bitlocker).await.expect(201);
    for (filter, expected, why) in POLICY_FILTERS {
        let filter = &filter.replace("TAG", &tag);
        let list = client
            .get("beta", &format!("{POLICIES}?$filter={}", enc(filter)))
            .await
            .expect(200);
        let mut names: Vec<String> = list
            .values()
            .iter()
            .map(|p| p["displayName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(names, *expected, "{filter}: {why}");
    }
}

#[tokio::test]
async fn bad_query_options_name_the_offending_token() {
    let server = Server::start().await;
    let client = server.client();
    let cases = [
        ("$filter=nosuch eq 1", "nosuch"),
        ("$filter=displayName eq 5", "displayName"),
        ("$filter=frob(displayName)", "frob"),
        ("$filter=startswith(displayName, 5)", "startswith"),
        ("$filter=displayName eq 'x' )", "position"),
        ("$orderby=nosuch", "nosuch"),
        ("$bogus=1", "$bogus"),
        ("$top=1&$top=2", "$top"),
        ("$skiptoken=abc", "$skiptoken"),
    ];
    for (query, token) in cases {
        let resp = client
            .get("v1.0", &format!("{POLICIES}?{}", query.replace(' ', "%20")))
            .await;
        let resp = resp.expect_error(400, "BadRequest");
        assert!(
            resp.error_message().contains(token),
            "{query}: {}",
            resp.error_message()
        );
    }
    let deep = format!(
        "$filter={}displayName eq 'x'{}",
        "(".repeat(300),
        ")".repeat(300)
    );
    client
        .get(
            "v1.0",
            &format!(
                "{POLICIES}?{}",
                enc(&deep).replacen("%24filter%3D", "$filter=", 1)
            ),
        )
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn skiptokens_are_bound_to_their_query() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, _) = policy_with_statuses(&client, "v1.0", 6).await;
    let path = format!("{}/deviceStatuses", policy_path(&policy));
    let first = client.get("v1.0", &format!("{path}?$top=2")).await.json();
    let link = first["@odata.nextLink"].as_str().unwrap().to_string();
    let token = link.split("$skiptoken=").nth(1).unwrap().to_string();
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    client
        .get("v1.0", &format!("{path}?$top=2&$skiptoken={tampered}"))
        .await
        .expect_error(400, "BadRequest");
    let foreign = format!(
        "{path}?$top=2&$filter={}&$skiptoken={token}",
        enc("status eq 'compliant'")
    );
    client
        .get("v1.0", &foreign)
        .await
        .expect_error(400, "BadRequest");
    let other = client.create_policy("v1.0", "other").await;
    client
        .get(
            "v1.0",
            &format!(
                "{}/deviceStatuses?$top=2&$skiptoken={token}",
                policy_path(&other)
            ),
        )
        .await
        .expect_error(400, "BadRequest");
    client.get_url(&link).await.expect(200);
}

#[tokio::test]
async fn injection_strings_are_only_data() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, _) = policy_with_statuses(&client, "v1.0", 4).await;
    let path = format!("{}/deviceStatuses", policy_path(&policy));
    for hostile in [
        "x' OR 1=1 --",
        "x'; DROP TABLE entity; --",
        "') OR ('1'='1",
        "\" OR \"\"=\"",
    ] {
        let literal = hostile.replace('\'', "''");
        let resp = client
            .get(
                "v1.0",
                &format!(
                    "{path}?$filter={}",
                    enc(&format!("userName eq '{literal}'"))
                ),
            )
            .await;
        assert_eq!(resp.expect(200).values().len(), 0, "{hostile}");
        let body = json!({"userName": hostile, "status": "error",
            "complianceGracePeriodExpirationDateTime": "2024-01-01T00:00:00Z", "lastReportedDateTime": "2024-01-01T00:00:00Z"});
        client.post("v1.0", &path, &body).await.expect(201);
        let found = client
            .get(
                "v1.0",
                &format!(
                    "{path}?$filter={}",
                    enc(&format!("userName eq '{literal}'"))
                ),
            )
            .await;
        assert_eq!(found.expect(200).values()[0]["userName"], hostile);
    }
    for hostile in [
        "userName; DROP TABLE entity",
        "userName desc, (SELECT 1)",
        "1",
    ] {
        client
            .get("v1.0", &format!("{path}?$orderby={}", enc(hostile)))
            .await
            .expect_error(400, "BadRequest");
    }
    assert_eq!(
        client.get("v1.0", &format!("{path}/$count")).await.text,
        "8"
    );
}

#[tokio::test]
async fn skip_and_filters_on_nested_complex_values() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, _) = policy_with_statuses(&client, "v1.0", 5).await;
    let path = format!("{}/deviceStatuses", policy_path(&policy));
    let all = client
        .get("v1.0", &format!("{path}?$orderby=userPrincipalName"))
        .await
        .values();
    let skipped = client
        .get(
            "v1.0",
            &format!("{path}?$orderby=userPrincipalName&$skip=2"),
        )
        .await
        .values();
    assert_eq!(skipped, all[2..].to_vec());
    let group = "33333333-3333-4333-8333-333333333333";
    let assign = json!({"assignments": [
        {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}},
        {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]});
    client
        .post("v1.0", &format!("{}/assign", policy_path(&policy)), &assign)
        .await
        .expect(200);
    let found = client
        .get(
            "v1.0",
            &format!(
                "{}/assignments?$filter={}",
                policy_path(&policy),
                enc(&format!("target/groupId eq '{group}'"))
            ),
        )
        .await;
    assert_eq!(found.expect(200).values().len(), 1);
}

#[tokio::test]
async fn intune_fidelity_restricts_string_functions() {
    for (server, refused) in [
        (Server::start().await, false),
        (Server::intune().await, true),
    ] {
        let client = server.client();
        let (policy, _) = policy_with_statuses(&client, "v1.0", 6).await;
        let on_policies = client
            .get(
                "v1.0",
                &format!("{POLICIES}?$filter={}", enc("contains(displayName, 'que')")),
            )
            .await;
        if refused {
            on_policies.expect_error(400, "BadRequest");
        } else {
            assert_eq!(on_policies.expect(200).values().len(), 1);
        }
        let filter = enc("startswith(userPrincipalName, 'u1')");
        let statuses = client
            .get(
                "v1.0",
                &format!("{}/deviceStatuses?$filter={filter}", policy_path(&policy)),
            )
            .await;
        // Live status lists drop a filter they cannot serve; the documented mode applies it.
        assert_eq!(
            statuses.expect(200).values().len(),
            if refused { 6 } else { 1 }
        );
    }
}

#[tokio::test]
async fn hot_filters_use_their_indexes() {
    let server = Server::start().await;
    let client = server.client();
    let (policy, _) = policy_with_statuses(&client, "v1.0", 3).await;
    // The suite's own store (SQLite in the folder, or the folder's PostgreSQL database).
    let store = complyd::store::open(test_store(server.data_dir()).as_deref(), server.data_dir())
        .await
        .unwrap();
    let model = odata::Model::intune().unwrap();
    let status_type = model
        .structured("microsoft.graph.deviceComplianceDeviceStatus")
        .unwrap();
    let policy_type = model
        .structured("microsoft.graph.deviceCompliancePolicy")
        .unwrap();
    // The indexes the model declares, by the names the store generated for them.
    let generated = complyd::store::indexes::declared(model).unwrap().0;
    let url = test_store(server.data_dir());
    let index = |collection: &str, property: &str| {
        generated
            .iter()
            .find(|i| i.collection == collection && i.property == property)
            .map(|i| i.name_in_store(url.as_deref()).to_string())
            .unwrap()
    };
    let cases = [
        (
            status_type,
            "deviceCompliancePolicies/deviceStatuses",
            policy.as_str(),
            "status eq 'nonCompliant'",
            index("deviceCompliancePolicies/deviceStatuses", "status"),
        ),
        (
            status_type,
            "deviceCompliancePolicies/deviceStatuses",
            policy.as_str(),
            "userPrincipalName eq 'a'",
            index(
                "deviceCompliancePolicies/deviceStatuses",
                "userPrincipalName",
            ),
        ),
        (
            status_type,
            "deviceCompliancePolicies/deviceStatuses",
            policy.as_str(),
            "lastReportedDateTime gt 2024-01-01T00:00:00Z",
            index(
                "deviceCompliancePolicies/deviceStatuses",
                "lastReportedDateTime",
            ),
        ),
        (
            policy_type,
            "deviceCompliancePolicies",
            "",
            "displayName eq 'x'",
            index("deviceCompliancePolicies", "displayName"),
        ),
        (
            policy_type,
            "deviceCompliancePolicies",
            "",
            "lastModifiedDateTime lt 2030-01-01T00:00:00Z",
            index("deviceCompliancePolicies", "lastModifiedDateTime"),
        ),
    ];
    for (ty, collection, parent, filter, index) in cases {
        let options = odata::query::QueryOptions::parse([("$filter", filter)], false).unwrap();
        let bound = odata::query::bind::bind(model, odata::Version::V1, ty, &options).unwrap();
        let mut query = complyd::store::Query::all(TENANT, collection, parent);
        query.filter = bound.filter;
        let plan = store.explain(query).await.unwrap().join(" | ");
        assert!(plan.contains(&index), "{filter}: {plan}");
    }
}

#[tokio::test]
async fn stored_shape_answers_exactly_as_the_projection_would() {
    let server = Server::start().await;
    let client = server.client();
    let policy = client.create_policy("beta", "shape").await;
    let patch = json!({"description": "patched", "roleScopeTagIds": ["0"]});
    client
        .patch("beta", &policy_path(&policy), &patch)
        .await
        .expect(200);
    // A plain read answers the stored body as it is; an expanded read re-projects it.
    let plain = client
        .get("beta", &policy_path(&policy))
        .await
        .expect(200)
        .json();
    let mut projected = client
        .get(
            "beta",
            &format!("{}?$expand=assignments", policy_path(&policy)),
        )
        .await
        .expect(200)
        .json();
    projected.as_object_mut().unwrap().remove("assignments");
    assert_eq!(plain, projected);
    let status = client
        .post(
            "beta",
            &format!("{}/deviceStatuses", policy_path(&policy)),
            &device_status("error"),
        )
        .await
        .expect(201);
    let listed = client
        .get("beta", &format!("{}/deviceStatuses", policy_path(&policy)))
        .await
        .values();
    let mut created = status.json();
    created.as_object_mut().unwrap().remove("@odata.context");
    assert_eq!(listed[0], created);
}

//! Every URL of rows 1–22 of §2.1, with each documented method, in both versions and with both
//! key syntaxes; containment, merge semantics, `@odata.context` shapes and derived overviews.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// `/x/{id}` and `/x('{id}')`: the two spellings of one entity's URL.
fn both_keys(collection: &str, id: &str) -> [String; 2] {
    [
        format!("{collection}/{id}"),
        format!("{collection}('{id}')"),
    ]
}

/// The context fragment of a policy's contained collection.
fn contained(policy: &str, nav: &str) -> String {
    format!("{POLICIES}('{policy}')/{nav}")
}

/// Every property of `expected` is in `actual` with that value (nested objects: recursively).
#[track_caller]
fn assert_has(actual: &Value, expected: &Value) {
    match expected.as_object() {
        Some(expected) => {
            for (key, value) in expected {
                assert_has(&actual[key], value);
            }
        }
        None => assert_eq!(actual, expected),
    }
}

/// One contained collection to drive through POST, GET (collection and both key syntaxes),
/// a merging PATCH and DELETE.
struct Collection {
    path: String,
    context: String,
    create: Value,
    patch: Value,
    /// A property set on create that the PATCH leaves alone.
    kept: &'static str,
}

async fn exercise(client: &Client, version: &str, c: &Collection) {
    let entity_context = format!("{}/$entity", c.context);
    let created = client.post(version, &c.path, &c.create).await.expect(201);
    let created = created.expect_context(version, &entity_context);
    let id = created.id();
    let created = created.json();
    assert_has(&created, &c.create);
    let listed = client.get(version, &c.path).await.expect(200);
    let listed = listed.expect_context(version, &c.context);
    assert!(
        listed.values().iter().any(|v| v["id"] == id.as_str()),
        "{}",
        listed.text
    );

    let urls = both_keys(&c.path, &id);
    for url in &urls {
        let read = client.get(version, url).await.expect(200);
        let read = read.expect_context(version, &entity_context).json();
        assert_eq!(read["id"], id.as_str());
        assert_has(&read, &c.create);
    }

    let patched = client.patch(version, &urls[1], &c.patch).await.expect(200);
    let patched = patched.expect_context(version, &entity_context).json();
    assert_has(&patched, &c.patch);
    assert_eq!(
        patched[c.kept], created[c.kept],
        "PATCH must merge: {patched}"
    );
    let reread = client.get(version, &urls[0]).await.expect(200).json();
    assert_has(&reread, &c.patch);
    assert_eq!(reread[c.kept], created[c.kept]);

    client.delete(version, &urls[0]).await.expect(204);
    for url in &urls {
        client.expect_gone(version, url).await;
    }
    assert!(!client.ids(version, &c.path).await.contains(&id));
}

#[tokio::test]
async fn policies_are_listed_created_read_patched_and_deleted() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let listed = client.get(version, POLICIES).await.expect(200);
        let listed = listed.expect_context(version, POLICIES);
        assert!(listed.values().is_empty(), "{}", listed.text);

        let body = windows10_policy("routes");
        let created = client.post(version, POLICIES, &body).await.expect(201);
        let created = created.expect_context(version, &format!("{POLICIES}/$entity"));
        let id = created.id();
        let created = created.json();
        assert_eq!(
            created["@odata.type"],
            "#microsoft.graph.windows10CompliancePolicy"
        );
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "id {id} is not a GUID");
        assert_eq!(created["displayName"], "routes");
        assert_eq!(created["passwordRequired"], true);
        assert_eq!(created["version"], 1);
        assert!(created["createdDateTime"].is_string());
        assert_eq!(created["lastModifiedDateTime"], created["createdDateTime"]);

        assert_eq!(client.ids(version, POLICIES).await, vec![id.clone()]);
        let urls = both_keys(POLICIES, &id);
        for url in &urls {
            let read = client.get(version, url).await.expect(200);
            let read = read.expect_context(version, &format!("{POLICIES}/$entity"));
            assert_eq!(read.json(), {
                let mut c = created.clone();
                c["@odata.context"] = read.json()["@odata.context"].clone();
                c
            });
        }

        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let patch = json!({ "description": "changed", "passwordBlockSimple": true });
        let patched = client
            .patch(version, &urls[1], &patch)
            .await
            .expect(200)
            .json();
        assert_eq!(patched["description"], "changed");
        assert_eq!(patched["passwordBlockSimple"], true);
        assert_eq!(
            patched["displayName"], "routes",
            "unset properties keep their values"
        );
        assert_eq!(patched["passwordRequired"], true);
        assert_eq!(patched["version"], 2);
        assert_eq!(patched["createdDateTime"], created["createdDateTime"]);
        assert_ne!(
            patched["lastModifiedDateTime"],
            created["lastModifiedDateTime"]
        );
        let again = client
            .patch(version, &urls[0], &json!({ "description": "again" }))
            .await;
        assert_eq!(again.expect(200).json()["version"], 3);
        assert_eq!(
            client.get(version, &urls[0]).await.expect(200).json()["version"],
            3
        );

        client.delete(version, &urls[1]).await.expect(204);
        for url in &urls {
            client.expect_gone(version, url).await;
        }
        assert!(client.list(version, POLICIES).await.is_empty());
    }
}

/// `method` (with a body) and DELETE on `path` are both 400 "No method match route template".
async fn write_and_delete_not_routed(client: &Client, version: &str, method: Method, path: &str) {
    let url = client.url(version, path);
    let body = Some(json!({ "successCount": 1 }).to_string());
    for (method, body) in [(method, body), (Method::DELETE, None)] {
        client
            .send(method, &url, body)
            .await
            .expect_error(400, ROUTE_ERROR);
    }
}

#[tokio::test]
async fn patch_and_delete_on_the_policy_collection_are_not_routed() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        write_and_delete_not_routed(&client, version, Method::PATCH, POLICIES).await;
    }
}

#[tokio::test]
async fn every_contained_collection_supports_its_methods() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "children").await;
        let rule_create = json!({ "ruleName": "PasswordRequired" });
        let rules = format!("{POLICIES}('{p}')/scheduledActionsForRule");
        let rule = client
            .post(version, &rules, &rule_create)
            .await
            .expect(201)
            .id();
        let collections = [
            Collection {
                path: format!("{POLICIES}/{p}/assignments"),
                context: contained(&p, "assignments"),
                create: json!({ "target": {
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "groupId": "g-1"
                }}),
                patch: json!({ "target": {
                    "@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget",
                    "groupId": "g-2"
                }}),
                kept: "id",
            },
            Collection {
                path: format!("{POLICIES}('{p}')/deviceStatuses"),
                context: contained(&p, "deviceStatuses"),
                create: json!({ "deviceDisplayName": "laptop", "status": "compliant",
                    "userName": "ann" }),
                patch: json!({ "status": "nonCompliant" }),
                kept: "deviceDisplayName",
            },
            Collection {
                path: format!("{POLICIES}/{p}/userStatuses"),
                context: contained(&p, "userStatuses"),
                create: json!({ "userDisplayName": "Ann", "devicesCount": 2, "status": "error" }),
                patch: json!({ "devicesCount": 3 }),
                kept: "userDisplayName",
            },
            Collection {
                path: format!("{POLICIES}/{p}/deviceSettingStateSummaries"),
                context: contained(&p, "deviceSettingStateSummaries"),
                create: json!({ "settingName": "PasswordRequired", "compliantDeviceCount": 4 }),
                patch: json!({ "compliantDeviceCount": 5, "errorDeviceCount": 1 }),
                kept: "settingName",
            },
            Collection {
                path: rules.clone(),
                context: contained(&p, "scheduledActionsForRule"),
                create: json!({ "ruleName": "Other" }),
                patch: json!({ "ruleName": "Renamed" }),
                kept: "id",
            },
            Collection {
                path: format!("{rules}/{rule}/scheduledActionConfigurations"),
                context: format!(
                    "{}('{rule}')/scheduledActionConfigurations",
                    contained(&p, "scheduledActionsForRule")
                ),
                create: json!({ "actionType": "notification", "gracePeriodHours": 24,
                    "notificationMessageCCList": ["g-1"] }),
                patch: json!({ "gracePeriodHours": 48 }),
                kept: "actionType",
            },
        ];
        for collection in &collections {
            exercise(&client, version, collection).await;
        }
    }
}

#[tokio::test]
async fn tenant_setting_state_summaries_and_their_setting_states() {
    let server = Server::start().await;
    let client = server.client();
    let root = "deviceManagement/deviceCompliancePolicySettingStateSummaries";
    for version in VERSIONS {
        exercise(
            &client,
            version,
            &Collection {
                path: root.to_string(),
                context: root.to_string(),
                create: json!({ "setting": "IOSCompliancePolicy.PasscodeRequired",
                    "platformType": "iOS", "nonCompliantDeviceCount": 2 }),
                patch: json!({ "nonCompliantDeviceCount": 1 }),
                kept: "setting",
            },
        )
        .await;
        let summary = json!({ "setting": "s", "settingName": "s", "platformType": "android" });
        let s = client.post(version, root, &summary).await.expect(201).id();
        exercise(
            &client,
            version,
            &Collection {
                path: format!("{root}('{s}')/deviceComplianceSettingStates"),
                context: format!("{root}('{s}')/deviceComplianceSettingStates"),
                create: json!({ "deviceName": "phone", "state": "compliant", "userId": "u1",
                    "complianceGracePeriodExpirationDateTime": "2024-03-04T05:06:07Z" }),
                patch: json!({ "state": "conflict" }),
                kept: "deviceName",
            },
        )
        .await;
    }
}

#[tokio::test]
async fn overviews_count_the_statuses_until_patched() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "overview").await;
        let policy = client
            .get(version, &policy_path(&p))
            .await
            .expect(200)
            .json();
        let devices = format!("{POLICIES}/{p}/deviceStatuses");
        let users = format!("{POLICIES}/{p}/userStatuses");
        let overview = format!("{POLICIES}/{p}/deviceStatusOverview");
        let user_overview = format!("{POLICIES}('{p}')/userStatusOverview");

        let empty = client.get(version, &overview).await.expect(200);
        let empty = empty.expect_context(version, &contained(&p, "deviceStatusOverview/$entity"));
        let empty = empty.json();
        assert_eq!(empty["id"], p.as_str());
        for counter in ["successCount", "failedCount", "errorCount", "pendingCount"] {
            assert_eq!(empty[counter], 0, "{counter}: {empty}");
        }
        assert_eq!(empty["configurationVersion"], policy["version"]);

        for status in ["compliant", "compliant", "nonCompliant"] {
            client
                .post(version, &devices, &device_status(status))
                .await
                .expect(201);
        }
        for status in ["compliant", "error", "error"] {
            client
                .post(version, &users, &user_status(status))
                .await
                .expect(201);
        }
        let counted = client.get(version, &overview).await.expect(200).json();
        assert_eq!(
            (
                counted["successCount"].clone(),
                counted["failedCount"].clone()
            ),
            (json!(2), json!(1))
        );
        assert_eq!(counted["errorCount"], 0);
        let by_user = client.get(version, &user_overview).await.expect(200);
        let by_user = by_user.expect_context(version, &contained(&p, "userStatusOverview/$entity"));
        let by_user = by_user.json();
        assert_eq!(
            (
                by_user["successCount"].clone(),
                by_user["errorCount"].clone()
            ),
            (json!(1), json!(2))
        );

        // A deleted status is no longer counted.
        let first = client.ids(version, &devices).await[0].clone();
        client
            .delete(version, &format!("{devices}/{first}"))
            .await
            .expect(204);
        assert_eq!(
            client.get(version, &overview).await.expect(200).json()["successCount"],
            1
        );

        let patched = client
            .patch(version, &overview, &json!({ "successCount": 10 }))
            .await;
        let patched = patched.expect(200);
        let patched =
            patched.expect_context(version, &contained(&p, "deviceStatusOverview/$entity"));
        let patched = patched.json();
        assert_eq!(patched["successCount"], 10);
        assert_eq!(
            patched["failedCount"], 1,
            "PATCH merges into the counted values"
        );
        client
            .post(version, &devices, &device_status("nonCompliant"))
            .await
            .expect(201);
        let after = client.get(version, &overview).await.expect(200).json();
        assert_eq!(
            (after["successCount"].clone(), after["failedCount"].clone()),
            (json!(10), json!(1))
        );

        let user_patch = json!({ "pendingCount": 7 });
        let user_patched = client
            .patch(version, &user_overview, &user_patch)
            .await
            .expect(200);
        assert_eq!(user_patched.json()["pendingCount"], 7);
        assert_eq!(
            client.get(version, &user_overview).await.expect(200).json()["pendingCount"],
            7
        );
    }
}

#[tokio::test]
async fn single_valued_navigations_have_no_post_or_delete() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "single").await;
        for path in [
            format!("{POLICIES}/{p}/deviceStatusOverview"),
            format!("{POLICIES}/{p}/userStatusOverview"),
            "deviceManagement/deviceCompliancePolicyDeviceStateSummary".to_string(),
        ] {
            write_and_delete_not_routed(&client, version, Method::POST, &path).await;
        }
    }
}

#[tokio::test]
async fn assign_replaces_the_whole_assignment_set() {
    let server = Server::start().await;
    let client = server.client();
    let group = |id: &str| json!({ "target": { "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": id } });
    for version in VERSIONS {
        let p = client.create_policy(version, "assign").await;
        let assignments = format!("{POLICIES}/{p}/assignments");
        let old = client
            .post(version, &assignments, &group("old"))
            .await
            .expect(201)
            .id();

        let body = json!({ "assignments": [group("g1"), group("g2")] });
        let assigned = client
            .post(version, &format!("{POLICIES}('{p}')/assign"), &body)
            .await;
        let assigned = assigned.expect(200);
        let assigned = assigned.expect_context(
            version,
            "Collection(microsoft.graph.deviceCompliancePolicyAssignment)",
        );
        let value = assigned.values();
        assert_eq!(value.len(), 2, "{}", assigned.text);
        let groups: Vec<&Value> = value.iter().map(|a| &a["target"]["groupId"]).collect();
        assert_eq!(groups, [&json!("g1"), &json!("g2")]);

        let mut listed = client.ids(version, &assignments).await;
        let mut returned: Vec<String> = value
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect();
        listed.sort();
        returned.sort();
        assert_eq!(listed, returned, "the set is exactly what was assigned");
        assert!(!listed.contains(&old));
        client
            .expect_gone(version, &format!("{assignments}/{old}"))
            .await;

        let cleared = client
            .post(
                version,
                &format!("{POLICIES}/{p}/assign"),
                &json!({ "assignments": [] }),
            )
            .await;
        assert!(cleared.expect(200).values().is_empty());
        assert!(client.list(version, &assignments).await.is_empty());
    }
}

#[tokio::test]
async fn schedule_actions_for_rules_replaces_rules_and_their_configurations() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "schedule").await;
        let rules = format!("{POLICIES}/{p}/scheduledActionsForRule");
        let old_rule = client.ids(version, &rules).await[0].clone();
        let old_configs = format!("{rules}/{old_rule}/scheduledActionConfigurations");
        let old_config = client.ids(version, &old_configs).await[0].clone();

        let body = json!({ "deviceComplianceScheduledActionForRules": [{
            "ruleName": "Replaced",
            "scheduledActionConfigurations": [
                { "actionType": "block", "gracePeriodHours": 12 },
                { "actionType": "notification", "gracePeriodHours": 24,
                  "notificationTemplateId": "t-1" }
            ]
        }]});
        let resp = client
            .post(
                version,
                &format!("{POLICIES}('{p}')/scheduleActionsForRules"),
                &body,
            )
            .await;
        assert!(resp.expect(204).text.is_empty());

        let now = client.list(version, &rules).await;
        assert_eq!(now.len(), 1);
        assert_eq!(now[0]["ruleName"], "Replaced");
        let new_rule = now[0]["id"].as_str().unwrap();
        assert_ne!(new_rule, old_rule);
        let configs = client
            .list(
                version,
                &format!("{rules}/{new_rule}/scheduledActionConfigurations"),
            )
            .await;
        let kinds: Vec<(&Value, &Value)> = configs
            .iter()
            .map(|c| (&c["actionType"], &c["gracePeriodHours"]))
            .collect();
        assert_eq!(
            kinds,
            [
                (&json!("block"), &json!(12)),
                (&json!("notification"), &json!(24))
            ]
        );

        client
            .expect_gone(version, &format!("{rules}/{old_rule}"))
            .await;
        client
            .expect_gone(version, &format!("{old_configs}/{old_config}"))
            .await;
    }
}

#[tokio::test]
async fn children_of_a_missing_policy_are_not_found() {
    let server = Server::start().await;
    let client = server.client();
    let missing = uuid::Uuid::new_v4().to_string();
    let base = policy_path(&missing);
    for version in VERSIONS {
        for nav in [
            "assignments",
            "deviceStatuses",
            "userStatuses",
            "deviceSettingStateSummaries",
            "scheduledActionsForRule",
        ] {
            let path = format!("{base}/{nav}");
            client.expect_orphan(version, &path, &json!({})).await;
            let child = format!("{path}/{}", uuid::Uuid::new_v4());
            client.expect_gone(version, &child).await;
        }
        for nav in ["deviceStatusOverview", "userStatusOverview"] {
            let path = format!("{base}/{nav}");
            client
                .get(version, &path)
                .await
                .expect_error(404, "ResourceNotFound");
            client
                .patch(version, &path, &json!({ "successCount": 1 }))
                .await
                .expect_error(404, "ResourceNotFound");
        }
        let assign = json!({ "assignments": [] });
        client
            .post(version, &format!("{base}/assign"), &assign)
            .await
            .expect_error(404, "ResourceNotFound");
        let schedule = json!({ "deviceComplianceScheduledActionForRules": [] });
        let resp = client
            .post(
                version,
                &format!("{base}/scheduleActionsForRules"),
                &schedule,
            )
            .await;
        resp.expect_error(404, "ResourceNotFound");

        // A configuration under a missing rule of an existing policy.
        let p = client.create_policy(version, "rule parent").await;
        // Under a policy that exists, an empty answer is no error.
        let statuses = format!("{}/deviceStatuses", policy_path(&p));
        let empty = client
            .get(version, &format!("{statuses}?$filter=status eq 'error'"))
            .await
            .expect(200);
        assert_eq!(empty.json()["value"], json!([]));
        let counted = client.get(version, &format!("{statuses}/$count")).await;
        assert_eq!((counted.status, counted.text.as_str()), (200, "0"));
        client
            .get(version, &format!("{statuses}?$filter=noSuchProperty eq 1"))
            .await
            .expect_error(400, "BadRequest");
        let configs = format!(
            "{POLICIES}/{p}/scheduledActionsForRule/{missing}/scheduledActionConfigurations"
        );
        let item = json!({ "actionType": "notification", "gracePeriodHours": 1 });
        client.expect_orphan(version, &configs, &item).await;
        let states = format!("deviceManagement/deviceCompliancePolicySettingStateSummaries/{missing}/deviceComplianceSettingStates");
        client
            .expect_orphan(version, &states, &json!({ "state": "compliant" }))
            .await;
    }
    assert_eq!(
        client.list("beta", POLICIES).await.len(),
        2,
        "nothing but the two parents was stored"
    );
}

/// Creates one child of every kind under `p`; returns the URL path of each.
async fn populate(client: &Client, p: &str) -> Vec<String> {
    let base = policy_path(p);
    let mut paths = Vec::new();
    let rules = format!("{base}/scheduledActionsForRule");
    let rule = client.ids("beta", &rules).await[0].clone();
    paths.push(format!("{rules}/{rule}"));
    let configs = format!("{rules}/{rule}/scheduledActionConfigurations");
    paths.push(format!(
        "{configs}/{}",
        client.ids("beta", &configs).await[0]
    ));
    let children = [
        (
            "assignments",
            json!({ "target": { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } }),
        ),
        ("deviceStatuses", device_status("compliant")),
        ("userStatuses", user_status("compliant")),
        ("deviceSettingStateSummaries", json!({ "settingName": "x" })),
    ];
    for (nav, body) in children {
        let path = format!("{base}/{nav}");
        let id = client.post("beta", &path, &body).await.expect(201).id();
        paths.push(format!("{path}/{id}"));
    }
    client
        .patch(
            "beta",
            &format!("{base}/deviceStatusOverview"),
            &json!({ "errorCount": 9 }),
        )
        .await
        .expect(200);
    paths
}

#[tokio::test]
async fn deleting_a_policy_deletes_everything_it_contains() {
    let server = Server::start().await;
    let client = server.client();
    let doomed = client.create_policy("beta", "doomed").await;
    let kept = client.create_policy("beta", "kept").await;
    let doomed_children = populate(&client, &doomed).await;
    let kept_children = populate(&client, &kept).await;
    let statuses = |p: &str| format!("{POLICIES}/{p}/deviceStatuses");
    assert_eq!(client.list("v1.0", &statuses(&doomed)).await.len(), 1);

    client
        .delete("v1.0", &format!("{POLICIES}('{doomed}')"))
        .await
        .expect(204);
    for version in VERSIONS {
        for path in &doomed_children {
            client.expect_gone(version, path).await;
        }
        for path in &kept_children {
            client.get(version, path).await.expect(200);
        }
        let overview = format!("{POLICIES}/{kept}/deviceStatusOverview");
        assert_eq!(
            client.get(version, &overview).await.expect(200).json()["errorCount"],
            9
        );
        assert_eq!(client.ids(version, POLICIES).await, vec![kept.clone()]);
    }
    assert_eq!(client.list("v1.0", &statuses(&kept)).await.len(), 1);
    client
        .get("v1.0", &statuses(&doomed))
        .await
        .expect_error(404, "ResourceNotFound");
}

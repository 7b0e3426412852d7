//! Each live-service behaviour of §2.4, in the documented mode and in `--fidelity intune`.

use crate::support::*;
use serde_json::{json, Value};

const ONE_BLOCK: &str = "Compliance policy must have one and only one block scheduled action";

/// A started server of each mode: (documented, intune).
async fn both_modes() -> [(Server, bool); 2] {
    [
        (Server::start().await, false),
        (Server::intune().await, true),
    ]
}

/// A notification action names its template or, as here, the zero GUID (--fidelity intune).
fn policy_with_actions(actions: &[&str]) -> Value {
    let mut body = windows10_policy("actions");
    let items: Vec<Value> = actions
        .iter()
        .map(|a| {
            json!({ "actionType": a, "gracePeriodHours": 1,
            "notificationTemplateId": "00000000-0000-0000-0000-000000000000" })
        })
        .collect();
    body["scheduledActionsForRule"] =
        json!([{ "ruleName": "PasswordRequired", "scheduledActionConfigurations": items }]);
    body
}

#[tokio::test]
async fn patch_answers_200_with_the_entity_or_204() {
    for (server, intune) in both_modes().await {
        let client = server.client();
        for version in VERSIONS {
            let p = client.create_policy(version, "patch").await;
            let status = client
                .post(
                    version,
                    &format!("{POLICIES}/{p}/deviceStatuses"),
                    &device_status("compliant"),
                )
                .await;
            let targets = [
                (
                    policy_path(&p),
                    json!({ "description": "new" }),
                    "description",
                ),
                (
                    format!("{POLICIES}/{p}/deviceStatuses/{}", status.expect(201).id()),
                    json!({ "status": "error" }),
                    "status",
                ),
                (
                    format!("{POLICIES}/{p}/deviceStatusOverview"),
                    json!({ "errorCount": 3 }),
                    "errorCount",
                ),
            ];
            for (path, patch, key) in targets {
                let resp = client.patch(version, &path, &patch).await;
                if intune {
                    assert!(resp.expect(204).text.is_empty());
                } else {
                    assert_eq!(resp.expect(200).json()[key], patch[key]);
                }
                assert_eq!(
                    client.get(version, &path).await.expect(200).json()[key],
                    patch[key],
                    "{path}"
                );
            }
            assert_eq!(
                client
                    .get(version, &policy_path(&p))
                    .await
                    .expect(200)
                    .json()["version"],
                2
            );
        }
    }
}

#[tokio::test]
async fn intune_requires_exactly_one_block_action_on_create() {
    for (server, intune) in both_modes().await {
        let client = server.client();
        for version in VERSIONS {
            let mut none = windows10_policy("no actions");
            none.as_object_mut()
                .unwrap()
                .remove("scheduledActionsForRule");
            for body in [
                none,
                policy_with_actions(&[]),
                policy_with_actions(&["notification"]),
                policy_with_actions(&["block", "block"]),
            ] {
                let before = client.list(version, POLICIES).await.len();
                let resp = client.post(version, POLICIES, &body).await;
                if intune {
                    let resp = resp.expect_error(400, "BadRequest");
                    assert_eq!(resp.error_message(), ONE_BLOCK);
                    assert_eq!(
                        client.list(version, POLICIES).await.len(),
                        before,
                        "nothing stored"
                    );
                } else {
                    resp.expect(201);
                }
            }
            let ok = client
                .post(
                    version,
                    POLICIES,
                    &policy_with_actions(&["block", "notification"]),
                )
                .await;
            let p = ok.expect(201).id();

            // scheduleActionsForRules follows the same rule. Rules are read the live way, by $expand.
            let expanded = format!("{}?$expand=scheduledActionsForRule", policy_path(&p));
            let rule_ids = || async {
                let policy = client.get(version, &expanded).await.expect(200).json();
                let rules = policy["scheduledActionsForRule"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                rules
                    .iter()
                    .map(|r| r["id"].clone())
                    .collect::<Vec<Value>>()
            };
            let rules = rule_ids().await;
            assert_eq!(rules.len(), 1);
            let two = json!({ "deviceComplianceScheduledActionForRules": [{ "scheduledActionConfigurations": [
                { "actionType": "block", "gracePeriodHours": 0 }, { "actionType": "block", "gracePeriodHours": 5 }
            ]}]});
            let resp = client
                .post(
                    version,
                    &format!("{POLICIES}/{p}/scheduleActionsForRules"),
                    &two,
                )
                .await;
            if intune {
                assert_eq!(
                    resp.expect_error(400, "BadRequest").error_message(),
                    ONE_BLOCK
                );
                assert_eq!(rule_ids().await, rules);
            } else {
                resp.expect(204);
                let now = rule_ids().await;
                assert_eq!(now.len(), 1);
                assert_ne!(now, rules);
            }
        }
    }
}

#[tokio::test]
async fn assign_answers_the_assignments_or_an_empty_body() {
    for (server, intune) in both_modes().await {
        let client = server.client();
        for version in VERSIONS {
            let p = client.create_policy(version, "assign").await;
            let body = json!({ "assignments": [
                { "target": { "@odata.type": "microsoft.graph.groupAssignmentTarget", "groupId": "g" } }
            ]});
            let resp = client
                .post(version, &format!("{POLICIES}/{p}/assign"), &body)
                .await
                .expect(200);
            if intune {
                assert!(
                    resp.text.is_empty(),
                    "live assign has no body: {}",
                    resp.text
                );
            } else {
                assert_eq!(resp.values().len(), 1);
                assert_eq!(resp.values()[0]["target"]["groupId"], "g");
            }
            let stored = client
                .list(version, &format!("{POLICIES}/{p}/assignments"))
                .await;
            assert_eq!(stored.len(), 1);
            assert_eq!(
                stored[0]["target"]["@odata.type"],
                "#microsoft.graph.groupAssignmentTarget"
            );
        }
    }
}

#[tokio::test]
async fn assignments_post_and_delete_and_rules_get_are_not_routed_live() {
    for (server, intune) in both_modes().await {
        let client = server.client();
        for version in VERSIONS {
            let p = client.create_policy(version, "routes").await;
            let assignments = format!("{POLICIES}/{p}/assignments");
            let assign = json!({ "assignments": [{ "target": { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } }] });
            let assigned = client
                .post(version, &format!("{POLICIES}/{p}/assign"), &assign)
                .await
                .expect(200);
            assert!(assigned.text.is_empty() == intune);
            let existing = client.ids(version, &assignments).await[0].clone();
            let entity = format!("{assignments}/{existing}");
            let rules = format!("{POLICIES}/{p}/scheduledActionsForRule");
            let target = json!({ "target": { "@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget" } });

            let post = client.post(version, &assignments, &target).await;
            let delete = client.delete(version, &entity).await;
            let get_rules = client.get(version, &rules).await;
            if intune {
                for resp in [post, delete, get_rules] {
                    let resp = resp.expect_error(400, ROUTE_ERROR);
                    assert!(
                        resp.error_message().starts_with("No OData route exists"),
                        "{}",
                        resp.text
                    );
                }
                assert_eq!(
                    client.ids(version, &assignments).await,
                    vec![existing.clone()]
                );
                client.get(version, &entity).await.expect(200);
            } else {
                post.expect(201);
                delete.expect(204);
                assert_eq!(get_rules.expect(200).values().len(), 1);
                assert_eq!(client.list(version, &assignments).await.len(), 1);
                client.expect_gone(version, &entity).await;
            }
        }
    }
}

#[tokio::test]
async fn timestamps_echo_the_clients_offset_or_come_back_in_utc() {
    for (server, intune) in both_modes().await {
        let client = server.client();
        let p = client.create_policy("beta", "timestamps").await;
        let path = format!("{POLICIES}/{p}/deviceStatuses");
        let created = client
            .post_raw(
                "beta",
                &path,
                &fixture("seed001_device_status.request.json"),
            )
            .await
            .expect(201);
        let read = client
            .get("beta", &format!("{path}/{}", created.id()))
            .await
            .expect(200);
        let (grace, reported) = if intune {
            (
                "2017-01-01T07:56:44.951111Z",
                "2017-01-01T08:00:17.7769392Z",
            )
        } else {
            (
                "2016-12-31T23:56:44.951111-08:00",
                "2017-01-01T00:00:17.7769392-08:00",
            )
        };
        for body in [created.json(), read.json()] {
            assert_eq!(body["complianceGracePeriodExpirationDateTime"], grace);
            assert_eq!(body["lastReportedDateTime"], reported);
        }
        // Server-set stamps are UTC in both modes.
        let policy = client
            .get("v1.0", &policy_path(&p))
            .await
            .expect(200)
            .json();
        let created_at = policy["createdDateTime"].as_str().unwrap();
        assert!(created_at.ends_with('Z'), "{created_at}");
    }
}

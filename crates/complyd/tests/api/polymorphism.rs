//! Derived policy types and their versions, version projection of properties, deep insert of
//! scheduled actions and polymorphic assignment targets.

use crate::support::*;
use serde_json::{json, Value};

/// The derived policy types of §1.3 that exist in both versions.
const BOTH_VERSIONS: [&str; 8] = [
    "windows10CompliancePolicy",
    "windows10MobileCompliancePolicy",
    "windows81CompliancePolicy",
    "windowsPhone81CompliancePolicy",
    "iosCompliancePolicy",
    "macOSCompliancePolicy",
    "androidCompliancePolicy",
    "androidWorkProfileCompliancePolicy",
];

/// The derived policy types of §1.3 that exist only in beta.
const BETA_ONLY: [&str; 4] = [
    "androidForWorkCompliancePolicy",
    "androidDeviceOwnerCompliancePolicy",
    "aospDeviceOwnerCompliancePolicy",
    "defaultDeviceCompliancePolicy",
];

/// The properties of the abstract base that v1.0 shows, plus the envelope.
const V1_BASE: [&str; 7] = [
    "@odata.context",
    "id",
    "createdDateTime",
    "description",
    "lastModifiedDateTime",
    "displayName",
    "version",
];

fn typed_policy(odata_type: &str) -> Value {
    json!({ "@odata.type": odata_type, "displayName": format!("a {odata_type}") })
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn every_derived_type_is_created_in_the_versions_where_it_exists() {
    let server = Server::start().await;
    let client = server.client();
    let mut expected = Vec::new();
    for version in VERSIONS {
        let types = BOTH_VERSIONS
            .iter()
            .chain(BETA_ONLY.iter().filter(|_| version == "beta"));
        for name in types {
            let wanted = format!("#microsoft.graph.{name}");
            let created = client.post(version, POLICIES, &typed_policy(&wanted)).await;
            let created = created.expect(201);
            assert_eq!(created.json()["@odata.type"], wanted.as_str());
            let read = client.get(version, &policy_path(&created.id())).await;
            assert_eq!(read.expect(200).json()["@odata.type"], wanted.as_str());
            expected.push(created.id());
        }
    }
    let listed = client.list("beta", POLICIES).await;
    let ids: Vec<&str> = listed.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected);
    assert!(listed.iter().all(|p| p["@odata.type"]
        .as_str()
        .is_some_and(|t| t.starts_with("#microsoft.graph."))));
}

#[tokio::test]
async fn beta_only_types_are_refused_on_v1() {
    let server = Server::start().await;
    let client = server.client();
    for name in BETA_ONLY {
        let body = typed_policy(&format!("#microsoft.graph.{name}"));
        let resp = client.post("v1.0", POLICIES, &body).await;
        let resp = resp.expect_error(400, "ModelValidationFailure");
        assert!(resp.error_message().contains(name), "{}", resp.text);
    }
    assert!(client.list("beta", POLICIES).await.is_empty());
}

#[tokio::test]
async fn abstract_unknown_and_foreign_types_are_refused() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let no_type = json!({ "displayName": "no type" });
        let resp = client.post(version, POLICIES, &no_type).await;
        resp.expect_error(400, "ModelValidationFailure");
        for name in [
            "microsoft.graph.deviceCompliancePolicy",
            "#microsoft.graph.linuxCompliancePolicy",
            "#microsoft.graph.deviceComplianceDeviceStatus",
            "#microsoft.graph.groupAssignmentTarget",
            "#microsoft.graph.deviceCompliancePolicyAssignment",
        ] {
            let resp = client.post(version, POLICIES, &typed_policy(name)).await;
            let resp = resp.expect_error(400, "ModelValidationFailure");
            let bare = name.trim_start_matches('#');
            assert!(resp.error_message().contains(bare), "{}", resp.text);
        }
    }
    assert!(client.list("beta", POLICIES).await.is_empty());
}

#[tokio::test]
async fn odata_type_is_accepted_with_or_without_hash_and_emitted_with_it() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        for sent in [
            "microsoft.graph.iosCompliancePolicy",
            "#microsoft.graph.iosCompliancePolicy",
        ] {
            let created = client.post(version, POLICIES, &typed_policy(sent)).await;
            let body = created.expect(201).json();
            assert_eq!(body["@odata.type"], "#microsoft.graph.iosCompliancePolicy");
        }
    }
}

#[tokio::test]
async fn a_beta_only_policy_is_shown_on_v1_as_the_bare_base() {
    let server = Server::start().await;
    let client = server.client();
    let body = json!({
        "@odata.type": "#microsoft.graph.androidDeviceOwnerCompliancePolicy",
        "displayName": "owner",
        "description": "fully managed",
        "roleScopeTagIds": ["0"],
        "passwordRequired": true,
        "passwordMinimumLength": 8
    });
    let id = client.post("beta", POLICIES, &body).await.expect(201).id();
    let on_beta = client
        .get("beta", &policy_path(&id))
        .await
        .expect(200)
        .json();
    assert_eq!(on_beta["passwordMinimumLength"], 8);
    assert_eq!(on_beta["roleScopeTagIds"], json!(["0"]));

    let on_v1 = client
        .get("v1.0", &policy_path(&id))
        .await
        .expect(200)
        .json();
    assert!(on_v1.get("@odata.type").is_none(), "{on_v1}");
    let mut base = V1_BASE.map(str::to_string).to_vec();
    base.sort();
    assert_eq!(keys(&on_v1), base, "{on_v1}");
    assert_eq!(on_v1["displayName"], "owner");
    assert_eq!(on_v1["description"], "fully managed");
    assert_eq!(on_v1["createdDateTime"], on_beta["createdDateTime"]);

    let listed = client.list("v1.0", POLICIES).await;
    assert_eq!(
        keys(&listed[0]),
        keys(&on_v1)
            .into_iter()
            .filter(|k| k != "@odata.context")
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn beta_only_properties_are_invisible_and_unwritable_on_v1() {
    let server = Server::start().await;
    let client = server.client();
    let tag = client.create_scope_tag("seven").await;
    let mut body = windows10_policy("scoped");
    body["roleScopeTagIds"] = json!(["0", tag]);
    body["tpmRequired"] = json!(true);
    let id = client.post("beta", POLICIES, &body).await.expect(201).id();
    let on_beta = client
        .get("beta", &policy_path(&id))
        .await
        .expect(200)
        .json();
    assert_eq!(on_beta["roleScopeTagIds"], json!(["0", tag]));
    assert_eq!(on_beta["tpmRequired"], true);
    let on_v1 = client
        .get("v1.0", &policy_path(&id))
        .await
        .expect(200)
        .json();
    assert_eq!(
        on_v1["@odata.type"],
        "#microsoft.graph.windows10CompliancePolicy"
    );
    for hidden in ["roleScopeTagIds", "tpmRequired"] {
        assert!(
            on_v1.get(hidden).is_none(),
            "{hidden} shown on v1.0: {on_v1}"
        );
    }
    assert_eq!(on_v1["passwordRequired"], true);

    let resp = client.post("v1.0", POLICIES, &body).await;
    let resp = resp.expect_error(400, "ModelValidationFailure");
    assert!(
        resp.error_message().contains("roleScopeTagIds")
            || resp.error_message().contains("tpmRequired")
    );
    for patch in [
        json!({ "roleScopeTagIds": ["9"] }),
        json!({ "tpmRequired": false }),
    ] {
        let name = keys(&patch)[0].clone();
        let resp = client.patch("v1.0", &policy_path(&id), &patch).await;
        let resp = resp.expect_error(400, "ModelValidationFailure");
        assert!(resp.error_message().contains(&name), "{}", resp.text);
    }
    let after = client
        .get("beta", &policy_path(&id))
        .await
        .expect(200)
        .json();
    assert_eq!(after["roleScopeTagIds"], json!(["0", tag]));
    assert_eq!(after["tpmRequired"], true);
    assert_eq!(
        after["version"], on_beta["version"],
        "a refused PATCH changes nothing"
    );
    assert_eq!(client.list("beta", POLICIES).await.len(), 1);
}

#[tokio::test]
async fn device_status_platform_is_beta_only() {
    let server = Server::start().await;
    let client = server.client();
    let p = client.create_policy("beta", "platform").await;
    let path = format!("{POLICIES}/{p}/deviceStatuses");
    let mut status = device_status("compliant");
    status["platform"] = json!(8);
    let id = client.post("beta", &path, &status).await.expect(201).id();
    let entity = format!("{path}/{id}");
    assert_eq!(
        client.get("beta", &entity).await.expect(200).json()["platform"],
        8
    );
    let on_v1 = client.get("v1.0", &entity).await.expect(200).json();
    assert!(on_v1.get("platform").is_none(), "{on_v1}");
    assert_eq!(on_v1["status"], "compliant");

    let resp = client.post("v1.0", &path, &status).await;
    let resp = resp.expect_error(400, "ModelValidationFailure");
    assert!(resp.error_message().contains("platform"), "{}", resp.text);
    let resp = client
        .patch("v1.0", &entity, &json!({ "platform": 3 }))
        .await;
    resp.expect_error(400, "ModelValidationFailure");
    assert_eq!(client.list("beta", &path).await.len(), 1);
    assert_eq!(
        client.get("beta", &entity).await.expect(200).json()["platform"],
        8
    );
}

#[tokio::test]
async fn deep_inserted_scheduled_actions_are_stored_but_not_shown_on_the_policy() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let body = json!({
            "@odata.type": "#microsoft.graph.macOSCompliancePolicy",
            "displayName": "deep",
            "scheduledActionsForRule": [
                { "ruleName": "PasswordRequired", "scheduledActionConfigurations": [
                    { "actionType": "block", "gracePeriodHours": 0 },
                    { "actionType": "notification", "gracePeriodHours": 72,
                      "notificationTemplateId": "tmpl", "notificationMessageCCList": ["g1", "g2"] }
                ]},
                { "ruleName": "Second", "scheduledActionConfigurations": [
                    { "actionType": "retire", "gracePeriodHours": 240 }
                ]}
            ]
        });
        let created = client.post(version, POLICIES, &body).await.expect(201);
        assert!(
            created.json().get("scheduledActionsForRule").is_none(),
            "{}",
            created.text
        );
        let id = created.id();
        let read = client
            .get(version, &policy_path(&id))
            .await
            .expect(200)
            .json();
        assert!(read.get("scheduledActionsForRule").is_none(), "{read}");

        let rules_path = format!("{POLICIES}/{id}/scheduledActionsForRule");
        let rules = client.list(version, &rules_path).await;
        let names: Vec<&Value> = rules.iter().map(|r| &r["ruleName"]).collect();
        assert_eq!(names, [&json!("PasswordRequired"), &json!("Second")]);
        let sent = body["scheduledActionsForRule"].as_array().unwrap();
        for (rule, sent) in rules.iter().zip(sent) {
            let configs = format!(
                "{rules_path}/{}/scheduledActionConfigurations",
                rule["id"].as_str().unwrap()
            );
            let stored = client.list(version, &configs).await;
            let sent = sent["scheduledActionConfigurations"].as_array().unwrap();
            assert_eq!(stored.len(), sent.len());
            for (stored, sent) in stored.iter().zip(sent) {
                for (key, value) in sent.as_object().unwrap() {
                    assert_eq!(&stored[key], value, "{key} of {stored}");
                }
            }
        }
    }
}

#[tokio::test]
async fn assignment_targets_of_every_type_round_trip_with_hash_types() {
    let server = Server::start().await;
    let client = server.client();
    let targets = [
        json!({ "@odata.type": "microsoft.graph.groupAssignmentTarget", "groupId": "g1" }),
        json!({ "@odata.type": "microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "g2" }),
        json!({ "@odata.type": "microsoft.graph.allDevicesAssignmentTarget" }),
        json!({ "@odata.type": "microsoft.graph.allLicensedUsersAssignmentTarget" }),
        json!({ "@odata.type": "microsoft.graph.configurationManagerCollectionAssignmentTarget",
                "collectionId": "c1" }),
        json!({ "@odata.type": "#microsoft.graph.scopeTagGroupAssignmentTarget",
                "targetType": "device", "entraObjectId": "e1" }),
    ];
    for version in VERSIONS {
        let p = client.create_policy(version, "targets").await;
        let path = format!("{POLICIES}/{p}/assignments");
        for target in &targets {
            let created = client
                .post(version, &path, &json!({ "target": target }))
                .await;
            let created = created.expect(201);
            let read = client
                .get(version, &format!("{path}/{}", created.id()))
                .await
                .expect(200);
            for got in [
                created.json()["target"].clone(),
                read.json()["target"].clone(),
            ] {
                let sent_type = target["@odata.type"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('#');
                assert_eq!(got["@odata.type"], format!("#{sent_type}"));
                for (key, value) in target
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| !k.starts_with('@'))
                {
                    assert_eq!(&got[key], value, "{key} of {got}");
                }
                let filter_shown = got
                    .get("deviceAndAppManagementAssignmentFilterType")
                    .is_some();
                assert_eq!(
                    filter_shown,
                    version == "beta",
                    "filter properties are beta-only: {got}"
                );
            }
        }
        let listed = client.list(version, &path).await;
        assert_eq!(listed.len(), targets.len());

        for wrong in [
            "#microsoft.graph.windows10CompliancePolicy",
            "#microsoft.graph.noSuchTarget",
        ] {
            let body = json!({ "target": { "@odata.type": wrong } });
            client
                .post(version, &path, &body)
                .await
                .expect_error(400, "ModelValidationFailure");
        }
        assert_eq!(client.list(version, &path).await.len(), targets.len());
    }
}

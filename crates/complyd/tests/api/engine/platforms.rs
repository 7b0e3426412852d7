//! Scenario tests per platform, from the facts page: a policy of N settings, a device of its
//! platform that meets them all, then failing each setting in turn; the verdict, the failing
//! setting, the policy's status and a device of another platform (not applicable) checked.

use super::*;

/// One platform's case: its policy, a device of it, a report that meets the policy, and for
/// each setting a change of the report that fails it.
struct Case {
    policy: Value,
    device: Value,
    passing: Value,
    failing: Vec<(&'static str, Value)>,
}

fn cases() -> Vec<Case> {
    let block = json!([{ "ruleName": "PasswordRequired",
        "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": 0 }] }]);
    vec![
        Case {
            policy: json!({"@odata.type": "#microsoft.graph.iosCompliancePolicy", "displayName": "iOS",
                "passcodeRequired": true, "passcodeMinimumLength": 6, "osMinimumVersion": "17.0",
                "securityBlockJailbrokenDevices": true, "passcodeRequiredType": "alphanumeric",
                "restrictedApps": [{"@odata.type": "#microsoft.graph.appListItem", "name": "Sideloader", "appId": "com.example.side"}],
                "scheduledActionsForRule": block}),
            device: json!({"deviceName": "IPHONE-1", "operatingSystem": "iOS", "osVersion": "17.4.1"}),
            passing: json!({"osVersion": "17.4.1", "passwordSet": true, "passwordLength": 8, "passwordType": "alphanumeric",
                "jailBroken": "False", "installedApps": ["com.example.mail"]}),
            failing: vec![
                ("passcodeRequired", json!({"passwordSet": false})),
                ("passcodeMinimumLength", json!({"passwordLength": 4})),
                ("osMinimumVersion", json!({"osVersion": "16.7.8"})),
                (
                    "securityBlockJailbrokenDevices",
                    json!({"jailBroken": "True"}),
                ),
                ("passcodeRequiredType", json!({"passwordType": "numeric"})),
                (
                    "restrictedApps",
                    json!({"installedApps": [{"appId": "com.example.side"}]}),
                ),
            ],
        },
        Case {
            policy: json!({"@odata.type": "#microsoft.graph.macOSCompliancePolicy", "displayName": "macOS",
                "storageRequireEncryption": true, "firewallEnabled": true, "osMinimumVersion": "14.0",
                "systemIntegrityProtectionEnabled": true, "scheduledActionsForRule": block}),
            device: json!({"deviceName": "MAC-1", "operatingSystem": "macOS", "osVersion": "14.6.1"}),
            passing: json!({"osVersion": "14.6.1", "isEncrypted": true, "firewallEnabled": true, "systemIntegrityProtectionEnabled": true}),
            failing: vec![
                ("storageRequireEncryption", json!({"isEncrypted": false})),
                ("firewallEnabled", json!({"firewallEnabled": false})),
                ("osMinimumVersion", json!({"osVersion": "13.6.7"})),
                (
                    "systemIntegrityProtectionEnabled",
                    json!({"systemIntegrityProtectionEnabled": false}),
                ),
            ],
        },
        Case {
            policy: json!({"@odata.type": "#microsoft.graph.androidWorkProfileCompliancePolicy",
                "displayName": "Android work profile", "passwordRequired": true, "osMinimumVersion": "13",
                "storageRequireEncryption": true, "securityRequireSafetyNetAttestationBasicIntegrity": true,
                "deviceThreatProtectionEnabled": true, "deviceThreatProtectionRequiredSecurityLevel": "low",
                "scheduledActionsForRule": block}),
            device: json!({"deviceName": "ANDROID-1", "operatingSystem": "Android", "osVersion": "14",
                "deviceType": "androidForWork"}),
            passing: json!({"osVersion": "14", "passwordSet": true, "isEncrypted": true, "safetyNetBasicIntegrity": true,
                "threatProtectionConnected": true, "threatLevel": "secured"}),
            failing: vec![
                ("passwordRequired", json!({"passwordSet": false})),
                ("osMinimumVersion", json!({"osVersion": "12"})),
                ("storageRequireEncryption", json!({"isEncrypted": false})),
                (
                    "securityRequireSafetyNetAttestationBasicIntegrity",
                    json!({"safetyNetBasicIntegrity": false}),
                ),
                (
                    "deviceThreatProtectionRequiredSecurityLevel",
                    json!({"threatLevel": "high"}),
                ),
            ],
        },
    ]
}

fn failing_settings(answer: &Value, policy: &str) -> Vec<String> {
    answer["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == policy)
        .flat_map(|p| p["settingStates"].as_array().unwrap().clone())
        .filter(|s| s["state"] != "compliant")
        .map(|s| s["settingName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_platform_fails_each_setting_in_turn() {
    let server = Server::start().await;
    let c = admin(&server);
    let windows = c
        .post("beta", DEVICES, &windows_device("LAPTOP-X", None))
        .await
        .expect(201)
        .id();
    check_in(&c, &windows, &good_report()).await.expect(200);
    for case in cases() {
        let name = case.policy["displayName"].as_str().unwrap().to_string();
        let policy = assigned_policy(&c, &case.policy, &[all_devices()]).await;
        let device = c.post("beta", DEVICES, &case.device).await.expect(201).id();
        let answer = check_in(&c, &device, &case.passing)
            .await
            .expect(200)
            .json();
        assert_eq!(answer["complianceState"], "compliant", "{name}: {answer}");
        let settings = answer["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == policy.as_str())
            .map(|p| p["settingStates"].as_array().unwrap().len())
            .unwrap_or(0);
        assert!(
            settings >= case.failing.len(),
            "{name}: every configured setting checked ({settings})"
        );
        for (setting, change) in &case.failing {
            let answer = check_in(&c, &device, change).await.expect(200).json();
            assert_eq!(
                answer["complianceState"], "noncompliant",
                "{name} {setting}: {answer}"
            );
            assert_eq!(
                failing_settings(&answer, &policy),
                vec![setting.to_string()],
                "{name}"
            );
            let status = c
                .get(
                    "beta",
                    &format!("{POLICIES}/{policy}/deviceStatuses/{device}"),
                )
                .await
                .expect(200)
                .json();
            assert_eq!(status["status"], "nonCompliant", "{name} {setting}");
            // Back to passing before the next setting.
            let answer = check_in(&c, &device, &case.passing)
                .await
                .expect(200)
                .json();
            assert_eq!(
                answer["complianceState"], "compliant",
                "{name} after {setting}"
            );
        }
        // The Windows device is of another platform: once the assignment is evaluated for it,
        // this policy is not applicable to it.
        settle(&c).await;
        let status = c
            .get(
                "beta",
                &format!("{POLICIES}/{policy}/deviceStatuses/{windows}"),
            )
            .await
            .expect(200);
        assert_eq!(
            status.json()["status"],
            "notApplicable",
            "{name} on Windows"
        );
    }
    assert_eq!(
        c.get("beta", &format!("{DEVICES}/{windows}")).await.json()["complianceState"],
        "compliant",
        "policies of other platforms leave the Windows device compliant"
    );
}

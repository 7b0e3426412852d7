//! Compliance scripts (beta): CRUD, `assign`, run states and the run summary counted from them,
//! and `validateComplianceScript` over a rules document.

use super::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

fn script(name: &str) -> Value {
    json!({
        "displayName": name,
        "publisher": "Contoso",
        "runAsAccount": "system",
        "detectionScriptContent": STANDARD.encode("Write-Output '{\"BiosVersion\": \"2.4\"}'"),
    })
}

#[tokio::test]
async fn scripts_are_created_read_updated_and_deleted_on_beta() {
    let server = Server::start().await;
    let client = admin(&server);
    let created = client
        .post("beta", SCRIPTS, &script("bios"))
        .await
        .expect(201)
        .json();
    assert_eq!(created["runAsAccount"], "system");
    assert_eq!(created["enforceSignatureCheck"], false);
    assert!(created["createdDateTime"].is_string());
    let path = format!("{SCRIPTS}/{}", created["id"].as_str().unwrap());
    client
        .patch("beta", &path, &json!({"runAs32Bit": true}))
        .await
        .expect(200);
    assert_eq!(
        client.get("beta", &path).await.expect(200).json()["runAs32Bit"],
        true
    );
    for bad in [
        json!({"displayName": "x", "runAsAccount": "root"}),
        json!({"displayName": "x", "detectionScriptContent": "not base64!"}),
        json!({"displayName": "x", "createdDateTime": "2024-01-01T00:00:00Z"}),
    ] {
        client
            .post("beta", SCRIPTS, &bad)
            .await
            .expect_error(400, "ModelValidationFailure");
    }
    client
        .get("v1.0", SCRIPTS)
        .await
        .expect_error(400, "BadRequest");
    client.delete("beta", &path).await.expect(204);
    client.expect_gone("beta", &path).await;
}

#[tokio::test]
async fn assign_replaces_assignments_and_run_states_count_into_the_summary() {
    let server = Server::start().await;
    let client = admin(&server);
    let id = client
        .post("beta", SCRIPTS, &script("counted"))
        .await
        .expect(201)
        .id();
    let assignment = json!({"runRemediationScript": false,
        "runSchedule": {"@odata.type": "#microsoft.graph.deviceHealthScriptHourlySchedule", "interval": 4},
        "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}});
    let assigned = client
        .post(
            "beta",
            &format!("{SCRIPTS}/{id}/assign"),
            &json!({"deviceHealthScriptAssignments": [assignment]}),
        )
        .await
        .expect(204);
    assert!(assigned.text.is_empty());
    let assignments = client
        .list("beta", &format!("{SCRIPTS}/{id}/assignments"))
        .await;
    assert_eq!(assignments.len(), 1);
    assert_eq!(assignments[0]["runSchedule"]["interval"], 4);
    client
        .post(
            "beta",
            &format!("{SCRIPTS}/{id}/assign"),
            &json!({"assignments": []}),
        )
        .await
        .expect_error(400, "ModelValidationFailure");

    let states = format!("{SCRIPTS}/{id}/deviceRunStates");
    for state in ["success", "success", "fail", "scriptError", "pending"] {
        client
            .post(
                "beta",
                &states,
                &json!({"detectionState": state, "lastStateUpdateDateTime": "2024-05-01T10:00:00Z",
                        "lastSyncDateTime": "2024-05-01T10:00:00Z"}),
            )
            .await
            .expect(201);
    }
    let summary = client
        .get("beta", &format!("{SCRIPTS}/{id}/runSummary"))
        .await
        .expect(200)
        .json();
    assert_eq!(summary["noIssueDetectedDeviceCount"], 2);
    assert_eq!(summary["issueDetectedDeviceCount"], 1);
    assert_eq!(summary["detectionScriptErrorDeviceCount"], 1);
    assert_eq!(summary["detectionScriptPendingDeviceCount"], 1);
}

fn rules_document(rules: Value) -> String {
    STANDARD.encode(json!({ "Rules": rules }).to_string())
}

#[tokio::test]
async fn validate_compliance_script_checks_a_rules_document() {
    let server = Server::start().await;
    let client = admin(&server);
    let path = format!("{POLICIES}/validateComplianceScript");
    let rule = json!({"SettingName": "BiosVersion", "Operator": "GreaterEquals", "DataType": "Version",
        "Operand": "2.3", "MoreInfoUrl": "https://contoso.test/bios",
        "RemediationStrings": [{"Language": "en_US", "Title": "BIOS", "Description": "Update the BIOS."}]});
    let good = client
        .post(
            "beta",
            &path,
            &json!({"deviceCompliancePolicyScript": {"rulesContent": rules_document(json!([rule]))}}),
        )
        .await
        .expect(200)
        .expect_context("beta", "microsoft.graph.deviceComplianceScriptValidationResult")
        .json();
    assert_eq!(good["rules"][0]["settingName"], "BiosVersion");
    assert_eq!(good["rules"][0]["operator"], "greaterEquals");
    assert_eq!(good["scriptErrors"], json!([]));
    assert_eq!(good["ruleErrors"], json!([]));

    let mut bad = rule.clone();
    bad["DataType"] = json!("Boolean");
    let answer = client
        .post(
            "beta",
            &path,
            &json!({"deviceCompliancePolicyScript": {"rulesContent": rules_document(json!([bad]))}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(answer["rules"], json!([]));
    let codes: Vec<&str> = answer["ruleErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"operatorDataTypeCombinationNotSupported")
            && codes.contains(&"operandInvalid"),
        "{answer}"
    );
    assert_eq!(answer["ruleErrors"][0]["settingName"], "BiosVersion");
    let empty = client
        .post(
            "beta",
            &path,
            &json!({"deviceCompliancePolicyScript": {"rulesContent": STANDARD.encode("{}")}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(empty["scriptErrors"][0]["code"], "rulesMissing");

    for bad_call in [
        json!({}),
        json!({"deviceCompliancePolicyScript": null}),
        json!({"deviceCompliancePolicyScript": {"rulesContent": "%%%"}}),
        json!({"script": {}}),
    ] {
        let resp = client.post("beta", &path, &bad_call).await;
        assert_eq!(resp.status, 400, "{bad_call}: {}", resp.text);
    }
    client
        .post(
            "v1.0",
            &path,
            &json!({"deviceCompliancePolicyScript": {"rulesContent": rules_document(json!([rule]))}}),
        )
        .await
        .expect(400);
}

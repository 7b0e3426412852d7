//! `complyd serve --demo`: a tenant with live data from the first minute: a fleet, a compliance
//! policy per platform assigned to all devices (one with a grace period), evaluated.

use super::FleetSpec;
use crate::error::ApiError;
use crate::service::{Operation, Reply, Service};
use serde_json::{json, Value};

/// What the demo tenant holds once made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demo {
    pub devices: usize,
    pub policies: usize,
    /// Devices by verdict (`compliant`, `inGracePeriod`, `noncompliant`, …).
    pub verdicts: Vec<(String, u64)>,
}

fn policies() -> Vec<Value> {
    let block = |hours: i64| {
        json!([{ "ruleName": "PasswordRequired",
                 "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": hours }] }])
    };
    vec![
        json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy",
               "displayName": "Windows baseline", "description": "Demo: BitLocker, Secure Boot, a password of 8, Defender",
               "passwordRequired": true, "passwordMinimumLength": 8, "bitLockerEnabled": true,
               "secureBootEnabled": true, "defenderEnabled": true, "osMinimumVersion": "10.0.19045",
               "scheduledActionsForRule": block(72)}),
        json!({"@odata.type": "#microsoft.graph.iosCompliancePolicy",
               "displayName": "iOS baseline", "description": "Demo: a passcode of 6, iOS 17 or later, no jailbreak",
               "passcodeRequired": true, "passcodeMinimumLength": 6, "osMinimumVersion": "17.0",
               "securityBlockJailbrokenDevices": true, "scheduledActionsForRule": block(0)}),
        json!({"@odata.type": "#microsoft.graph.macOSCompliancePolicy",
               "displayName": "macOS baseline", "description": "Demo: encryption, firewall, macOS 14 or later",
               "storageRequireEncryption": true, "firewallEnabled": true, "osMinimumVersion": "14.0",
               "scheduledActionsForRule": block(24)}),
        json!({"@odata.type": "#microsoft.graph.androidWorkProfileCompliancePolicy",
               "displayName": "Android work profile baseline", "description": "Demo: a password, encryption, Android 13 or later",
               "passwordRequired": true, "storageRequireEncryption": true, "osMinimumVersion": "13",
               "scheduledActionsForRule": block(0)}),
    ]
}

impl Service {
    /// Makes the demo in `tenant` unless it has managed devices already; answers what it holds.
    pub async fn demo(&self, tenant: &str) -> Result<Demo, ApiError> {
        let existing = self
            .run_as_client(
                tenant,
                Operation::Get,
                "deviceManagement/managedDevices/$count",
                None,
            )
            .await?;
        let policies = policies();
        if matches!(existing, Reply::Count(0)) {
            for body in &policies {
                let made = self
                    .run_as_client(
                        tenant,
                        Operation::Post,
                        "deviceManagement/deviceCompliancePolicies",
                        Some(body.clone()),
                    )
                    .await?;
                let Reply::Entity { body, .. } = made else {
                    return Err(ApiError::Internal(
                        "a policy create answered no entity".into(),
                    ));
                };
                let id = body.to_value()["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.run_as_client(
                    tenant,
                    Operation::Post,
                    &format!("deviceManagement/deviceCompliancePolicies/{id}/assign"),
                    Some(json!({"assignments": [{"target":
                        {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]})),
                )
                .await?;
            }
            self.generate_fleet(
                tenant,
                FleetSpec {
                    users: 50,
                    devices: 120,
                    seed: 1,
                },
            )
            .await?;
        }
        self.settle(tenant).await?;
        let mut verdicts = Vec::new();
        for verdict in [
            "compliant",
            "inGracePeriod",
            "noncompliant",
            "error",
            "unknown",
        ] {
            let path = format!(
                "deviceManagement/managedDevices/$count?$filter=complianceState eq '{verdict}'"
            );
            if let Reply::Count(n) = self
                .run_as_client(tenant, Operation::Get, &path, None)
                .await?
            {
                verdicts.push((verdict.to_string(), n));
            }
        }
        Ok(Demo {
            devices: verdicts.iter().map(|(_, n)| *n as usize).sum(),
            policies: policies.len(),
            verdicts,
        })
    }
}

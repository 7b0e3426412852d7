//! The service against the in-memory fake store: what each operation stores and answers, with
//! no HTTP and no database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::store::memory::MemoryStore;
use crate::store::Row;
use serde_json::json;
use std::sync::Arc;

const TENANT: &str = "tenant-1";
const POLICIES: &str = "deviceManagement/deviceCompliancePolicies";
const POLICY_SET: &str = "deviceCompliancePolicies";
const RULES: &str = "deviceCompliancePolicies/scheduledActionsForRule";
const CONFIGURATIONS: &str =
    "deviceCompliancePolicies/scheduledActionsForRule/scheduledActionConfigurations";
const STATUSES: &str = "deviceCompliancePolicies/deviceStatuses";
const ASSIGNMENTS: &str = "deviceCompliancePolicies/assignments";

struct Fixture {
    model: &'static Model,
    service: Service,
    store: Arc<MemoryStore>,
}

impl Fixture {
    fn new() -> Self {
        let model = Model::intune().unwrap();
        let store = Arc::new(MemoryStore::new());
        let settings = Settings {
            fidelity: Fidelity::Documented,
            page_size: 100,
        };
        let service = Service::new(model, store.clone(), settings, TokenKey::derive(b"test"))
            .expect("the Intune model's handlers and rules are all implemented");
        Self {
            model,
            service,
            store,
        }
    }

    /// Runs one call on beta; `path` is below the version segment, `query` is `(name, value)`s.
    async fn run(
        &self,
        operation: Operation,
        path: &str,
        body: Option<Value>,
        query: &[(&str, &str)],
    ) -> Result<Reply, ApiError> {
        let call = Call {
            tenant: TENANT.into(),
            version: Version::Beta,
            path: ResourcePath::parse(self.model, Version::Beta, path)?,
            operation,
            body,
            query: QueryOptions::parse(query.iter().copied(), true)?,
            caller: Caller::default(),
            eventual: false,
        };
        self.service.execute(call).await
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        entity(self.run(Operation::Post, path, Some(body), &[]).await)
    }

    async fn get(&self, path: &str) -> Value {
        entity(self.run(Operation::Get, path, None, &[]).await)
    }

    /// Creates a policy with one rule and one action configuration; returns its id.
    async fn policy(&self, name: &str) -> String {
        let policy = self.create(POLICIES, windows10_policy(name)).await;
        policy["id"].as_str().unwrap().to_string()
    }

    async fn status(&self, policy: &str, status: &str) -> Value {
        let body = json!({
            "deviceDisplayName": format!("device {status}"),
            "status": status,
            "complianceGracePeriodExpirationDateTime": "2024-01-01T00:00:00Z",
            "lastReportedDateTime": "2024-01-01T00:00:00Z",
        });
        self.create(&format!("{POLICIES}/{policy}/deviceStatuses"), body)
            .await
    }

    fn rows_in(&self, collection: &str) -> Vec<Row> {
        let rows = self.store.rows();
        rows.into_iter()
            .filter(|r| r.key.collection == collection)
            .collect()
    }
}

fn windows10_policy(name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "displayName": name,
        "passwordRequired": true,
        "scheduledActionsForRule": [{
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": 0 }]
        }]
    })
}

/// The entity of a successful reply.
fn entity(reply: Result<Reply, ApiError>) -> Value {
    match reply {
        Ok(Reply::Entity { body, .. }) => body.to_value(),
        other => panic!("expected an entity, got {other:?}"),
    }
}

fn stored(row: &Row) -> Value {
    serde_json::from_str(&row.body).unwrap()
}

fn not_found_message(reply: Result<Reply, ApiError>) -> String {
    match reply {
        Err(ApiError::NotFound(message)) => message,
        other => panic!("expected not found, got {other:?}"),
    }
}

#[tokio::test]
async fn create_stores_the_policy_and_its_deep_inserted_children_under_it() {
    let f = Fixture::new();
    let reply = f
        .run(
            Operation::Post,
            POLICIES,
            Some(windows10_policy("deep")),
            &[],
        )
        .await;
    let Ok(Reply::Entity { created, body, .. }) = reply else {
        panic!("{reply:?}");
    };
    assert!(created);
    let policy = body.to_value();
    let id = policy["id"].as_str().unwrap();

    let (policies, rules, configurations) = (
        f.rows_in(POLICY_SET),
        f.rows_in(RULES),
        f.rows_in(CONFIGURATIONS),
    );
    assert_eq!(
        (policies.len(), rules.len(), configurations.len()),
        (1, 1, 1)
    );
    assert_eq!(policies[0].key.id, id);
    assert_eq!(policies[0].key.parent, "");
    assert_eq!(
        policies[0].type_name,
        "microsoft.graph.windows10CompliancePolicy"
    );
    assert_eq!(
        rules[0].key.parent, id,
        "the rule is contained by the policy"
    );
    assert_eq!(stored(&rules[0])["ruleName"], "PasswordRequired");
    assert_eq!(
        configurations[0].key.parent,
        format!("{id}/{}", rules[0].key.id),
        "the configuration is contained by the rule"
    );
    assert_eq!(stored(&configurations[0])["actionType"], "block");
    // Server-managed properties are stamped, and the reply shows what was stored.
    let stored = stored(&policies[0]);
    assert_eq!(stored["version"], 1);
    assert!(stored["createdDateTime"].is_string());
    assert_eq!(stored["createdDateTime"], stored["lastModifiedDateTime"]);
    assert_eq!(policy["createdDateTime"], stored["createdDateTime"]);
    assert_eq!(policy["displayName"], "deep");
}

#[tokio::test]
async fn update_merges_the_body_and_stamps_a_new_version() {
    let f = Fixture::new();
    let id = f.policy("before").await;
    let created = stored(&f.rows_in(POLICY_SET)[0]);
    let patch = json!({"displayName": "after"});
    let path = format!("{POLICIES}/{id}");
    let updated = entity(f.run(Operation::Patch, &path, Some(patch), &[]).await);
    assert_eq!(updated["displayName"], "after");
    assert_eq!(updated["version"], 2);

    let stored = stored(&f.rows_in(POLICY_SET)[0]);
    assert_eq!(stored["displayName"], "after");
    assert_eq!(
        stored["passwordRequired"], true,
        "untouched properties stay"
    );
    assert_eq!(stored["version"], 2);
    assert_eq!(stored["createdDateTime"], created["createdDateTime"]);
    let modified = |b: &Value| b["lastModifiedDateTime"].as_str().unwrap().to_string();
    assert!(modified(&stored) >= modified(&created));

    let again = entity(
        f.run(
            Operation::Patch,
            &path,
            Some(json!({"description": "x"})),
            &[],
        )
        .await,
    );
    assert_eq!(again["version"], 3);
    assert_eq!(again["displayName"], "after");
}

#[tokio::test]
async fn delete_removes_the_entity_and_everything_it_contains_only() {
    let f = Fixture::new();
    let (doomed, kept) = (f.policy("doomed").await, f.policy("kept").await);
    for policy in [&doomed, &kept] {
        f.status(policy, "compliant").await;
    }
    let path = format!("{POLICIES}/{doomed}");
    let reply = f.run(Operation::Delete, &path, None, &[]).await;
    assert!(matches!(reply, Ok(Reply::NoContent)), "{reply:?}");

    for collection in [POLICY_SET, RULES, CONFIGURATIONS, STATUSES] {
        let rows = f.rows_in(collection);
        assert_eq!(rows.len(), 1, "{collection}: only the kept policy's");
        assert!(
            rows[0].key.id == kept || rows[0].key.parent.starts_with(&kept),
            "{collection}: {:?}",
            rows[0].key
        );
    }
    let again = f.run(Operation::Delete, &path, None, &[]).await;
    assert_eq!(
        not_found_message(again),
        format!("The resource 'deviceCompliancePolicies' with key '{doomed}' was not found.")
    );
}

#[tokio::test]
async fn an_action_replaces_the_contained_collection() {
    let f = Fixture::new();
    let id = f.policy("assigned").await;
    let assign = format!("{POLICIES}/{id}/assign");
    let target =
        |kind: &str| json!({"target": {"@odata.type": format!("#microsoft.graph.{kind}")}});
    let two = json!({"assignments": [target("allDevicesAssignmentTarget"), target("allLicensedUsersAssignmentTarget")]});
    let reply = f.run(Operation::Post, &assign, Some(two), &[]).await;
    let Ok(Reply::Collection { items, .. }) = reply else {
        panic!("{reply:?}");
    };
    assert_eq!(items.len(), 2);
    assert_eq!(f.rows_in(ASSIGNMENTS).len(), 2);

    let one = json!({"assignments": [target("allDevicesAssignmentTarget")]});
    f.run(Operation::Post, &assign, Some(one), &[])
        .await
        .unwrap();
    let rows = f.rows_in(ASSIGNMENTS);
    assert_eq!(rows.len(), 1, "the second call replaced the first set");
    assert_eq!(
        stored(&rows[0])["target"]["@odata.type"],
        "#microsoft.graph.allDevicesAssignmentTarget"
    );
    assert_eq!(rows[0].key.parent, id);

    // A missing parameter clears nothing.
    let refused = f.run(Operation::Post, &assign, Some(json!({})), &[]).await;
    assert!(matches!(refused, Err(ApiError::OData(_))), "{refused:?}");
    assert_eq!(f.rows_in(ASSIGNMENTS).len(), 1);
    // An explicitly empty list clears.
    f.run(
        Operation::Post,
        &assign,
        Some(json!({"assignments": []})),
        &[],
    )
    .await
    .unwrap();
    assert!(f.rows_in(ASSIGNMENTS).is_empty());
}

#[tokio::test]
async fn overviews_count_the_statuses_they_derive_from() {
    let f = Fixture::new();
    let (counted, other) = (f.policy("counted").await, f.policy("other").await);
    for status in [
        "compliant",
        "nonCompliant",
        "nonCompliant",
        "error",
        "unknown",
    ] {
        f.status(&counted, status).await;
    }
    f.status(&other, "compliant").await;

    let overview = f
        .get(&format!("{POLICIES}/{counted}/deviceStatusOverview"))
        .await;
    let counts = |v: &Value, names: &[&str]| -> Vec<i64> {
        names.iter().map(|n| v[*n].as_i64().unwrap()).collect()
    };
    assert_eq!(
        counts(
            &overview,
            &[
                "successCount",
                "failedCount",
                "errorCount",
                "pendingCount",
                "conflictCount"
            ]
        ),
        [1, 2, 1, 1, 0],
        "{overview}"
    );
    assert_eq!(
        overview["configurationVersion"], 1,
        "copied from the policy"
    );
    assert_eq!(overview["id"], counted.as_str());

    let summary = f
        .get("deviceManagement/deviceCompliancePolicyDeviceStateSummary")
        .await;
    assert_eq!(
        counts(
            &summary,
            &[
                "compliantDeviceCount",
                "nonCompliantDeviceCount",
                "errorDeviceCount",
                "unknownDeviceCount"
            ]
        ),
        [0, 0, 0, 0],
        "the tenant's summary counts managed devices by verdict, not statuses: {summary}"
    );
}

#[tokio::test]
async fn a_missing_ancestor_is_not_found_and_nothing_is_stored() {
    let f = Fixture::new();
    let missing = "00000000-0000-4000-8000-000000000000";
    let statuses = format!("{POLICIES}/{missing}/deviceStatuses");
    let expected =
        format!("The resource 'deviceCompliancePolicies' with key '{missing}' was not found.");
    let body = json!({"status": "compliant", "complianceGracePeriodExpirationDateTime": "2024-01-01T00:00:00Z", "lastReportedDateTime": "2024-01-01T00:00:00Z"});
    let create = f.run(Operation::Post, &statuses, Some(body), &[]).await;
    assert_eq!(not_found_message(create), expected);
    let list = f.run(Operation::Get, &statuses, None, &[]).await;
    assert_eq!(not_found_message(list), expected);
    let overview = f
        .run(
            Operation::Get,
            &format!("{POLICIES}/{missing}/deviceStatusOverview"),
            None,
            &[],
        )
        .await;
    assert_eq!(not_found_message(overview), expected);
    assert!(f.store.rows().is_empty());
}

#[tokio::test]
async fn pages_continue_after_their_skiptoken_until_the_end() {
    let f = Fixture::new();
    let id = f.policy("paged").await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(f.status(&id, "compliant").await["id"].clone());
    }
    let path = format!("{POLICIES}/{id}/deviceStatuses");
    let (mut seen, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut query = vec![("$top", "2")];
        if let Some(t) = &token {
            query.push(("$skiptoken", t));
        }
        let reply = f.run(Operation::Get, &path, None, &query).await;
        let Ok(Reply::Collection {
            items, skiptoken, ..
        }) = reply
        else {
            panic!("{reply:?}");
        };
        pages += 1;
        seen.extend(items.iter().map(|i| i.to_value()["id"].clone()));
        match skiptoken {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, created, "every status once, in creation order");
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn filters_within_the_fakes_subset_select_and_count() {
    let f = Fixture::new();
    let id = f.policy("filtered").await;
    for status in ["compliant", "error", "compliant"] {
        f.status(&id, status).await;
    }
    let path = format!("{POLICIES}/{id}/deviceStatuses");
    let filter = [("$filter", "status eq 'compliant'"), ("$count", "true")];
    let reply = f.run(Operation::Get, &path, None, &filter).await;
    let Ok(Reply::Collection { items, count, .. }) = reply else {
        panic!("{reply:?}");
    };
    assert_eq!((items.len(), count), (2, Some(2)));
    // Outside the subset the fake says so rather than answering wrongly.
    let unsupported = [("$filter", "contains(deviceDisplayName, 'c')")];
    let refused = f.run(Operation::Get, &path, None, &unsupported).await;
    assert!(
        matches!(&refused, Err(ApiError::Store(e)) if e.to_string().contains("memory store")),
        "{refused:?}"
    );
}

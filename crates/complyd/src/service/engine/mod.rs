//! The compliance engine: a managed device evaluated against every policy assigned to it, inside
//! the write that stores the results (its policy states, the policies' statuses and summaries,
//! its verdict), so that every report agrees with the device at every commit.
//!
//! The rules are data (`crates/compliance`); this module decides which policies apply
//! (`applies`), reads what it needs of the tenant (`tenant`) and stores what it found (`results`).

mod actions;
mod ahead;
mod applies;
mod checkin;
mod coverage;
mod demo;
mod fleet;
mod membership;
mod notify;
mod plan;
mod proof;
mod queue;
mod results;
mod round;
mod simulate;
mod snapshot;
mod tally;
mod tenant;
mod what_if;

use crate::error::ApiError;
use crate::store::{Key, WriteMark, WriteTx};
use applies::{Filters, Subject};
use compliance::{Facts, PolicyState, Ruleset};
use odata::Model;
use results::{DeviceFacts, PolicyOutcome, SettingOutcome};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tenant::{Policy, DIRECTORY_DEVICE};

pub use actions::retire_device;
pub use coverage::uncovered;
pub use demo::Demo;
pub use fleet::{FleetSpec, FleetSummary, MAX_FLEET, MAX_FLEET_HTTP};
pub use queue::{mark, watched, MARKS_TENANT};
pub use results::DEVICES;
pub use tally::SharedTally;
pub use tenant::property_eq;

/// Where the engine keeps, per device, what Graph has no property for: the facts it reported and,
/// per policy, the state with grace (`complianceStatus` has no `inGracePeriod`) and since when the
/// policy has found it failing. Never shown; deleted with the device.
const EVALUATION: &str = "managedDevices/_evaluation";

/// What one evaluation needs besides the store.
pub struct Engine {
    pub model: &'static Model,
    pub rules: Ruleset,
    /// What was read of each tenant's settings and policies, with the tenant's generation then:
    /// reused while the generation stands (any change that matters moves it, in its own write).
    views: Mutex<HashMap<String, (String, Arc<TenantView>)>>,
    /// Per tenant, when a view with membership was last read for check-ins, and whether that
    /// read is still running (`snapshot::warm_view`).
    warming: Mutex<HashMap<String, (std::time::Instant, bool)>>,
}

/// How many tenants' views an instance keeps.
const VIEWS_KEPT: usize = 256;

impl Engine {
    /// Every write that evaluates devices of `tenant` holds this first, before it reads a device:
    /// on a store several instances share, their maintained counts of the tenant then move one
    /// write at a time (and in one order: no deadlock).
    pub fn hold_tenant(tx: &mut dyn WriteTx, tenant: &str) -> Result<(), ApiError> {
        Ok(tx.hold(&format!("complyd engine {tenant}"))?)
    }

    pub fn new(model: &'static Model) -> Result<Self, String> {
        Ok(Self {
            model,
            rules: Ruleset::intune(model)?,
            views: Mutex::new(HashMap::new()),
            warming: Mutex::new(HashMap::new()),
        })
    }
}

/// What every evaluation of a tenant reads before its devices: its settings and policies, and
/// for a round over every device, who is in which group.
pub struct TenantView {
    pub settings: tenant::Settings,
    pub policies: Vec<Policy>,
    /// Read outside the writer only (`snapshot::read`, for rounds and, kept, for check-ins);
    /// without it each device's groups are queried.
    pub membership: Option<membership::Membership>,
}

impl TenantView {
    pub fn read(tx: &mut dyn WriteTx, tenant: &str) -> Result<Self, ApiError> {
        Ok(Self {
            settings: tenant::Settings::read(tx, tenant)?,
            policies: tenant::policies(tx, tenant)?,
            membership: None,
        })
    }

    /// `read`, with the tenant's group membership.
    pub fn read_with_membership(
        tx: &mut dyn WriteTx,
        model: &Model,
        tenant: &str,
    ) -> Result<Self, ApiError> {
        let mut view = Self::read(tx, tenant)?;
        view.membership = membership::Membership::read(tx, model, tenant)?;
        Ok(view)
    }
}

impl Engine {
    /// The tenant's settings and policies as of this transaction: the kept view when the tenant's
    /// generation has not moved since it was read, else read again.
    pub fn view(&self, tx: &mut dyn WriteTx, tenant: &str) -> Result<Arc<TenantView>, ApiError> {
        let generation = queue::generation(tx, tenant)?;
        self.view_at(tx, tenant, generation)
    }

    /// The view kept for `tenant`, with its generation.
    fn kept_view(&self, tenant: &str) -> Option<(String, Arc<TenantView>)> {
        let views = self.views.lock().ok()?;
        views.get(tenant).map(|(g, v)| (g.clone(), Arc::clone(v)))
    }

    /// Keeps a view read outside a write (`snapshot::read`) for its generation.
    pub fn keep_view(&self, tenant: &str, generation: String, view: TenantView) {
        if let Ok(mut views) = self.views.lock() {
            if views.len() >= VIEWS_KEPT {
                views.clear();
            }
            views.insert(tenant.to_string(), (generation, Arc::new(view)));
        }
    }

    fn view_at(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        generation: String,
    ) -> Result<Arc<TenantView>, ApiError> {
        let kept = self.views.lock().ok().and_then(|views| {
            views
                .get(tenant)
                .filter(|(g, _)| *g == generation)
                .map(|(_, v)| Arc::clone(v))
        });
        if let Some(view) = kept {
            return Ok(view);
        }
        let view = Arc::new(TenantView::read(tx, tenant)?);
        if let Ok(mut views) = self.views.lock() {
            if views.len() >= VIEWS_KEPT {
                views.clear();
            }
            views.insert(tenant.to_string(), (generation, Arc::clone(&view)));
        }
        Ok(view)
    }
}

/// A device's verdict and each applicable policy's outcome.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub device_id: String,
    pub state: PolicyState,
    pub grace_ends: Option<i64>,
    pub policies: Vec<(String, String, PolicyOutcome)>,
    /// Unix seconds: evaluated at any later now before this one, the device comes out the same
    /// (the first grace end or check-in threshold ahead; `i64::MAX`: none).
    pub steady_until: i64,
}

impl Verdict {
    /// What the check-in answers.
    pub fn to_json(&self) -> Value {
        let policies: Vec<Value> = self
            .policies
            .iter()
            .map(|(id, name, outcome)| {
                json!({
                    "id": id,
                    "displayName": name,
                    "state": outcome.state.name(),
                    "complianceGracePeriodExpirationDateTime": outcome.grace_ends.map(results::utc),
                    "settingStates": outcome.settings.iter().map(|s| json!({
                        "setting": s.setting,
                        "settingName": s.name,
                        "state": s.state,
                        "currentValue": s.current,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "deviceId": self.device_id,
            "complianceState": self.state.verdict(),
            "complianceGracePeriodExpirationDateTime":
                self.grace_ends.map(results::utc).unwrap_or_else(|| results::NO_GRACE.into()),
            "policies": policies,
        })
    }
}

/// A device as an evaluation takes it: as stored, and as it is to be stored (with what it
/// reported, for a check-in), with its hidden record likewise. The device is copied only when
/// it is changed (`device_mut`); a re-evaluation that moves no verdict never copies it.
pub struct DeviceInput<'a> {
    type_name: String,
    stored_device: Cow<'a, Map<String, Value>>,
    /// The device as changed, once it is.
    changed_device: Option<Map<String, Value>>,
    /// The hidden record's stored text ("" when it has none).
    stored_record: String,
    pub record: Map<String, Value>,
    /// The stored `azureADDeviceId` and its directory object, when a round read them ahead.
    directory_device: Option<(String, Option<String>)>,
}

/// What a round read of a device before its write (see `ahead.rs`); nothing, by default.
#[derive(Default)]
pub struct DeviceAhead<'a> {
    /// The device's body, parsed (taken while the stored text is the one parsed).
    pub row: Option<results::StoredRow>,
    /// Its hidden record, parsed likewise (the default: it had none).
    pub record: Option<results::StoredRow>,
    /// Directory devices by `deviceId`, current in this write.
    pub directory: Option<&'a ahead::DirectoryDevices>,
    /// The device's type, and the store's write mark from before the row and record were read:
    /// while neither was written since, both are taken without reading them again.
    pub unread: Option<(String, WriteMark)>,
}

impl DeviceInput<'_> {
    pub fn load(tx: &mut dyn WriteTx, tenant: &str, device_id: &str) -> Result<Self, ApiError> {
        Self::load_ahead(tx, tenant, device_id, DeviceAhead::default())
    }

    /// `load`, taking what a round read ahead (off the writer): the device's body and record when
    /// the stored texts are still the ones parsed (unread, when the store's write log says
    /// neither was written since), and its directory device.
    pub fn load_ahead(
        tx: &mut dyn WriteTx,
        tenant: &str,
        device_id: &str,
        ahead: DeviceAhead<'_>,
    ) -> Result<Self, ApiError> {
        let unwritten = unwritten_ahead(tx, tenant, device_id, &ahead);
        let ((type_name, stored_device), stored_record) =
            match (unwritten, ahead.unread, ahead.row, ahead.record) {
                (true, Some((type_name, _)), Some(row), Some(record)) => {
                    ((type_name, row.body), record)
                }
                (_, _, row, record) => (
                    read_device_ahead(tx, tenant, device_id, row)?,
                    stored_evaluation_ahead(tx, tenant, device_id, record)?,
                ),
            };
        let directory_device = ahead
            .directory
            .and_then(|found| ahead::directory_device_of(&stored_device, found));
        Ok(Self {
            type_name,
            stored_device: Cow::Owned(stored_device),
            changed_device: None,
            record: stored_record.body,
            stored_record: stored_record.text,
            directory_device,
        })
    }

    /// A device none of whose rows is stored yet: its body and hidden record as they are to be
    /// stored (the first evaluation stores them, with its results).
    pub fn new_device(
        type_name: &str,
        device: Map<String, Value>,
        record: Map<String, Value>,
    ) -> Self {
        Self {
            type_name: type_name.to_string(),
            stored_device: Cow::Owned(Map::new()),
            changed_device: Some(device),
            stored_record: String::new(),
            record,
            directory_device: None,
        }
    }

    pub fn device(&self) -> &Map<String, Value> {
        self.changed_device.as_ref().unwrap_or(&*self.stored_device)
    }

    pub fn device_mut(&mut self) -> &mut Map<String, Value> {
        self.changed_device
            .get_or_insert_with(|| (*self.stored_device).clone())
    }
}

/// The managed device as stored: its type and body (not found: 404).
fn read_device(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device_id: &str,
) -> Result<(String, Map<String, Value>), ApiError> {
    read_device_ahead(tx, tenant, device_id, None)
}

/// `read_device`, taking the body from `ahead` when the stored text is still the one it parsed.
/// Whether the store can tell that neither the device nor its record was written since they
/// were read ahead (`DeviceAhead::unread`).
fn unwritten_ahead(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device_id: &str,
    ahead: &DeviceAhead<'_>,
) -> bool {
    match &ahead.unread {
        Some((_, mark)) if ahead.row.is_some() && ahead.record.is_some() => tx.unwritten_since(
            *mark,
            &[
                &Key::new(tenant, results::DEVICES, "", device_id),
                &evaluation_key(tenant, device_id),
            ],
        ),
        _ => false,
    }
}

fn read_device_ahead(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device_id: &str,
    ahead: Option<results::StoredRow>,
) -> Result<(String, Map<String, Value>), ApiError> {
    let key = Key::new(tenant, results::DEVICES, "", device_id);
    let row = tx
        .get(&key)?
        .ok_or_else(|| crate::service::not_found(&key))?;
    let body = results::StoredRow::of_text(row.body, ahead)?.body;
    Ok((row.type_name, body))
}

/// An imported row's body as it is to be stored: a hidden record loses its plans (see
/// [`plan::without_plans`]); any other row is kept as it is.
pub fn imported(collection: &str, body: &mut Value) {
    if collection == EVALUATION {
        if let Some(record) = body.as_object_mut() {
            plan::without_plans(record);
        }
    }
}

/// The hidden record of one device.
fn evaluation_key(tenant: &str, device: &str) -> Key {
    Key::new(tenant, EVALUATION, device, device)
}

fn read_evaluation(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &str,
) -> Result<Map<String, Value>, ApiError> {
    Ok(stored_evaluation(tx, tenant, device)?.body)
}

/// The device's hidden record as stored, empty when it has none.
fn stored_evaluation(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &str,
) -> Result<results::StoredRow, ApiError> {
    stored_evaluation_ahead(tx, tenant, device, None)
}

/// `stored_evaluation`, taking `ahead` when the stored text is the one it parsed.
fn stored_evaluation_ahead(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &str,
    ahead: Option<results::StoredRow>,
) -> Result<results::StoredRow, ApiError> {
    match tx.get(&evaluation_key(tenant, device))? {
        Some(row) => results::StoredRow::of_text(row.body, ahead),
        None => Ok(results::StoredRow::default()),
    }
}

impl Engine {
    /// Evaluates a device that reported (`input`: as stored, and as it is to be stored with what
    /// it reported) against every policy of the tenant, and stores it with the results. `now` is
    /// Unix seconds.
    pub fn evaluate_reported(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        device_id: &str,
        now: i64,
        input: DeviceInput<'_>,
    ) -> Result<Verdict, ApiError> {
        let view = self.view(tx, tenant)?;
        let tally = SharedTally::default();
        let verdict = self.evaluate_with(tx, &view, tenant, device_id, now, true, input, &tally)?;
        tally.into_inner().flush(tx, self.model, tenant)?;
        Ok(verdict)
    }

    /// A re-evaluation (the device reported nothing new): as `evaluate_reported`, with the
    /// tenant's settings and policies read once for many devices (a batch reads them inside its
    /// own write, so they cannot change under it). A report it leaves as it was keeps its `lastReportedDateTime`.
    /// The setting summaries' moves are added to `tally`, for the caller to flush once; `ahead`
    /// is the device's body if a round parsed it before the write (see [`DeviceInput::load_ahead`]).
    #[allow(clippy::too_many_arguments)]
    pub fn evaluate_in(
        &self,
        tx: &mut dyn WriteTx,
        view: &TenantView,
        tenant: &str,
        device_id: &str,
        now: i64,
        tally: &SharedTally,
        ahead: DeviceAhead<'_>,
    ) -> Result<Verdict, ApiError> {
        let input = DeviceInput::load_ahead(tx, tenant, device_id, ahead)?;
        self.evaluate_with(tx, view, tenant, device_id, now, false, input, tally)
    }

    /// `reported`: the device reported (a check-in, a new device), so its statuses take `now`
    /// as their `lastReportedDateTime` even when nothing else changed. Rows an evaluation would
    /// write as they are stored are not written again.
    #[allow(clippy::too_many_arguments)]
    fn evaluate_with(
        &self,
        tx: &mut dyn WriteTx,
        view: &TenantView,
        tenant: &str,
        device_id: &str,
        now: i64,
        reported: bool,
        input: DeviceInput<'_>,
        tally: &SharedTally,
    ) -> Result<Verdict, ApiError> {
        let device_key = Key::new(tenant, results::DEVICES, "", device_id);
        let DeviceInput {
            type_name,
            stored_device,
            changed_device,
            stored_record,
            mut record,
            directory_device,
        } = input;
        let mut device = match changed_device {
            Some(changed) => Cow::Owned(changed),
            None => Cow::Borrowed(&*stored_device),
        };
        // What the last evaluation stored, per policy: its state, since when it fails, and a
        // fingerprint of its outcome (a policy whose fingerprint is unchanged rewrites nothing).
        // Taken out of the record in place (it goes back where it was, so the text compares).
        let mut hidden = match record.get_mut("policies").map(Value::take) {
            Some(Value::Object(hidden)) => hidden,
            _ => Map::new(),
        };
        let facts = self.facts(&device, &record);
        let (settings, policies) = (view.settings, &view.policies);
        // Groups decide only which policies apply.
        let groups = if policies.is_empty() {
            HashSet::new()
        } else {
            self.groups(tx, view, tenant, &device, directory_device)?
        };
        let subject = Subject {
            device_id,
            device: &device,
            has_user: device
                .get("userId")
                .and_then(Value::as_str)
                .is_some_and(|u| !u.is_empty()),
            groups: &groups,
        };
        let platform = compliance::platform_of(&self.rules, facts).map(str::to_string);
        let mut filters = Filters::default();
        let mut applicable = Vec::new();
        for policy in policies {
            if applies::applies(tx, tenant, policy, &subject, &mut filters)? {
                applicable.push(policy);
            }
        }
        let names = results::names_print(&device);
        let renamed = record.get("names").and_then(Value::as_str) != Some(names.as_str());
        let stamp = results::utc(now);
        let writer = results::Writer {
            model: self.model,
            tenant,
            now: &stamp,
            reported,
            tally,
        };
        let facts_view = DeviceFacts {
            id: device_id,
            body: &device,
            renamed,
        };
        let planner = plan::Planner {
            rules: &self.rules,
            tenant,
            device: device_id,
            platform: platform.as_deref(),
        };
        let mut outcomes = Vec::new();
        let mut kept = HashSet::new();
        for policy in applicable {
            let mut entry = match hidden.get_mut(&policy.id).map(Value::take) {
                Some(Value::Object(entry)) => entry,
                _ => Map::new(),
            };
            let since_before = entry.get("since").and_then(Value::as_i64);
            let outcome = self.outcome(policy, platform.as_deref(), facts, since_before, now);
            let print = results::outcome_print(policy, &outcome);
            let status_print = results::status_print(&outcome);
            let was = |name: &str, now: &str| entry.get(name).and_then(Value::as_str) == Some(now);
            let same = was("print", &print);
            let unchanged = results::Unchanged {
                outcome: same,
                status: was("status", &status_print),
            };
            let before = if same && !renamed {
                None
            } else {
                results::stored_state(tx, tenant, device_id, &policy.id)?
            };
            results::store(
                tx,
                &writer,
                &facts_view,
                policy,
                &outcome,
                before.as_ref(),
                unchanged,
            )?;
            entry.insert("state".into(), json!(outcome.state.name()));
            entry.insert("since".into(), json!(outcome.since));
            entry.insert("print".into(), json!(print));
            entry.insert("status".into(), json!(status_print));
            if planner.policy(tx, policy, outcome.since, &mut entry)? {
                super::retire::unschedule(tx, tenant, device_id, Some(&policy.id))?;
            }
            hidden.insert(policy.id.clone(), Value::Object(entry));
            kept.insert(policy.id.clone());
            outcomes.push((
                policy.id.clone(),
                policy.display_name().to_string(),
                outcome,
            ));
        }
        let gone: Vec<String> = hidden
            .keys()
            .filter(|id| !kept.contains(*id))
            .cloned()
            .collect();
        for policy_id in gone {
            let before = results::stored_state(tx, tenant, device_id, &policy_id)?;
            results::remove(
                tx,
                &writer,
                &facts_view,
                &policy_id,
                &before.unwrap_or_default(),
            )?;
            tx.due_cancel(tenant, device_id, Some(&policy_id))?;
            super::retire::unschedule(tx, tenant, device_id, Some(&policy_id))?;
            hidden.remove(&policy_id);
        }
        // The device is stale once the check-in threshold has passed since it last reported.
        let stale_at = device
            .get("lastSyncDateTime")
            .and_then(Value::as_str)
            .and_then(odata::value::DateTimeOffset::parse)
            .map(|last| last.to_unix_seconds())
            .filter(|last| *last > 0)
            .map(|last| {
                last.saturating_add(settings.checkin_threshold_days.saturating_mul(86_400))
            });
        let stale = stale_at.is_some_and(|at| now >= at);
        let steady_until = outcomes
            .iter()
            .filter_map(|(_, _, o)| o.grace_ends)
            .chain(stale_at.filter(|at| now < *at))
            .min()
            .unwrap_or(i64::MAX);
        planner.check_in(tx, stale_at.map(|at| at.saturating_mul(1000)), &mut record)?;
        let mut state = compliance::verdict(
            outcomes.iter().map(|(_, _, o)| o.state),
            settings.secure_by_default,
        );
        if stale {
            state = state.max(PolicyState::NonCompliant);
        }
        let covered = outcomes
            .iter()
            .any(|(_, _, o)| o.state != PolicyState::NotApplicable);
        coverage::record(tx, tenant, device_id, covered, &mut record)?;
        let grace_ends = if state == PolicyState::InGracePeriod {
            outcomes.iter().filter_map(|(_, _, o)| o.grace_ends).min()
        } else {
            None
        };
        let verdict = [
            ("complianceState", json!(state.verdict())),
            (
                "complianceGracePeriodExpirationDateTime",
                json!(grace_ends
                    .map(results::utc)
                    .unwrap_or_else(|| results::NO_GRACE.into())),
            ),
        ];
        for (name, value) in verdict {
            if device.get(name) != Some(&value) {
                device.to_mut().insert(name.into(), value);
            }
        }
        let changed = matches!(&device, Cow::Owned(changed) if *changed != *stored_device);
        // The managed tenants' view follows the device (its refresh time with each report).
        if reported || changed {
            results::put_tenant_view(
                tx, self.model, tenant, device_id, &device, grace_ends, &stamp,
            )?;
        }
        // Only the verdict and its grace end can differ from the stored (shaped) body.
        if changed {
            results::put(tx, self.model, &device_key, &type_name, &device)?;
        }
        record.insert("policies".into(), Value::Object(hidden));
        record.insert("names".into(), json!(names));
        results::put_changed(
            tx,
            self.model,
            &evaluation_key(tenant, device_id),
            "",
            &record,
            Some(&stored_record),
        )?;
        Ok(Verdict {
            device_id: device_id.to_string(),
            state,
            grace_ends,
            policies: outcomes,
            steady_until,
        })
    }

    /// The device's reported state: its properties, then the facts Graph has no property for.
    fn facts<'f>(
        &self,
        device: &'f Map<String, Value>,
        record: &'f Map<String, Value>,
    ) -> Facts<'f> {
        Facts::new(device, record.get("facts").and_then(Value::as_object))
    }

    /// The groups of the device's directory device and of its primary user, every level: from
    /// the view's membership when it has one, else queried. `read_ahead` is an `azureADDeviceId`
    /// and its directory object as a round read them; another id is looked up.
    fn groups(
        &self,
        tx: &mut dyn WriteTx,
        view: &TenantView,
        tenant: &str,
        device: &Map<String, Value>,
        read_ahead: Option<(String, Option<String>)>,
    ) -> Result<HashSet<String>, ApiError> {
        let mut objects = Vec::new();
        if let Some(user) = device.get("userId").and_then(Value::as_str) {
            if !user.is_empty() {
                objects.push(user.to_string());
            }
        }
        if let Some(aad) = device.get("azureADDeviceId").and_then(Value::as_str) {
            objects.extend(match read_ahead {
                Some((known, object)) if known == aad => object,
                _ => tenant::directory_device_id(tx, tenant, aad)?,
            });
        }
        let mut groups = HashSet::new();
        for object in &objects {
            match &view.membership {
                Some(membership) => membership.groups_of(object, &mut groups),
                None => groups.extend(tenant::groups_of(tx, self.model, tenant, object)?),
            }
        }
        Ok(groups)
    }

    /// One policy on the device, with its grace period.
    fn outcome(
        &self,
        policy: &Policy,
        platform: Option<&str>,
        facts: Facts<'_>,
        since_before: Option<i64>,
        now: i64,
    ) -> PolicyOutcome {
        let short = policy
            .type_name
            .rsplit('.')
            .next()
            .unwrap_or(&policy.type_name);
        let Some(rules) = self.rules.policy(short) else {
            // A policy type without rules (none shipped) checks nothing the engine knows.
            return PolicyOutcome {
                state: PolicyState::NotApplicable,
                since: None,
                grace_ends: None,
                settings: Vec::new(),
                platform_type: "all".into(),
            };
        };
        let result = compliance::evaluate(rules, &policy.body, platform, facts);
        let failing = result.state == PolicyState::NonCompliant;
        let since = failing.then(|| since_before.unwrap_or(now));
        let (state, grace_ends) =
            compliance::with_grace(result.state, since, policy.grace_hours, now);
        PolicyOutcome {
            state,
            since,
            grace_ends,
            settings: result
                .settings
                .into_iter()
                .map(|s| SettingOutcome {
                    setting: format!("{short}.{}", s.setting),
                    name: s.setting,
                    state: s.state.as_str(),
                    current: s.current,
                })
                .collect(),
            platform_type: rules.reported_as.clone().unwrap_or_else(|| "all".into()),
        }
    }
}

const DEVICE_TYPE: &str = "microsoft.graph.managedDevice";

impl Engine {
    /// Whether writing an entity of this type evaluates it.
    pub fn evaluates(&self, type_name: &str) -> bool {
        type_name == DEVICE_TYPE
    }

    /// A new managed device: its directory device (found by `azureADDeviceId`, else made, so that
    /// groups and dynamic rules see it), then its first evaluation.
    pub fn add_device(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        device_id: &str,
        now: i64,
    ) -> Result<Verdict, ApiError> {
        let mut input = DeviceInput::load(tx, tenant, device_id)?;
        let aad = input
            .device()
            .get("azureADDeviceId")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(str::to_string);
        // Stored with the evaluation's results, in the same write of the device.
        let aad = aad.unwrap_or_else(|| {
            let made = uuid::Uuid::now_v7().to_string();
            input
                .device_mut()
                .insert("azureADDeviceId".into(), json!(made));
            made
        });
        if tenant::directory_device_id(tx, tenant, &aad)?.is_none() {
            self.add_directory_device(tx, tenant, &aad, input.device())?;
        }
        self.evaluate_reported(tx, tenant, device_id, now, input)
    }

    fn add_directory_device(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        aad: &str,
        device: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let ty = self
            .model
            .structured(DIRECTORY_DEVICE)
            .ok_or_else(|| ApiError::Internal("device is not in the model".into()))?;
        let text = |name: &str| device.get(name).cloned().unwrap_or(Value::Null);
        let body = json!({
            "accountEnabled": true,
            "alternativeSecurityIds": [],
            "deviceId": aad,
            "displayName": text("deviceName"),
            "operatingSystem": text("operatingSystem"),
            "operatingSystemVersion": text("osVersion"),
            "manufacturer": text("manufacturer"),
            "model": text("model"),
            "isManaged": true,
            "isCompliant": false,
        });
        let body =
            crate::service::canonical(self.model, ty, body.as_object().unwrap_or(&Map::new()));
        let id = uuid::Uuid::now_v7().to_string();
        let key = Key::new(tenant, tenant::DIRECTORY, "", &id);
        tx.insert(
            &key,
            DIRECTORY_DEVICE,
            &Value::Object(body.clone()).to_string(),
        )?;
        crate::service::directory::dynamic::refresh_member(
            tx,
            self.model,
            tenant,
            tenant::DIRECTORY,
            &id,
            ty,
            &body,
        )
    }

    /// A managed device leaves every report: its policies' statuses and setting counts, its
    /// user's statuses and the tenant's view (its own rows go with it).
    pub fn remove_device(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        device_id: &str,
    ) -> Result<(), ApiError> {
        let device = self.stored_device(tx, tenant, device_id)?;
        let tally = SharedTally::default();
        let stamp = crate::service::time::now_text(tx, tenant)?;
        let writer = results::Writer {
            model: self.model,
            tenant,
            now: &stamp,
            reported: false,
            tally: &tally,
        };
        // Each removal deletes the policy's status of the device first, so the user's status is
        // recounted without it.
        let facts_view = DeviceFacts {
            id: device_id,
            body: &device,
            renamed: false,
        };
        for (policy_id, before) in results::current_states(tx, tenant, device_id)? {
            results::remove(tx, &writer, &facts_view, &policy_id, &before)?;
        }
        tx.delete_tree(&Key::new(tenant, results::TENANT_VIEW, "", device_id))?;
        coverage::forget(tx, tenant, device_id)?;
        tx.due_cancel(tenant, device_id, None)?;
        super::retire::unschedule(tx, tenant, device_id, None)?;
        tally.into_inner().flush(tx, self.model, tenant)
    }

    /// The device's body as stored now (after an evaluation changed it).
    pub fn stored_device(
        &self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        device_id: &str,
    ) -> Result<Map<String, Value>, ApiError> {
        Ok(read_device(tx, tenant, device_id)?.1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::Store;

    /// The body a device gets from `read_device_ahead` when the text parsed ahead is `text`
    /// and its parse is `{"deviceName": "parsed ahead"}` (so that its use shows).
    async fn read_with_ahead(store: &dyn Store, text: &'static str) -> Map<String, Value> {
        store
            .write(move |tx| {
                let ahead = results::StoredRow {
                    text: text.to_string(),
                    body: json!({"deviceName": "parsed ahead"})
                        .as_object()
                        .cloned()
                        .unwrap(),
                };
                Ok::<_, ApiError>(read_device_ahead(tx, "t", "d", Some(ahead))?.1)
            })
            .await
            .unwrap()
    }

    /// A body parsed before the write stands for the stored one only while the row still has
    /// the text it was parsed from: a device changed in between is read as stored.
    #[tokio::test]
    async fn a_body_parsed_ahead_is_taken_only_for_the_text_still_stored() {
        let memory = MemoryStore::new();
        let store: &dyn Store = &memory;
        let stored = r#"{"deviceName":"stored"}"#;
        store
            .write(move |tx| {
                tx.insert(
                    &Key::new("t", results::DEVICES, "", "d"),
                    DEVICE_TYPE,
                    stored,
                )
            })
            .await
            .unwrap();
        let same = read_with_ahead(store, stored).await;
        assert_eq!(same.get("deviceName"), Some(&json!("parsed ahead")));
        let stale = read_with_ahead(store, r#"{"deviceName":"before"}"#).await;
        assert_eq!(stale.get("deviceName"), Some(&json!("stored")));
    }

    /// With the store's word that neither the device nor its record was written since the mark
    /// taken before they were read, both are taken as read ahead, unread (so even a text that is
    /// not the stored one shows); after a write to either, they are read again.
    #[tokio::test]
    async fn a_device_read_ahead_is_taken_unread_while_the_log_says_unwritten() {
        let memory = MemoryStore::new();
        let store: &dyn Store = &memory;
        let device = Key::new("t", results::DEVICES, "", "d");
        let stored = r#"{"deviceName":"stored"}"#;
        let key = device.clone();
        store
            .write(move |tx| tx.insert(&key, DEVICE_TYPE, stored))
            .await
            .unwrap();
        let mark = store.write_mark().unwrap();
        let load = |mark: WriteMark| {
            store.write(move |tx| {
                let ahead = DeviceAhead {
                    row: Some(results::StoredRow {
                        text: "as read".into(),
                        body: json!({"deviceName": "as read"})
                            .as_object()
                            .cloned()
                            .unwrap(),
                    }),
                    record: Some(results::StoredRow::default()),
                    directory: None,
                    unread: Some((DEVICE_TYPE.to_string(), mark)),
                };
                let input = DeviceInput::load_ahead(tx, "t", "d", ahead)?;
                Ok::<_, ApiError>(input.device().get("deviceName").cloned())
            })
        };
        assert_eq!(load(mark).await.unwrap(), Some(json!("as read")));
        let record = evaluation_key("t", "d");
        store
            .write(move |tx| tx.insert(&record, "", "{}"))
            .await
            .unwrap();
        assert_eq!(load(mark).await.unwrap(), Some(json!("stored")));
        let mark = store.write_mark().unwrap();
        assert_eq!(load(mark).await.unwrap(), Some(json!("as read")));
        store
            .write(move |tx| tx.delete_tree(&device))
            .await
            .unwrap();
        assert!(matches!(load(mark).await, Err(ApiError::NotFound(_))));
    }
}

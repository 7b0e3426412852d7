//! One policy on one device: which platform the device is, which settings the policy configures,
//! and each configured setting's state against the fact the device reported.

use crate::rules::{Condition, Kind, PolicyRules, Rule, Ruleset};
use crate::state::{PolicyState, SettingState};
use crate::version;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// What a device reports, as the rules read it: its properties, and over them the facts Graph
/// has no property for (a fact named like a property wins). Read in place, never merged.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'f> {
    properties: &'f Map<String, Value>,
    reported: Option<&'f Map<String, Value>>,
}

impl<'f> Facts<'f> {
    pub fn new(
        properties: &'f Map<String, Value>,
        reported: Option<&'f Map<String, Value>>,
    ) -> Self {
        Self {
            properties,
            reported,
        }
    }

    pub fn get(&self, name: &str) -> Option<&'f Value> {
        self.reported
            .and_then(|reported| reported.get(name))
            .or_else(|| self.properties.get(name))
    }
}

impl<'f> From<&'f Map<String, Value>> for Facts<'f> {
    fn from(properties: &'f Map<String, Value>) -> Self {
        Self::new(properties, None)
    }
}

/// A configured setting's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingResult {
    /// The policy property.
    pub setting: String,
    pub state: SettingState,
    /// What the device reported, as text; `None` when it reported nothing.
    pub current: Option<String>,
    /// What the policy asks, as text.
    pub required: String,
}

/// A policy's outcome on a device, before grace periods (which need time and history).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyResult {
    pub state: PolicyState,
    pub settings: Vec<SettingResult>,
}

/// The device's platform: the first whose conditions its facts meet.
pub fn platform_of<'r, 'f>(rules: &'r Ruleset, facts: impl Into<Facts<'f>>) -> Option<&'r str> {
    let facts = facts.into();
    rules
        .platforms
        .iter()
        .find(|p| p.conditions.iter().all(|c| holds(c, facts)))
        .map(|p| p.name.as_str())
}

fn holds(condition: &Condition, facts: Facts<'_>) -> bool {
    match condition {
        Condition::Is(fact, values) => text(facts, fact).is_some_and(|t| any_eq(&t, values)),
        Condition::IsNot(fact, values) => text(facts, fact).is_none_or(|t| !any_eq(&t, values)),
        Condition::VersionAtLeast(fact, v) => text(facts, fact)
            .and_then(|t| version::compare(&t, v))
            .is_some_and(|o| o != Ordering::Less),
        Condition::VersionBelow(fact, v) => text(facts, fact)
            .and_then(|t| version::compare(&t, v))
            .is_some_and(|o| o == Ordering::Less),
    }
}

fn any_eq(text: &str, values: &[String]) -> bool {
    values.iter().any(|v| v.eq_ignore_ascii_case(text))
}

/// Evaluates the policy `body` of `rules`' type on a device of `platform` with `facts`.
pub fn evaluate<'f>(
    rules: &PolicyRules,
    body: &Map<String, Value>,
    platform: Option<&str>,
    facts: impl Into<Facts<'f>>,
) -> PolicyResult {
    let facts = facts.into();
    if !platform.is_some_and(|p| rules.platforms.iter().any(|r| r == p)) {
        return PolicyResult {
            state: PolicyState::NotApplicable,
            settings: Vec::new(),
        };
    }
    let settings: Vec<SettingResult> = rules
        .rules
        .iter()
        .filter_map(|rule| setting(rule, body.get(&rule.setting)?, facts))
        .collect();
    // No configured setting checks nothing: the device complies.
    let state = settings
        .iter()
        .map(|s| PolicyState::from(s.state))
        .max()
        .unwrap_or(PolicyState::Compliant);
    PolicyResult { state, settings }
}

/// The outcome of one rule, or `None` when the policy leaves the setting unconfigured.
fn setting(rule: &Rule, value: &Value, facts: Facts<'_>) -> Option<SettingResult> {
    if !configured(rule, value) {
        return None;
    }
    let fact = lookup(facts, &rule.fact);
    let (state, current) = match fact {
        None => (SettingState::Error, None),
        Some(Value::Null) => (SettingState::NotApplicable, None),
        Some(fact) => {
            let state = match compare(&rule.kind, value, fact, &rule.unset) {
                Some(true) => SettingState::Compliant,
                Some(false) => SettingState::NonCompliant,
                None => SettingState::Error,
            };
            (state, Some(render(fact)))
        }
    };
    Some(SettingResult {
        setting: rule.setting.clone(),
        state,
        current,
        required: render(value),
    })
}

/// Whether a setting's value asks for anything: not null, `false`, 0, empty, or an unset member.
fn configured(rule: &Rule, value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty() && !rule.unset.iter().any(|u| u == s),
        Value::Array(items) => !items.is_empty(),
        Value::Object(_) => true,
    }
}

/// Whether the fact satisfies the setting; `None` when the fact is of no usable kind.
fn compare(kind: &Kind, setting: &Value, fact: &Value, unset: &[String]) -> Option<bool> {
    Some(match kind {
        Kind::Requires(None) => truth(fact)?,
        Kind::Requires(Some(v)) => as_text(fact)?.eq_ignore_ascii_case(v),
        Kind::Forbids(None) => !truth(fact)?,
        Kind::Forbids(Some(v)) => !as_text(fact)?.eq_ignore_ascii_case(v),
        Kind::AtLeast => fact.as_f64()? >= setting.as_f64()?,
        Kind::AtMost => {
            let n = fact.as_f64()?;
            n > 0.0 && n <= setting.as_f64()?
        }
        Kind::VersionAtLeast => {
            version::compare(&as_text(fact)?, setting.as_str()?)? != Ordering::Less
        }
        Kind::VersionAtMost => {
            version::compare(&as_text(fact)?, setting.as_str()?)? != Ordering::Greater
        }
        Kind::LevelAtLeast(order) => level(order, unset, fact)? >= level(order, unset, setting)?,
        Kind::LevelAtMost(order) => level(order, unset, fact)? <= level(order, unset, setting)?,
        Kind::NoneInstalled => !installed(setting.as_array()?, fact.as_array()?),
        Kind::VersionInRanges => in_ranges(setting.as_array()?, &as_text(fact)?)?,
    })
}

/// A level's position in `order`; an unset member (a device reporting `deviceDefault`) is
/// below every level.
fn level(order: &[String], unset: &[String], value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    if let Some(i) = order.iter().position(|o| o.eq_ignore_ascii_case(text)) {
        return i64::try_from(i).ok();
    }
    unset
        .iter()
        .any(|u| u.eq_ignore_ascii_case(text))
        .then_some(-1)
}

/// Whether any app the setting names (by `appId`, else `name`) is among the installed apps
/// (each an app id or name, or an object with `appId`/`name`).
fn installed(named: &[Value], apps: &[Value]) -> bool {
    let keys = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.to_lowercase()],
            Value::Object(o) => ["appId", "name", "bundleId", "packageId"]
                .iter()
                .filter_map(|k| o.get(*k).and_then(Value::as_str))
                .map(str::to_lowercase)
                .collect(),
            _ => Vec::new(),
        }
    };
    let installed: Vec<String> = apps.iter().flat_map(keys).collect();
    named.iter().any(|app| {
        let wanted = match app
            .get("appId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(id) => vec![id.to_lowercase()],
            None => keys(app),
        };
        wanted.iter().any(|w| installed.contains(w))
    })
}

fn in_ranges(ranges: &[Value], version: &str) -> Option<bool> {
    let mut any = false;
    for range in ranges {
        let low = range.get("lowestVersion").and_then(Value::as_str)?;
        let high = range.get("highestVersion").and_then(Value::as_str)?;
        any |= version::compare(version, low)? != Ordering::Less
            && version::compare(version, high)? != Ordering::Greater;
    }
    Some(any)
}

fn truth(fact: &Value) -> Option<bool> {
    match fact {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn as_text(fact: &Value) -> Option<String> {
    match fact {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A fact at a dotted path (`deviceHealthAttestationState.secureBoot`).
pub fn lookup<'f>(facts: impl Into<Facts<'f>>, path: &str) -> Option<&'f Value> {
    let mut parts = path.split('.');
    let mut current = facts.into().get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(o) => o.get(part)?,
            // A fact inside a value that is null is null too: the device cannot report it.
            Value::Null => return Some(current),
            _ => return None,
        };
    }
    Some(current)
}

fn text(facts: Facts<'_>, path: &str) -> Option<String> {
    lookup(facts, path).and_then(as_text)
}

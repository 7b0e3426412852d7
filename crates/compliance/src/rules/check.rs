//! The rules held against the entity model: every policy type and setting exists, and each rule
//! kind fits its setting's type, so a typo in a rule file stops the start instead of silently
//! checking nothing.

use super::{Condition, Kind, Ruleset};
use odata::edm::{Primitive, TypeRef, ValueType};
use odata::{Model, Version};

const POLICY_BASE: &str = "microsoft.graph.deviceCompliancePolicy";
const ACTION_TYPE: &str = "microsoft.graph.deviceComplianceActionType";

const DEVICE: &str = "microsoft.graph.managedDevice";

pub fn check(set: &Ruleset, model: &Model) -> Result<(), String> {
    for fact in &set.facts {
        if is_device_property(model, &fact.name) {
            return Err(format!(
                "fact {}: managedDevice has this property",
                fact.name
            ));
        }
    }
    for platform in &set.platforms {
        for condition in &platform.conditions {
            let (Condition::Is(fact, _)
            | Condition::IsNot(fact, _)
            | Condition::VersionAtLeast(fact, _)
            | Condition::VersionBelow(fact, _)) = condition;
            known_fact(set, model, fact).map_err(|e| format!("platform {}: {e}", platform.name))?;
        }
    }
    for action in &set.actions {
        if model
            .enum_member(ACTION_TYPE, &action.action, Version::Beta)
            .is_none()
        {
            return Err(format!(
                "action {}: not a member of {ACTION_TYPE}",
                action.action
            ));
        }
        for platform in &action.platforms {
            if platform != "all" && !set.platforms.iter().any(|p| &p.name == platform) {
                return Err(format!(
                    "action {}: unknown platform {platform}",
                    action.action
                ));
            }
        }
    }
    for policy in &set.policies {
        let name = format!("microsoft.graph.{}", policy.policy_type);
        let ty = model
            .structured(&name)
            .filter(|t| model.is_derived_from(t, POLICY_BASE))
            .ok_or_else(|| {
                format!(
                    "policy {}: not a compliance policy type",
                    policy.policy_type
                )
            })?;
        if let Some(reported_as) = &policy.reported_as {
            let known = model
                .enum_type("microsoft.graph.policyPlatformType")
                .is_some_and(|e| e.members.iter().any(|m| &m.name == reported_as));
            if !known {
                return Err(format!(
                    "policy {}: reported-as {reported_as}: not a policyPlatformType member",
                    policy.policy_type
                ));
            }
        }
        for platform in &policy.platforms {
            if !set.platforms.iter().any(|p| &p.name == platform) {
                return Err(format!(
                    "policy {}: unknown platform {platform}",
                    policy.policy_type
                ));
            }
        }
        for rule in &policy.rules {
            let where_ = || format!("policy {}: setting {}", policy.policy_type, rule.setting);
            let property = model
                .property(ty, &rule.setting, Version::Beta)
                .ok_or_else(|| format!("{}: not a property of the type", where_()))?;
            fits(model, &rule.kind, &property.ty, &rule.unset)
                .map_err(|e| format!("{}: {e}", where_()))?;
            known_fact(set, model, &rule.fact).map_err(|e| format!("{}: {e}", where_()))?;
        }
    }
    Ok(())
}

/// Whether `name` is a property of `managedDevice` (in either version).
fn is_device_property(model: &Model, name: &str) -> bool {
    model
        .structured(DEVICE)
        .is_some_and(|ty| model.property(ty, name, Version::Beta).is_some())
}

/// A fact path starts with a `managedDevice` property or names a declared fact.
fn known_fact(set: &Ruleset, model: &Model, path: &str) -> Result<(), String> {
    let first = path.split('.').next().unwrap_or(path);
    if is_device_property(model, first) || set.fact(path).is_some() {
        Ok(())
    } else {
        Err(format!(
            "fact {path}: neither a managedDevice property nor declared in facts.rules"
        ))
    }
}

/// Whether a rule kind can read a setting of this type.
fn fits(model: &Model, kind: &Kind, ty: &TypeRef, unset: &[String]) -> Result<(), String> {
    let primitive = |p: Primitive| !ty.collection && ty.value == ValueType::Primitive(p);
    let complex = |name: &str| {
        ty.collection && ty.value == ValueType::Complex(format!("microsoft.graph.{name}"))
    };
    let ok = match kind {
        Kind::Requires(_) | Kind::Forbids(_) => primitive(Primitive::Boolean),
        Kind::AtLeast | Kind::AtMost => primitive(Primitive::Int32) || primitive(Primitive::Int64),
        Kind::VersionAtLeast | Kind::VersionAtMost => primitive(Primitive::String),
        Kind::LevelAtLeast(order) | Kind::LevelAtMost(order) => {
            return levels_fit(model, ty, order, unset);
        }
        Kind::NoneInstalled => complex("appListItem"),
        Kind::VersionInRanges => complex("operatingSystemVersionRange"),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the rule kind does not fit a setting of type {:?}",
            ty.value
        ))
    }
}

/// A level rule reads an enum setting; its order and unset values must be members.
fn levels_fit(
    model: &Model,
    ty: &TypeRef,
    order: &[String],
    unset: &[String],
) -> Result<(), String> {
    let ValueType::Enum(name) = &ty.value else {
        return Err("a level rule needs an enum setting".into());
    };
    let members = model
        .enum_type(name)
        .ok_or_else(|| format!("unknown enum {name}"))?;
    for value in order.iter().chain(unset) {
        if !members.members.iter().any(|m| &m.name == value) {
            return Err(format!("'{value}' is not a member of {name}"));
        }
    }
    Ok(())
}

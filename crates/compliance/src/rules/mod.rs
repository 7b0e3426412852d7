//! The compliance rules as data: which platform a device is, and for each policy type, which
//! setting checks which reported fact and how. The text lives in `rules/*.rules` (format in
//! `rules/FORMAT.md`); `parse` reads it, `check` holds it against the entity model.

mod check;
mod parse;

pub use check::check;
pub use parse::parse;

/// A condition on a device's reported state, part of a platform's definition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The fact equals one of the values (case-insensitive).
    Is(String, Vec<String>),
    /// The fact equals none of the values (an absent fact qualifies).
    IsNot(String, Vec<String>),
    /// The fact is a version at least this one.
    VersionAtLeast(String, String),
    /// The fact is a version below this one.
    VersionBelow(String, String),
}

/// A platform: a name and the conditions a device meets to be of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub name: String,
    pub conditions: Vec<Condition>,
}

/// How a setting's value is checked against a fact.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The setting `true` requires the fact to be true, or to equal the value.
    Requires(Option<String>),
    /// The setting `true` requires the fact not to be true, or not to equal the value.
    Forbids(Option<String>),
    /// The fact is a number at least the setting.
    AtLeast,
    /// The fact is a number above 0 and at most the setting (0 means "never").
    AtMost,
    /// The fact is a version at least (at most) the setting.
    VersionAtLeast,
    VersionAtMost,
    /// The fact is one of the levels, at or above (below) the setting's level.
    LevelAtLeast(Vec<String>),
    LevelAtMost(Vec<String>),
    /// None of the setting's apps (`appId` or `name`) is among the fact's installed apps.
    NoneInstalled,
    /// The fact is a version within one of the setting's ranges (`lowestVersion`..`highestVersion`).
    VersionInRanges,
}

/// One setting of a policy type and the rule it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The policy property.
    pub setting: String,
    pub kind: Kind,
    /// The fact's path in the device's reported state (`deviceHealthAttestationState.secureBoot`).
    pub fact: String,
    /// Enum values that mean "not configured".
    pub unset: Vec<String>,
}

/// The rules of one policy type, and the platforms it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRules {
    /// Short type name (`windows10CompliancePolicy`).
    pub policy_type: String,
    pub platforms: Vec<String>,
    /// The `policyPlatformType` member reports name it by (`reported-as`).
    pub reported_as: Option<String>,
    pub rules: Vec<Rule>,
}

/// A scheduled action for noncompliance and the platforms it exists on (`actions.rules`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionPlatforms {
    /// A `deviceComplianceActionType` member.
    pub action: String,
    /// Platform names, or `all`.
    pub platforms: Vec<String>,
}

/// What kind of value a reported fact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    Boolean,
    Int,
    String,
    /// A list (installed apps: ids, names, or objects with `appId`/`name`).
    List,
}

/// A fact a device reports that Graph's `managedDevice` has no property for.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub name: String,
    pub ty: FactType,
}

/// Everything the rule files say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ruleset {
    /// The facts beyond `managedDevice`'s properties (`rules/facts.rules`).
    pub facts: Vec<Fact>,
    /// In the order written: the first that a device matches is its platform.
    pub platforms: Vec<Platform>,
    pub policies: Vec<PolicyRules>,
    /// Where each scheduled action exists; an action not listed exists nowhere.
    pub actions: Vec<ActionPlatforms>,
}

impl Ruleset {
    /// The rules shipped with complyd (`rules/*.rules`), parsed and checked against `model`.
    pub fn intune(model: &odata::Model) -> Result<Self, String> {
        let mut set = Ruleset::default();
        for (file, text) in SHIPPED {
            parse(&mut set, text).map_err(|e| format!("{file}: {e}"))?;
        }
        check(&set, model)?;
        Ok(set)
    }

    pub fn fact(&self, name: &str) -> Option<&Fact> {
        self.facts.iter().find(|f| f.name == name)
    }

    /// Whether the scheduled action `action` exists on `platform` (a device of no platform has
    /// none).
    pub fn action_exists(&self, action: &str, platform: Option<&str>) -> bool {
        let Some(platform) = platform else {
            return false;
        };
        self.actions
            .iter()
            .find(|a| a.action == action)
            .is_some_and(|a| a.platforms.iter().any(|p| p == "all" || p == platform))
    }

    pub fn policy(&self, policy_type: &str) -> Option<&PolicyRules> {
        let short = policy_type.rsplit('.').next().unwrap_or(policy_type);
        self.policies.iter().find(|p| p.policy_type == short)
    }
}

/// The shipped rule files.
const SHIPPED: &[(&str, &str)] = &[
    ("facts.rules", include_str!("../../rules/facts.rules")),
    (
        "platforms.rules",
        include_str!("../../rules/platforms.rules"),
    ),
    ("windows.rules", include_str!("../../rules/windows.rules")),
    ("apple.rules", include_str!("../../rules/apple.rules")),
    ("android.rules", include_str!("../../rules/android.rules")),
    ("actions.rules", include_str!("../../rules/actions.rules")),
];

//! What a rule may name: its objects (`user`, `device`) and, for each, the properties a rule
//! spells, where each lives in the object's stored JSON and of what kind it is. Dynamic
//! membership rules take theirs from the model (`Model::membership_vocabulary`); assignment
//! filters name Intune's managed-device inventory, which the model does not hold, so theirs is
//! the documented list below.

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Text,
    Bool,
    /// Compared as an instant (`-ge`, `-le` allowed).
    DateTime,
    /// A dotted version (`10.0.22000.1000`), compared part by part (`-gt` … allowed).
    Version,
    /// A collection of strings: an operator applies to any member; `-any`/`-all` with `_`.
    TextList,
    /// A collection of records (`assignedPlans`): only `-any`/`-all`, naming their fields.
    Records(Vec<RuleProperty>),
    /// The groups the object is a direct member of: `-any (group.objectId -in [...])`.
    MemberOf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleProperty {
    /// As a rule spells it (compared without regard to case).
    pub name: String,
    /// Where the value is in the stored body; empty for the object's id.
    pub path: Vec<String>,
    pub kind: Kind,
}

impl RuleProperty {
    pub fn new(name: &str, path: &[&str], kind: Kind) -> Self {
        Self {
            name: name.to_string(),
            path: path.iter().map(|s| s.to_string()).collect(),
            kind,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// `user`, `device`: what a rule writes before the dot.
    pub name: String,
    pub properties: Vec<RuleProperty>,
}

impl Subject {
    pub fn property(&self, name: &str) -> Option<&RuleProperty> {
        self.properties
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    pub subjects: Vec<Subject>,
    /// What an error message starts with (`Dynamic membership rule validation error`).
    pub errors_begin: String,
}

impl Vocabulary {
    pub fn subject(&self, name: &str) -> Option<&Subject> {
        self.subjects
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The managed-device properties Intune's assignment filters document (`device.…`), with
    /// the stored names of the corresponding managed-device properties.
    pub fn assignment_filters() -> Self {
        use Kind::{Bool, Text, Version};
        let properties = vec![
            RuleProperty::new("cpuArchitecture", &["processorArchitecture"], Text),
            RuleProperty::new("deviceCategory", &["deviceCategoryDisplayName"], Text),
            RuleProperty::new("deviceName", &["deviceName"], Text),
            RuleProperty::new("deviceOwnership", &["managedDeviceOwnerType"], Text),
            RuleProperty::new("deviceTrustType", &["joinType"], Text),
            RuleProperty::new("enrollmentProfileName", &["enrollmentProfileName"], Text),
            RuleProperty::new("isRooted", &["isRooted"], Bool),
            RuleProperty::new("manufacturer", &["manufacturer"], Text),
            RuleProperty::new("model", &["model"], Text),
            RuleProperty::new("operatingSystemVersion", &["osVersion"], Version),
            RuleProperty::new("osVersion", &["osVersion"], Text),
            RuleProperty::new("operatingSystemSKU", &["skuFamily"], Text),
        ];
        Self {
            subjects: vec![Subject {
                name: "device".into(),
                properties,
            }],
            errors_begin: "Assignment filter rule validation error".into(),
        }
    }
}

//! The states an evaluation produces, and their severity.

/// One setting on one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingState {
    Compliant,
    NonCompliant,
    /// The device reported the fact as null: it cannot report it.
    NotApplicable,
    /// The device reported nothing usable for the fact (absent, or of the wrong kind).
    Error,
}

impl SettingState {
    /// The member of Graph's `complianceStatus` enum.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "compliant",
            Self::NonCompliant => "nonCompliant",
            Self::NotApplicable => "notApplicable",
            Self::Error => "error",
        }
    }
}

/// One policy on one device, least severe first: the derived `Ord` is the severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyState {
    Unknown,
    NotApplicable,
    Compliant,
    InGracePeriod,
    NonCompliant,
    Error,
}

impl PolicyState {
    /// The member of Graph's `complianceStatus` enum (a device in its grace period is reported
    /// `nonCompliant` there, with the grace period's end beside it).
    pub fn status(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::NotApplicable => "notApplicable",
            Self::Compliant => "compliant",
            Self::InGracePeriod | Self::NonCompliant => "nonCompliant",
            Self::Error => "error",
        }
    }

    /// The member of Graph's `complianceState` enum (a managed device's verdict).
    pub fn verdict(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::NotApplicable | Self::Compliant => "compliant",
            Self::InGracePeriod => "inGracePeriod",
            Self::NonCompliant => "noncompliant",
            Self::Error => "error",
        }
    }

    /// Parses what [`PolicyState::name`] printed.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "unknown" => Self::Unknown,
            "notApplicable" => Self::NotApplicable,
            "compliant" => Self::Compliant,
            "inGracePeriod" => Self::InGracePeriod,
            "nonCompliant" => Self::NonCompliant,
            "error" => Self::Error,
            _ => return None,
        })
    }

    /// A name for every state, grace included (what complyd keeps per device and policy).
    pub fn name(self) -> &'static str {
        match self {
            Self::InGracePeriod => "inGracePeriod",
            other => other.status(),
        }
    }
}

impl From<SettingState> for PolicyState {
    fn from(s: SettingState) -> Self {
        match s {
            SettingState::Compliant => Self::Compliant,
            SettingState::NonCompliant => Self::NonCompliant,
            SettingState::NotApplicable => Self::NotApplicable,
            SettingState::Error => Self::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_runs_from_unknown_to_error() {
        use PolicyState::*;
        let mut states = [
            Error,
            Compliant,
            NonCompliant,
            Unknown,
            InGracePeriod,
            NotApplicable,
        ];
        states.sort();
        assert_eq!(
            states,
            [
                Unknown,
                NotApplicable,
                Compliant,
                InGracePeriod,
                NonCompliant,
                Error
            ]
        );
        for s in states {
            assert_eq!(PolicyState::parse(s.name()), Some(s));
        }
    }
}

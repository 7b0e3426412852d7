//! How Intune decides compliance, as complyd reproduces it: the rules as data (`rules/*.rules`),
//! a device's platform from what it reports, each configured setting of a policy against the
//! fact it checks, the policy's state by severity, grace periods, and the device's verdict.
//! Pure: no I/O, no clock (callers pass the time).
#![forbid(unsafe_code)]

mod evaluate;
pub mod rules;
mod state;
pub mod version;

pub use evaluate::{evaluate, lookup, platform_of, Facts, PolicyResult, SettingResult};
pub use rules::Ruleset;
pub use state::{PolicyState, SettingState};

/// A policy found noncompliant is in its grace period until `since + hours`, then noncompliant.
/// Times are Unix seconds. Returns the state and, while in grace, when the grace period ends.
pub fn with_grace(
    state: PolicyState,
    since: Option<i64>,
    hours: i64,
    now: i64,
) -> (PolicyState, Option<i64>) {
    match (state, since) {
        (PolicyState::NonCompliant, Some(since)) if hours > 0 => {
            let ends = since.saturating_add(hours.saturating_mul(3600));
            if now < ends {
                (PolicyState::InGracePeriod, Some(ends))
            } else {
                (PolicyState::NonCompliant, None)
            }
        }
        (state, _) => (state, None),
    }
}

/// A device's verdict from the states of the policies assigned to it: the most severe. A device
/// that no policy applies to is compliant, or noncompliant when the tenant is secure by default.
pub fn verdict(
    states: impl IntoIterator<Item = PolicyState>,
    secure_by_default: bool,
) -> PolicyState {
    let applicable = states
        .into_iter()
        .filter(|s| *s != PolicyState::NotApplicable)
        .max();
    match applicable {
        Some(state) => state,
        None if secure_by_default => PolicyState::NonCompliant,
        None => PolicyState::Compliant,
    }
}

#[cfg(test)]
mod tests;

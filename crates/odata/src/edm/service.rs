//! The service root (what a URL may start with), who may use it, and the bound actions.

use super::Availability;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    /// `deviceManagement`: one instance per tenant, reached without a key.
    Singleton,
    /// A collection at the root, addressed by key.
    EntitySet,
}

/// The permissions that admit a caller: any one of `read` for GET, any one of `write` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Permissions {
    pub read: &'static [&'static str],
    pub write: &'static [&'static str],
}

#[derive(Debug, Clone)]
pub struct Root {
    pub name: &'static str,
    pub kind: RootKind,
    /// Qualified entity type of the singleton or of the set's members.
    pub type_name: &'static str,
    pub availability: Availability,
    pub permissions: Permissions,
}

/// A bound action that replaces a contained collection with the entities in one parameter.
/// `assign` and `scheduleActionsForRules` are both of this shape.
#[derive(Debug, Clone)]
pub struct Action {
    pub name: &'static str,
    pub bound_to: &'static str,
    pub parameter: &'static str,
    /// The navigation whose members the parameter replaces.
    pub replaces: &'static str,
    /// Answers 200 with the new members; otherwise 204.
    pub returns_collection: bool,
    pub availability: Availability,
}

const CONFIGURATION: Permissions = Permissions {
    read: &[
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementConfiguration.ReadWrite.All",
    ],
    write: &["DeviceManagementConfiguration.ReadWrite.All"],
};

/// Seed 002's stub leaves its permissions as TODO; the shipped read view of the same data asks for
/// the managed-devices permissions, so either family admits a caller.
const DEVICE_COMPLIANCE_VIEW: Permissions = Permissions {
    read: &[
        "DeviceManagementManagedDevices.Read.All",
        "DeviceManagementManagedDevices.ReadWrite.All",
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementConfiguration.ReadWrite.All",
    ],
    write: &[
        "DeviceManagementManagedDevices.ReadWrite.All",
        "DeviceManagementConfiguration.ReadWrite.All",
    ],
};

pub(super) fn roots() -> Vec<Root> {
    vec![
        Root {
            name: "deviceManagement",
            kind: RootKind::Singleton,
            type_name: "microsoft.graph.deviceManagement",
            availability: Availability::Both,
            permissions: CONFIGURATION,
        },
        Root {
            name: "managedDeviceCompliances",
            kind: RootKind::EntitySet,
            type_name: "microsoft.management.services.api.managedDeviceCompliance",
            availability: Availability::BetaOnly,
            permissions: DEVICE_COMPLIANCE_VIEW,
        },
    ]
}

pub(super) fn actions() -> Vec<Action> {
    vec![
        Action {
            name: "assign",
            bound_to: "microsoft.graph.deviceCompliancePolicy",
            parameter: "assignments",
            replaces: "assignments",
            returns_collection: true,
            availability: Availability::Both,
        },
        Action {
            name: "scheduleActionsForRules",
            bound_to: "microsoft.graph.deviceCompliancePolicy",
            parameter: "deviceComplianceScheduledActionForRules",
            replaces: "scheduledActionsForRule",
            returns_collection: false,
            availability: Availability::Both,
        },
    ]
}

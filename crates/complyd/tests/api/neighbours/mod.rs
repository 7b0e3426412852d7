//! Issue 17's neighbourhood: scope tags, notification templates, compliance scripts, partners,
//! deviceManagement's settings, the audit log, the retire operations and the managed tenants'
//! view, each endpoint and each bad input.

mod audit;
mod live;
mod managed_tenants;
mod notifications;
mod partners;
mod retire;
mod scope_tags;
mod scripts;
mod settings;

use crate::support::*;
use complyd::auth::TokenRequest;

pub const TEMPLATES: &str = "deviceManagement/notificationMessageTemplates";
pub const SCRIPTS: &str = "deviceManagement/deviceComplianceScripts";
pub const PARTNERS: &str = "deviceManagement/complianceManagementPartners";
pub const AUDIT: &str = "deviceManagement/auditEvents";
pub const RBAC_WRITE: &str = "DeviceManagementRBAC.ReadWrite.All";
pub const SERVICE_READ: &str = "DeviceManagementServiceConfig.Read.All";
pub const SERVICE_WRITE: &str = "DeviceManagementServiceConfig.ReadWrite.All";
pub const APPS_READ: &str = "DeviceManagementApps.Read.All";

/// A delegated caller with every permission the neighbourhood asks for (as a backup tool has).
pub fn admin(server: &Server) -> Client {
    server.client_with(TokenRequest::delegated(
        TENANT,
        &[WRITE, RBAC_WRITE, SERVICE_WRITE, APPS_READ],
    ))
}

/// A caller holding only these delegated permissions.
pub fn holding(server: &Server, scopes: &[&str]) -> Client {
    server.client_with(TokenRequest::delegated(TENANT, scopes))
}

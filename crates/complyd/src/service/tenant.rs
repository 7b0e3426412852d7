//! Emptying a tenant (`DELETE /complyd/v1/tenant`): test suites reuse one server and start each
//! test from nothing.

use super::Service;
use crate::auth::AuthError;
use crate::error::ApiError;
use crate::identity::registry::SYSTEM_TENANT;

impl Service {
    /// Deletes every row of `tenant` in one write: its entities, links, audit log, outbox, webhook
    /// and deliveries (a pending one's queue row is dropped unsent at its turn).
    /// Answers how many rows there were. The token service's reserved tenant is refused.
    /// Built-in members (the Default scope tag) come back at the tenant's next request on this
    /// instance; other instances sharing the store remember having made them until restarted.
    pub async fn reset_tenant(&self, tenant: &str) -> Result<u64, ApiError> {
        if tenant == SYSTEM_TENANT {
            return Err(ApiError::Auth(AuthError::Forbidden(format!(
                "The tenant '{SYSTEM_TENANT}' holds the token service's keys and registrations; it cannot be reset."
            ))));
        }
        if tenant == super::ENGINE_PARTITION {
            return Err(ApiError::Auth(AuthError::Forbidden(format!(
                "The tenant '{tenant}' holds the engine's pending work; it cannot be reset."
            ))));
        }
        if tenant == super::DELIVERY_PARTITION {
            return Err(ApiError::Auth(AuthError::Forbidden(format!(
                "The tenant '{tenant}' holds every tenant's pending deliveries; it cannot be reset."
            ))));
        }
        let owned = tenant.to_string();
        let deleted = self
            .store
            .write(move |tx| tx.delete_tenant(&owned))
            .await
            .map_err(ApiError::from)?;
        if let Ok(mut done) = self.builtins_done.lock() {
            done.retain(|(t, _)| t != tenant);
        }
        Ok(deleted)
    }
}

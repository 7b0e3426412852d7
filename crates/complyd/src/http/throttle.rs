//! Throttling: Intune's documented request limits (reference §3.9), per tenant and per app per
//! tenant, counted in fixed windows. Off unless configured; the limits are data so that tests can
//! run a tiny profile.

use crate::auth::Principal;
use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests one window admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    pub window: Duration,
    /// POST, PUT, PATCH and DELETE per tenant (all apps).
    pub tenant_writes: u32,
    /// POST, PUT, PATCH and DELETE per app per tenant.
    pub app_writes: u32,
    /// Any request per tenant (all apps).
    pub tenant_requests: u32,
    /// Any request per app per tenant.
    pub app_requests: u32,
}

impl ThrottleLimits {
    /// Intune device configuration service limits (reference §3.9).
    pub const INTUNE: Self = Self {
        window: Duration::from_secs(20),
        tenant_writes: 200,
        app_writes: 100,
        tenant_requests: 2000,
        app_requests: 1000,
    };

    /// `INTUNE` with the named limits replaced: `writes=N,requests=N,window=Ns` (`writes` and
    /// `requests` set both the tenant and the per-app limit; `tenant-writes`, `app-writes`,
    /// `tenant-requests` and `app-requests` set one; `window` takes `ms` or `s`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut limits = Self::INTUNE;
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not key=value"))?;
            if key == "window" {
                limits.window = parse_duration(value)?;
                continue;
            }
            let n: u32 = value
                .parse()
                .map_err(|_| format!("`{value}` is not a count"))?;
            match key {
                "writes" => (limits.tenant_writes, limits.app_writes) = (n, n),
                "requests" => (limits.tenant_requests, limits.app_requests) = (n, n),
                "tenant-writes" => limits.tenant_writes = n,
                "app-writes" => limits.app_writes = n,
                "tenant-requests" => limits.tenant_requests = n,
                "app-requests" => limits.app_requests = n,
                _ => return Err(format!("unknown throttle limit `{key}`")),
            }
        }
        if limits.window.is_zero() {
            return Err("the window must be longer than zero".into());
        }
        Ok(limits)
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration like 2s or 500ms");
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    let secs = text.strip_suffix('s').unwrap_or(text);
    secs.parse().map(Duration::from_secs).map_err(|_| bad())
}

/// Which counter: the tenant's or one app's in the tenant, all requests or writes only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    tenant: String,
    app: Option<String>,
    writes: bool,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Counters of the current windows; `None` limits never throttle.
pub struct Throttle {
    limits: Option<ThrottleLimits>,
    windows: Mutex<HashMap<Key, Window>>,
}

/// Counters kept before expired windows are swept.
const SWEEP_AT: usize = 10_000;

impl Throttle {
    pub fn new(limits: Option<ThrottleLimits>) -> Self {
        Self {
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts the request, or refuses it with 429 and the seconds until its window ends.
    pub fn admit(&self, principal: &Principal, write: bool) -> Result<(), ApiError> {
        self.admit_at(principal, write, Instant::now())
    }

    fn admit_at(&self, principal: &Principal, write: bool, now: Instant) -> Result<(), ApiError> {
        let Some(limits) = self.limits else {
            return Ok(());
        };
        let tenant = &principal.tenant;
        let app = principal.app_id.clone().unwrap_or_default();
        let mut counters = vec![
            (key(tenant, None, false), limits.tenant_requests),
            (key(tenant, Some(&app), false), limits.app_requests),
        ];
        if write {
            counters.push((key(tenant, None, true), limits.tenant_writes));
            counters.push((key(tenant, Some(&app), true), limits.app_writes));
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() > SWEEP_AT {
            windows.retain(|_, w| now.duration_since(w.started) < limits.window);
        }
        let mut wait = Duration::ZERO;
        for (key, limit) in &counters {
            let w = current(&mut windows, key, now, limits.window);
            if w.count >= *limit {
                wait = wait.max(limits.window.saturating_sub(now.duration_since(w.started)));
            }
        }
        if !wait.is_zero() {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(ApiError::Throttled {
                retry_after_seconds: seconds.max(1),
            });
        }
        for (key, _) in counters {
            current(&mut windows, &key, now, limits.window).count += 1;
        }
        Ok(())
    }
}

fn key(tenant: &str, app: Option<&str>, writes: bool) -> Key {
    Key {
        tenant: tenant.to_string(),
        app: app.map(str::to_string),
        writes,
    }
}

/// The key's window at `now`, opened anew when the last one has ended.
fn current<'a>(
    windows: &'a mut HashMap<Key, Window>,
    key: &Key,
    now: Instant,
    length: Duration,
) -> &'a mut Window {
    let w = windows.entry(key.clone()).or_insert(Window {
        started: now,
        count: 0,
    });
    if now.duration_since(w.started) >= length {
        *w = Window {
            started: now,
            count: 0,
        };
    }
    w
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn principal(tenant: &str, app: &str) -> Principal {
        Principal {
            tenant: tenant.into(),
            app_id: Some(app.into()),
            ..Principal::default()
        }
    }

    #[test]
    fn parses_overrides_onto_the_intune_profile() {
        let l = ThrottleLimits::parse("writes=5,requests=10,window=2s").unwrap();
        assert_eq!((l.tenant_writes, l.app_writes), (5, 5));
        assert_eq!((l.tenant_requests, l.app_requests), (10, 10));
        assert_eq!(l.window, Duration::from_secs(2));
        let l = ThrottleLimits::parse("app-writes=3,window=500ms").unwrap();
        assert_eq!((l.tenant_writes, l.app_writes), (200, 3));
        assert_eq!(l.window, Duration::from_millis(500));
        assert_eq!(ThrottleLimits::parse("").unwrap(), ThrottleLimits::INTUNE);
        for bad in ["writes", "writes=x", "bogus=1", "window=0s", "window=fast"] {
            assert!(ThrottleLimits::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn app_limit_then_tenant_limit_then_a_new_window() {
        let limits = ThrottleLimits {
            window: Duration::from_secs(10),
            tenant_writes: 3,
            app_writes: 2,
            tenant_requests: 100,
            app_requests: 100,
        };
        let throttle = Throttle::new(Some(limits));
        let t0 = Instant::now();
        let (a, b) = (principal("t", "a"), principal("t", "b"));
        assert!(throttle.admit_at(&a, true, t0).is_ok());
        assert!(throttle.admit_at(&a, true, t0).is_ok());
        let refused = throttle.admit_at(&a, true, t0 + Duration::from_millis(2500));
        assert!(matches!(
            refused,
            Err(ApiError::Throttled {
                retry_after_seconds: 8
            })
        ));
        assert!(throttle.admit_at(&a, false, t0).is_ok(), "reads still pass");
        assert!(throttle.admit_at(&b, true, t0).is_ok(), "another app");
        assert!(throttle.admit_at(&b, true, t0).is_err(), "tenant limit");
        assert!(throttle.admit_at(&principal("u", "a"), true, t0).is_ok());
        assert!(throttle
            .admit_at(&a, true, t0 + Duration::from_secs(10))
            .is_ok());
    }

    #[test]
    fn off_never_throttles() {
        let throttle = Throttle::new(None);
        let p = principal("t", "a");
        for _ in 0..10_000 {
            assert!(throttle.admit(&p, true).is_ok());
        }
    }
}

//! The console's sessions: in memory, named by a random id in an HttpOnly cookie. A session is
//! first a sign-in under way (its OAuth `state` and PKCE verifier), then a signed-in user with
//! their tokens. Each carries the CSRF token its forms send back.

use crate::identity::grants::{random_secret, same};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "complyd_console";
/// Sessions kept at most; past it the least recently used goes.
const MAX_SESSIONS: usize = 10_000;
/// A session unused this long ends.
const IDLE: Duration = Duration::from_secs(12 * 3600);
/// A sign-in not finished this long ends.
const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);

/// Who is signed in, from their access token.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub tenant: String,
}

/// The tokens of a signed-in session.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    /// When the access token should be refreshed (a minute before it expires).
    pub refresh_at: Instant,
    pub refresh: Option<String>,
    /// The access token's delegated permissions (`scp`).
    pub scopes: Vec<String>,
}

pub enum Stage {
    /// Sent to the authorization endpoint; back at the callback with `state`.
    SigningIn {
        state: String,
        verifier: String,
        redirect_uri: String,
        return_to: String,
    },
    SignedIn {
        user: User,
        /// Held while a refresh runs, so that one rotation happens at a time.
        tokens: tokio::sync::Mutex<Tokens>,
    },
}

pub struct Session {
    pub id: String,
    pub csrf: String,
    pub stage: Stage,
    started: Instant,
    seen: Mutex<Instant>,
}

impl Session {
    /// Whether `given` is this session's CSRF token.
    pub fn csrf_matches(&self, given: &str) -> bool {
        !given.is_empty() && same(&self.csrf, given)
    }

    fn expired(&self, now: Instant) -> bool {
        let seen = *self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match self.stage {
            Stage::SigningIn { .. } => now.duration_since(self.started) > SIGN_IN_WINDOW,
            Stage::SignedIn { .. } => now.duration_since(seen) > IDLE,
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    /// Keeps a new session in `stage`; answers it.
    pub fn start(&self, stage: Stage) -> Arc<Session> {
        let now = Instant::now();
        let session = Arc::new(Session {
            id: random_secret(),
            csrf: random_secret(),
            stage,
            started: now,
            seen: Mutex::new(now),
        });
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !s.expired(now));
        }
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| *s.seen.lock().unwrap_or_else(|e| e.into_inner()))
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                map.remove(&id);
            }
        }
        map.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session named by `id`, marked as used.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let session = map.get(id)?.clone();
        if session.expired(now) {
            map.remove(id);
            return None;
        }
        *session.seen.lock().unwrap_or_else(|e| e.into_inner()) = now;
        Some(session)
    }

    pub fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// The `Set-Cookie` value for the session cookie (`None`: clears it).
pub fn set_cookie(id: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match id {
        Some(id) => format!("{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signing_in() -> Stage {
        Stage::SigningIn {
            state: "s".into(),
            verifier: "v".into(),
            redirect_uri: "r".into(),
            return_to: "/console".into(),
        }
    }

    #[test]
    fn sessions_are_found_by_id_until_they_end() {
        let sessions = Sessions::default();
        let session = sessions.start(signing_in());
        assert_eq!(session.id.len(), 43);
        assert!(sessions.get(&session.id).is_some());
        assert!(sessions.get("other").is_none());
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches(""));
        assert!(!session.csrf_matches("x"));
        sessions.end(&session.id);
        assert!(sessions.get(&session.id).is_none());
    }

    #[test]
    fn cookies_carry_the_flags_of_a_session_cookie() {
        let set = set_cookie(Some("abc"), true);
        assert!(set.starts_with("complyd_console=abc; Path=/console; HttpOnly; SameSite=Lax"));
        assert!(set.ends_with("; Secure"));
        assert!(!set_cookie(Some("abc"), false).contains("Secure"));
        assert!(set_cookie(None, false).contains("Max-Age=0"));
    }
}

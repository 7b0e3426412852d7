//! Issuers the operator trusts (`--trust-issuer ISS --trust-jwks FILE_OR_URL`): their keys come
//! from a JWKS file or URL, cached by `kid`. An unknown `kid` triggers one refresh, at most one per
//! [`REFRESH_INTERVAL`] per issuer.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The least time between two refreshes caused by unknown `kid`s.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// One `--trust-issuer` with its `--trust-jwks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuerConfig {
    /// The exact `iss`; `{tenantid}` stands for the token's `tid` (multi-tenant issuers).
    pub issuer: String,
    /// A file path, or an `http(s)://` URL.
    pub jwks: String,
}

#[derive(Clone)]
pub struct CachedKey {
    pub key: DecodingKey,
    /// The algorithms this key may verify: its `alg`, else its family's usual one.
    pub algorithms: Vec<Algorithm>,
}

pub struct TrustedIssuer {
    config: TrustedIssuerConfig,
    keys: RwLock<Arc<HashMap<String, CachedKey>>>,
    last_refresh: Mutex<Option<Instant>>,
    http: Option<reqwest::Client>,
}

fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The keys of a JWKS document, by `kid`; keys without one, or of no supported kind, are skipped.
pub fn parse_jwks(text: &str) -> Result<HashMap<String, CachedKey>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut out = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let algorithms = match (jwk.common.key_algorithm, &jwk.algorithm) {
            (Some(alg), _) => match Algorithm::from_str(&alg.to_string()) {
                Ok(a) => vec![a],
                Err(_) => continue,
            },
            (None, AlgorithmParameters::RSA(_)) => vec![Algorithm::RS256],
            (None, AlgorithmParameters::EllipticCurve(ec)) => match ec.curve {
                EllipticCurve::P256 => vec![Algorithm::ES256],
                EllipticCurve::P384 => vec![Algorithm::ES384],
                _ => continue,
            },
            (None, AlgorithmParameters::OctetKeyPair(_)) => vec![Algorithm::EdDSA],
            // Symmetric keys are never published; refuse them.
            (None, AlgorithmParameters::OctetKey(_)) => continue,
        };
        if algorithms
            .iter()
            .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            out.insert(kid, CachedKey { key, algorithms });
        }
    }
    Ok(out)
}

impl TrustedIssuer {
    /// Reads a JWKS file now (a bad file stops the start); a URL is fetched now if reachable,
    /// else on first use.
    pub async fn load(config: TrustedIssuerConfig) -> anyhow::Result<Self> {
        let http = if is_url(&config.jwks) {
            Some(reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?)
        } else {
            None
        };
        let issuer = Self {
            config,
            keys: RwLock::new(Arc::new(HashMap::new())),
            last_refresh: Mutex::new(None),
            http,
        };
        match issuer.fetch().await {
            Ok(keys) => issuer.replace(keys),
            Err(e) if issuer.http.is_some() => {
                tracing::warn!(issuer = %issuer.config.issuer, error = %e, "JWKS not fetched yet");
            }
            Err(e) => anyhow::bail!("--trust-jwks {}: {e}", issuer.config.jwks),
        }
        Ok(issuer)
    }

    pub fn matches(&self, iss: &str, tid: &str) -> bool {
        self.config.issuer == iss
            || (self.config.issuer.contains("{tenantid}")
                && !tid.is_empty()
                && self.config.issuer.replace("{tenantid}", tid) == iss)
    }

    async fn fetch(&self) -> Result<HashMap<String, CachedKey>, String> {
        let text = match &self.http {
            Some(client) => client
                .get(&self.config.jwks)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?,
            None => {
                let path = self.config.jwks.clone();
                tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?
            }
        };
        parse_jwks(&text)
    }

    fn replace(&self, keys: HashMap<String, CachedKey>) {
        if let Ok(mut slot) = self.keys.write() {
            *slot = Arc::new(keys);
        }
    }

    fn cached(&self, kid: &str) -> Option<CachedKey> {
        self.keys.read().ok().and_then(|k| k.get(kid).cloned())
    }

    /// The key named `kid`: from the cache, or after one refresh if none ran recently.
    pub async fn key(&self, kid: &str) -> Option<CachedKey> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        let due = match self.last_refresh.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|t| t.elapsed() >= REFRESH_INTERVAL);
                if due {
                    *last = Some(Instant::now());
                }
                due
            }
            Err(_) => false,
        };
        if !due {
            return None;
        }
        match self.fetch().await {
            Ok(keys) => self.replace(keys),
            Err(e) => {
                tracing::warn!(issuer = %self.config.issuer, error = %e, "JWKS refresh failed");
            }
        }
        self.cached(kid)
    }
}

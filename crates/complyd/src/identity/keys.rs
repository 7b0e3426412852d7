//! The token service's signing key: generated once (RSA 2048), kept in the store, and published in
//! the JWKS.

use super::registry::SigningKey;
use crate::store::StoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

const KEY_BITS: usize = 2048;

/// The signing key in force, ready to sign and to verify.
pub struct ActiveKey {
    pub kid: String,
    encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// Modulus and exponent, base64url, for the JWKS.
    n: String,
    e: String,
}

impl ActiveKey {
    pub(super) fn from_stored(stored: &SigningKey) -> Result<Self, StoreError> {
        let bad = |e: String| StoreError::Backend(format!("stored signing key: {e}"));
        let der = base64::engine::general_purpose::STANDARD
            .decode(&stored.private_key)
            .map_err(|e| bad(e.to_string()))?;
        let private = RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad(e.to_string()))?;
        let (n, e) = (private.n().to_bytes_be(), private.e().to_bytes_be());
        Ok(Self {
            kid: stored.kid.clone(),
            encoding: EncodingKey::from_rsa_der(&der),
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
            n: URL_SAFE_NO_PAD.encode(&n),
            e: URL_SAFE_NO_PAD.encode(&e),
        })
    }

    /// This key as a JWK, the way Entra publishes its keys.
    pub fn jwk(&self, issuer: &str) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "alg": "RS256",
            "issuer": issuer,
        })
    }

    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}

/// A fresh 2048-bit key; its `kid` is derived from the public key.
pub(super) fn generate() -> Result<SigningKey, StoreError> {
    let failed = |e: String| StoreError::Backend(format!("generating the signing key: {e}"));
    let private =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS).map_err(|e| failed(e.to_string()))?;
    let der = private.to_pkcs1_der().map_err(|e| failed(e.to_string()))?;
    let mut hasher = Sha256::new();
    hasher.update(private.n().to_bytes_be());
    hasher.update(private.e().to_bytes_be());
    let digest = hasher.finalize();
    Ok(SigningKey {
        kid: URL_SAFE_NO_PAD.encode(&digest[..20]),
        private_key: base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
        created: crate::common::now_unix(),
    })
}

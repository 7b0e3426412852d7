//! How a client proves who it is at the token endpoint: a client secret, or an assertion (a JWT)
//! signed by one of the app's registered certificates.

use super::cert;
use super::oauth_error::{oauth, OAuthError};
use super::registry;
use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Leeway on client assertions' lifetimes, seconds.
const ASSERTION_LEEWAY: u64 = 60;

/// What a client sent to prove who it is (the form's values, empty ones as absent), and where.
pub(super) struct Proof<'a> {
    pub client_secret: Option<&'a str>,
    pub client_assertion: Option<&'a str>,
    pub client_assertion_type: Option<&'a str>,
    /// The token endpoint called, then the other form of it: what an assertion's `aud` may name.
    pub endpoints: [String; 2],
}

impl Proof<'_> {
    /// Checks the client's credential against `app`; `required` refuses a client without one
    /// even when the app has none registered (a public client may not use client credentials).
    /// Gives `appidacr`: 0 for none, 1 for a secret, 2 for a certificate.
    pub(super) fn authenticate(
        &self,
        app: &registry::Application,
        required: bool,
    ) -> Result<&'static str, OAuthError> {
        let invalid = |code: u32, description: String| {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                code,
                description,
            )
        };
        if let Some(assertion) = self.client_assertion {
            if self.client_assertion_type != Some(JWT_BEARER) {
                return Err(oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    format!("The request body must contain the following parameter: 'client_assertion_type' with the value '{JWT_BEARER}'."),
                ));
            }
            return self.verify_assertion(app, assertion).map(|()| "2");
        }
        if let Some(secret) = self.client_secret {
            if app
                .secrets
                .iter()
                .any(|h| registry::verify_secret(h, secret))
            {
                return Ok("1");
            }
            return Err(invalid(
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            ));
        }
        if required || !app.secrets.is_empty() || !app.certificates.is_empty() {
            return Err(invalid(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
            ));
        }
        Ok("0")
    }

    /// An RS256/PS256 JWT signed by one of the app's certificates, for this token endpoint,
    /// issued by and about the app itself, not expired.
    fn verify_assertion(
        &self,
        app: &registry::Application,
        assertion: &str,
    ) -> Result<(), OAuthError> {
        let invalid = |code: u32, description: &str| {
            oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                code,
                description.to_string(),
            )
        };
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|_| invalid(50027, "JWT token is invalid or malformed."))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(invalid(
                5002738,
                "Invalid JWT token. The client assertion must be signed with RS256 or PS256.",
            ));
        }
        let keys: Vec<_> = app
            .certificates
            .iter()
            .flat_map(|pem| cert::rsa_keys(pem))
            .collect();
        if keys.is_empty() {
            return Err(invalid(
                700027,
                "Client assertion failed signature validation. The app has no certificate registered.",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&self.endpoints);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.set_issuer(&[&app.client_id]);
        validation.sub = Some(app.client_id.clone());
        validation.validate_nbf = true;
        validation.leeway = ASSERTION_LEEWAY;
        let mut last = None;
        for key in &keys {
            match jsonwebtoken::decode::<Value>(assertion, key, &validation) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        use jsonwebtoken::errors::ErrorKind;
        Err(match last.as_ref().map(|e| e.kind()) {
            Some(ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature) => invalid(
                700024,
                "Client assertion is not within its valid time range.",
            ),
            Some(ErrorKind::InvalidAudience) => invalid(
                700212,
                "The audience claim of the client assertion does not match this token endpoint.",
            ),
            Some(ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject) => invalid(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
            ),
            Some(ErrorKind::MissingRequiredClaim(_)) => {
                invalid(50027, "JWT token is invalid or malformed.")
            }
            _ => invalid(700027, "Client assertion failed signature validation."),
        })
    }
}

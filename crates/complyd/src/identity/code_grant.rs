//! The token endpoint's side of the authorization-code flow: a code redeemed with its PKCE
//! verifier (`grant_type=authorization_code`), a refresh token rotated
//! (`grant_type=refresh_token`), and a refresh token revoked (`/oauth2/v2.0/revoke`).

use super::delegated::Delegation;
use super::grants::{self, Refusal};
use super::oauth_error::{missing, oauth, store_failure, OAuthError};
use super::registry;
use super::scopes;
use super::token::{TokenCall, TENANT_ALIASES};
use crate::common::now_unix;
use axum::http::StatusCode;
use serde_json::Value;

/// The longest code, verifier or refresh token looked at; longer ones are not ours.
const MAX_GRANT_TEXT: usize = 512;

fn invalid_grant(code: u32, description: &str) -> OAuthError {
    oauth(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        code,
        description.to_string(),
    )
}

fn expired() -> OAuthError {
    invalid_grant(
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
    )
}

/// A required parameter, at most [`MAX_GRANT_TEXT`] long.
fn bounded<'a>(call: &'a TokenCall<'_>, name: &str) -> Result<&'a str, OAuthError> {
    let value = call.param(name).ok_or_else(|| missing(name))?;
    if value.len() > MAX_GRANT_TEXT {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!(
                "The parameter '{name}' is longer than {MAX_GRANT_TEXT} characters (the limit)."
            ),
        ));
    }
    Ok(value)
}

/// The grant's tenant, unless the endpoint names another (an alias names none).
fn same_tenant(call: &TokenCall<'_>, tenant: &str) -> Result<(), OAuthError> {
    if TENANT_ALIASES.contains(&call.tenant) || call.tenant == tenant {
        return Ok(());
    }
    Err(invalid_grant(
        70000,
        "The provided grant was issued in another tenant than the one this token endpoint serves.",
    ))
}

/// A PKCE verifier as RFC 7636 allows it: 43 to 128 unreserved characters.
fn well_formed_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The user the grant is for, if it can still sign in.
async fn user(call: &TokenCall<'_>, id: &str) -> Result<registry::User, OAuthError> {
    registry::user(&call.identity.store, id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| {
            invalid_grant(
                50034,
                "The user account does not exist in the directory any more.",
            )
        })
}

/// Scopes of the grant the user still has consented to (consent withdrawn since is not given).
fn still_consented(granted: &[String], user: &registry::User) -> Vec<String> {
    granted
        .iter()
        .filter(|s| user.scopes.contains(s))
        .cloned()
        .collect()
}

/// `grant_type=authorization_code`: `code`, `redirect_uri`, `code_verifier`, `client_id` (and
/// the client's credential when it has one). The code is used up by this request, whatever
/// its outcome.
pub(super) async fn redeem(call: &TokenCall<'_>) -> Result<Value, OAuthError> {
    let code = bounded(call, "code")?;
    let redirect_uri = call
        .param("redirect_uri")
        .ok_or_else(|| missing("redirect_uri"))?;
    let verifier = bounded(call, "code_verifier")?;
    let client_id = call
        .param("client_id")
        .ok_or_else(|| missing("client_id"))?;
    let now = now_unix();
    let family = grants::random_secret();
    let store = &call.identity.store;
    let grant = match grants::redeem_code(store, code, &family, now)
        .await
        .map_err(store_failure)?
    {
        Ok(grant) => grant,
        Err(Refusal::Replayed) => {
            return Err(invalid_grant(
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ))
        }
        Err(_) => return Err(expired()),
    };
    if grant.client_id != client_id {
        return Err(invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid: it was issued to another client.",
        ));
    }
    same_tenant(call, &grant.tenant)?;
    if grant.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            50011,
            "The redirect URI does not match the one the authorization code was issued for.",
        ));
    }
    if !well_formed_verifier(verifier) || !grants::same(&grants::s256(verifier), &grant.challenge) {
        return Err(invalid_grant(
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        ));
    }
    let app = call.app_in(&grant.tenant).await?;
    let acr = call.proof().authenticate(&app, false)?;
    let user = user(call, &grant.user_id).await?;
    let granted = still_consented(&grant.scopes, &user);
    let delegation = Delegation {
        tenant: &grant.tenant,
        app: &app,
        user: &user,
        granted: &granted,
        oidc: &grant.oidc,
        nonce: grant.nonce.as_deref(),
        acr,
        now,
    };
    let signed = delegation.sign(call.identity).await?;
    let refresh = if grant.oidc.iter().any(|s| s == "offline_access") {
        Some(
            grants::start_family(store, &family, &grant, now)
                .await
                .map_err(store_failure)?,
        )
    } else {
        None
    };
    Ok(call.delegated_success(signed, now, refresh))
}

/// `grant_type=refresh_token`: `refresh_token`, `client_id`, optionally `scope` (a subset of
/// what the sign-in granted). Answers new tokens and the family's next refresh token; the one
/// given is used up.
pub(super) async fn refresh(call: &TokenCall<'_>) -> Result<Value, OAuthError> {
    let token = bounded(call, "refresh_token")?;
    let client_id = call
        .param("client_id")
        .ok_or_else(|| missing("client_id"))?;
    let now = now_unix();
    let store = &call.identity.store;
    let (family, next) = match grants::rotate(store, token, client_id, now)
        .await
        .map_err(store_failure)?
    {
        Ok(rotated) => rotated,
        Err(Refusal::Replayed) => {
            return Err(invalid_grant(
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The refresh token was used before: every token of its sign-in is revoked.",
            ))
        }
        Err(Refusal::OtherClient) => {
            return Err(invalid_grant(
                70000,
                "The provided refresh token was issued to another client.",
            ))
        }
        Err(Refusal::Unknown) => return Err(expired()),
    };
    same_tenant(call, &family.tenant)?;
    let app = call.app_in(&family.tenant).await?;
    let acr = call.proof().authenticate(&app, false)?;
    let user = user(call, &family.user_id).await?;
    let (asked, oidc) = match call.param("scope") {
        Some(scope) => (
            scopes::delegated(scope, &family.tenant)?,
            scopes::oidc_words(scope),
        ),
        None => (Vec::new(), family.oidc.clone()),
    };
    if let Some(extra) = asked.iter().find(|s| !family.scopes.contains(s)) {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!("The provided value for the input parameter 'scope' is not valid: '{extra}' was not granted at sign-in."),
        ));
    }
    let wanted = if asked.is_empty() {
        family.scopes.clone()
    } else {
        asked
    };
    let granted = still_consented(&wanted, &user);
    let delegation = Delegation {
        tenant: &family.tenant,
        app: &app,
        user: &user,
        granted: &granted,
        oidc: &oidc,
        nonce: None,
        acr,
        now,
    };
    let signed = delegation.sign(call.identity).await?;
    Ok(call.delegated_success(signed, now, Some(next)))
}

/// `POST …/oauth2/v2.0/revoke` with `token` and `client_id`.
pub(super) async fn revoke(call: &TokenCall<'_>) -> Result<(), OAuthError> {
    let token = bounded(call, "token")?;
    let client_id = call
        .param("client_id")
        .ok_or_else(|| missing("client_id"))?;
    grants::revoke(&call.identity.store, token, client_id)
        .await
        .map_err(store_failure)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::well_formed_verifier;

    #[test]
    fn verifiers_are_43_to_128_unreserved_characters() {
        assert!(well_formed_verifier(&"a".repeat(43)));
        assert!(well_formed_verifier(&"A-._~9".repeat(20)));
        assert!(!well_formed_verifier(&"a".repeat(42)));
        assert!(!well_formed_verifier(&"a".repeat(129)));
        assert!(!well_formed_verifier(&format!("{}+", "a".repeat(43))));
    }
}

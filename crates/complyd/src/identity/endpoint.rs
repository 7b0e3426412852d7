//! The token service's paths, in the shapes Entra ID gives them, and the dispatch to the one that
//! answers: `http` asks [`Endpoint::parse`] before anything else runs, and the service answers
//! with an [`Answer`] that `http` writes.

use super::{authorize, discovery, token, Identity};
use crate::common::RequestContext;
use axum::http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use std::borrow::Cow;

/// One of the token service's endpoints, with what its path names (`tenant` percent-decoded).
/// `v1` marks the forms without `v2.0` (the v1 token endpoint takes `resource=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/.well-known/openid-configuration`.
    Discovery { tenant: Cow<'a, str>, v1: bool },
    /// `/{tenant}/discovery/v2.0/keys`, `/{tenant}/discovery/keys`: the JWKS.
    Keys { tenant: Cow<'a, str>, v1: bool },
    /// `/{tenant}/oauth2/v2.0/token`, `/{tenant}/oauth2/token`.
    Token { tenant: Cow<'a, str>, v1: bool },
    /// `/{tenant}/oauth2/v2.0/authorize`: the sign-in page of the authorization-code flow (GET)
    /// and its form (POST).
    Authorize { tenant: Cow<'a, str> },
    /// `/{tenant}/oauth2/v2.0/revoke`: a refresh token revoked (RFC 7009; complyd's, not Entra's).
    Revoke { tenant: Cow<'a, str> },
    /// `/common/discovery/instance`: MSAL's question about an authority it does not know.
    InstanceDiscovery,
    /// `/common/userrealm/{username}`: MSAL's look-up before a password grant.
    UserRealm { username: Cow<'a, str> },
}

/// What the token service reads of a request besides its path and method.
pub struct Asked<'a> {
    /// `scheme://host` as the client called the server, for the URLs the documents give.
    pub origin: &'a str,
    pub ctx: &'a RequestContext,
    /// The raw query string (instance discovery reads it).
    pub query: &'a str,
    /// The form body (the token endpoint reads it; empty for the others).
    pub form: &'a [u8],
    /// The `Cookie` header (the sign-in form's CSRF check reads it).
    pub cookie: Option<&'a str>,
}

/// What an answer carries.
#[derive(Debug)]
pub enum Content {
    Empty,
    Json(Value),
    /// A page (the sign-in page), `text/html`.
    Html(String),
}

/// The token service's answer: a status, a body (JSON, a page, or none) and the headers that go
/// with it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content: Content,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub(super) fn json(body: Value) -> Self {
        Self::with(StatusCode::OK, Content::Json(body))
    }

    pub(super) fn with(status: StatusCode, content: Content) -> Self {
        Self {
            status,
            content,
            headers: Vec::new(),
        }
    }

    /// `self` with one more header.
    pub(super) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn method_not_allowed(allow: &'static str) -> Self {
        Self::with(StatusCode::METHOD_NOT_ALLOWED, Content::Empty).header("allow", allow)
    }
}

impl<'a> Endpoint<'a> {
    /// The endpoint `path` names, if it is one of the token service's (exactly: no trailing `/`).
    /// Cheap for every other path: it looks at the words after the first segment and allocates
    /// only to decode a percent-encoded tenant or user name.
    pub fn parse(path: &'a str) -> Option<Self> {
        let (first, tail) = path.strip_prefix('/')?.split_once('/')?;
        if first == "common" {
            if tail == "discovery/instance" {
                return Some(Self::InstanceDiscovery);
            }
            if let Some(username) = tail.strip_prefix("userrealm/") {
                return (!username.contains('/')).then(|| Self::UserRealm {
                    username: decode(username),
                });
            }
        }
        let tenant = || decode(first);
        Some(match tail {
            "v2.0/.well-known/openid-configuration" => Self::Discovery {
                tenant: tenant(),
                v1: false,
            },
            ".well-known/openid-configuration" => Self::Discovery {
                tenant: tenant(),
                v1: true,
            },
            "discovery/v2.0/keys" => Self::Keys {
                tenant: tenant(),
                v1: false,
            },
            "discovery/keys" => Self::Keys {
                tenant: tenant(),
                v1: true,
            },
            "oauth2/v2.0/token" => Self::Token {
                tenant: tenant(),
                v1: false,
            },
            "oauth2/token" => Self::Token {
                tenant: tenant(),
                v1: true,
            },
            "oauth2/v2.0/authorize" => Self::Authorize { tenant: tenant() },
            "oauth2/v2.0/revoke" => Self::Revoke { tenant: tenant() },
            _ => return None,
        })
    }

    /// The methods the endpoint answers, as the `Allow` header lists them.
    pub fn allow(&self) -> &'static str {
        match self {
            Self::Token { .. } | Self::Revoke { .. } => "POST",
            Self::Authorize { .. } => "GET,POST",
            _ => "GET,HEAD",
        }
    }

    fn accepts(&self, method: &Method) -> bool {
        match self {
            Self::Token { .. } | Self::Revoke { .. } => method == Method::POST,
            Self::Authorize { .. } => method == Method::GET || method == Method::POST,
            _ => method == Method::GET || method == Method::HEAD,
        }
    }

    /// Whether answering `method` reads the request body (a form), which `http` then reads.
    pub fn reads_form(&self, method: &Method) -> bool {
        method == Method::POST && self.accepts(method)
    }
}

fn decode(segment: &str) -> Cow<'_, str> {
    percent_decode_str(segment).decode_utf8_lossy()
}

impl Identity {
    /// Answers one request to the token service; a method the endpoint does not take is 405
    /// with `Allow`.
    pub async fn answer(
        &self,
        endpoint: &Endpoint<'_>,
        method: &Method,
        asked: Asked<'_>,
    ) -> Answer {
        if !endpoint.accepts(method) {
            return Answer::method_not_allowed(endpoint.allow());
        }
        match endpoint {
            Endpoint::Discovery { tenant, v1 } => discovery::document(asked.origin, tenant, *v1),
            Endpoint::Keys { tenant, v1 } => discovery::jwks(self, tenant, *v1).await,
            Endpoint::Token { tenant, v1 } => token::answer(self, &asked, tenant, *v1).await,
            Endpoint::Authorize { tenant } => authorize::answer(self, method, &asked, tenant).await,
            Endpoint::Revoke { tenant } => token::revoke(self, &asked, tenant).await,
            Endpoint::InstanceDiscovery => discovery::instance(asked.origin, asked.query),
            Endpoint::UserRealm { username } => discovery::user_realm(username),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_services_paths_parse_and_no_other() {
        let tenant = |t: &'static str| Cow::Borrowed(t);
        let cases = [
            (
                "/t1/oauth2/v2.0/token",
                Some(Endpoint::Token {
                    tenant: tenant("t1"),
                    v1: false,
                }),
            ),
            (
                "/t1/oauth2/token",
                Some(Endpoint::Token {
                    tenant: tenant("t1"),
                    v1: true,
                }),
            ),
            (
                "/common/discovery/keys",
                Some(Endpoint::Keys {
                    tenant: tenant("common"),
                    v1: true,
                }),
            ),
            (
                "/x%20y/discovery/v2.0/keys",
                Some(Endpoint::Keys {
                    tenant: tenant("x y"),
                    v1: false,
                }),
            ),
            (
                "//discovery/keys",
                Some(Endpoint::Keys {
                    tenant: tenant(""),
                    v1: true,
                }),
            ),
            (
                "/v1.0/.well-known/openid-configuration",
                Some(Endpoint::Discovery {
                    tenant: tenant("v1.0"),
                    v1: true,
                }),
            ),
            (
                "/common/discovery/instance",
                Some(Endpoint::InstanceDiscovery),
            ),
            (
                "/common/userrealm/ada%40example.test",
                Some(Endpoint::UserRealm {
                    username: tenant("ada@example.test"),
                }),
            ),
            (
                "/organizations/oauth2/v2.0/authorize",
                Some(Endpoint::Authorize {
                    tenant: tenant("organizations"),
                }),
            ),
            (
                "/t1/oauth2/v2.0/revoke",
                Some(Endpoint::Revoke {
                    tenant: tenant("t1"),
                }),
            ),
            ("/t1/oauth2/authorize", None),
            ("/common/discovery/instance/", None),
            ("/t1/discovery/keys/", None),
            ("/common/userrealm/a/b", None),
            ("/v1.0/deviceManagement/deviceCompliancePolicies", None),
            ("/healthz", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(Endpoint::parse(path), want, "{path}");
        }
    }
}

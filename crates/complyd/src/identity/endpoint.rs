//! The token service's paths, in the shapes Entra ID gives them, and the dispatch to the one that
//! answers: `http` asks [`Endpoint::parse`] before anything else runs, and the service answers
//! with an [`Answer`] that `http` writes.

use super::{discovery, token, Identity};
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
}

/// The token service's answer: a status, a JSON body (none for a bare status) and the headers
/// that go with it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub headers: &'static [(&'static str, &'static str)],
}

impl Answer {
    pub(super) fn json(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
            headers: &[],
        }
    }

    fn method_not_allowed(allow: &'static str) -> Self {
        let headers: &'static [(&'static str, &'static str)] = match allow {
            "POST" => &[("allow", "POST")],
            _ => &[("allow", "GET,HEAD")],
        };
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: None,
            headers,
        }
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
            _ => return None,
        })
    }

    /// The methods the endpoint answers, as the `Allow` header lists them.
    pub fn allow(&self) -> &'static str {
        match self {
            Self::Token { .. } => "POST",
            _ => "GET,HEAD",
        }
    }

    fn accepts(&self, method: &Method) -> bool {
        match self {
            Self::Token { .. } => method == Method::POST,
            _ => method == Method::GET || method == Method::HEAD,
        }
    }

    /// Whether answering `method` reads the request body (a form), which `http` then reads.
    pub fn reads_form(&self, method: &Method) -> bool {
        matches!(self, Self::Token { .. }) && self.accepts(method)
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

//! A request's endpoint, parsed from its path before anything else runs: which part of the server
//! answers it and what it asks of the caller. Parsing allocates nothing (but to decode a
//! percent-encoded token-service tenant).

use crate::error::ApiError;
use crate::identity;
use crate::metrics::Route;
use odata::Version;
use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `/healthz`: the process answers.
    Health,
    /// `/readyz`: the store answers.
    Ready,
    /// `/metrics`, served with `--metrics` only (else it is a Graph path, and an unknown version).
    Metrics,
    /// `/openapi.json`: the OpenAPI description.
    OpenApi,
    /// `/{version}/$metadata`: the CSDL description (Graph answers it without a token too).
    Metadata(Version),
    /// The token service's discovery documents, JWKS and token endpoint.
    TokenService(identity::Endpoint<'a>),
    /// Graph's API: the only endpoints that need a bearer token (within the throttling limits).
    Graph(Graph<'a>),
}

/// An endpoint of Graph's API under a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Graph<'a> {
    /// `/{version}/$batch` however spelled (`%24batch`, a trailing `/`). Each of its requests is
    /// authorised on its own.
    Batch(Version),
    /// `/{version}/{rest}`: a resource; `rest` is the raw path below the version. It needs one of
    /// its root's permissions for the operation (`edm::Permissions`), checked once it is resolved.
    Resource(Version, &'a str),
    /// `/complyd/v1/{rest}`: complyd's own API (the outbox, the webhook and deliveries, check-ins,
    /// the tenant's reset; not Graph's, with a token all the same).
    Own(&'a str),
}

impl<'a> Endpoint<'a> {
    /// The endpoint `path` names; an unknown version segment is Graph's 404.
    pub fn parse(path: &'a str, metrics: bool) -> Result<Self, ApiError> {
        match path {
            "/healthz" => return Ok(Self::Health),
            "/readyz" => return Ok(Self::Ready),
            "/metrics" if metrics => return Ok(Self::Metrics),
            "/openapi.json" => return Ok(Self::OpenApi),
            _ => {}
        }
        if let Some(rest) = path.strip_prefix(super::own::PREFIX) {
            return Ok(Self::Graph(Graph::Own(rest)));
        }
        if let Some(token_service) = identity::Endpoint::parse(path) {
            return Ok(Self::TokenService(token_service));
        }
        let trimmed = path.trim_start_matches('/');
        let (segment, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let version = Version::parse(segment).ok_or_else(|| {
            ApiError::InvalidVersion(format!("Invalid version: {}", segment.to_lowercase()))
        })?;
        Ok(if rest == "$metadata" {
            Self::Metadata(version)
        } else if names_batch(rest) {
            Self::Graph(Graph::Batch(version))
        } else {
            Self::Graph(Graph::Resource(version, rest))
        })
    }

    /// The route `/metrics` counts the request under, as far as the endpoint tells.
    pub fn route(&self) -> Route {
        match self {
            Self::Health => Route::Healthz,
            Self::Ready => Route::Readyz,
            Self::Metrics => Route::Metrics,
            Self::OpenApi => Route::OpenApi,
            Self::Metadata(_) => Route::Metadata,
            // Until the token is checked; then `batch`, or the path's template once resolved.
            Self::Graph(_) => Route::Unresolved,
            Self::TokenService(_) => Route::TokenService,
        }
    }
}

/// The version-relative path names `$batch`, however spelled (`%24batch`, trailing slash).
fn names_batch(rest: &str) -> bool {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // Decoded only when it could spell `$batch` (each of its 6 bytes at most 3 encoded).
    rest.eq_ignore_ascii_case("$batch")
        || (rest.len() <= 18
            && rest.contains('%')
            && percent_decode_str(rest)
                .decode_utf8_lossy()
                .eq_ignore_ascii_case("$batch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_endpoint() {
        let policies = "deviceManagement/deviceCompliancePolicies";
        let batch = |v| Endpoint::Graph(Graph::Batch(v));
        let resource = |v, rest| Endpoint::Graph(Graph::Resource(v, rest));
        let cases = [
            ("/healthz", Endpoint::Health),
            ("/readyz", Endpoint::Ready),
            ("/metrics", Endpoint::Metrics),
            ("/openapi.json", Endpoint::OpenApi),
            ("/complyd/v1/outbox", Endpoint::Graph(Graph::Own("outbox"))),
            ("/complyd/v1/tenant", Endpoint::Graph(Graph::Own("tenant"))),
            (
                "/complyd/v1/webhook",
                Endpoint::Graph(Graph::Own("webhook")),
            ),
            (
                "/complyd/v1/webhook/deliveries",
                Endpoint::Graph(Graph::Own("webhook/deliveries")),
            ),
            (
                "/complyd/v1/devices/d1/checkIn",
                Endpoint::Graph(Graph::Own("devices/d1/checkIn")),
            ),
            ("/v1.0/$metadata", Endpoint::Metadata(Version::V1)),
            ("/beta/$batch", batch(Version::Beta)),
            ("/v1.0/%24BATCH/", batch(Version::V1)),
            ("//v1.0/$batch", batch(Version::V1)),
            ("/v1.0/%24metadata", resource(Version::V1, "%24metadata")),
            ("/v1.0/$metadata/", resource(Version::V1, "$metadata/")),
            (
                "/v1.0/deviceManagement/deviceCompliancePolicies",
                resource(Version::V1, policies),
            ),
            ("/v1.0", resource(Version::V1, "")),
            (
                "/v1.0/discovery/keys",
                Endpoint::TokenService(identity::Endpoint::Keys {
                    tenant: "v1.0".into(),
                    v1: true,
                }),
            ),
        ];
        for (path, want) in cases {
            assert_eq!(Endpoint::parse(path, true).ok(), Some(want), "{path}");
        }
    }

    #[test]
    fn unknown_versions_and_unserved_metrics_are_graphs_404() {
        for path in ["/", "/v9.9/x", "/healthz/", "/metrics", "/openapi.json/x"] {
            let err = Endpoint::parse(path, false).err();
            assert!(
                matches!(err, Some(ApiError::InvalidVersion(_))),
                "{path}: {err:?}"
            );
        }
    }
}

//! The one integration-test binary: every module drives a real complyd over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod routes;
mod seeds;

//! The one integration-test binary: every module drives a real complyd over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod auth;
mod bad_input;
mod batch;
mod code_flow;
mod console;
mod deliveries;
mod descriptions;
mod directory;
mod durability;
mod engine;
mod fidelity;
mod hardening;
mod identity;
mod model_data;
mod neighbours;
mod ops;
mod polymorphism;
mod proxy;
mod query;
mod routes;
mod seeds;
mod stores;
mod tenant_reset;
mod throttle;
mod time;

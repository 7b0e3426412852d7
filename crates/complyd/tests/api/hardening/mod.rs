//! Hardening (issue 14): each attack of the review reproduced, with the answer it gets now.

mod http_layer;
mod query_limits;
mod service;

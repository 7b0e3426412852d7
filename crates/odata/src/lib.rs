//! The complyd entity model and the OData machinery driven by it.
//!
//! Pure and synchronous: no I/O, no HTTP, no SQL. The server crate turns requests into calls here
//! and the results into responses.
#![forbid(unsafe_code)]

pub mod edm;
pub mod error;
pub mod path;
pub mod project;
pub mod query;
pub mod rule;
pub mod validate;
pub mod value;

pub use edm::{Model, Version};
pub use error::{ErrorKind, ODataError};

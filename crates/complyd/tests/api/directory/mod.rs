//! The directory (issue 16): users, groups and devices, their links, dynamic groups, the
//! directory's query behaviours and errors, one identity with the token service, and
//! assignment filters (issue 17) whose rules share the grammar.

pub mod support;

mod accounts;
mod dynamic;
mod filters;
mod fixpoint;
mod membership;
mod objects;
mod queries;
mod transfer;

//! What the layers share without depending on one another: the ids a request carries, the access
//! log, the clock,
//! the audiences and issuer of Graph's tokens, and the key lookup that `auth` checks complyd's own
//! tokens with (implemented by `identity`). Nothing here uses another module of the crate.

pub mod access_log;
mod changes;
mod clock;
mod context;
mod hash;
pub mod html;
mod tokens;

pub use changes::{Changes, EVERY_TENANT};
pub use clock::now_unix;
pub use context::{cookie, host, RequestContext};
pub use hash::{fnv1a, fnv1a_parts, Fnv1a};
pub use tokens::{
    access_token_issuer, KeyLookupError, VerificationKeys, AUDIENCES, GRAPH_HOST, SIGN_IN_HOSTS,
};

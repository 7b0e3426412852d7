//! The errors the OData layer reports; the server maps each kind to a status and a Graph code.

use std::fmt;

/// What went wrong, in terms the wire protocol distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed input: bad JSON, a body that is not an object, an unparseable type name.
    BadRequest,
    /// Input that does not fit the model: unknown property or type, wrong value type, bad enum.
    ModelValidation,
    /// A segment of the URL names nothing in the model.
    SegmentNotFound,
    /// The URL names something, but not with this method.
    RouteNotFound,
    /// The addressed entity does not exist.
    ResourceNotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ODataError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ODataError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
    pub fn model(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ModelValidation, message)
    }
    pub fn segment(name: &str) -> Self {
        Self::new(
            ErrorKind::SegmentNotFound,
            format!("Resource not found for the segment '{name}'."),
        )
    }
}

impl fmt::Display for ODataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ODataError {}

//! Actions and functions: the parameters checked against the declaration, then the handler the
//! declaration names. No routing or parameter code per operation.

use super::audit::{self, AuditDraft, AuditOperation};
use super::handlers;
use super::{route_error, Call, Reply, Service};
use crate::error::ApiError;
use odata::edm::{Operation, OperationKind, Property};
use odata::validate::Argument;
use serde_json::{Map, Value};

/// One call of an action or function, its parameters checked.
pub(super) struct Invocation {
    pub call: Call,
    pub operation: &'static Operation,
    /// The parameters given, in declaration order.
    pub arguments: Vec<(&'static Property, Argument<'static>)>,
    /// The audit event the call records when it writes (an audited action on an audited path).
    pub audit: Option<AuditDraft>,
}

impl Service {
    pub(super) async fn invoke(&self, mut call: Call) -> Result<Reply, ApiError> {
        let operation = call.path.operation.ok_or_else(|| route_error(&call))?;
        let given = match operation.kind {
            // No body is no parameters: a required one is then missing (never "clear all").
            OperationKind::Action => match call.body.take() {
                None => Map::new(),
                Some(Value::Object(map)) => map,
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "The request body must be a JSON object.",
                    ))
                }
            },
            OperationKind::Function => call.path.arguments.clone(),
        };
        let arguments = self.validator(call.version).arguments(operation, &given)?;
        let handler = handlers::find(&operation.handler)
            .ok_or_else(|| ApiError::Internal(format!("no handler named {}", operation.handler)))?;
        let audit = if audit::records(operation) {
            self.audit(&call, AuditOperation::Action)
        } else {
            None
        };
        let invocation = Invocation {
            call,
            operation,
            arguments,
            audit,
        };
        (handler.run)(self, invocation).await
    }
}

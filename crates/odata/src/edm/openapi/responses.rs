//! Responses: the error statuses every operation may answer, envelopes and one operation.

use super::At;
use crate::edm::Version;
use serde_json::{json, Map, Value};

pub(super) const ERRORS: [(u16, &str); 7] = [
    (400, "Bad request: the path, a query option or the body is not valid (Graph's `BadRequest`, `ModelValidationFailure`, or `No method match route template`)."),
    (401, "The bearer token is missing, malformed, expired or not signed by this server (`InvalidAuthenticationToken`)."),
    (403, "The token lacks the permission this operation needs, or belongs to a personal account tenant (`Forbidden`)."),
    (404, "The addressed entity, or one that contains it, does not exist (`ResourceNotFound`)."),
    (413, "The request body is larger than the server's limit (`RequestEntityTooLarge`)."),
    (415, "The request body is not declared JSON: its `Content-Type` is missing or not `application/json` (`UnsupportedMediaType`)."),
    (429, "Over the request limit of the tenant or application (`TooManyRequests`); see `Retry-After`."),
];

/// Which responses an operation may give besides its success.
#[derive(Clone, Copy)]
pub(super) enum Errors {
    /// Reads: 400, 401, 403, 404, 429.
    Read,
    /// Writes with a body: every error, 413 and 415 included.
    Write,
}

pub(super) fn error_refs(errors: Errors) -> Map<String, Value> {
    ERRORS
        .iter()
        .filter(|(status, _)| !matches!(status, 413 | 415) || matches!(errors, Errors::Write))
        .map(|(status, _)| {
            (
                status.to_string(),
                json!({ "$ref": format!("#/components/responses/error{status}") }),
            )
        })
        .collect()
}

pub(super) fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// One operation: its id, tag, summary, parameters, body and responses.
pub(super) fn operation(
    at: &At,
    version: Version,
    verb: &str,
    summary: String,
    parameters: Vec<Value>,
    body: Option<Value>,
    responses: Value,
) -> Value {
    let mut op = json!({
        "operationId": at.operation_id(version, verb),
        "tags": [at.tag(version)],
        "summary": summary,
        "parameters": parameters,
    });
    if let Some(content) = body {
        op["requestBody"] = json!({ "required": true, "content": content });
    }
    op["responses"] = responses;
    op
}

pub(super) fn with_errors<const N: usize>(errors: Errors, success: [(&str, Value); N]) -> Value {
    let mut responses: Map<String, Value> = success
        .into_iter()
        .map(|(status, response)| (status.to_string(), response))
        .collect();
    responses.extend(error_refs(errors));
    Value::Object(responses)
}

pub(super) fn entity_envelope(entity: Value) -> Value {
    json!({
        "allOf": [
            entity,
            {
                "type": "object",
                "required": ["@odata.context"],
                "properties": { "@odata.context": { "type": "string" } },
            },
        ],
    })
}

pub(super) fn collection_envelope(item: Value) -> Value {
    json!({
        "type": "object",
        "required": ["@odata.context", "value"],
        "properties": {
            "@odata.context": { "type": "string" },
            "@odata.count": { "type": "integer", "minimum": 0 },
            "@odata.nextLink": { "type": "string" },
            "value": { "type": "array", "items": item },
        },
    })
}

//! The model as an OpenAPI 3.0.3 document: every path complyd serves in both versions, with
//! request bodies, responses, query options, errors and stateful links, all derived from the model.
//!
//! Schemas are named `<version>.<qualified type>` plus a suffix: none for what a read returns,
//! `.create` / `.update` for request bodies, `.any` / `.create.any` / `.update.any` for a declared
//! type with derived types (a `oneOf` over its concrete types, told apart by `@odata.type`).

mod operations;
mod parameters;
mod paths;
mod responses;
mod schemas;

pub use schemas::DATE_TIME_OFFSET_PATTERN;

use super::{Model, Version};
use parameters::{key_parameter, query_parameters};
use responses::{json_content, ERRORS};
use schemas::{error_schema, schema_ref};
use serde_json::{json, Map, Value};

const VERSIONS: [Version; 2] = [Version::V1, Version::Beta];

/// One version's paths, operations and schemas, gathered while walking the model.
struct Builder<'m> {
    model: &'m Model,
    version: Version,
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
}

impl Model {
    /// The OpenAPI document of both versions. `server` is the origin clients reach (e.g.
    /// `http://127.0.0.1:8080`).
    pub fn openapi(&self, server: &str) -> Value {
        let mut paths = Map::new();
        let mut schemas = Map::new();
        for version in VERSIONS {
            let mut builder = Builder {
                model: self,
                version,
                paths: Map::new(),
                schemas: Map::new(),
            };
            builder.walk_roots();
            builder.service_paths();
            paths.extend(builder.paths);
            schemas.extend(builder.schemas);
        }
        paths.insert("/openapi.json".into(), document_path());
        schemas.insert("error".into(), error_schema());
        json!({
            "openapi": "3.0.3",
            "info": {
                "title": "complyd: Microsoft Graph Intune device compliance",
                "version": env!("CARGO_PKG_VERSION"),
                "description": format!("Generated from complyd's entity model (the same model that serves `$metadata`). Paths under `/v1.0` and `/beta`; entity keys may also be written `('{{id}}')` instead of `/{{id}}`. On beta the `$` of system query options is optional. {}", self.live_answers()),
            },
            "servers": [{ "url": server }],
            "security": [{ "bearer": [] }],
            "tags": tags(&paths),
            "paths": paths,
            "components": {
                "securitySchemes": { "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An HS256 JWT with Graph's claims (`aud`, `tid`, `scp` or `roles`); `complyd token` prints one.",
                }},
                "parameters": query_parameters(),
                "responses": error_responses(),
                "schemas": schemas,
            },
        })
    }
}

impl Model {
    /// What `--fidelity intune` changes in the answers: PATCH, and the operations declared
    /// `live-answer empty`.
    fn live_answers(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for op in self.operations.iter().filter(|op| op.live_empty_answer) {
            let name = format!("`{}`", op.name);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        match names.len() {
            0 => "With `--fidelity intune`, PATCH answers 204.".into(),
            1 => format!(
                "With `--fidelity intune`, PATCH answers 204 and {} answers 200 without a body.",
                names[0]
            ),
            _ => format!(
                "With `--fidelity intune`, PATCH answers 204 and {} answer 200 without a body.",
                names.join(", ")
            ),
        }
    }
}

/// `GET /openapi.json`: this document.
fn document_path() -> Value {
    json!({ "get": {
        "operationId": "openapi",
        "tags": ["service"],
        "summary": "This document: every path of both versions, generated from the entity model.",
        "security": [],
        "responses": { "200": {
            "description": "The OpenAPI 3.0.3 document.",
            "content": json_content(json!({ "type": "object" })),
        }},
    }})
}

/// One shared response per error status, each with Graph's error body.
fn error_responses() -> Map<String, Value> {
    ERRORS
        .iter()
        .map(|(status, description)| {
            (
                format!("error{status}"),
                json!({
                    "description": description,
                    "content": json_content(schema_ref("error")),
                }),
            )
        })
        .collect()
}

fn tags(paths: &Map<String, Value>) -> Value {
    let mut names: Vec<String> = paths
        .values()
        .filter_map(Value::as_object)
        .flat_map(|ops| ops.values())
        .filter_map(|op| op["tags"][0].as_str())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    Value::Array(names.into_iter().map(|n| json!({ "name": n })).collect())
}

/// Where the walk is: the URL so far, its path parameters and the names of the operations.
#[derive(Clone)]
struct At {
    path: String,
    params: Vec<String>,
    /// For operation ids and tags: the navigation names from the root.
    names: Vec<String>,
}

impl At {
    fn operation_id(&self, version: Version, verb: &str) -> String {
        format!("{}.{}.{verb}", version.as_str(), self.names.join("."))
    }
    fn tag(&self, version: Version) -> String {
        let first = self.names.iter().find(|n| *n != "deviceManagement");
        format!(
            "{} {}",
            version.as_str(),
            first.map_or("deviceManagement", String::as_str)
        )
    }
    fn path_params(&self) -> Vec<Value> {
        self.params.iter().map(|p| key_parameter(p)).collect()
    }
}

impl Builder<'_> {
    fn v(&self) -> &'static str {
        self.version.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collection_and_action_has_a_path_in_both_versions() -> Result<(), String> {
        let doc = Model::intune()?.openapi("http://localhost");
        let paths = doc["paths"].as_object().ok_or("no paths")?;
        for v in ["v1.0", "beta"] {
            for path in [
                "/deviceManagement/deviceCompliancePolicies",
                "/deviceManagement/deviceCompliancePolicies/{deviceCompliancePolicy-id}/assign",
                "/deviceManagement/deviceCompliancePolicies/{deviceCompliancePolicy-id}/scheduledActionsForRule/{deviceComplianceScheduledActionForRule-id}/scheduledActionConfigurations",
                "/deviceManagement/deviceCompliancePolicySettingStateSummaries/{deviceCompliancePolicySettingStateSummary-id}/deviceComplianceSettingStates/$count",
                "/$batch",
                "/$metadata",
            ] {
                assert!(paths.contains_key(&format!("/{v}{path}")), "{v}{path}");
            }
        }
        assert!(paths.contains_key("/beta/managedDeviceCompliances/{managedDeviceCompliance-id}"));
        assert!(!paths.contains_key("/v1.0/managedDeviceCompliances"));
        Ok(())
    }

    #[test]
    fn versions_have_their_own_types_and_enum_members() -> Result<(), String> {
        let doc = Model::intune()?.openapi("http://localhost");
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["beta.microsoft.graph.androidDeviceOwnerCompliancePolicy"].is_object());
        assert!(schemas["v1.0.microsoft.graph.androidDeviceOwnerCompliancePolicy"].is_null());
        let action_type = |v: &str| {
            schemas[format!("{v}.microsoft.graph.deviceComplianceActionItem.create")]["properties"]
                ["actionType"]["enum"]
                .to_string()
        };
        assert!(!action_type("v1.0").contains("remoteLock"));
        assert!(action_type("beta").contains("remoteLock"));
        Ok(())
    }
}

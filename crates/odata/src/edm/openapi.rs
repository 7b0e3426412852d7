//! The model as an OpenAPI 3.0.3 document: every path complyd serves in both versions, with
//! request bodies, responses, query options, errors and stateful links, all derived from the model.
//!
//! Schemas are named `<version>.<qualified type>` plus a suffix: none for what a read returns,
//! `.create` / `.update` for request bodies, `.any` / `.create.any` / `.update.any` for a declared
//! type with derived types (a `oneOf` over its concrete types, told apart by `@odata.type`).

use super::{
    Action, Model, Navigation, Primitive, Property, RootKind, StructuredType, TypeKind, TypeRef,
    ValueType, Version,
};
use serde_json::{json, Map, Value};

/// What the server accepts as an `Edm.DateTimeOffset` (`value::DateTimeOffset::parse`), as a
/// regular expression: `YYYY-MM-DDTHH:MM:SS(.f{1,7})?(Z|±HH:MM)`, offsets up to ±14:00. The 29th
/// of February is left out (the server takes it in leap years only).
pub const DATE_TIME_OFFSET_PATTERN: &str = concat!(
    "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-",
    "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))",
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,7})?",
    "(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
);
const GUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const BASE64_PATTERN: &str = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";
const VERSIONS: [Version; 2] = [Version::V1, Version::Beta];
const ERRORS: [(u16, &str); 7] = [
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
enum Errors {
    /// Reads: 400, 401, 403, 404, 429.
    Read,
    /// Writes with a body: every error, 413 and 415 included.
    Write,
}

fn error_refs(errors: Errors) -> Map<String, Value> {
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

fn nullable(mut schema: Value, is_nullable: bool) -> Value {
    if !is_nullable {
        return schema;
    }
    if schema.get("$ref").is_some() {
        return json!({ "allOf": [schema], "nullable": true });
    }
    if let Some(object) = schema.as_object_mut() {
        object.insert("nullable".into(), Value::Bool(true));
        // An enum lists every allowed value: null too, or a validator refuses it.
        if let Some(Value::Array(members)) = object.get_mut("enum") {
            members.push(Value::Null);
        }
    }
    schema
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The role a schema plays, which decides what it lists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Read,
    Create,
    Update,
}

impl Role {
    fn suffix(self) -> &'static str {
        match self {
            Self::Read => "",
            Self::Create => ".create",
            Self::Update => ".update",
        }
    }
}

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
        paths.insert(
            "/openapi.json".into(),
            json!({ "get": {
                "operationId": "openapi",
                "tags": ["service"],
                "summary": "This document: every path of both versions, generated from the entity model.",
                "security": [],
                "responses": { "200": {
                    "description": "The OpenAPI 3.0.3 document.",
                    "content": json_content(json!({ "type": "object" })),
                }},
            }}),
        );
        schemas.insert("error".into(), error_schema());
        let responses: Map<String, Value> = ERRORS
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
            .collect();
        json!({
            "openapi": "3.0.3",
            "info": {
                "title": "complyd: Microsoft Graph Intune device compliance",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Generated from complyd's entity model (the same model that serves `$metadata`). Paths under `/v1.0` and `/beta`; entity keys may also be written `('{id}')` instead of `/{id}`. On beta the `$` of system query options is optional. With `--fidelity intune`, PATCH answers 204 and `assign` answers 200 without a body.",
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
                "responses": responses,
                "schemas": schemas,
            },
        })
    }
}

/// One operation: its id, tag, summary, parameters, body and responses.
fn operation(
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

fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "Graph's error body.",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["code", "message", "innerError"],
            "properties": {
                "code": { "type": "string" },
                "message": { "type": "string" },
                "innerError": {
                    "type": "object",
                    "required": ["date", "request-id", "client-request-id"],
                    "properties": {
                        "date": { "type": "string" },
                        "request-id": { "type": "string" },
                        "client-request-id": { "type": "string" },
                    },
                },
            },
        }},
    })
}

fn query_parameters() -> Value {
    let string = |name: &str, description: &str| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } });
    json!({
        "filter": string("$filter", "A filter expression over the properties of the collection's type, e.g. `displayName eq 'x'`."),
        "skiptoken": string("$skiptoken", "The opaque token of `@odata.nextLink`; bound to the query that produced it."),
        "top": { "name": "$top", "in": "query", "required": false, "description": "The page size, 0 to 999.", "schema": { "type": "integer", "minimum": 0, "maximum": 999 } },
        "skip": { "name": "$skip", "in": "query", "required": false, "description": "How many members to skip.", "schema": { "type": "integer", "minimum": 0 } },
        "count": { "name": "$count", "in": "query", "required": false, "description": "Adds `@odata.count`, the number of members matching the filter.", "schema": { "type": "boolean" } },
    })
}

fn param_refs(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({ "$ref": format!("#/components/parameters/{n}") }))
        .collect()
}

/// A path parameter that names one entity of a collection.
fn key_parameter(name: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "required": true,
        "description": "The key of the entity (also accepted as `('{key}')` after the collection's name).",
        "schema": { "type": "string", "minLength": 1 },
    })
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

impl<'m> Builder<'m> {
    fn v(&self) -> &'static str {
        self.version.as_str()
    }

    fn walk_roots(&mut self) {
        let (model, version) = (self.model, self.version);
        for root in model
            .roots
            .iter()
            .filter(|r| r.availability.in_version(version))
        {
            let Some(ty) = model.structured(root.type_name) else {
                continue;
            };
            let at = At {
                path: format!("/{}/{}", self.v(), root.name),
                params: Vec::new(),
                names: vec![root.name.to_string()],
            };
            match root.kind {
                RootKind::Singleton => self.walk(&at, ty, 0),
                RootKind::EntitySet => self.collection(&at, ty, 0),
            }
        }
    }

    /// Every navigation below an entity (or the root singleton) at `at`.
    fn walk(&mut self, at: &At, ty: &'m StructuredType, depth: usize) {
        if depth > 8 {
            return;
        }
        let model = self.model;
        for nav in model.navigations(ty, self.version) {
            let Some(target) = model
                .structured(&nav.target)
                .filter(|t| model.exists_in(t, self.version))
            else {
                continue;
            };
            let mut next = at.clone();
            next.path = format!("{}/{}", at.path, nav.name);
            next.names.push(nav.name.clone());
            if nav.collection {
                self.collection(&next, target, depth + 1);
            } else {
                self.single(&next, nav, target, depth + 1);
            }
        }
    }

    fn collection(&mut self, at: &At, target: &'m StructuredType, depth: usize) {
        let v = self.version;
        let read = self.read_schema(target);
        let create = self.write_schema(target, Role::Create);
        let mut key = target.short_name().to_string();
        key.push_str("-id");
        while at.params.contains(&key) {
            key.insert(0, '_');
        }
        let mut entity = at.clone();
        entity.path = format!("{}/{{{key}}}", at.path);
        entity.params.push(key.clone());
        let links = self.links_below(&entity, target, &key);

        let mut list_params = at.path_params();
        list_params.extend(param_refs(&["filter"]));
        list_params.extend(self.shape_parameters(target, true));
        list_params.extend(param_refs(&["top", "skip", "count", "skiptoken"]));
        let list = operation(
            at,
            v,
            "list",
            format!("List {} ({})", at.names.join("/"), target.name),
            list_params,
            None,
            with_errors(
                Errors::Read,
                [(
                    "200",
                    json!({
                        "description": "One page of the collection; `@odata.nextLink` leads to the next.",
                        "content": json_content(collection_envelope(read.clone())),
                    }),
                )],
            ),
        );
        let post = operation(
            at,
            v,
            "create",
            format!(
                "Create a member of {} (deep insert of contained collections allowed)",
                at.names.join("/")
            ),
            at.path_params(),
            Some(json_content(create)),
            with_errors(
                Errors::Write,
                [(
                    "201",
                    json!({
                        "description": "Created.",
                        "content": json_content(entity_envelope(read.clone())),
                        "links": links,
                    }),
                )],
            ),
        );
        self.paths
            .insert(at.path.clone(), json!({ "get": list, "post": post }));

        self.paths.insert(
            format!("{}/$count", at.path),
            json!({ "get": {
                "operationId": at.operation_id(v, "count"),
                "tags": [at.tag(v)],
                "summary": format!("Count {}", at.names.join("/")),
                "parameters": at.path_params().into_iter().chain(param_refs(&["filter"])).collect::<Vec<_>>(),
                "responses": with_errors(Errors::Read, [("200", json!({
                    "description": "The number of members, as plain text.",
                    "content": { "text/plain": { "schema": { "type": "string", "pattern": "^[0-9]+$" } } },
                }))]),
            }}),
        );

        let update = self.write_schema(target, Role::Update);
        let mut get_params = entity.path_params();
        get_params.extend(self.shape_parameters(target, false));
        let mut item = Map::new();
        item.insert(
            "get".into(),
            operation(
                &entity,
                v,
                "get",
                format!("Get one member of {}", at.names.join("/")),
                get_params,
                None,
                with_errors(
                    Errors::Read,
                    [(
                        "200",
                        json!({
                            "description": "The entity.",
                            "content": json_content(entity_envelope(read.clone())),
                        }),
                    )],
                ),
            ),
        );
        item.insert(
            "patch".into(),
            operation(
                &entity,
                v,
                "update",
                format!("Update one member of {} (merge)", at.names.join("/")),
                entity.path_params(),
                Some(json_content(update)),
                with_errors(
                    Errors::Write,
                    [
                        (
                            "200",
                            json!({
                                "description": "Updated; the entity as it now is.",
                                "content": json_content(entity_envelope(read.clone())),
                            }),
                        ),
                        (
                            "204",
                            json!({ "description": "Updated (`--fidelity intune`)." }),
                        ),
                    ],
                ),
            ),
        );
        item.insert(
            "delete".into(),
            operation(
                &entity,
                v,
                "delete",
                format!(
                    "Delete one member of {} and everything it contains",
                    at.names.join("/")
                ),
                entity.path_params(),
                None,
                with_errors(
                    Errors::Read,
                    [("204", json!({ "description": "Deleted." }))],
                ),
            ),
        );
        self.paths.insert(entity.path.clone(), Value::Object(item));

        let model = self.model;
        let actions: Vec<&Action> = model
            .actions
            .iter()
            .filter(|a| a.availability.in_version(v) && model.is_derived_from(target, a.bound_to))
            .collect();
        for action in actions {
            self.action(&entity, target, action);
        }
        self.walk(&entity, target, depth);
    }

    fn single(&mut self, at: &At, nav: &Navigation, target: &'m StructuredType, depth: usize) {
        let v = self.version;
        let read = self.read_schema(target);
        let update = self.write_schema(target, Role::Update);
        let mut get_params = at.path_params();
        get_params.extend(self.shape_parameters(target, false));
        self.paths.insert(
            at.path.clone(),
            json!({
                "get": {
                    "operationId": at.operation_id(v, "get"),
                    "tags": [at.tag(v)],
                    "summary": format!("Get {} ({})", nav.name, target.name),
                    "parameters": get_params,
                    "responses": with_errors(Errors::Read, [("200", json!({
                        "description": "The entity.",
                        "content": json_content(entity_envelope(read.clone())),
                    }))]),
                },
                "patch": {
                    "operationId": at.operation_id(v, "update"),
                    "tags": [at.tag(v)],
                    "summary": format!("Update {} (merge)", nav.name),
                    "parameters": at.path_params(),
                    "requestBody": { "required": true, "content": json_content(update) },
                    "responses": with_errors(Errors::Write, [
                        ("200", json!({
                            "description": "Updated; the entity as it now is.",
                            "content": json_content(entity_envelope(read)),
                        })),
                        ("204", json!({ "description": "Updated (`--fidelity intune`)." })),
                    ]),
                },
            }),
        );
        self.walk(at, target, depth);
    }

    fn action(&mut self, entity: &At, target: &'m StructuredType, action: &Action) {
        let v = self.version;
        let model = self.model;
        let Some(nav) = model.navigation(target, action.replaces, v) else {
            return;
        };
        let Some(member) = model.structured(&nav.target) else {
            return;
        };
        let create = self.write_schema(member, Role::Create);
        let read = self.read_schema(member);
        let mut at = entity.clone();
        at.path = format!("{}/{}", entity.path, action.name);
        at.names.push(action.name.to_string());
        let success = if action.returns_collection {
            (
                "200",
                json!({
                    "description": format!("`{}` replaced; the new members. (With `--fidelity intune`: 200 without a body.)", action.replaces),
                    "content": json_content(collection_envelope(read)),
                }),
            )
        } else {
            (
                "204",
                json!({ "description": format!("`{}` replaced.", action.replaces) }),
            )
        };
        let mut body = Map::new();
        // Required and never null: a missing parameter is refused, an empty list clears.
        body.insert(
            action.parameter.to_string(),
            json!({ "type": "array", "items": create }),
        );
        self.paths.insert(
            at.path.clone(),
            json!({ "post": {
                "operationId": at.operation_id(v, "invoke"),
                "tags": [at.tag(v)],
                "summary": format!("Action {}: replaces {} with the members given", action.name, action.replaces),
                "parameters": at.path_params(),
                "requestBody": { "required": true, "content": json_content(json!({
                    "type": "object",
                    "additionalProperties": false,
                    "required": [action.parameter],
                    "properties": body,
                })) },
                "responses": with_errors(Errors::Write, [success]),
            }}),
        );
    }

    /// `$select`, `$expand` and (for collections) `$orderby` over `ty`: comma-separated lists
    /// whose items are the names the server binds (properties of the type and of its derived
    /// types, `id`, navigations), as in the OASIS CSDL-to-OpenAPI mapping.
    fn shape_parameters(&self, ty: &StructuredType, collection: bool) -> Vec<Value> {
        let model = self.model;
        let v = self.version;
        let mut lineage_props: Vec<&Property> = Vec::new();
        for t in std::iter::once(ty).chain(
            model
                .concrete_types(&ty.name, v)
                .into_iter()
                .filter(|t| t.name != ty.name),
        ) {
            for p in model.properties(t, v) {
                if !lineage_props.iter().any(|q| q.name == p.name) {
                    lineage_props.push(p);
                }
            }
        }
        let navigations: Vec<String> = model
            .navigations(ty, v)
            .iter()
            .filter(|n| {
                model
                    .structured(&n.target)
                    .is_some_and(|t| model.exists_in(t, v))
            })
            .map(|n| n.name.clone())
            .collect();
        let mut select = vec!["*".to_string(), "id".to_string()];
        select.extend(lineage_props.iter().map(|p| p.name.clone()));
        select.extend(navigations.iter().cloned());
        let mut expand = vec!["*".to_string()];
        expand.extend(navigations);
        // Repeated items are accepted, as on Graph, so no `uniqueItems`; each list has its limit.
        let list = |name: &str, description: &str, items: Vec<String>| {
            let max_items = match name {
                "$select" => crate::query::MAX_SELECT_ITEMS,
                "$expand" => crate::query::MAX_EXPAND_ITEMS,
                _ => crate::query::MAX_ORDERBY_KEYS,
            };
            json!({
                "name": name,
                "in": "query",
                "required": false,
                "description": description,
                "style": "form",
                "explode": false,
                "schema": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_items,
                    "items": { "type": "string", "enum": items },
                },
            })
        };
        let mut out = vec![list(
            "$select",
            "Properties to return (`id` and `@odata.type` always are).",
            select,
        )];
        if expand.len() > 1 {
            out.push(list(
                "$expand",
                "Navigations to include; nested options may follow in parentheses, e.g. `assignments($select=id)`, at most 4 deep.",
                expand,
            ));
        }
        if collection {
            let mut keys = vec!["id".to_string(), "id desc".to_string()];
            for p in lineage_props
                .iter()
                .filter(|p| !p.ty.collection && !matches!(p.ty.value, ValueType::Complex(_)))
            {
                keys.push(p.name.clone());
                keys.push(format!("{} desc", p.name));
            }
            out.push(list(
                "$orderby",
                "Sort keys, each a property optionally followed by `asc` or `desc`.",
                keys,
            ));
        }
        out
    }

    /// Links from a created entity to what can be done with it and directly below it.
    fn links_below(&self, entity: &At, ty: &StructuredType, key: &str) -> Value {
        let v = self.version;
        let mut params = Map::new();
        for p in &entity.params {
            let source = if p == key {
                "$response.body#/id".to_string()
            } else {
                format!("$request.path.{p}")
            };
            params.insert(p.clone(), Value::String(source));
        }
        let mut links = Map::new();
        let mut add = |name: String, operation: String| {
            links.insert(
                name,
                json!({ "operationId": operation, "parameters": params.clone() }),
            );
        };
        for verb in ["get", "update", "delete"] {
            add(verb.to_string(), entity.operation_id(v, verb));
        }
        let model = self.model;
        for nav in model.navigations(ty, v) {
            if !model
                .structured(&nav.target)
                .is_some_and(|t| model.exists_in(t, v))
            {
                continue;
            }
            let mut below = entity.clone();
            below.names.push(nav.name.clone());
            let verbs: &[&str] = if nav.collection {
                &["list", "create", "count"]
            } else {
                &["get", "update"]
            };
            for verb in verbs {
                add(format!("{}.{verb}", nav.name), below.operation_id(v, verb));
            }
        }
        for action in model
            .actions
            .iter()
            .filter(|a| a.availability.in_version(v) && model.is_derived_from(ty, a.bound_to))
        {
            let mut below = entity.clone();
            below.names.push(action.name.to_string());
            add(action.name.to_string(), below.operation_id(v, "invoke"));
        }
        Value::Object(links)
    }

    fn service_paths(&mut self) {
        let v = self.v();
        self.paths.insert(
            format!("/{v}/$metadata"),
            json!({ "get": {
                "operationId": format!("{v}.metadata"),
                "tags": ["service"],
                "summary": format!("The CSDL of {v}: types, enums, navigations, actions and the entity container"),
                "security": [],
                "responses": { "200": {
                    "description": "The CSDL XML document.",
                    "content": { "application/xml": { "schema": { "type": "string" } } },
                }},
            }}),
        );
        self.paths.insert(
            format!("/{v}/$batch"),
            json!({ "post": {
                "operationId": format!("{v}.batch"),
                "tags": ["service"],
                "summary": "JSON batch: up to 20 requests, ordered by `dependsOn`",
                "requestBody": { "required": true, "content": json_content(json!({
                    "type": "object",
                    "required": ["requests"],
                    "properties": { "requests": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 20,
                        "items": {
                            "type": "object",
                            "required": ["id", "method", "url"],
                            "properties": {
                                "id": { "type": "string", "minLength": 1 },
                                "method": { "type": "string", "enum": ["GET", "POST", "PATCH", "PUT", "DELETE"] },
                                "url": { "type": "string", "description": "Relative to the version root, e.g. `/deviceManagement/deviceCompliancePolicies`." },
                                "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                                "body": {},
                                "dependsOn": { "type": "array", "items": { "type": "string" } },
                            },
                        },
                    }},
                })) },
                "responses": with_errors(Errors::Write, [("200", json!({
                    "description": "Every inner response, failed ones included (a failed dependency is 424).",
                    "content": json_content(json!({
                        "type": "object",
                        "required": ["responses"],
                        "properties": { "responses": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "status"],
                                "properties": {
                                    "id": { "type": "string" },
                                    "status": { "type": "integer" },
                                    "headers": { "type": "object" },
                                    "body": {},
                                },
                            },
                        }},
                    })),
                }))]),
            }}),
        );
    }

    /// The schema of what reading an entity of `declared` returns (polymorphic when it has
    /// derived types).
    fn read_schema(&mut self, declared: &StructuredType) -> Value {
        self.schema_for(declared, Role::Read)
    }

    fn write_schema(&mut self, declared: &StructuredType, role: Role) -> Value {
        self.schema_for(declared, role)
    }

    /// `declared` in `role`: its own schema, or a `oneOf` over its concrete types.
    fn schema_for(&mut self, declared: &StructuredType, role: Role) -> Value {
        let model = self.model;
        let concrete = model.concrete_types(&declared.name, self.version);
        let hidden = if role == Role::Read {
            self.hidden_bases(declared)
        } else {
            Vec::new()
        };
        let own = concrete.len() == 1 && concrete[0].name == declared.name && hidden.is_empty();
        if own {
            return self.define(declared, role);
        }
        let name = format!("{}.{}{}.any", self.v(), declared.name, role.suffix());
        if !self.schemas.contains_key(&name) {
            self.schemas.insert(name.clone(), json!({}));
            let mut branches = Vec::new();
            let mut mapping = Map::new();
            for ty in &concrete {
                let branch = self.define(ty, role);
                if let Some(reference) = branch.get("$ref").cloned() {
                    mapping.insert(format!("#{}", ty.name), reference);
                }
                branches.push(json!({ "allOf": [branch, { "required": ["@odata.type"] }] }));
            }
            for base in &hidden {
                let branch = self.define(base, role);
                branches
                    .push(json!({ "allOf": [branch, { "not": { "required": ["@odata.type"] } }] }));
            }
            let mut schema = json!({
                "description": format!("{} or a type derived from it, named by `@odata.type`.", declared.name),
                "oneOf": branches,
            });
            if hidden.is_empty() {
                schema["discriminator"] =
                    json!({ "propertyName": "@odata.type", "mapping": mapping });
            }
            self.schemas.insert(name.clone(), schema);
        }
        schema_ref(&name)
    }

    /// The visible bases of concrete types derived from `declared` that this version lacks: a
    /// read shows such an entity as that base, without `@odata.type`.
    fn hidden_bases(&self, declared: &StructuredType) -> Vec<&'m StructuredType> {
        let model = self.model;
        let mut out: Vec<&StructuredType> = model
            .types
            .values()
            .filter(|t| {
                !t.is_abstract
                    && t.kind == TypeKind::Entity
                    && model.is_derived_from(t, &declared.name)
                    && !model.exists_in(t, self.version)
            })
            .map(|t| model.visible_type(t, self.version))
            .filter(|t| model.exists_in(t, self.version))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out
    }

    /// The schema of exactly `ty` in `role`, defined once under its name.
    fn define(&mut self, ty: &StructuredType, role: Role) -> Value {
        let name = format!("{}.{}{}", self.v(), ty.name, role.suffix());
        if self.schemas.contains_key(&name) {
            return schema_ref(&name);
        }
        // Reserve the name first: the schema may refer to itself through navigations.
        self.schemas.insert(name.clone(), json!({}));
        let model = self.model;
        let mut properties = Map::new();
        let mut required = Vec::new();
        properties.insert(
            "@odata.type".into(),
            json!({ "type": "string", "enum": [format!("#{}", ty.name)] }),
        );
        if ty.kind == TypeKind::Entity && role == Role::Read {
            properties.insert("id".into(), json!({ "type": "string" }));
            required.push(Value::String("id".into()));
        }
        for p in model.properties(ty, self.version) {
            if p.server_managed && role != Role::Read {
                continue;
            }
            let mut schema = self.property_schema(p, &p.ty, role);
            if p.server_managed {
                schema = with_field(schema, "readOnly", Value::Bool(true));
            }
            properties.insert(p.name.clone(), schema);
            if p.required && role == Role::Create {
                required.push(Value::String(p.name.clone()));
            }
        }
        if ty.kind == TypeKind::Entity && role != Role::Update {
            for nav in model.navigations(ty, self.version) {
                if role == Role::Create && !nav.collection {
                    continue;
                }
                let Some(target) = model
                    .structured(&nav.target)
                    .filter(|t| model.exists_in(t, self.version))
                else {
                    continue;
                };
                let target_schema = self.schema_for(target, role);
                let schema = if nav.collection {
                    json!({ "type": "array", "items": target_schema })
                } else {
                    target_schema
                };
                let description = if role == Role::Read {
                    "Present when expanded with `$expand`."
                } else {
                    "Created with the entity (deep insert)."
                };
                properties.insert(
                    nav.name.clone(),
                    with_field(schema, "description", Value::String(description.into())),
                );
            }
        }
        let mut schema = json!({
            "type": "object",
            "title": ty.name,
            "properties": properties,
        });
        if ty.is_abstract {
            schema["description"] = Value::String(format!(
                "{} (abstract: name a derived type in `@odata.type`).",
                ty.name
            ));
        }
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        if role != Role::Read {
            schema["additionalProperties"] = Value::Bool(false);
        }
        self.schemas.insert(name.clone(), schema);
        schema_ref(&name)
    }

    fn property_schema(&mut self, p: &Property, ty: &TypeRef, role: Role) -> Value {
        if ty.collection {
            let element = TypeRef {
                value: ty.value.clone(),
                collection: false,
                nullable: false,
            };
            let mut schema =
                json!({ "type": "array", "items": self.property_schema(p, &element, role) });
            if let Some(max) = p.max_items {
                schema["maxItems"] = Value::from(max);
            }
            return nullable(schema, ty.nullable);
        }
        let schema = match &ty.value {
            ValueType::Primitive(primitive) => primitive_schema(*primitive, p.range),
            ValueType::Enum(name) => {
                // A write takes this version's members only. A read shows what is stored, and
                // one store serves both versions: a v1.0 read may show a member written
                // through beta, so reads list every member.
                let members: Vec<Value> = self
                    .model
                    .enum_type(name)
                    .map(|e| {
                        e.members
                            .iter()
                            .filter(|m| {
                                role == Role::Read || m.availability.in_version(self.version)
                            })
                            .map(|m| Value::String(m.name.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({ "type": "string", "enum": members, "description": name })
            }
            ValueType::Complex(name) => match self.model.structured(name) {
                Some(complex) => {
                    let role = if role == Role::Update {
                        Role::Create
                    } else {
                        role
                    };
                    self.schema_for(complex, role)
                }
                None => json!({ "type": "object" }),
            },
        };
        nullable(schema, ty.nullable)
    }
}

/// Adds a keyword to a schema; a bare `$ref` is wrapped so that the keyword is not ignored.
fn with_field(schema: Value, key: &str, value: Value) -> Value {
    let mut schema = if schema.get("$ref").is_some() {
        json!({ "allOf": [schema] })
    } else {
        schema
    };
    schema[key] = value;
    schema
}

fn primitive_schema(p: Primitive, range: Option<(i64, i64)>) -> Value {
    match p {
        Primitive::String => json!({ "type": "string" }),
        Primitive::Boolean => json!({ "type": "boolean" }),
        Primitive::Int32 => {
            let (lo, hi) = range.unwrap_or((i32::MIN.into(), i32::MAX.into()));
            let mut schema =
                json!({ "type": "integer", "format": "int32", "minimum": lo, "maximum": hi });
            if range.is_some() {
                schema["description"] = Value::String(format!("Documented range: {lo} to {hi}."));
            }
            schema
        }
        Primitive::Int64 => {
            let mut schema = json!({ "type": "integer", "format": "int64" });
            if let Some((lo, hi)) = range {
                schema["minimum"] = Value::from(lo);
                schema["maximum"] = Value::from(hi);
            }
            schema
        }
        Primitive::DateTimeOffset => json!({
            "type": "string",
            "pattern": DATE_TIME_OFFSET_PATTERN,
            "description": "Edm.DateTimeOffset: YYYY-MM-DDTHH:MM:SS, up to 7 fraction digits, then Z or ±HH:MM.",
            "example": "2024-05-01T12:30:00Z",
        }),
        Primitive::Guid => json!({ "type": "string", "format": "uuid", "pattern": GUID_PATTERN }),
        Primitive::Binary => {
            json!({ "type": "string", "format": "byte", "pattern": BASE64_PATTERN })
        }
    }
}

fn with_errors<const N: usize>(errors: Errors, success: [(&str, Value); N]) -> Value {
    let mut responses: Map<String, Value> = success
        .into_iter()
        .map(|(status, response)| (status.to_string(), response))
        .collect();
    responses.extend(error_refs(errors));
    Value::Object(responses)
}

fn entity_envelope(entity: Value) -> Value {
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

fn collection_envelope(item: Value) -> Value {
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

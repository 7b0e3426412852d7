//! Paths: a walk over the containment tree from the roots, with the operations of each
//! collection, member, single-valued navigation and bound action, and the service's own paths.

use super::parameters::param_refs;
use super::responses::{
    collection_envelope, entity_envelope, json_content, operation, with_errors, Errors,
};
use super::schemas::Role;
use super::{At, Builder};
use crate::edm::{Navigation, RootKind, StructuredType};
use serde_json::{json, Map, Value};

impl<'m> Builder<'m> {
    pub(super) fn walk_roots(&mut self) {
        let (model, version) = (self.model, self.version);
        for root in model
            .roots
            .iter()
            .filter(|r| r.availability.in_version(version))
        {
            if let Some(op) = model.imported_operation(root) {
                let at = At {
                    path: format!("/{}", self.v()),
                    params: Vec::new(),
                    names: Vec::new(),
                };
                self.operation_path(&at, op);
                continue;
            }
            let Some(ty) = model.structured(&root.type_name) else {
                continue;
            };
            let at = At {
                path: format!("/{}/{}", self.v(), root.name),
                params: Vec::new(),
                names: vec![root.name.to_string()],
            };
            let read_only = root.navigation.rules.read_only;
            match root.kind {
                RootKind::Singleton => {
                    self.singleton_path(&at, ty, read_only);
                    self.operation_paths(&at, ty, false);
                    self.walk(&at, ty, 0, read_only);
                }
                _ => self.collection(&at, ty, 0, read_only),
            }
        }
    }

    /// `GET` (and, unless read-only, `PATCH`) of a root singleton.
    fn singleton_path(&mut self, at: &At, ty: &'m StructuredType, read_only: bool) {
        let v = self.version;
        let read = self.read_schema(ty);
        let mut item = Map::new();
        item.insert(
            "get".into(),
            json!({
                "operationId": at.operation_id(v, "get"),
                "tags": [at.tag(v)],
                "summary": format!("Get {} ({})", at.names.join("/"), ty.name),
                "parameters": self.shape_parameters(ty, false),
                "responses": with_errors(Errors::Read, [("200", json!({
                    "description": "The singleton (its defaults until a client PATCHes it).",
                    "content": json_content(entity_envelope(read.clone())),
                }))]),
            }),
        );
        if !read_only {
            let update = self.write_schema(ty, Role::Update);
            item.insert(
                "patch".into(),
                json!({
                    "operationId": at.operation_id(v, "update"),
                    "tags": [at.tag(v)],
                    "summary": format!("Update {} (merge; complex values merge member by member)", at.names.join("/")),
                    "requestBody": { "required": true, "content": json_content(update) },
                    "responses": with_errors(Errors::Write, [
                        ("200", json!({
                            "description": "Updated; the singleton as it now is.",
                            "content": json_content(entity_envelope(read)),
                        })),
                        ("204", json!({ "description": "Updated (`--fidelity intune`)." })),
                    ]),
                }),
            );
        }
        self.paths.insert(at.path.clone(), Value::Object(item));
    }

    /// Every navigation below an entity (or the root singleton) at `at`; below a read-only
    /// navigation, reads only.
    pub(super) fn walk(&mut self, at: &At, ty: &'m StructuredType, depth: usize, read_only: bool) {
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
            let read_only = read_only || nav.rules.read_only;
            if nav.links.is_some() {
                self.linked(&next, nav, target);
            } else if nav.collection {
                self.collection(&next, target, depth + 1, read_only);
            } else {
                self.single(&next, nav, target, depth + 1, read_only);
            }
        }
    }

    /// A collection at `at`: list and create, `$count`, each member's get, update and delete,
    /// the actions bound to its members, and everything below them.
    pub(super) fn collection(
        &mut self,
        at: &At,
        target: &'m StructuredType,
        depth: usize,
        read_only: bool,
    ) {
        let read = self.read_schema(target);
        let create = self.write_schema(target, Role::Create);
        let (entity, key) = member_at(at, target);
        let links = self.links_below(&entity, target, &key);
        self.list_and_create(at, target, &read, create, links);
        self.count_path(at);
        self.operation_paths(at, target, true);
        self.member_paths(at, &entity, target, &read);
        self.operation_paths(&entity, target, false);
        if read_only {
            for path in [&at.path, &entity.path] {
                if let Some(Value::Object(item)) = self.paths.get_mut(path.as_str()) {
                    item.retain(|verb, _| verb == "get");
                }
            }
        }
        self.walk(&entity, target, depth, read_only);
    }

    /// A linked navigation: one page of its members, their count, one of them; and, when it is
    /// written (direct, forwards, not computed from a rule alone), `$ref` to add and remove
    /// links.
    fn linked(&mut self, at: &At, nav: &Navigation, target: &'m StructuredType) {
        let v = self.version;
        let read = self.read_schema(target);
        let mut list_params = at.path_params();
        list_params.extend(param_refs(&["filter"]));
        list_params.extend(self.shape_parameters(target, true));
        list_params.extend(param_refs(&["top", "skip", "count", "skiptoken"]));
        let page = json!({
            "description": "One page of the linked entities; `@odata.nextLink` leads to the next.",
            "content": json_content(collection_envelope(read.clone())),
        });
        let list = operation(
            at,
            v,
            "list",
            format!("List {} ({})", at.names.join("/"), target.name),
            list_params,
            None,
            with_errors(Errors::Read, [("200", page)]),
        );
        self.paths.insert(at.path.clone(), json!({ "get": list }));
        self.count_path(at);
        let (entity, _) = member_at(at, target);
        let mut get_params = entity.path_params();
        get_params.extend(self.shape_parameters(target, false));
        let got = json!({
            "description": "The linked entity.",
            "content": json_content(entity_envelope(read)),
        });
        let get = operation(
            &entity,
            v,
            "get",
            format!("Get one of {} when it is linked", at.names.join("/")),
            get_params,
            None,
            with_errors(Errors::Read, [("200", got)]),
        );
        self.paths
            .insert(entity.path.clone(), json!({ "get": get }));
        let direct = nav
            .links
            .as_ref()
            .is_some_and(|l| !l.inverse && !l.transitive);
        if !direct {
            return;
        }
        let reference = json!({
            "type": "object",
            "required": ["@odata.id"],
            "properties": { "@odata.id": {
                "type": "string",
                "description": "The entity to link: `https://graph.microsoft.com/v1.0/directoryObjects/{id}`, on any host, or relative.",
            }},
        });
        let mut ref_at = at.clone();
        ref_at.path = format!("{}/$ref", at.path);
        let add = operation(
            &ref_at,
            v,
            "add",
            format!("Link an entity to {}", at.names.join("/")),
            at.path_params(),
            Some(json_content(reference)),
            with_errors(
                Errors::Write,
                [("204", json!({ "description": "Linked." }))],
            ),
        );
        self.paths
            .insert(ref_at.path.clone(), json!({ "post": add }));
        let mut unlink = entity.clone();
        unlink.path = format!("{}/$ref", entity.path);
        let remove = operation(
            &unlink,
            v,
            "remove",
            format!("Unlink one of {}", at.names.join("/")),
            entity.path_params(),
            None,
            with_errors(
                Errors::Read,
                [("204", json!({ "description": "Unlinked." }))],
            ),
        );
        self.paths
            .insert(unlink.path.clone(), json!({ "delete": remove }));
    }

    /// `GET` (one page) and `POST` (create) on the collection itself.
    fn list_and_create(
        &mut self,
        at: &At,
        target: &StructuredType,
        read: &Value,
        create: Value,
        links: Value,
    ) {
        let v = self.version;
        let mut list_params = at.path_params();
        list_params.extend(param_refs(&["filter"]));
        list_params.extend(self.shape_parameters(target, true));
        list_params.extend(param_refs(&["top", "skip", "count", "skiptoken"]));
        let page = json!({
            "description": "One page of the collection; `@odata.nextLink` leads to the next.",
            "content": json_content(collection_envelope(read.clone())),
        });
        let list = operation(
            at,
            v,
            "list",
            format!("List {} ({})", at.names.join("/"), target.name),
            list_params,
            None,
            with_errors(Errors::Read, [("200", page)]),
        );
        let created = json!({
            "description": "Created.",
            "content": json_content(entity_envelope(read.clone())),
            "links": links,
        });
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
            with_errors(Errors::Write, [("201", created)]),
        );
        self.paths
            .insert(at.path.clone(), json!({ "get": list, "post": post }));
    }

    /// `GET {collection}/$count`.
    fn count_path(&mut self, at: &At) {
        let v = self.version;
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
    }

    /// `GET`, `PATCH` and `DELETE` on one member, at `entity`.
    fn member_paths(&mut self, at: &At, entity: &At, target: &StructuredType, read: &Value) {
        let v = self.version;
        let update = self.write_schema(target, Role::Update);
        let members = at.names.join("/");
        let mut get_params = entity.path_params();
        get_params.extend(self.shape_parameters(target, false));
        let got = json!({
            "description": "The entity.",
            "content": json_content(entity_envelope(read.clone())),
        });
        let updated = json!({
            "description": "Updated; the entity as it now is.",
            "content": json_content(entity_envelope(read.clone())),
        });
        let intune = json!({ "description": "Updated (`--fidelity intune`)." });
        let mut item = Map::new();
        item.insert(
            "get".into(),
            operation(
                entity,
                v,
                "get",
                format!("Get one member of {members}"),
                get_params,
                None,
                with_errors(Errors::Read, [("200", got)]),
            ),
        );
        item.insert(
            "patch".into(),
            operation(
                entity,
                v,
                "update",
                format!("Update one member of {members} (merge)"),
                entity.path_params(),
                Some(json_content(update)),
                with_errors(Errors::Write, [("200", updated), ("204", intune)]),
            ),
        );
        item.insert(
            "delete".into(),
            operation(
                entity,
                v,
                "delete",
                format!("Delete one member of {members} and everything it contains"),
                entity.path_params(),
                None,
                with_errors(
                    Errors::Read,
                    [("204", json!({ "description": "Deleted." }))],
                ),
            ),
        );
        self.paths.insert(entity.path.clone(), Value::Object(item));
    }

    pub(super) fn single(
        &mut self,
        at: &At,
        nav: &Navigation,
        target: &'m StructuredType,
        depth: usize,
        read_only: bool,
    ) {
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
        if read_only {
            if let Some(Value::Object(item)) = self.paths.get_mut(at.path.as_str()) {
                item.retain(|verb, _| verb == "get");
            }
        }
        self.operation_paths(at, target, false);
        self.walk(at, target, depth, read_only);
    }

    /// Links from a created entity to what can be done with it and directly below it.
    pub(super) fn links_below(&self, entity: &At, ty: &StructuredType, key: &str) -> Value {
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
            let verbs: &[&str] = if nav.links.is_some() || (nav.collection && nav.rules.read_only) {
                &["list", "count"]
            } else if nav.collection {
                &["list", "create", "count"]
            } else {
                &["get", "update"]
            };
            for verb in verbs {
                add(format!("{}.{verb}", nav.name), below.operation_id(v, verb));
            }
        }
        for op in model.bound_operations(ty, false, v) {
            let mut below = entity.clone();
            below.names.push(op.name.clone());
            add(op.name.clone(), below.operation_id(v, "invoke"));
        }
        Value::Object(links)
    }

    pub(super) fn service_paths(&mut self) {
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
        self.paths.insert(format!("/{v}/$batch"), batch_path(v));
    }
}

/// Where one member of the collection at `at` is: `{…}/{<type>-id}`, with the key's name made
/// unique among the path's parameters. Returns the place and the key's name.
fn member_at(at: &At, target: &StructuredType) -> (At, String) {
    let mut key = target.short_name().to_string();
    key.push_str("-id");
    while at.params.contains(&key) {
        key.insert(0, '_');
    }
    let mut entity = at.clone();
    entity.path = format!("{}/{{{key}}}", at.path);
    entity.params.push(key.clone());
    (entity, key)
}

/// `POST /{v}/$batch`: JSON batching.
fn batch_path(v: &str) -> Value {
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
                        "id": { "oneOf": [{ "type": "string", "minLength": 1 }, { "type": "number" }], "description": "A string or a number; the answer carries it back as sent." },
                        "method": { "type": "string", "enum": ["GET", "POST", "PATCH", "PUT", "DELETE"] },
                        "url": { "type": "string", "description": "Relative to the version root, e.g. `/deviceManagement/deviceCompliancePolicies`." },
                        "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                        "body": {},
                        "dependsOn": { "type": "array", "items": { "oneOf": [{ "type": "string" }, { "type": "number" }] } },
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
                            "id": { "oneOf": [{ "type": "string" }, { "type": "number" }] },
                            "status": { "type": "integer" },
                            "headers": { "type": "object" },
                            "body": {},
                        },
                    },
                }},
            })),
        }))]),
    }})
}

//! The implementations that the model's actions and functions name (`handler NAME WORD…`). Each
//! checks at start that a declaration fits it, then serves its calls. A new operation is a
//! declaration in the model plus, when none of these fits, one more entry here.

use super::audit::{self, AuditDraft};
use super::invoke::Invocation;
use super::locate::Location;
use super::{
    check_exists, fidelity, insert_rows, integrity, parse_body, plan_rows, route_error, Call,
    Fidelity, JsonObject, Reply, Service,
};
use crate::error::ApiError;
use futures_util::future::BoxFuture;
use odata::edm::{
    Binding, Model, Operation, OperationKind, Primitive, TypeRef, ValueType, Version,
};
use odata::query::filter::{BinOp, Expr, Logic};
use odata::validate::{Argument, Validated};
use serde_json::{Map, Value};

type Run = for<'a> fn(&'a Service, Invocation) -> BoxFuture<'a, Result<Reply, ApiError>>;

pub(super) struct Handler {
    name: &'static str,
    /// Whether a declaration fits: its binding, parameters, words and result.
    fits: fn(&Model, &Operation) -> Result<(), String>,
    pub run: Run,
}

const HANDLERS: &[Handler] = &[
    Handler {
        name: "replaceCollection",
        fits: fits_replace_collection,
        run: |service, call| Box::pin(service.replace_collection(call)),
    },
    Handler {
        name: "membersWhere",
        fits: fits_members_where,
        run: |service, call| Box::pin(service.members_where(call)),
    },
    // Issue 17's neighbours: each in the module of its concern.
    Handler {
        name: "sendTestMessage",
        fits: fits_plain_entity_action,
        run: |service, call| Box::pin(service.send_test_message(call)),
    },
    Handler {
        name: "validateRules",
        fits: fits_validate_rules,
        run: |service, call| Box::pin(service.validate_rules(call)),
    },
    Handler {
        name: "auditCategories",
        fits: fits_string_list,
        run: |service, call| Box::pin(service.audit_categories(call)),
    },
    Handler {
        name: "auditActivityTypes",
        fits: fits_string_list,
        run: |service, call| Box::pin(service.audit_activity_types(call)),
    },
    Handler {
        name: "scheduledToRetire",
        fits: fits_scheduled_to_retire,
        run: |service, call| Box::pin(service.scheduled_to_retire(call)),
    },
    Handler {
        name: "setRetireState",
        fits: fits_set_retire_state,
        run: |service, call| Box::pin(service.set_retire_state(call)),
    },
    Handler {
        name: "stampRoot",
        fits: fits_stamp_root,
        run: |service, call| Box::pin(service.stamp_root(call)),
    },
    Handler {
        name: "payloadLinks",
        fits: fits_payload_links,
        run: |service, call| Box::pin(service.payload_links(call)),
    },
    // The directory's (service/directory/operations.rs).
    Handler {
        name: "memberGroups",
        fits: super::directory::operations::fits_member_groups,
        run: |service, call| Box::pin(service.member_groups(call)),
    },
    Handler {
        name: "byIds",
        fits: super::directory::operations::fits_by_ids,
        run: |service, call| Box::pin(service.by_ids(call)),
    },
    Handler {
        name: "validateRule",
        fits: super::directory::operations::fits_validate_rule,
        run: |service, call| Box::pin(service.validate_rule(call)),
    },
];

pub(super) fn find(name: &str) -> Option<&'static Handler> {
    HANDLERS.iter().find(|h| h.name == name)
}

/// Every operation of the model names a handler that exists and that fits it.
pub(super) fn check(model: &Model) -> Result<(), String> {
    for op in model.operations() {
        let at = |e: String| format!("{} {}: {e}", op.kind.as_str(), op.name);
        let handler = find(&op.handler).ok_or_else(|| {
            at(format!(
                "no handler named {} in service/handlers.rs",
                op.handler
            ))
        })?;
        (handler.fits)(model, op).map_err(|e| at(format!("handler {}: {e}", op.handler)))?;
    }
    Ok(())
}

/// The one word after the handler's name.
fn one_word(op: &Operation) -> Result<&str, String> {
    match op.handler_args.as_slice() {
        [word] => Ok(word),
        _ => Err("takes one word".into()),
    }
}

fn collection_of(name: &str) -> TypeRef {
    TypeRef {
        value: ValueType::Complex(name.to_string()),
        collection: true,
        nullable: false,
    }
}

fn same_type(a: &TypeRef, b: &TypeRef) -> bool {
    a.value == b.value && a.collection == b.collection
}

/// `replaceCollection NAV`: an action bound to an entity whose one parameter, required, is a
/// collection of NAV's type; the result, if any, is that collection.
fn fits_replace_collection(model: &Model, op: &Operation) -> Result<(), String> {
    let nav_name = one_word(op)?;
    let Binding::Entity(bound) = &op.binding else {
        return Err("binds to an entity".into());
    };
    let nav = model
        .structured(bound)
        .and_then(|t| model.navigation(t, nav_name, Version::Beta))
        .filter(|n| n.collection)
        .ok_or_else(|| format!("{bound} has no collection {nav_name}"))?;
    let members = collection_of(&nav.target);
    match op.parameters.as_slice() {
        [p] if p.required && same_type(&p.ty, &members) => {}
        _ => return Err(format!("takes one required Collection({})", nav.target)),
    }
    match &op.returns {
        Some(ty) if !same_type(ty, &members) => Err(format!("returns Collection({})", nav.target)),
        _ => Ok(()),
    }
}

/// `membersWhere PROPERTY`: a function bound to a collection, with a required parameter named
/// and typed as the members' PROPERTY, returning the collection.
fn fits_members_where(model: &Model, op: &Operation) -> Result<(), String> {
    let name = one_word(op)?;
    let Binding::Collection(bound) = &op.binding else {
        return Err("binds to a collection".into());
    };
    let property = model
        .structured(bound)
        .and_then(|t| model.property(t, name, Version::Beta))
        .filter(|p| !p.ty.collection && !matches!(p.ty.value, ValueType::Complex(_)))
        .ok_or_else(|| format!("{bound} has no primitive or enum property {name}"))?;
    match op.parameter(name) {
        Some(p) if p.required && same_type(&p.ty, &property.ty) => {}
        _ => return Err(format!("takes a required {name} of the property's type")),
    }
    match &op.returns {
        Some(ty) if same_type(ty, &collection_of(bound)) => Ok(()),
        _ => Err(format!("returns Collection({bound})")),
    }
}

/// An action bound to an entity, without parameters, words or result.
fn fits_plain_entity_action(_: &Model, op: &Operation) -> Result<(), String> {
    match (
        &op.binding,
        op.kind,
        op.parameters.is_empty(),
        &op.returns,
        op.handler_args.is_empty(),
    ) {
        (Binding::Entity(_), OperationKind::Action, true, None, true) => Ok(()),
        _ => Err("an action bound to an entity, without parameters, words or result".into()),
    }
}

fn string_collection(ty: &Option<TypeRef>) -> bool {
    ty.as_ref()
        .is_some_and(|t| t.collection && t.value == ValueType::Primitive(Primitive::String))
}

/// A function bound to a collection answering Collection(String); it takes no parameter, or
/// one required String (`auditActivityTypes`' category).
fn fits_string_list(_: &Model, op: &Operation) -> Result<(), String> {
    let params_fit = match op.parameters.as_slice() {
        [] => true,
        [p] => {
            p.required && !p.ty.collection && p.ty.value == ValueType::Primitive(Primitive::String)
        }
        _ => false,
    };
    match (&op.binding, op.kind) {
        (Binding::Collection(_), OperationKind::Function) if params_fit && string_collection(&op.returns) => Ok(()),
        _ => Err("a function bound to a collection, with at most one required String parameter, returning Collection(String)".into()),
    }
}

/// The named properties of the structured type `ty` names, for the fits below.
fn has_properties(model: &Model, ty: &TypeRef, names: &[&str]) -> bool {
    match &ty.value {
        ValueType::Complex(name) => model.structured(name).is_some_and(|t| {
            names
                .iter()
                .all(|n| model.property(t, n, Version::Beta).is_some())
        }),
        _ => false,
    }
}

fn fits_validate_rules(model: &Model, op: &Operation) -> Result<(), String> {
    let param = matches!(op.parameters.as_slice(),
        [p] if p.required && has_properties(model, &p.ty, &["rulesContent"]));
    let result = op.returns.as_ref().is_some_and(|r| {
        !r.collection && has_properties(model, r, &["rules", "scriptErrors", "ruleErrors"])
    });
    match (&op.binding, op.kind) {
        (Binding::Collection(_), OperationKind::Action) if param && result => Ok(()),
        _ => Err("an action bound to a collection, taking one required value with rulesContent, returning a value with rules, scriptErrors and ruleErrors".into()),
    }
}

fn fits_scheduled_to_retire(model: &Model, op: &Operation) -> Result<(), String> {
    let result = op
        .returns
        .as_ref()
        .is_some_and(|r| r.collection && has_properties(model, r, &["managedDeviceId"]));
    match (&op.binding, op.kind) {
        (Binding::Collection(_), OperationKind::Function) if op.parameters.is_empty() && result => Ok(()),
        _ => Err("a function bound to a collection, without parameters, returning a collection of values with managedDeviceId".into()),
    }
}

fn fits_set_retire_state(_: &Model, op: &Operation) -> Result<(), String> {
    let has = |name: &str| op.parameter(name).is_some();
    match (&op.binding, op.kind, &op.returns) {
        (Binding::Collection(_), OperationKind::Action, None)
            if has("state") && has("managedDeviceIds") && has("scopedToAllDevices") =>
        {
            Ok(())
        }
        _ => Err("an action bound to a collection taking state, managedDeviceIds and scopedToAllDevices, without result".into()),
    }
}

/// `stampRoot PROPERTY`: an action without parameters or result; PROPERTY is a server-managed
/// DateTimeOffset of a root singleton's type.
fn fits_stamp_root(model: &Model, op: &Operation) -> Result<(), String> {
    let property = one_word(op)?;
    let stamped = model.roots().iter().any(|r| {
        model.structured(&r.type_name).is_some_and(|t| {
            model.property(t, property, Version::Beta).is_some_and(|p| {
                p.server_managed && p.ty.value == ValueType::Primitive(Primitive::DateTimeOffset)
            })
        })
    });
    match (op.kind, op.parameters.is_empty(), &op.returns) {
        (OperationKind::Action, true, None) if stamped => Ok(()),
        _ => Err(format!("an action without parameters or result; {property} is a server DateTimeOffset of a root singleton")),
    }
}

fn fits_payload_links(model: &Model, op: &Operation) -> Result<(), String> {
    let param = match op.parameters.as_slice() {
        [p] => {
            p.required && p.ty.collection && p.ty.value == ValueType::Primitive(Primitive::String)
        }
        _ => false,
    };
    let result = op.returns.as_ref().is_some_and(|r| {
        r.collection && has_properties(model, r, &["payloadId", "hasLink", "sources"])
    });
    match (&op.binding, op.kind) {
        (Binding::Collection(_), OperationKind::Action) if param && result => Ok(()),
        _ => Err("an action bound to a collection taking one required Collection(String), returning a collection of values with payloadId, hasLink and sources".into()),
    }
}

impl Service {
    /// `replaceCollection`: the contained collection is cleared and the members given are
    /// created in its place, in one write; the members are the answer when one is declared.
    async fn replace_collection(&self, invocation: Invocation) -> Result<Reply, ApiError> {
        let Invocation {
            call,
            operation,
            arguments,
            audit,
        } = invocation;
        let nav_name = operation
            .handler_args
            .first()
            .ok_or_else(|| route_error(&call))?;
        let nav = self
            .model
            .navigation(self.bound_type(&call)?, nav_name, call.version)
            .ok_or_else(|| route_error(&call))?;
        let members = arguments
            .into_iter()
            .find_map(|(_, a)| match a {
                Argument::Entities(members) => Some(members),
                Argument::Value(_) => None,
            })
            .unwrap_or_default();
        fidelity::apply_rules(self.settings.fidelity, nav, &members)?;
        let created = self
            .replace_members(&call, &nav.name, &members, audit)
            .await?;
        if self.settings.fidelity == Fidelity::Intune && operation.live_empty_answer {
            return Ok(Reply::EmptyOk);
        }
        if operation.returns.is_none() {
            return Ok(Reply::NoContent);
        }
        let items = created
            .iter()
            .map(|(t, id, b)| {
                self.project_row(call.version, t, id, b)
                    .map(|m| JsonObject::from_map(&m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Reply::Collection {
            context: format!("Collection({})", nav.target),
            items,
            count: None,
            skiptoken: None,
        })
    }

    /// Clears the contained collection `navigation` of the entity `call` addresses and creates
    /// `members` in its place, in one write. Returns the new members as stored (type, id, body).
    async fn replace_members(
        &self,
        call: &Call,
        navigation: &str,
        members: &[Validated<'static>],
        audit: Option<AuditDraft>,
    ) -> Result<Vec<(String, String, Map<String, Value>)>, ApiError> {
        let location = Location::of(&call.tenant, &call.path);
        let (collection, parent, must_exist) = location.below(&call.tenant, navigation);
        let mut checks = Vec::new();
        let references = self.references(&call.tenant);
        for (i, member) in members.iter().enumerate() {
            references.of_entity(member, &format!("{navigation}[{i}]."), &mut checks)?;
        }
        let mut rows = Vec::new();
        for member in members {
            plan_rows(
                self.model,
                &call.tenant,
                &collection,
                &parent,
                member,
                &mut rows,
            );
        }
        let created: Vec<(String, String, Map<String, Value>)> = rows
            .iter()
            .filter(|r| r.key.collection == collection)
            .map(|r| (r.type_name.clone(), r.key.id.clone(), r.body.clone()))
            .collect();
        let tenant = call.tenant.clone();
        let bound = location.id.is_some().then(|| location.key(&call.tenant));
        let (model, navigation) = (self.model, navigation.to_string());
        self.store
            .write(move |tx| {
                check_exists(tx, &must_exist)?;
                integrity::check_references(tx, &checks)?;
                tx.clear_collection(&tenant, &collection, &parent)?;
                insert_rows(tx, &rows)?;
                if audit.is_some() {
                    // The bound entity, with the collection it now has.
                    let before = match &bound {
                        Some(key) => tx.get(key)?.map(|r| parse_body(&r.body)).transpose()?,
                        None => None,
                    }
                    .unwrap_or_default();
                    let mut after = before.clone();
                    let given: Vec<Value> = rows
                        .iter()
                        .filter(|r| r.key.collection == collection)
                        .map(|r| Value::Object(r.body.clone()))
                        .collect();
                    after.insert(navigation, Value::Array(given));
                    let id = bound.as_ref().map_or("", |k| k.id.as_str());
                    audit::record(&audit, model, tx, id, Some(&before), Some(&after))?;
                }
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(created)
    }

    /// `membersWhere PROPERTY`: the bound collection listed as a GET of it would be (query
    /// options, paging and all), with `PROPERTY eq <the parameter>` added to its filter.
    async fn members_where(&self, invocation: Invocation) -> Result<Reply, ApiError> {
        let Invocation {
            mut call,
            operation,
            arguments,
            ..
        } = invocation;
        let (property, value) = arguments
            .iter()
            .find_map(|(p, a)| match a {
                Argument::Value(v) if operation.handler_args.first() == Some(&p.name) => {
                    Some((*p, v))
                }
                _ => None,
            })
            .ok_or_else(|| route_error(&call))?;
        let condition = Expr::Binary {
            op: BinOp::Eq,
            left: Box::new(Expr::Member(vec![property.name.clone()])),
            right: Box::new(literal(&property.ty, value)),
        };
        call.query.filter = Some(match call.query.filter.take() {
            Some(given) => Expr::Logical {
                op: Logic::And,
                terms: vec![given, condition],
            },
            None => condition,
        });
        let context = format!("Collection({})", call.target()?.name);
        call.path.operation = None;
        match self.list(call).await? {
            Reply::Collection {
                items,
                count,
                skiptoken,
                ..
            } => Ok(Reply::Collection {
                context,
                items,
                count,
                skiptoken,
            }),
            other => Ok(other),
        }
    }
}

/// A checked parameter value as a `$filter` literal of its type.
fn literal(ty: &TypeRef, value: &Value) -> Expr {
    let text = || value.as_str().unwrap_or_default().to_string();
    match (value, &ty.value) {
        (Value::Null, _) => Expr::Null,
        (Value::Bool(b), _) => Expr::Bool(*b),
        (Value::Number(n), _) => n
            .as_i64()
            .map_or_else(|| Expr::Decimal(n.to_string()), Expr::Int),
        (_, ValueType::Primitive(Primitive::DateTimeOffset)) => Expr::DateTimeOffset(text()),
        (_, ValueType::Primitive(Primitive::Guid)) => Expr::Guid(text()),
        _ => Expr::String(text()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(operation: &str) -> Result<(), String> {
        let text = format!("namespace microsoft.graph\n{operation}");
        let model = Model::load_with(&[("extra.edm", &text)])?;
        check(&model)
    }

    #[test]
    fn the_slice_declares_only_operations_its_handlers_fit() {
        assert_eq!(check(Model::intune().unwrap()), Ok(()));
    }

    #[test]
    fn a_declaration_without_a_fitting_handler_is_refused_at_start() {
        let cases = [
            ("action a on deviceCompliancePolicy\n  handler nope", "no handler named nope"),
            (
                "action a on deviceCompliancePolicy\n  handler replaceCollection",
                "takes one word",
            ),
            (
                "action a on deviceCompliancePolicy\n  handler replaceCollection deviceStatusOverview",
                "has no collection deviceStatusOverview",
            ),
            (
                "action a on deviceCompliancePolicy\n  assignments: Collection(deviceCompliancePolicyAssignment)\n  handler replaceCollection assignments",
                "takes one required Collection(microsoft.graph.deviceCompliancePolicyAssignment)",
            ),
            (
                "action a on deviceCompliancePolicy\n  assignments: Collection(deviceCompliancePolicyAssignment) required\n  returns String\n  handler replaceCollection assignments",
                "returns Collection(",
            ),
            (
                "function f on deviceCompliancePolicy\n  displayName: String required\n  returns Collection(deviceCompliancePolicy)\n  handler membersWhere displayName",
                "binds to a collection",
            ),
            (
                "function f on Collection(deviceCompliancePolicy)\n  displayName: Int32 required\n  returns Collection(deviceCompliancePolicy)\n  handler membersWhere displayName",
                "takes a required displayName",
            ),
        ];
        for (text, wanted) in cases {
            let err = with(text).err().unwrap_or_default();
            assert!(err.contains(wanted), "{text:?}: {err:?}");
        }
    }
}

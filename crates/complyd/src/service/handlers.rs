//! The implementations that the model's actions and functions name (`handler NAME WORD…`). Each
//! checks at start that a declaration fits it, then serves its calls. A new operation is a
//! declaration in the model plus, when none of these fits, one more entry here.

use super::invoke::Invocation;
use super::locate::Location;
use super::{
    check_exists, fidelity, insert_rows, plan_rows, route_error, Call, Fidelity, JsonObject, Reply,
    Service,
};
use crate::error::ApiError;
use futures_util::future::BoxFuture;
use odata::edm::{Binding, Model, Operation, Primitive, TypeRef, ValueType, Version};
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

impl Service {
    /// `replaceCollection`: the contained collection is cleared and the members given are
    /// created in its place, in one write; the members are the answer when one is declared.
    async fn replace_collection(&self, invocation: Invocation) -> Result<Reply, ApiError> {
        let Invocation {
            call,
            operation,
            arguments,
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
        let created = self.replace_members(&call, &nav.name, &members).await?;
        if operation.returns.is_none() {
            return Ok(Reply::NoContent);
        }
        if self.settings.fidelity == Fidelity::Intune && operation.live_empty_answer {
            return Ok(Reply::EmptyOk);
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
    ) -> Result<Vec<(String, String, Map<String, Value>)>, ApiError> {
        let (collection, parent, must_exist) =
            Location::of(&call.tenant, &call.path).below(&call.tenant, navigation);
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
        let refs: Vec<_> = members
            .iter()
            .flat_map(|m| super::references::of_entity(self.model, &call.tenant, m))
            .collect();
        let created: Vec<(String, String, Map<String, Value>)> = rows
            .iter()
            .filter(|r| r.key.collection == collection)
            .map(|r| (r.type_name.clone(), r.key.id.clone(), r.body.clone()))
            .collect();
        let tenant = call.tenant.clone();
        self.store
            .write(move |tx| {
                check_exists(tx, &must_exist)?;
                super::references::require(tx, &refs)?;
                tx.clear_collection(&tenant, &collection, &parent)?;
                insert_rows(tx, &rows)
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

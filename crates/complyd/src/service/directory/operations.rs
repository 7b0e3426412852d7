//! The handlers of the directory's operations (named in the model, listed in `handlers.rs`):
//! `memberGroups SET check|groups|objects` (checkMemberGroups, getMemberGroups,
//! getMemberObjects), `byIds` (getByIds) and `validateRule PROPERTY` (validateFilter).

use super::errors::bad_request;
use super::View;
use crate::error::ApiError;
use crate::service::invoke::Invocation;
use crate::service::{parse_body, route_error, rules, Call, JsonObject, Reply, Service};
use crate::store::{Query, Related};
use odata::edm::{Binding, Model, Operation, TypeKind, ValueType, Version};
use odata::query::bind::{Condition, Literal, Operand, Scalar};
use odata::validate::Argument;
use serde_json::{json, Value};

const MODES: [&str; 3] = ["check", "groups", "objects"];

/// `memberGroups SET MODE`: bound to an entity; SET names link sets with a forward navigation;
/// returns `Collection(String)`.
pub fn fits_member_groups(model: &Model, op: &Operation) -> Result<(), String> {
    let [set, mode] = op.handler_args.as_slice() else {
        return Err("takes a link set and one of check, groups, objects".into());
    };
    if !MODES.contains(&mode.as_str()) {
        return Err(format!("'{mode}' is not one of check, groups, objects"));
    }
    if model.link_collection(set).is_none() {
        return Err(format!("no navigation declares the links '{set}'"));
    }
    if !matches!(op.binding, Binding::Entity(_)) {
        return Err("binds to an entity".into());
    }
    match &op.returns {
        Some(t)
            if t.collection && t.value == ValueType::Primitive(odata::edm::Primitive::String) =>
        {
            Ok(())
        }
        _ => Err("returns Collection(String)".into()),
    }
}

/// `byIds`: bound to a collection, with a required `ids` and an optional `types`, returning
/// the collection's type.
pub fn fits_by_ids(_model: &Model, op: &Operation) -> Result<(), String> {
    let Binding::Collection(bound) = &op.binding else {
        return Err("binds to a collection".into());
    };
    let strings = |name: &str| {
        op.parameter(name).is_some_and(|p| {
            p.ty.collection && p.ty.value == ValueType::Primitive(odata::edm::Primitive::String)
        })
    };
    if !strings("ids") || !op.parameter("ids").is_some_and(|p| p.required) || !strings("types") {
        return Err("takes a required ids and an optional types, both Collection(String)".into());
    }
    match &op.returns {
        Some(t) if t.collection && t.value == ValueType::Complex(bound.clone()) => Ok(()),
        _ => Err(format!("returns Collection({bound})")),
    }
}

/// `validateRule PROPERTY`: bound to a collection, its one required parameter an entity of
/// that type whose PROPERTY holds a rule; returns a complex type with a Boolean property.
pub fn fits_validate_rule(model: &Model, op: &Operation) -> Result<(), String> {
    let [property] = op.handler_args.as_slice() else {
        return Err("takes one word".into());
    };
    let Binding::Collection(bound) = &op.binding else {
        return Err("binds to a collection".into());
    };
    let ty = model.structured(bound).ok_or("unknown binding")?;
    if model
        .property(ty, property, Version::Beta)
        .is_none_or(|p| p.rule.is_none())
    {
        return Err(format!("{bound}.{property} holds no rule"));
    }
    match op.parameters.as_slice() {
        [p] if p.required
            && p.ty.value == ValueType::Complex(bound.clone())
            && !p.ty.collection => {}
        _ => return Err(format!("takes one required {bound}")),
    }
    let result = match &op.returns {
        Some(t) if !t.collection => match &t.value {
            ValueType::Complex(name) => model.structured(name),
            _ => None,
        },
        _ => None,
    };
    match result.filter(|r| r.kind == TypeKind::Complex) {
        Some(r) if boolean_of(model, r).is_some() => Ok(()),
        _ => Err("returns a complex type with a Boolean property".into()),
    }
}

fn boolean_of<'m>(model: &'m Model, ty: &'m odata::edm::StructuredType) -> Option<&'m str> {
    model
        .all_properties(ty)
        .into_iter()
        .find(|p| p.ty.value == ValueType::Primitive(odata::edm::Primitive::Boolean))
        .map(|p| p.name.as_str())
}

impl Service {
    /// The entity an operation is bound to: the path's last step with its key.
    async fn bound_object(&self, call: &Call) -> Result<(View, crate::store::Row), ApiError> {
        let step = call.path.steps.last().ok_or_else(|| route_error(call))?;
        let key = step.key.clone().ok_or_else(|| route_error(call))?;
        let view = if call.path.steps.len() == 1 {
            View::of(self.model, call.path.root)?
        } else {
            View::of_type(self.model, step.target)?
        };
        let row = self.directory_object(&call.tenant, view, &key).await?;
        Ok((view, row))
    }

    pub(in crate::service) async fn member_groups(
        &self,
        invocation: Invocation,
    ) -> Result<Reply, ApiError> {
        let Invocation {
            call,
            operation,
            arguments,
            ..
        } = invocation;
        let (set, mode) = match operation.handler_args.as_slice() {
            [set, mode] => (set.as_str(), mode.as_str()),
            _ => return Err(route_error(&call)),
        };
        let (view, row) = self.bound_object(&call).await?;
        let links = self
            .model
            .link_collection(set)
            .ok_or_else(|| route_error(&call))?;
        let mut query = Query::all(&call.tenant, view.storage, "");
        query.related = Some(Related {
            links,
            anchor: row.key.id.clone(),
            inverse: true,
            transitive: true,
        });
        let argument = |name: &str| {
            arguments.iter().find_map(|(p, a)| match a {
                Argument::Value(v) if p.name == name => Some(v.clone()),
                _ => None,
            })
        };
        let security_only = argument("securityEnabledOnly").and_then(|v| v.as_bool()) == Some(true);
        let mut ids = Vec::new();
        for (owner, _) in self.store.query(query).await? {
            let body = parse_body(&owner.body)?;
            if security_only && body.get("securityEnabled").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            ids.push(owner.key.id);
        }
        if mode == "check" {
            let asked: Vec<String> = argument("groupIds")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            ids = asked.into_iter().filter(|a| ids.contains(a)).collect();
        }
        Ok(Reply::Collection {
            context: "Collection(Edm.String)".into(),
            items: ids
                .iter()
                .map(|id| JsonObject::of_value(&json!(id)))
                .collect(),
            count: None,
            skiptoken: None,
        })
    }

    pub(in crate::service) async fn by_ids(
        &self,
        invocation: Invocation,
    ) -> Result<Reply, ApiError> {
        let Invocation {
            call, arguments, ..
        } = invocation;
        let bound = call
            .path
            .steps
            .last()
            .map(|s| s.target)
            .ok_or_else(|| route_error(&call))?;
        let view = View::of(self.model, call.path.root)?;
        let strings = |name: &str| -> Vec<String> {
            arguments
                .iter()
                .find_map(|(p, a)| match a {
                    Argument::Value(Value::Array(items)) if p.name == name => Some(
                        items
                            .iter()
                            .filter_map(|i| i.as_str().map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let ids = strings("ids");
        let mut types = Vec::new();
        for asked in strings("types") {
            let qualified = if asked.contains('.') {
                asked.clone()
            } else {
                format!("microsoft.graph.{asked}")
            };
            let ty = self
                .model
                .structured(&qualified)
                .filter(|t| self.model.is_derived_from(t, &bound.name))
                .ok_or_else(|| bad_request(format!("Invalid type '{asked}' in types.")))?;
            types.extend(
                self.model
                    .concrete_types(&ty.name, call.version)
                    .into_iter()
                    .map(|t| t.name.clone()),
            );
        }
        let mut terms = vec![Condition::In {
            left: Operand::Id,
            list: ids.iter().map(|i| Literal::String(i.clone())).collect(),
            ty: Scalar::String,
        }];
        if !types.is_empty() {
            terms.push(Condition::IsOf(types));
        }
        let mut query = Query::all(&call.tenant, view.storage, "");
        query.filter = Some(Condition::And(terms));
        let plain = odata::query::bind::bind(self.model, call.version, bound, &Default::default())?;
        let mut items = Vec::new();
        for (row, _) in self.store.query(query).await? {
            items.push(self.shape(&row, &plain, call.version, None).await?);
        }
        Ok(Reply::Collection {
            context: format!("Collection({})", bound.name),
            items,
            count: None,
            skiptoken: None,
        })
    }

    pub(in crate::service) async fn validate_rule(
        &self,
        invocation: Invocation,
    ) -> Result<Reply, ApiError> {
        let Invocation {
            call,
            operation,
            arguments,
            ..
        } = invocation;
        let property = operation
            .handler_args
            .first()
            .ok_or_else(|| route_error(&call))?;
        let entity = arguments
            .iter()
            .find_map(|(_, a)| match a {
                Argument::Entities(items) => items.first(),
                Argument::Value(_) => None,
            })
            .ok_or_else(|| route_error(&call))?;
        let text = entity
            .properties
            .get(property)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let valid = rules::bound(self.model, entity.ty, property, text).is_ok();
        let result = match &operation.returns {
            Some(t) => match &t.value {
                ValueType::Complex(name) => self.model.structured(name),
                _ => None,
            },
            None => None,
        }
        .ok_or_else(|| route_error(&call))?;
        let flag = boolean_of(self.model, result).ok_or_else(|| route_error(&call))?;
        let value = json!({ "@odata.type": format!("#{}", result.name), flag: valid });
        Ok(Reply::Entity {
            context: result.name.clone(),
            body: JsonObject::from_map(&serde_json::Map::from_iter([("value".to_string(), value)])),
            created: false,
        })
    }
}

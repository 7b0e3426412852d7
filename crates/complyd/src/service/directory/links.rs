//! Links: the linked navigations read (one level or every level, forwards or back), written with
//! `$ref` and `NAV@odata.bind`, expanded with `$expand`.

use super::dynamic;
use super::errors::{bad_request, denied, not_found};
use super::objects::{alternate_key, pointed_id};
use super::View;
use crate::error::ApiError;
use crate::service::{read, route_error, Call, JsonObject, Reply, Service};
use crate::store::{Key, Query, Related, WriteTx};
use futures_util::future::BoxFuture;
use odata::edm::{Links, Model, Navigation, RootKind, StructuredType, Version};
use odata::path::{Addressed, ResourcePath};
use odata::query::bind::{BoundExpand, Compare, Condition, Literal, Operand, Scalar};
use serde_json::Value;

/// The most members one `NAV@odata.bind` may name (Graph's documented limit for a request).
const MAX_BINDS: usize = 20;

/// Graph's answer to a `$ref` POST without a body (research notes: pnp/pnpframework#139 era).
const NO_BODY: &str = "An unexpected 'EndOfInput' node was found when reading from the JSON reader. A 'StartObject' node was expected.";

/// Entra's answer to a link that exists already (pnp/pnpframework#139).
fn twice(set: &str) -> ApiError {
    bad_request(format!(
        "One or more added object references already exist for the following modified properties: '{set}'."
    ))
}

fn invalid_reference(text: &str) -> ApiError {
    bad_request(format!("Invalid object identifier '{text}'."))
}

/// The links one navigation writes, with the set's name and where its rows live.
fn writable(model: &Model, nav: &Navigation) -> Option<(String, String)> {
    let links = nav.links.as_ref()?;
    if links.inverse || links.transitive {
        return None;
    }
    Some((links.set.clone(), model.link_collection(&links.set)?))
}

/// The scope of a linked navigation read from `owner`.
fn related(model: &Model, links: &Links, owner: &str) -> Result<Related, ApiError> {
    let collection = model
        .link_collection(&links.set)
        .ok_or_else(|| ApiError::Internal(format!("no links {}", links.set)))?;
    Ok(Related {
        links: collection,
        anchor: owner.to_string(),
        inverse: links.inverse,
        transitive: links.transitive,
    })
}

/// The key an `@odata.id` (absolute on any host, or relative) names: a member of a root stored
/// where the navigation's targets are (`…/directoryObjects/{id}`, `users('{id}')`).
fn reference_key(
    model: &'static Model,
    version: Version,
    target: View,
    text: &str,
) -> Option<String> {
    let path = match text.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, p)| p),
        None => text,
    };
    let path = path.trim_start_matches('/');
    let path = ["v1.0/", "beta/"]
        .iter()
        .find_map(|v| path.strip_prefix(v))
        .unwrap_or(path);
    let parsed = ResourcePath::parse(model, version, path).ok()?;
    let stored_there = model
        .structured(&parsed.root.type_name)
        .and_then(|t| model.storage_of(t))
        .is_some_and(|r| r.name == target.storage);
    if parsed.root.kind != RootKind::EntitySet
        || parsed.addressed() != Addressed::Entity
        || parsed.steps.len() != 1
        || !stored_there
    {
        return None;
    }
    parsed.steps[0].key.clone()
}

/// A member named by id or by an alternate key of its type, inside the write; 404 when none.
fn member_in(
    tx: &mut dyn WriteTx,
    model: &Model,
    tenant: &str,
    target: View,
    key: &str,
) -> Result<String, ApiError> {
    let of_target = |type_name: &str| {
        model
            .structured(type_name)
            .is_some_and(|t| model.is_derived_from(t, &target.ty.name))
    };
    if let Some(row) = tx.get(&target.key(tenant, key))? {
        if of_target(&row.type_name) {
            return Ok(row.key.id);
        }
        return Err(not_found(key));
    }
    for ty in model.concrete_types(&target.ty.name, Version::Beta) {
        for prop in model
            .all_properties(ty)
            .into_iter()
            .filter(|p| p.alternate_key)
        {
            let pointer = tx.get(&alternate_key(tenant, target.storage, &prop.name, key))?;
            if let Some(id) = pointer.and_then(|p| pointed_id(&p.body)) {
                return Ok(id);
            }
        }
    }
    Err(not_found(key))
}

/// Adds the link `owner` → `member` in `collection` (the set `set`): 404 for an unknown member,
/// 400 for a link that exists, or to itself; 403 when the owner's links are computed.
fn link(
    tx: &mut dyn WriteTx,
    tenant: &str,
    (set, collection): (&str, &str),
    owner: &str,
    member: &str,
) -> Result<(), ApiError> {
    if dynamic::is_computed(tx, tenant, collection, owner)? {
        return Err(denied());
    }
    if owner == member {
        return Err(bad_request(
            "An object cannot be added as a member of itself.",
        ));
    }
    let key = Key {
        tenant: tenant.to_string(),
        collection: collection.to_string(),
        parent: owner.to_string(),
        id: member.to_string(),
    };
    if tx.get(&key)?.is_some() {
        return Err(twice(set));
    }
    tx.insert(&key, "complyd.link", "{}")?;
    Ok(())
}

/// Members named in a body's `NAV@odata.bind`, to link once the owner is written.
#[derive(Debug, Default)]
pub struct Binds {
    items: Vec<Bind>,
}

#[derive(Debug)]
struct Bind {
    set: String,
    collection: String,
    target: View,
    /// Keys as the references named them (an id, or an alternate key).
    keys: Vec<String>,
}

impl Binds {
    /// Takes every `NAV@odata.bind` out of `body`, each naming a writable linked navigation of
    /// `ty`, its value an array of references.
    pub fn take(
        service: &Service,
        call: &Call,
        ty: &StructuredType,
        body: &mut Value,
    ) -> Result<Self, ApiError> {
        let model = service.model;
        let mut out = Self::default();
        let Some(object) = body.as_object_mut() else {
            return Ok(out);
        };
        let named: Vec<String> = object
            .keys()
            .filter(|k| k.ends_with("@odata.bind"))
            .cloned()
            .collect();
        for name in named {
            let value = object.remove(&name).unwrap_or(Value::Null);
            let nav_name = name.trim_end_matches("@odata.bind");
            let nav = model
                .navigation(ty, nav_name, call.version)
                .filter(|n| writable(model, n).is_some())
                .ok_or_else(|| {
                    bad_request(format!(
                        "'{name}' names no navigation whose links can be written."
                    ))
                })?;
            let (set, collection) = writable(model, nav).ok_or_else(|| route_error(call))?;
            let target_ty = model
                .structured(&nav.target)
                .ok_or_else(|| ApiError::Internal(format!("no type {}", nav.target)))?;
            let target = View::of_type(model, target_ty)?;
            let refs = value
                .as_array()
                .ok_or_else(|| bad_request(format!("'{name}' takes an array of references.")))?;
            if refs.len() > MAX_BINDS {
                return Err(bad_request(format!(
                    "'{name}' names {} objects; at most {MAX_BINDS} may be added in one request (the limit).",
                    refs.len()
                )));
            }
            let keys = refs
                .iter()
                .map(|r| {
                    let text = r.as_str().unwrap_or_default();
                    reference_key(model, call.version, target, text)
                        .ok_or_else(|| invalid_reference(text))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.items.push(Bind {
                set,
                collection,
                target,
                keys,
            });
        }
        Ok(out)
    }

    /// Links `owner` to every member named (inside the owner's write).
    pub fn apply(
        &self,
        tx: &mut dyn WriteTx,
        model: &Model,
        tenant: &str,
        owner: &str,
    ) -> Result<(), ApiError> {
        for bind in &self.items {
            for key in &bind.keys {
                let member = member_in(tx, model, tenant, bind.target, key)?;
                link(tx, tenant, (&bind.set, &bind.collection), owner, &member)?;
            }
        }
        Ok(())
    }
}

impl Service {
    /// The owner of a linked path (`/groups/{id}/members…`), its navigation, and the view of the
    /// navigation's targets.
    async fn linked_path(
        &self,
        call: &Call,
    ) -> Result<(String, &'static Navigation, View), ApiError> {
        let (_, owner) = self.path_object(call).await?;
        let nav = call
            .path
            .steps
            .get(1)
            .map(|s| s.navigation)
            .ok_or_else(|| route_error(call))?;
        let target_ty = self
            .model
            .structured(&nav.target)
            .ok_or_else(|| ApiError::Internal(format!("no type {}", nav.target)))?;
        Ok((owner.key.id, nav, View::of_type(self.model, target_ty)?))
    }

    /// The query of a linked navigation from `owner`, with the bound options.
    fn linked_query(
        &self,
        call: &Call,
        owner: &str,
        nav: &Navigation,
        target: View,
    ) -> Result<(Query, odata::query::bind::BoundQuery<'static>, bool), ApiError> {
        let links = nav.links.as_ref().ok_or_else(|| route_error(call))?;
        let (bound, count) = self.directory_bind(call, target.ty)?;
        let mut query = self.view_query(&call.tenant, target, &bound);
        query.related = Some(related(self.model, links, owner)?);
        Ok((query, bound, count))
    }

    pub(super) async fn list_linked(&self, call: Call) -> Result<Reply, ApiError> {
        let (owner, nav, target) = self.linked_path(&call).await?;
        let (query, bound, count) = self.linked_query(&call, &owner, nav, target)?;
        self.directory_page(&call, query, &bound, count).await
    }

    pub(super) async fn count_linked(&self, call: Call) -> Result<Reply, ApiError> {
        self.directory_count_allowed(&call)?;
        let (owner, nav, target) = self.linked_path(&call).await?;
        let (query, _, _) = self.linked_query(&call, &owner, nav, target)?;
        Ok(Reply::Count(self.store.count_matching(query).await?))
    }

    /// `/groups/{id}/members/{id}`: the member, when it is linked.
    pub(super) async fn read_linked(&self, call: Call) -> Result<Reply, ApiError> {
        let (owner, nav, target) = self.linked_path(&call).await?;
        let member = call
            .path
            .steps
            .get(1)
            .and_then(|s| s.key.clone())
            .ok_or_else(|| route_error(&call))?;
        let (mut query, bound, _) = self.linked_query(&call, &owner, nav, target)?;
        let this = Condition::Compare {
            op: Compare::Eq,
            left: Operand::Id,
            right: Operand::Literal(Literal::String(member.clone())),
            ty: Scalar::String,
        };
        query.filter = Some(match query.filter.take() {
            Some(f) => Condition::And(vec![f, this]),
            None => this,
        });
        query.limit = 1;
        let rows = self.store.query(query).await?;
        let (row, _) = rows.first().ok_or_else(|| not_found(&member))?;
        let body = self.shape(row, &bound, call.version, None).await?;
        Ok(Reply::Entity {
            context: read::entity_context(&call.path, &bound),
            body,
            created: false,
        })
    }

    /// `POST …/members/$ref` with `{"@odata.id": "…/directoryObjects/{id}"}`.
    pub(super) async fn add_reference(&self, mut call: Call) -> Result<Reply, ApiError> {
        let (owner, nav, target) = self.linked_path(&call).await?;
        let (set, collection) = writable(self.model, nav).ok_or_else(|| route_error(&call))?;
        let body = call.body.take().ok_or_else(|| bad_request(NO_BODY))?;
        let text = body
            .get("@odata.id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad_request("The request body must name the object to add in '@odata.id'.")
            })?;
        let key = reference_key(self.model, call.version, target, text)
            .ok_or_else(|| invalid_reference(text))?;
        let (model, tenant) = (self.model, call.tenant.clone());
        self.store
            .write(move |tx| {
                let member = member_in(tx, model, &tenant, target, &key)?;
                link(tx, &tenant, (&set, &collection), &owner, &member)?;
                dynamic::refresh_after_link(tx, model, &tenant, target.storage, &member)
            })
            .await?;
        Ok(Reply::NoContent)
    }

    /// `DELETE …/members/{id}/$ref`.
    pub(super) async fn remove_reference(&self, call: Call) -> Result<Reply, ApiError> {
        let (owner, nav, target) = self.linked_path(&call).await?;
        let (_, collection) = writable(self.model, nav).ok_or_else(|| route_error(&call))?;
        // `…/members/{id}/$ref`, or `…/members/$ref?@id=…/directoryObjects/{id}` (the SDKs' form).
        let named = call.path.steps.get(1).and_then(|s| s.key.clone());
        let member =
            match (named, &call.query.reference) {
                (Some(key), _) => key,
                (None, Some(text)) => reference_key(self.model, call.version, target, text)
                    .ok_or_else(|| invalid_reference(text))?,
                (None, None) => return Err(bad_request(
                    "Name the member to remove: …/{id}/$ref, or $ref?@id=…/directoryObjects/{id}.",
                )),
            };
        let (model, tenant) = (self.model, call.tenant.clone());
        self.store
            .write(move |tx| {
                if dynamic::is_computed(tx, &tenant, &collection, &owner)? {
                    return Err(denied());
                }
                let key = Key {
                    tenant: tenant.clone(),
                    collection,
                    parent: owner,
                    id: member.clone(),
                };
                if !tx.delete_tree(&key)? {
                    return Err(not_found(&member));
                }
                dynamic::refresh_after_link(tx, model, &tenant, target.storage, &member)
            })
            .await?;
        Ok(Reply::NoContent)
    }

    /// `$expand` of a linked navigation on an entity of the directory (at most `limit` members).
    pub(in crate::service) fn expanded_links<'a>(
        &'a self,
        owner: &'a Key,
        expand: &'a BoundExpand<'static>,
        version: Version,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let links = expand
                .navigation
                .links
                .as_ref()
                .ok_or_else(|| ApiError::Internal("not a linked navigation".into()))?;
            let target = View::of_type(self.model, expand.target)?;
            let mut query = self.view_query(&owner.tenant, target, &expand.query);
            query.related = Some(related(self.model, links, &owner.id)?);
            let limit = expand
                .query
                .top
                .unwrap_or(read::EXPAND_LIMIT)
                .min(read::EXPAND_LIMIT);
            let page = self
                .page(query, &expand.query, version, None, limit, None)
                .await?;
            Ok(Value::Array(
                page.items.iter().map(JsonObject::to_value).collect(),
            ))
        })
    }
}

//! The directory: roots whose entities take part in links (`links SET` navigations), such as
//! `/directoryObjects` and its typed views `/users`, `/groups` and `/devices` (`stored-in`).
//!
//! Everything here follows the model: a view shows the members of its type; an entity may be
//! addressed by its alternate key; a secret property is taken out of the body into the token
//! service's sign-in record; links are rows of their own (`{storage}/{set}`, parent the owner,
//! id the member) that `$ref` writes and deletes, that `members@odata.bind` adds, that the
//! navigations read one level or every level, and that go with either end; a `computed-by`
//! navigation's links are computed from its owner's rule, in the same write as any change of
//! the entities it ranges over. Entra's error codes answer on `entra-errors` roots, and
//! `$search`/`$count` follow `ConsistencyLevel: eventual` on `advanced-queries` ones.

mod accounts;
pub(super) mod dynamic;
mod errors;
mod links;
mod objects;
pub(super) mod operations;
mod queries;

use super::{route_error, Call, Operation, Reply, Service};
use crate::error::ApiError;
use crate::store::{Key, Row};
use odata::edm::{Model, Root, RootKind, StructuredType};
use odata::path::Addressed;

pub(super) use errors::not_found;

/// A root as the directory sees it: where its entities are stored and of which type it shows
/// them.
#[derive(Debug, Clone, Copy)]
pub(super) struct View {
    pub storage: &'static str,
    /// The type of the stored collection's root (`directoryObject`).
    pub stored: &'static StructuredType,
    /// The type this root shows (`user`).
    pub ty: &'static StructuredType,
}

impl View {
    pub fn of(model: &'static Model, root: &'static Root) -> Result<Self, ApiError> {
        let missing = || ApiError::Internal(format!("root {} has no storage", root.name));
        let ty = model.structured(&root.type_name).ok_or_else(missing)?;
        let storage = model.storage_of(ty).ok_or_else(missing)?;
        let stored = model.structured(&storage.type_name).ok_or_else(missing)?;
        Ok(Self {
            storage: &storage.name,
            stored,
            ty,
        })
    }

    /// The view of the entities of `ty` (a linked navigation's target).
    pub fn of_type(model: &'static Model, ty: &'static StructuredType) -> Result<Self, ApiError> {
        let storage = model
            .storage_of(ty)
            .ok_or_else(|| ApiError::Internal(format!("no root stores {}", ty.name)))?;
        let stored = model
            .structured(&storage.type_name)
            .ok_or_else(|| ApiError::Internal(format!("no type {}", storage.type_name)))?;
        Ok(Self {
            storage: &storage.name,
            stored,
            ty,
        })
    }

    pub fn key(&self, tenant: &str, id: &str) -> Key {
        Key {
            tenant: tenant.to_string(),
            collection: self.storage.to_string(),
            parent: String::new(),
            id: id.to_string(),
        }
    }
}

impl Service {
    /// Whether `call` is the directory's: its root takes part in links.
    pub(super) fn is_directory(&self, call: &Call) -> bool {
        call.path.root.kind == RootKind::EntitySet && self.model.root_is_linked(call.path.root)
    }

    pub(super) async fn directory(&self, call: Call) -> Result<Reply, ApiError> {
        let entra = call.path.root.navigation.root.entra_errors;
        let answer = self.directory_route(call).await;
        if entra {
            answer.map_err(errors::entra)
        } else {
            answer
        }
    }

    async fn directory_route(&self, call: Call) -> Result<Reply, ApiError> {
        let linked = call.path.steps.len() == 2 && call.path.steps[1].navigation.links.is_some();
        let viewed =
            call.path.steps.len() == 2 && call.path.steps[1].navigation.rules.view.is_some();
        if viewed {
            return self.directory_view(call).await;
        }
        match (call.path.addressed(), call.operation, linked) {
            (Addressed::Collection, Operation::Get, false) => self.list_objects(call).await,
            (Addressed::Collection, Operation::Post, false) => self.create_object(call).await,
            (Addressed::Count, Operation::Get, false) => self.count_objects(call).await,
            (Addressed::Entity, Operation::Get, false) => self.read_object(call).await,
            (Addressed::Entity, Operation::Patch, false) => self.update_object(call).await,
            (Addressed::Entity, Operation::Delete, false) => self.delete_object(call).await,
            (Addressed::Collection, Operation::Get, true) => self.list_linked(call).await,
            (Addressed::Count, Operation::Get, true) => self.count_linked(call).await,
            (Addressed::Entity, Operation::Get, true) => self.read_linked(call).await,
            (Addressed::References, Operation::Post, true) => self.add_reference(call).await,
            (Addressed::Reference, Operation::Delete, true) => self.remove_reference(call).await,
            (Addressed::References, Operation::Delete, true) => self.remove_reference(call).await,
            (Addressed::Action, Operation::Post, _) | (Addressed::Function, Operation::Get, _) => {
                self.invoke(call).await
            }
            _ => Err(route_error(&call)),
        }
    }

    /// A view below a directory object (`/users/{id | userPrincipalName}/managedDevices`): the
    /// object found as any read finds it, then the view read for its id.
    async fn directory_view(&self, mut call: Call) -> Result<Reply, ApiError> {
        let (_, row) = self.path_object(&call).await?;
        call.path.steps[0].key = Some(row.key.id.clone());
        match (call.path.addressed(), call.operation) {
            (Addressed::Collection, Operation::Get) => self.list(call).await,
            (Addressed::Count, Operation::Get) => self.count(call).await,
            _ => Err(route_error(&call)),
        }
    }

    /// The stored entity `key` names in `view`: by id, else by the view's alternate key; 404
    /// (Entra's) when there is none of the view's type.
    pub(super) async fn directory_object(
        &self,
        tenant: &str,
        view: View,
        key: &str,
    ) -> Result<Row, ApiError> {
        let of_view = |row: &Row| {
            self.model
                .structured(&row.type_name)
                .is_some_and(|t| self.model.is_derived_from(t, &view.ty.name))
        };
        if let Some(row) = self.store.get(&view.key(tenant, key)).await? {
            if of_view(&row) {
                return Ok(row);
            }
            return Err(not_found(key));
        }
        for prop in self.model.all_properties(view.ty) {
            if !prop.alternate_key {
                continue;
            }
            let pointer = self
                .store
                .get(&objects::alternate_key(
                    tenant,
                    view.storage,
                    &prop.name,
                    key,
                ))
                .await?;
            let id = pointer.and_then(|p| objects::pointed_id(&p.body));
            if let Some(id) = id {
                if let Some(row) = self.store.get(&view.key(tenant, &id)).await? {
                    if of_view(&row) {
                        return Ok(row);
                    }
                }
            }
        }
        Err(not_found(key))
    }

    /// The entity the path's first step names (`/users/{id}`).
    pub(super) async fn path_object(&self, call: &Call) -> Result<(View, Row), ApiError> {
        let view = View::of(self.model, call.path.root)?;
        let key = call
            .path
            .steps
            .first()
            .and_then(|s| s.key.clone())
            .ok_or_else(|| route_error(call))?;
        let row = self.directory_object(&call.tenant, view, &key).await?;
        Ok((view, row))
    }
}

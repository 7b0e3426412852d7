//! Reads: collections with the bound query options (filter, order, keyset paging, `$select`,
//! `$expand`, counts), single entities and single-valued navigations.

use super::locate::Location;
use super::{fidelity, not_found, parse_body, Call, JsonObject, Reply, Service};
use crate::error::ApiError;
use crate::store::{Answers, Cursor, Key, PageRow, Query, Read, Row};
use futures_util::future::BoxFuture;
use odata::edm::{Navigation, StructuredType};
use odata::path::ResourcePath;
use odata::query::bind::{self, BoundExpand, BoundQuery};
use odata::Model;
use odata::Version;
use serde_json::{Map, Value};

/// The most members an expanded collection shows.
pub(super) const EXPAND_LIMIT: usize = 1000;

/// One page of projected entities and the cursor of the next, if any.
pub(super) struct Page {
    pub items: Vec<JsonObject>,
    pub next: Option<Cursor>,
}

impl Service {
    pub(super) fn bind(&self, call: &Call) -> Result<BoundQuery<'static>, ApiError> {
        let target = call.target()?;
        Ok(bind::bind(self.model, call.version, target, &call.query)?)
    }

    /// Where the members `call` addresses are stored: for a view (`view PATH`), the viewed
    /// collection, shown as the view's type; else the path's own location.
    fn source(&self, call: &Call) -> Result<(Location, Option<&'static StructuredType>), ApiError> {
        let view = call
            .path
            .steps
            .last()
            .and_then(|s| s.navigation.rules.view.as_deref());
        let Some(view) = view else {
            return Ok((Location::of(&call.tenant, &call.path), None));
        };
        let viewed = ResourcePath::parse(self.model, Version::Beta, view)
            .map_err(|e| ApiError::Internal(format!("view /{view}: {}", e.message)))?;
        let mut location = Location::of(&call.tenant, &viewed);
        location.id = call.path.steps.last().and_then(|s| s.key.clone());
        Ok((location, Some(call.target()?)))
    }

    /// The collection `call` addresses: the bound query options, the live filter rules applied,
    /// and the store query they select; for a view, the type its members are shown as. Its
    /// containers are looked up afterwards, by [`Service::below_containers`].
    async fn scoped(
        &self,
        call: &Call,
    ) -> Result<(BoundQuery<'static>, Query, Option<&'static StructuredType>), ApiError> {
        if call.query.search.is_some() {
            return Err(ApiError::bad_request(
                "The query option '$search' is not supported on this resource.",
            ));
        }
        let (location, shown_as) = self.source(call)?;
        let mut bound = self.bind(call)?;
        if let Some(view) = shown_as {
            rename_for_view(self.model, view, &mut bound);
        }
        fidelity::apply_filter_rules(
            self.settings.fidelity,
            call.path.steps.last().map(|s| s.navigation),
            &location.collection,
            &mut bound,
        )?;
        let mut query = Query::all(&call.tenant, &location.collection, &location.parent);
        let followed = self.followed.of(&call.target()?.name);
        query.filter = self
            .follow_filter(&call.tenant, followed, bound.filter.clone())
            .await?;
        if let Some(owned) = view_owner(call) {
            query.filter = Some(match query.filter.take() {
                Some(filter) => odata::query::bind::Condition::And(vec![filter, owned]),
                None => owned,
            });
        }
        Ok((bound, query, shown_as))
    }

    /// `answer`, unless a container along `call`'s path is missing: then its 404, which Graph
    /// puts before any other error. Rows below a container imply that it exists (a delete takes
    /// its subtree in the same write), so the containers are looked up only when `found` says the
    /// answer has none.
    async fn below_containers(
        &self,
        call: &Call,
        answer: Result<Reply, ApiError>,
        found: fn(&Reply) -> bool,
    ) -> Result<Reply, ApiError> {
        if answer.as_ref().is_ok_and(found) {
            return answer;
        }
        let (location, shown_as) = self.source(call)?;
        if shown_as.is_none() {
            self.require_ancestors(&location).await?;
        }
        answer
    }

    pub(super) async fn list(&self, call: Call) -> Result<Reply, ApiError> {
        let answer = self.list_members(&call).await;
        self.below_containers(
            &call,
            answer,
            |reply| matches!(reply, Reply::Collection { items, .. } if !items.is_empty()),
        )
        .await
    }

    async fn list_members(&self, call: &Call) -> Result<Reply, ApiError> {
        let (bound, query, shown_as) = self.scoped(call).await?;
        let fingerprint = super::paging::fingerprint(&call.tenant, &query, &bound.orderby);
        let cursor = bound
            .skiptoken
            .as_deref()
            .map(|t| self.token_key.decode(&fingerprint, t))
            .transpose()?;
        let page_size = bound.top.unwrap_or(self.settings.page_size);
        let (count, rows) = if bound.count {
            // The count and the page from one snapshot: they agree.
            let reads = vec![
                Read::CountMatching(query.clone()),
                Read::Query(page_query(query, &bound, cursor, page_size)),
            ];
            let mut answers = Answers::new(self.store.read_together(reads).await?);
            let count = answers.take()?.into_count()?;
            (Some(count), answers.take()?.into_page()?)
        } else {
            let query = page_query(query, &bound, cursor, page_size);
            (None, self.store.query(query).await?)
        };
        let page = self
            .shape_page(rows, &bound, call.version, page_size, shown_as)
            .await?;
        let skiptoken = page.next.map(|c| self.token_key.encode(&fingerprint, &c));
        Ok(Reply::Collection {
            context: with_select(call.path.context_path(), &bound),
            items: page.items,
            count,
            skiptoken,
        })
    }

    /// Fetches, projects and expands one page. `query` carries scope and filter; `shown_as` is
    /// a view's type.
    pub(super) fn page<'a>(
        &'a self,
        query: Query,
        bound: &'a BoundQuery<'static>,
        version: Version,
        cursor: Option<Cursor>,
        limit: usize,
        shown_as: Option<&'static StructuredType>,
    ) -> BoxFuture<'a, Result<Page, ApiError>> {
        Box::pin(async move {
            let rows = self
                .store
                .query(page_query(query, bound, cursor, limit))
                .await?;
            self.shape_page(rows, bound, version, limit, shown_as).await
        })
    }

    /// The rows of a page (read with one more than `limit`, to tell whether another follows),
    /// projected and expanded, and where the next page starts.
    async fn shape_page(
        &self,
        mut rows: Vec<PageRow>,
        bound: &BoundQuery<'static>,
        version: Version,
        limit: usize,
        shown_as: Option<&'static StructuredType>,
    ) -> Result<Page, ApiError> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|(row, values)| Cursor {
                values: values.clone(),
                seq: row.seq,
            })
        } else {
            None
        };
        let mut items = Vec::with_capacity(rows.len());
        for (row, _) in &rows {
            items.push(self.shape(row, bound, version, shown_as).await?);
        }
        Ok(Page { items, next })
    }

    /// A stored row as the client sees it: projected, selected, expanded.
    pub(super) async fn shape(
        &self,
        row: &Row,
        bound: &BoundQuery<'static>,
        version: Version,
        shown_as: Option<&'static StructuredType>,
    ) -> Result<JsonObject, ApiError> {
        if let Some(view) = shown_as {
            let body = parse_body(&row.body)?;
            let shown = self.projection(version).entity(view, &row.key.id, &body);
            return Ok(JsonObject::from_map(&select(shown, bound)));
        }
        let followed = self.followed.of(&row.type_name);
        // A row stored in its /beta shape answers /beta as it is: no parsing, no printing.
        let plain = bound.select.is_none() && bound.expand.is_empty() && followed.is_empty();
        if plain && row.canonical && version == Version::Beta && !self.utc_timestamps() {
            return Ok(JsonObject::typed(&row.type_name, &row.key.id, &row.body));
        }
        let mut body = parse_body(&row.body)?;
        if !followed.is_empty() {
            self.read_followed(&row.key, followed, &mut body).await?;
        }
        let mut projected = self.project_row(version, &row.type_name, &row.key.id, &body)?;
        if bound.select.is_none() && version == Version::V1 {
            projected = self.v1_default_set(&row.type_name, projected);
        }
        let mut out = select(projected, bound);
        for expand in &bound.expand {
            let value = self.expanded(&row.key, expand, version).await?;
            out.insert(expand.navigation.name.clone(), value);
        }
        Ok(JsonObject::from_map(&out))
    }

    fn expanded<'a>(
        &'a self,
        owner: &'a Key,
        expand: &'a BoundExpand<'static>,
        version: Version,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            if expand.navigation.links.is_some() {
                return self.expanded_links(owner, expand, version).await;
            }
            let collection = format!("{}/{}", owner.collection, expand.navigation.name);
            if !expand.navigation.collection {
                let key = Key {
                    tenant: owner.tenant.clone(),
                    collection,
                    parent: owner.child_parent(),
                    id: owner.id.clone(),
                };
                let body = self
                    .single_body(expand.navigation, &key, Some(owner))
                    .await?;
                let projected = self
                    .projection(version)
                    .entity(expand.target, &key.id, &body);
                return Ok(Value::Object(select(projected, &expand.query)));
            }
            let mut query = Query::all(&owner.tenant, &collection, &owner.child_parent());
            let followed = self.followed.of(&expand.target.name);
            query.filter = self
                .follow_filter(&owner.tenant, followed, expand.query.filter.clone())
                .await?;
            let limit = expand.query.top.unwrap_or(EXPAND_LIMIT).min(EXPAND_LIMIT);
            let page = self
                .page(query, &expand.query, version, None, limit, None)
                .await?;
            Ok(Value::Array(
                page.items.iter().map(JsonObject::to_value).collect(),
            ))
        })
    }

    pub(super) async fn count(&self, call: Call) -> Result<Reply, ApiError> {
        let answer = match self.scoped(&call).await {
            Ok((_, query, _)) => self
                .store
                .count_matching(query)
                .await
                .map(Reply::Count)
                .map_err(ApiError::from),
            Err(e) => Err(e),
        };
        self.below_containers(
            &call,
            answer,
            |reply| matches!(reply, Reply::Count(n) if *n > 0),
        )
        .await
    }

    pub(super) async fn read(&self, call: Call) -> Result<Reply, ApiError> {
        let (location, shown_as) = self.source(&call)?;
        let key = location.key(&call.tenant);
        let bound = self.bind(&call)?;
        let row = self.store.get(&key).await?.ok_or_else(|| not_found(&key))?;
        let body = self.shape(&row, &bound, call.version, shown_as).await?;
        Ok(Reply::Entity {
            context: entity_context(&call.path, &bound),
            body,
            created: false,
        })
    }

    pub(super) async fn read_single(&self, call: Call) -> Result<Reply, ApiError> {
        let location = super::locate::Location::of(&call.tenant, &call.path);
        let bound = self.bind(&call)?;
        let ty = call.target()?;
        let nav = call.navigation()?;
        let key = location.key(&call.tenant);
        let body = self
            .single_body(nav, &key, location.ancestors.last())
            .await?;
        let body = select(
            self.projection(call.version).entity(ty, &key.id, &body),
            &bound,
        );
        Ok(Reply::Entity {
            context: entity_context(&call.path, &bound),
            body: JsonObject::from_map(&body),
            created: false,
        })
    }

    /// A single-valued navigation's body: stored (after a PATCH), else derived from what it
    /// counts. Its container, the stored body and the counts are read in one snapshot.
    pub(super) async fn single_body(
        &self,
        nav: &Navigation,
        key: &Key,
        container: Option<&Key>,
    ) -> Result<Map<String, Value>, ApiError> {
        let counted = super::summaries::counted(self.model, nav, key)?;
        let derived = counted.is_some();
        let mut reads = Vec::with_capacity(3);
        reads.extend(container.map(|parent| Read::Get(parent.clone())));
        reads.push(Read::Get(key.clone()));
        reads.extend(counted.map(Read::CountBy));
        let mut answers = Answers::new(self.store.read_together(reads).await?);
        let container_row = match container {
            Some(parent) => Some(
                answers
                    .take()?
                    .into_row()?
                    .ok_or_else(|| not_found(parent))?,
            ),
            None => None,
        };
        if let Some(row) = answers.take()?.into_row()? {
            return parse_body(&row.body);
        }
        if !derived {
            return Ok(Map::new());
        }
        let groups = answers.take()?.into_groups()?;
        super::summaries::derive(
            nav,
            &groups,
            container_row.as_ref().map(|r| r.body.as_str()),
        )
    }
}

/// `query` as one page's read: `bound`'s order, after `cursor` (else past `$skip`), one row more
/// than `limit`.
fn page_query(
    mut query: Query,
    bound: &BoundQuery<'_>,
    cursor: Option<Cursor>,
    limit: usize,
) -> Query {
    query.order = bound.orderby.clone();
    query.skip = if cursor.is_none() {
        bound.skip.unwrap_or(0)
    } else {
        0
    };
    query.cursor = cursor;
    query.limit = limit.saturating_add(1);
    query
}

/// `view /PATH where PROPERTY`: the members whose `PROPERTY` is the owning entity's key.
fn view_owner(call: &Call) -> Option<odata::query::bind::Condition> {
    let steps = &call.path.steps;
    let property = steps.last()?.navigation.rules.view_where.as_deref()?;
    let owner = steps
        .len()
        .checked_sub(2)
        .and_then(|i| steps[i].key.as_deref())?;
    Some(super::engine::property_eq(property, owner))
}

/// A view's filters and sort keys name its properties; the stored rows carry the properties they
/// are shown `from`.
fn rename_for_view(model: &Model, view: &StructuredType, bound: &mut BoundQuery<'_>) {
    let renames: Vec<(String, String)> = model
        .all_properties(view)
        .into_iter()
        .filter_map(|p| p.from.clone().map(|from| (p.name.clone(), from)))
        .collect();
    let rename = |name: &str| {
        renames
            .iter()
            .find(|(shown, _)| shown == name)
            .map(|(_, stored)| stored.clone())
    };
    if let Some(filter) = bound.filter.as_mut() {
        filter.rename_entity_properties(&rename);
    }
    for (operand, _) in &mut bound.orderby {
        operand.rename_entity_properties(&rename);
    }
}

impl Service {
    /// What v1.0 answers without `$select` for a type with a default property set (`v1-default`):
    /// those properties, `id` and `@odata.type`.
    pub(super) fn v1_default_set(
        &self,
        type_name: &str,
        mut entity: Map<String, Value>,
    ) -> Map<String, Value> {
        let Some(ty) = self.model.structured(type_name) else {
            return entity;
        };
        let defaults: Vec<&str> = self
            .model
            .properties(ty, Version::V1)
            .into_iter()
            .filter(|p| p.v1_default)
            .map(|p| p.name.as_str())
            .collect();
        if !defaults.is_empty() {
            entity.retain(|k, _| k == "@odata.type" || k == "id" || defaults.contains(&k.as_str()));
        }
        entity
    }
}

pub(super) fn select(mut entity: Map<String, Value>, bound: &BoundQuery<'_>) -> Map<String, Value> {
    if let Some(names) = &bound.select {
        entity.retain(|k, _| k == "@odata.type" || k == "id" || names.iter().any(|n| n == k));
    }
    entity
}

pub(super) fn with_select(context: String, bound: &BoundQuery<'_>) -> String {
    match &bound.select {
        Some(names) => format!("{context}({})", names.join(",")),
        None => context,
    }
}

pub(super) fn entity_context(path: &ResourcePath<'_>, bound: &BoundQuery<'_>) -> String {
    let mut context = with_select(path.context_path(), bound);
    context.push_str("/$entity");
    context
}

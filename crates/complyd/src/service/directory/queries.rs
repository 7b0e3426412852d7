//! Directory collections: the query options bound with `$search` folded into `$filter`, the
//! view's type test, `$count` as the advanced queries allow it, and keyset paging.

use super::errors::{bad_request, unsupported_query};
use super::View;
use crate::error::ApiError;
use crate::service::{Call, Reply, Service};
use crate::store::Query;
use odata::edm::StructuredType;
use odata::query::bind::{self, BoundQuery, Condition};
use odata::query::filter::{Expr, Logic};
use odata::query::search;

/// Graph's answer to `$search` without the header (microsoft-graph-docs-contrib#3495).
const SEARCH_NEEDS_HEADER: &str = "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'";

impl Service {
    /// The options of a directory collection of `target`, bound: `$search` (advanced queries,
    /// with the header) becomes part of the filter. Also whether to answer `@odata.count`:
    /// without the header an advanced collection answers without it, as Graph does.
    pub(super) fn directory_bind(
        &self,
        call: &Call,
        target: &'static StructuredType,
    ) -> Result<(BoundQuery<'static>, bool), ApiError> {
        let advanced = call.path.root.navigation.root.advanced_queries;
        let mut query = call.query.clone();
        if let Some(text) = &query.search {
            if !advanced {
                return Err(ApiError::bad_request(
                    "The query option '$search' is not supported on this resource.",
                ));
            }
            if !call.eventual {
                return Err(unsupported_query(SEARCH_NEEDS_HEADER));
            }
            let searched = search::to_filter(text)?;
            query.filter = Some(match query.filter.take() {
                Some(given) => Expr::Logical {
                    op: Logic::And,
                    terms: vec![given, searched],
                },
                None => searched,
            });
        }
        let bound = bind::bind(self.model, call.version, target, &query)?;
        let count = bound.count && (call.eventual || !advanced);
        Ok((bound, count))
    }

    /// `/$count` of a directory collection: refused without the header on an advanced one.
    pub(super) fn directory_count_allowed(&self, call: &Call) -> Result<(), ApiError> {
        if call.path.root.navigation.root.advanced_queries && !call.eventual {
            return Err(bad_request("$count is not currently supported."));
        }
        Ok(())
    }

    /// The members of `view` that `bound` selects (the view's type test added to its filter).
    pub(super) fn view_query(&self, tenant: &str, view: View, bound: &BoundQuery<'_>) -> Query {
        let mut query = Query::all(tenant, view.storage, "");
        let mut terms: Vec<Condition> = Vec::new();
        if view.ty.name != view.stored.name {
            let types = self
                .model
                .concrete_types(&view.ty.name, odata::Version::Beta)
                .into_iter()
                .map(|t| t.name.clone())
                .collect();
            terms.push(Condition::IsOf(types));
        }
        terms.extend(bound.filter.clone());
        query.filter = match terms.len() {
            0 => None,
            1 => terms.pop(),
            _ => Some(Condition::And(terms)),
        };
        query
    }

    /// One page of a directory collection, with its count and next link.
    pub(super) async fn directory_page(
        &self,
        call: &Call,
        query: Query,
        bound: &BoundQuery<'static>,
        count: bool,
    ) -> Result<Reply, ApiError> {
        let fingerprint = super::super::paging::fingerprint(&call.tenant, &query, &bound.orderby);
        let cursor = bound
            .skiptoken
            .as_deref()
            .map(|t| self.token_key.decode(&fingerprint, t))
            .transpose()?;
        let count = if count {
            Some(self.store.count_matching(query.clone()).await?)
        } else {
            None
        };
        let page_size = bound.top.unwrap_or(self.settings.page_size);
        let page = self
            .page(query, bound, call.version, cursor, page_size, None)
            .await?;
        let skiptoken = page.next.map(|c| self.token_key.encode(&fingerprint, &c));
        Ok(Reply::Collection {
            context: super::super::read::with_select(call.path.context_path(), bound),
            items: page.items,
            count,
            skiptoken,
        })
    }
}

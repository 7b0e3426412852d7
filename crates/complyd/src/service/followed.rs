//! Properties shown from another entity (`follows /PATH NAME` in the model): read each time a
//! row of their type is shown, so that a change of the entity they follow rewrites no row. A
//! `$filter` term on one is answered by the members it follows (`id in (…)`).

use super::locate::Location;
use super::{parse_body, Service};
use crate::error::ApiError;
use crate::store::{Key, Query};
use odata::path::ResourcePath;
use odata::query::bind::{Condition, Literal, Operand, Scalar, Scope};
use odata::{Model, Version};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The most followed members the terms of one `$filter` may match in all (each term becomes a
/// list of their keys).
pub(super) const MAX_FOLLOWED_MATCHES: usize = 10_000;

/// One `follows` property of a stored type: its name, and where its value is read.
#[derive(Debug, Clone)]
pub(super) struct Followed {
    name: String,
    /// The store collection of the followed members (a root's collection: no parent key).
    collection: String,
    property: String,
}

/// The `follows` properties of every stored type that has any, by qualified type name.
#[derive(Debug, Default)]
pub(super) struct FollowedProperties(HashMap<String, Vec<Followed>>);

impl FollowedProperties {
    pub(super) fn of_model(model: &Model) -> Result<Self, String> {
        let mut by_type = HashMap::new();
        for ty in model.types() {
            let mut followed = Vec::new();
            for p in model.all_properties(ty) {
                let Some(follows) = &p.follows else { continue };
                let path = ResourcePath::parse(model, Version::Beta, &follows.path)
                    .map_err(|e| format!("follows /{}: {}", follows.path, e.message))?;
                followed.push(Followed {
                    name: p.name.clone(),
                    collection: Location::of("", &path).collection,
                    property: follows.property.clone(),
                });
            }
            if !followed.is_empty() {
                by_type.insert(ty.name.clone(), followed);
            }
        }
        Ok(Self(by_type))
    }

    /// The `follows` properties of `type_name` (none for most types).
    pub(super) fn of(&self, type_name: &str) -> &[Followed] {
        self.0.get(type_name).map_or(&[], Vec::as_slice)
    }
}

impl Service {
    /// `body` (of the row `key`) with each of `followed` read from the member it follows; a
    /// property whose member is gone keeps its stored value.
    pub(super) async fn read_followed(
        &self,
        key: &Key,
        followed: &[Followed],
        body: &mut Map<String, Value>,
    ) -> Result<(), ApiError> {
        let mut members: HashMap<&str, Option<Map<String, Value>>> = HashMap::new();
        for f in followed {
            if !members.contains_key(f.collection.as_str()) {
                let member_key = Key::new(&key.tenant, &f.collection, "", &key.id);
                let member = match self.store.get(&member_key).await? {
                    Some(row) => Some(parse_body(&row.body)?),
                    None => None,
                };
                members.insert(&f.collection, member);
            }
            let value = members
                .get(f.collection.as_str())
                .and_then(Option::as_ref)
                .and_then(|member| member.get(&f.property));
            if let Some(value) = value {
                body.insert(f.name.clone(), value.clone());
            }
        }
        Ok(())
    }
}

impl Service {
    /// `filter` (on members of a type with `followed` properties) with each term that names
    /// one answered from the members it follows: the term becomes `id in (their keys)`.
    pub(super) async fn follow_filter(
        &self,
        tenant: &str,
        followed: &[Followed],
        filter: Option<Condition>,
    ) -> Result<Option<Condition>, ApiError> {
        let filter = match filter {
            Some(filter) if !followed.is_empty() => filter,
            other => return Ok(other),
        };
        let mut terms = Vec::new();
        followed_terms(&filter, followed, &mut terms)?;
        if terms.is_empty() {
            return Ok(Some(filter));
        }
        let mut answers = Vec::with_capacity(terms.len());
        let mut budget = MAX_FOLLOWED_MATCHES;
        for (term, f) in terms {
            let mut query = Query::all(tenant, &f.collection, "");
            query.filter = Some(renamed(term, followed));
            query.limit = budget + 1;
            let ids: Vec<Literal> = self
                .store
                .query(query)
                .await?
                .into_iter()
                .map(|(row, _)| Literal::String(row.key.id))
                .collect();
            if ids.len() > budget {
                return Err(ApiError::bad_request(format!(
                    "Invalid $filter: the terms on '{}' match more than {MAX_FOLLOWED_MATCHES} members in all.",
                    f.name
                )));
            }
            budget -= ids.len();
            answers.push(Condition::In {
                left: Operand::Id,
                list: ids,
                ty: Scalar::String,
            });
        }
        let mut answers = answers.into_iter();
        Ok(Some(replaced(filter, followed, &mut answers)))
    }
}

/// The followed property `operand` names at the entity's top level, if any.
fn named<'f>(operand: &Operand, followed: &'f [Followed]) -> Option<&'f Followed> {
    match operand {
        Operand::Property {
            scope: Scope::Entity,
            path,
            ..
        } if path.len() == 1 => followed.iter().find(|f| f.name == path[0]),
        _ => None,
    }
}

/// The operands of a term (a condition without sub-conditions), calls opened up.
fn operands(c: &Condition) -> Vec<&Operand> {
    let mut out: Vec<&Operand> = match c {
        Condition::Compare { left, right, .. } => vec![left, right],
        Condition::IsNull { operand, .. } | Condition::IsTrue(operand) => vec![operand],
        Condition::In { left, .. } => vec![left],
        Condition::StringTest {
            subject, needle, ..
        } => vec![subject, needle],
        _ => Vec::new(),
    };
    let mut i = 0;
    while i < out.len() {
        if let Operand::Call { args, .. } = out[i] {
            out.extend(args.iter());
        }
        i += 1;
    }
    out
}

/// The terms of `c` that name a followed property, in the order `replaced` meets them; a term
/// that also names the entity's own properties (or another followed collection) is refused.
fn followed_terms<'c, 'f>(
    c: &'c Condition,
    followed: &'f [Followed],
    out: &mut Vec<(&'c Condition, &'f Followed)>,
) -> Result<(), ApiError> {
    match c {
        Condition::And(terms) | Condition::Or(terms) => {
            for term in terms {
                followed_terms(term, followed, out)?;
            }
        }
        Condition::Not(inner) => followed_terms(inner, followed, out)?,
        Condition::Lambda { body, .. } => {
            let mut inside = Vec::new();
            if let Some(body) = body {
                followed_terms(body, followed, &mut inside)?;
            }
            if let Some((_, f)) = inside.first() {
                return Err(refused(f, "inside any() or all()"));
            }
        }
        Condition::IsOf(_) | Condition::Literal(_) => {}
        term => {
            let ops = operands(term);
            let Some(f) = ops.iter().find_map(|o| named(o, followed)) else {
                return Ok(());
            };
            let own = ops.iter().any(|o| match named(o, followed) {
                Some(g) => g.collection != f.collection,
                None => matches!(o, Operand::Property { .. } | Operand::Id),
            });
            if own {
                return Err(refused(f, "beside this entity's own properties"));
            }
            out.push((term, f));
        }
    }
    Ok(())
}

fn refused(f: &Followed, where_: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid $filter: '{}' is read from another entity and cannot be used {where_}.",
        f.name
    ))
}

/// A term on followed properties as a term on the members they follow.
fn renamed(term: &Condition, followed: &[Followed]) -> Condition {
    let mut term = term.clone();
    term.rename_entity_properties(&|name| {
        followed
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.property.clone())
    });
    term
}

/// `c` with each term `followed_terms` found replaced by the next of `answers`.
fn replaced(
    c: Condition,
    followed: &[Followed],
    answers: &mut impl Iterator<Item = Condition>,
) -> Condition {
    match c {
        Condition::And(terms) => Condition::And(
            terms
                .into_iter()
                .map(|t| replaced(t, followed, answers))
                .collect(),
        ),
        Condition::Or(terms) => Condition::Or(
            terms
                .into_iter()
                .map(|t| replaced(t, followed, answers))
                .collect(),
        ),
        Condition::Not(inner) => Condition::Not(Box::new(replaced(*inner, followed, answers))),
        c @ (Condition::Lambda { .. } | Condition::IsOf(_) | Condition::Literal(_)) => c,
        term => {
            if operands(&term).iter().any(|o| named(o, followed).is_some()) {
                answers.next().unwrap_or(Condition::Literal(false))
            } else {
                term
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::service::{Fidelity, Settings, TokenKey};
    use crate::store::memory::MemoryStore;
    use crate::store::{Store, StoreError, WriteTx};
    use odata::query::bind::Compare;
    use std::sync::Arc;

    const TENANT: &str = "t";
    const STATE: &str = "microsoft.graph.deviceCompliancePolicyState";

    /// A service over `count` policies of each version given.
    async fn service(versions: &[(i64, usize)]) -> Service {
        let model = Model::intune().unwrap();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let rows: Vec<(String, String)> = versions
            .iter()
            .flat_map(|&(version, count)| {
                (0..count).map(move |n| {
                    (
                        format!("p{version}-{n}"),
                        format!("{{\"version\":{version}}}"),
                    )
                })
            })
            .collect();
        store
            .write(move |tx: &mut dyn WriteTx| {
                for (id, body) in &rows {
                    let key = Key::new(TENANT, "deviceCompliancePolicies", "", id);
                    tx.insert(&key, "microsoft.graph.windows10CompliancePolicy", body)?;
                }
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        let settings = Settings {
            fidelity: Fidelity::Documented,
            page_size: 100,
        };
        Service::new(model, store, settings, TokenKey::derive(b"test")).unwrap()
    }

    fn version_eq(v: i64) -> Condition {
        Condition::Compare {
            op: Compare::Eq,
            left: Operand::Property {
                scope: Scope::Entity,
                path: vec!["version".into()],
                ty: Scalar::Int,
                only_types: None,
                members: Vec::new(),
            },
            right: Operand::Literal(Literal::Int(v)),
            ty: Scalar::Int,
        }
    }

    fn keys(c: &Condition) -> usize {
        match c {
            Condition::In {
                left: Operand::Id,
                list,
                ..
            } => list.len(),
            other => panic!("not a list of keys: {other:?}"),
        }
    }

    #[tokio::test]
    async fn terms_become_the_keys_of_the_members_they_match_within_one_budget() {
        let half = MAX_FOLLOWED_MATCHES / 2 + 1;
        let service = service(&[(1, half), (2, half), (3, 1)]).await;
        let followed = service.followed.of(STATE);
        assert_eq!(followed.len(), 1);
        let answer = |c: Condition| service.follow_filter(TENANT, followed, Some(c));
        let one = answer(version_eq(1)).await.unwrap().unwrap();
        assert_eq!(keys(&one), half);
        let negated = answer(Condition::Not(Box::new(version_eq(3))))
            .await
            .unwrap()
            .unwrap();
        match negated {
            Condition::Not(inner) => assert_eq!(keys(&inner), 1),
            other => panic!("{other:?}"),
        }
        // Two terms of half the budget each and more: refused, naming the limit.
        let both = Condition::Or(vec![version_eq(1), version_eq(2)]);
        let refused = answer(both).await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains(&MAX_FOLLOWED_MATCHES.to_string()),
            "{refused}"
        );
    }
}

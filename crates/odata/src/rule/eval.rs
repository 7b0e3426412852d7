//! A bound rule evaluated against one object. String tests ignore case, as Entra's do; a test
//! of a missing or null value is false, and its negation (`-ne`, `-notContains`, …) true.
//! The walk recurses at most as deep as the parser allowed the rule to nest.

use super::bind::{version, Bound, BoundRule, Check, Target, Value};
use super::Op;
use crate::value::DateTimeOffset;
use serde_json::{Map, Value as Json};
use std::cmp::Ordering;

/// The object a rule is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub body: &'a Map<String, Json>,
    /// The ids of the groups the object is a direct member of (read only by `memberOf` rules).
    pub groups: &'a [String],
}

/// What `Target::Element` and `Target::Field` refer to inside a lambda.
#[derive(Clone, Copy)]
enum Item<'a> {
    None,
    Json(&'a Json),
    Text(&'a str),
}

impl BoundRule {
    /// Whether the object satisfies the rule.
    pub fn matches(&self, candidate: &Candidate<'_>) -> bool {
        eval(&self.root, candidate, Item::None)
    }
}

fn eval(node: &Bound, c: &Candidate<'_>, item: Item<'_>) -> bool {
    match node {
        Bound::And(terms) => terms.iter().all(|t| eval(t, c, item)),
        Bound::Or(terms) => terms.iter().any(|t| eval(t, c, item)),
        Bound::Not(inner) => !eval(inner, c, item),
        Bound::Never => false,
        Bound::Test { target, check } => test(target, check, c, item),
        Bound::Lambda { path, all, body } => {
            let members = at_path(c.body, path)
                .and_then(Json::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let holds = |m: &Json| eval(body, c, Item::Json(m));
            if *all {
                members.iter().all(holds)
            } else {
                members.iter().any(holds)
            }
        }
        Bound::MemberOf { all, body } => {
            let holds = |g: &String| eval(body, c, Item::Text(g));
            if *all {
                c.groups.iter().all(holds)
            } else {
                c.groups.iter().any(holds)
            }
        }
    }
}

fn at_path<'a>(body: &'a Map<String, Json>, path: &[String]) -> Option<&'a Json> {
    let (first, rest) = path.split_first()?;
    let mut value = body.get(first)?;
    for segment in rest {
        value = value.get(segment)?;
    }
    Some(value)
}

fn test(target: &Target, check: &Check, c: &Candidate<'_>, item: Item<'_>) -> bool {
    let key = Json::String(c.id.to_string());
    let (value, many) = match (target, item) {
        (Target::Key, _) => (Some(&key), false),
        (Target::Path(path, many), _) => (at_path(c.body, path), *many),
        (Target::Element, Item::Text(text)) => return holds(check, Some(&Json::from(text))),
        (Target::Element, Item::Json(v)) => (Some(v), false),
        (Target::Field(path), Item::Json(Json::Object(record))) => (at_path(record, path), false),
        _ => (None, false),
    };
    match (value, many) {
        (Some(Json::Array(members)), true) => {
            // A string collection: a positive test holds for any member, its negation for none.
            match check.op.negates() {
                Some(positive) => {
                    let check = Check {
                        op: positive,
                        value: check.value.clone(),
                    };
                    !members.iter().any(|m| holds(&check, Some(m)))
                }
                None => members.iter().any(|m| holds(check, Some(m))),
            }
        }
        (value, _) => holds(check, value),
    }
}

/// One value against one check.
fn holds(check: &Check, value: Option<&Json>) -> bool {
    let value = value.filter(|v| !v.is_null());
    if let Some(positive) = check.op.negates() {
        let check = Check {
            op: positive,
            value: check.value.clone(),
        };
        return !holds(&check, value);
    }
    let Some(value) = value else {
        return matches!(check.value, Value::Null);
    };
    let text = match value {
        Json::String(s) => s.to_lowercase(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        _ => return false,
    };
    match (&check.value, check.op) {
        (Value::Null, _) => false,
        (Value::Bool(b), _) => value.as_bool() == Some(*b) || text == b.to_string(),
        (Value::Text(want), Op::Eq) => text == *want,
        (Value::Text(want), Op::StartsWith) => text.starts_with(want.as_str()),
        (Value::Text(want), Op::EndsWith) => text.ends_with(want.as_str()),
        (Value::Text(want), Op::Contains) => text.contains(want.as_str()),
        (Value::List(items), Op::In) => items.contains(&text),
        (Value::Pattern(pattern), Op::Match) => pattern.is_match(&text),
        (Value::Instant(want), op) => value
            .as_str()
            .and_then(DateTimeOffset::parse)
            .is_some_and(|t| ordered(op, t.utc_ticks.cmp(want))),
        (Value::Version(want), op) => {
            version(&text).is_some_and(|v| ordered(op, compare(&v, want)))
        }
        _ => false,
    }
}

fn ordered(op: Op, ordering: Ordering) -> bool {
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        _ => false,
    }
}

/// Versions part by part, a missing part counting as 0 (`10.0` equals `10.0.0`).
fn compare(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

//! `$search` as Entra's directory reads it: quoted `"property:text"` clauses joined by `AND` and
//! `OR` (`AND` binds tighter), each true when a word of the property starts with the text,
//! ignoring case (`"displayName:wa"` finds "Walter White"). Turned into a `$filter` expression,
//! so that it is bound and run like one.

use super::filter::{Expr, Logic};
use super::limits::MAX_SEARCH_CLAUSES;
use crate::ODataError;

fn invalid(why: impl std::fmt::Display) -> ODataError {
    ODataError::bad_request(format!("Invalid $search: {why}."))
}

/// The filter `text` stands for.
pub fn to_filter(text: &str) -> Result<Expr, ODataError> {
    let mut any_of: Vec<Expr> = Vec::new();
    let mut all_of: Vec<Expr> = Vec::new();
    let mut rest = text.trim();
    let mut clauses = 0;
    loop {
        let (clause, after) = quoted(rest)?;
        clauses += 1;
        if clauses > MAX_SEARCH_CLAUSES {
            return Err(invalid(format!(
                "more than {MAX_SEARCH_CLAUSES} clauses (the limit)"
            )));
        }
        all_of.push(clause_filter(clause)?);
        rest = after.trim_start();
        if rest.is_empty() {
            break;
        }
        let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        match word.to_ascii_uppercase().as_str() {
            "AND" => {}
            "OR" => any_of.push(joined(Logic::And, std::mem::take(&mut all_of))),
            _ => return Err(invalid(format!("expected AND or OR, found '{word}'"))),
        }
        rest = after.trim_start();
    }
    any_of.push(joined(Logic::And, all_of));
    Ok(joined(Logic::Or, any_of))
}

fn joined(op: Logic, mut terms: Vec<Expr>) -> Expr {
    if terms.len() == 1 {
        terms.remove(0)
    } else {
        Expr::Logical { op, terms }
    }
}

/// The text inside the leading `"…"` of `text`, and what follows it.
fn quoted(text: &str) -> Result<(&str, &str), ODataError> {
    let inner = text
        .strip_prefix('"')
        .ok_or_else(|| invalid("each clause is written in double quotes: \"property:text\""))?;
    let end = inner
        .find('"')
        .ok_or_else(|| invalid("a quote is not closed"))?;
    Ok((&inner[..end], &inner[end + 1..]))
}

/// `property:text` → a word of `property` starts with `text` (ignoring case).
fn clause_filter(clause: &str) -> Result<Expr, ODataError> {
    let (property, needle) = clause
        .split_once(':')
        .ok_or_else(|| invalid(format!("'{clause}' is not written property:text")))?;
    let property = property.trim();
    if property.is_empty() || !property.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(invalid(format!("'{property}' is not a property name")));
    }
    let needle = needle.trim().to_lowercase();
    let lowered = Expr::Call {
        name: "tolower".into(),
        args: vec![Expr::Member(vec![property.to_string()])],
    };
    let call = |name: &str, text: String| Expr::Call {
        name: name.into(),
        args: vec![lowered.clone(), Expr::String(text)],
    };
    Ok(Expr::Logical {
        op: Logic::Or,
        terms: vec![
            call("startswith", needle.clone()),
            call("contains", format!(" {needle}")),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_become_word_prefix_tests() {
        let one = to_filter("\"displayName:Wa\"").map(|e| e.to_string());
        assert_eq!(
            one.as_deref(),
            Ok("startswith(tolower(displayName), 'wa') or contains(tolower(displayName), ' wa')")
        );
        let two = to_filter("\"displayName:a\" OR \"mail:b\" AND \"mail:c\"");
        let terms = match two {
            Ok(Expr::Logical {
                op: Logic::Or,
                terms,
            }) => terms,
            other => vec![Expr::String(format!("{other:?}"))],
        };
        assert_eq!(terms.len(), 2, "{terms:?}");
        assert!(matches!(&terms[1], Expr::Logical { op: Logic::And, terms } if terms.len() == 2));
        for bad in [
            "displayName:a",
            "\"displayName\"",
            "\"a:b\" XOR \"c:d\"",
            "\"a:b",
            "\"a b:c\"",
        ] {
            assert!(to_filter(bad).is_err(), "{bad}");
        }
    }
}

//! System query options: parsed (untyped) here; `bind` checks them against the model.

pub mod bind;
pub mod filter;
pub mod limits;
pub mod search;

use crate::ODataError;
pub use filter::Expr;
pub use limits::*;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    pub filter: Option<Expr>,
    /// Keys with `true` for descending.
    pub orderby: Vec<(Expr, bool)>,
    /// `None` = all properties; `*` is folded into `None`.
    pub select: Option<Vec<String>>,
    pub expand: Vec<ExpandItem>,
    pub top: Option<usize>,
    pub skip: Option<usize>,
    pub skiptoken: Option<String>,
    pub count: bool,
    /// `$search` as written; only collections with the directory's advanced queries take it.
    pub search: Option<String>,
    /// `@id` (or `$id`): the entity a `DELETE …/$ref` unlinks.
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    /// A navigation name, or `*`.
    pub path: String,
    pub options: QueryOptions,
}

fn bad(message: impl Into<String>) -> ODataError {
    ODataError::bad_request(message)
}

const SYSTEM: &[&str] = &[
    "filter",
    "orderby",
    "select",
    "expand",
    "top",
    "skip",
    "skiptoken",
    "count",
    "format",
    "search",
    "levels",
];

impl QueryOptions {
    /// Parses decoded `(name, value)` pairs of a URL. On beta the `$` prefix is optional, as on Graph.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        dollar_optional: bool,
    ) -> Result<Self, ODataError> {
        let mut out = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for (raw_name, value) in pairs {
            if matches!(raw_name, "@id" | "$id") {
                out.reference = Some(value.to_string());
                continue;
            }
            let bare = raw_name.strip_prefix('$');
            let name = match bare {
                Some(n) => n,
                None if dollar_optional && SYSTEM.contains(&raw_name) => raw_name,
                None => continue,
            };
            if seen.iter().any(|s| s == name) {
                return Err(bad(format!(
                    "The query option '${name}' is specified more than once."
                )));
            }
            seen.push(name.to_string());
            out.apply(name, value, 0)?;
        }
        Ok(out)
    }

    fn apply(&mut self, name: &str, value: &str, depth: usize) -> Result<(), ODataError> {
        // A `$skiptoken` is the server's own, signed and checked before it is read; it grows with
        // the sort values it carries, so only the URL's own limit bounds it.
        if value.len() > MAX_OPTION_LENGTH && name != "skiptoken" {
            return Err(bad(format!(
                "Invalid ${name}: the value is longer than {MAX_OPTION_LENGTH} bytes (the limit)."
            )));
        }
        match name {
            "filter" => self.filter = Some(filter::parse(value)?),
            "orderby" => {
                let keys = split_top_level(value, ',');
                if keys.len() > MAX_ORDERBY_KEYS {
                    return Err(bad(format!(
                        "Invalid $orderby: more than {MAX_ORDERBY_KEYS} keys (the limit)."
                    )));
                }
                self.orderby = keys
                    .into_iter()
                    .map(|item| filter::parse_order_item(item.trim()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(e.message.replace("$filter", "$orderby")))?;
                if self.orderby.is_empty() {
                    return Err(bad("$orderby needs at least one property."));
                }
            }
            "select" => {
                let items: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
                if items.len() > MAX_SELECT_ITEMS {
                    return Err(bad(format!(
                        "Invalid $select: more than {MAX_SELECT_ITEMS} items (the limit)."
                    )));
                }
                if items.iter().any(String::is_empty) {
                    return Err(bad(format!("Invalid $select '{value}': empty item.")));
                }
                self.select = if items.iter().any(|i| i == "*") {
                    None
                } else {
                    Some(items)
                };
            }
            "expand" => self.expand = parse_expand(value, depth + 1)?,
            "top" => self.top = Some(parse_count("$top", value, MAX_TOP)?),
            "skip" => self.skip = Some(parse_count("$skip", value, usize::MAX)?),
            "skiptoken" => self.skiptoken = Some(value.to_string()),
            "count" => {
                self.count = match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(bad(format!(
                            "Invalid value '{value}' for $count: expected true or false."
                        )))
                    }
                }
            }
            "format" if value == "json" || value.starts_with("application/json") => {}
            "format" => {
                return Err(bad(format!(
                    "The $format '{value}' is not supported; only json is."
                )))
            }
            "levels" => return Err(bad("The query option '$levels' is not supported.")),
            // Read by the collections that take it (`search::to_filter`).
            "search" => self.search = Some(value.to_string()),
            other => {
                return Err(bad(format!(
                    "The query parameter '${other}' is not supported."
                )))
            }
        }
        Ok(())
    }

    /// Options written inside `$expand=nav(...)`, separated by `;`.
    fn parse_nested(text: &str, depth: usize) -> Result<Self, ODataError> {
        let mut out = Self::default();
        let mut seen: Vec<String> = Vec::new();
        for part in split_top_level(text, ';') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("Invalid $expand option '{part}'.")))?;
            let name = name.trim().trim_start_matches('$');
            if seen.iter().any(|s| s == name) {
                return Err(bad(format!(
                    "The query option '${name}' is specified more than once in $expand."
                )));
            }
            seen.push(name.to_string());
            if name == "skiptoken" {
                return Err(bad("$skiptoken is not allowed inside $expand."));
            }
            out.apply(name, value.trim(), depth)?;
        }
        Ok(out)
    }
}

fn parse_expand(value: &str, depth: usize) -> Result<Vec<ExpandItem>, ODataError> {
    if depth > MAX_EXPAND_DEPTH {
        return Err(bad(format!(
            "Invalid $expand: nested deeper than {MAX_EXPAND_DEPTH} levels (the limit)."
        )));
    }
    let raws = split_top_level(value, ',');
    if raws.len() > MAX_EXPAND_ITEMS {
        return Err(bad(format!(
            "Invalid $expand: more than {MAX_EXPAND_ITEMS} items at one level (the limit)."
        )));
    }
    let mut items = Vec::new();
    for raw in raws {
        let raw = raw.trim();
        let (path, options) = match raw.find('(') {
            Some(open) => {
                let inner = raw[open + 1..].strip_suffix(')').ok_or_else(|| {
                    bad(format!(
                        "Invalid $expand item '{raw}': unbalanced parentheses."
                    ))
                })?;
                (
                    raw[..open].trim(),
                    QueryOptions::parse_nested(inner, depth)?,
                )
            }
            None => (raw, QueryOptions::default()),
        };
        if path.is_empty() {
            return Err(bad(format!("Invalid $expand '{value}': empty item.")));
        }
        items.push(ExpandItem {
            path: path.to_string(),
            options,
        });
    }
    Ok(items)
}

fn parse_count(name: &str, value: &str, max: usize) -> Result<usize, ODataError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        Ok(_) => Err(bad(format!(
            "Invalid value '{value}' for {name}: at most {max} is allowed."
        ))),
        Err(_) => Err(bad(format!(
            "Invalid value '{value}' for {name}: expected a non-negative integer."
        ))),
    }
}

/// Splits at `sep` outside parentheses and quoted strings.
fn split_top_level(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && !quoted && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_expand_with_options() {
        let q = QueryOptions::parse(
            [("$expand", "assignments,scheduledActionsForRule($expand=scheduledActionConfigurations($select=actionType;$top=5))")],
            false,
        );
        let q = q.unwrap_or_default();
        assert_eq!(q.expand.len(), 2);
        assert_eq!(
            q.expand[1].options.expand[0].path,
            "scheduledActionConfigurations"
        );
        assert_eq!(q.expand[1].options.expand[0].options.top, Some(5));
    }

    #[test]
    fn repeated_and_unknown_options_are_refused() {
        assert!(QueryOptions::parse([("$top", "1"), ("$top", "2")], false).is_err());
        assert!(QueryOptions::parse([("$bogus", "1")], false).is_err());
        assert!(QueryOptions::parse([("top", "1000")], true).is_err());
        assert_eq!(
            QueryOptions::parse([("top", "5")], true).map(|q| q.top),
            Ok(Some(5))
        );
        assert_eq!(
            QueryOptions::parse([("top", "5")], false).map(|q| q.top),
            Ok(None)
        );
    }

    fn refusal(name: &str, value: &str) -> String {
        QueryOptions::parse([(name, value)], false)
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    }

    #[test]
    fn every_option_has_a_length_limit() {
        let limit = format!("longer than {MAX_OPTION_LENGTH} bytes (the limit)");
        let long = "a".repeat(MAX_OPTION_LENGTH + 1);
        for name in ["$filter", "$orderby", "$select", "$expand", "$top"] {
            let found = refusal(name, &long);
            assert!(found.contains(&limit) && found.contains(name), "{found}");
        }
        // Options nested in `$expand` are held to it too (by the outer option's length).
        let nested = format!("assignments($filter={})", "a".repeat(MAX_OPTION_LENGTH));
        assert!(refusal("$expand", &nested).contains(&limit));
        // A 100,000-term filter is refused by its length before anything is parsed.
        let huge = vec!["displayName eq 'a'"; 100_000].join(" or ");
        assert!(refusal("$filter", &huge).contains(&limit));
        let at_limit = "a".repeat(MAX_OPTION_LENGTH);
        assert!(QueryOptions::parse([("$filter", at_limit.as_str())], false).is_ok());
        // The server's own cursor may be longer; only the URL bounds it.
        assert!(QueryOptions::parse([("$skiptoken", long.as_str())], false).is_ok());
    }

    #[test]
    fn list_options_have_count_limits() {
        let keys = |n: usize| vec!["displayName desc"; n].join(",");
        assert!(
            QueryOptions::parse([("$orderby", keys(MAX_ORDERBY_KEYS).as_str())], false).is_ok()
        );
        let found = refusal("$orderby", &keys(MAX_ORDERBY_KEYS + 1));
        assert!(
            found.contains(&format!("more than {MAX_ORDERBY_KEYS} keys (the limit)")),
            "{found}"
        );
        let items = |n: usize| vec!["id"; n].join(",");
        assert!(
            QueryOptions::parse([("$select", items(MAX_SELECT_ITEMS).as_str())], false).is_ok()
        );
        let found = refusal("$select", &items(MAX_SELECT_ITEMS + 1));
        assert!(
            found.contains(&format!("more than {MAX_SELECT_ITEMS} items (the limit)")),
            "{found}"
        );
        let navs = |n: usize| vec!["assignments"; n].join(",");
        assert!(QueryOptions::parse([("$expand", navs(MAX_EXPAND_ITEMS).as_str())], false).is_ok());
        let found = refusal("$expand", &navs(MAX_EXPAND_ITEMS + 1));
        assert!(
            found.contains(&format!(
                "more than {MAX_EXPAND_ITEMS} items at one level (the limit)"
            )),
            "{found}"
        );
        let nested = format!("a($expand={})", navs(MAX_EXPAND_ITEMS + 1));
        assert!(refusal("$expand", &nested).contains("at one level (the limit)"));
        // `levels` levels of `$expand`, the option itself being the first.
        let deep = |levels: usize| {
            (1..levels).fold(String::from("a"), |inner, _| format!("a($expand={inner})"))
        };
        assert!(QueryOptions::parse([("$expand", deep(MAX_EXPAND_DEPTH).as_str())], false).is_ok());
        let found = refusal("$expand", &deep(MAX_EXPAND_DEPTH + 1));
        assert!(
            found.contains(&format!(
                "deeper than {MAX_EXPAND_DEPTH} levels (the limit)"
            )),
            "{found}"
        );
        // Each `$orderby` key is a filter expression under the same node limit.
        let key = vec!["a"; MAX_FILTER_NODES + 1].join(" or ");
        let found = refusal("$orderby", &key);
        assert!(
            found.starts_with("Invalid $orderby") && found.contains("nodes (the limit)"),
            "{found}"
        );
    }
}

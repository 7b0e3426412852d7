//! System query options: parsed (untyped) here; `bind` checks them against the model.

pub mod bind;
pub mod filter;

use crate::ODataError;
pub use filter::Expr;

/// The largest page a client may ask for with `$top`.
pub const MAX_TOP: usize = 999;
/// How deep `$expand` may nest.
pub const MAX_EXPAND_DEPTH: usize = 4;

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
        match name {
            "filter" => self.filter = Some(filter::parse(value)?),
            "orderby" => {
                self.orderby = split_top_level(value, ',')
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
            "search" => {
                return Err(bad(
                    "The query option '$search' is not supported on this resource.",
                ))
            }
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
            "$expand is nested deeper than {MAX_EXPAND_DEPTH} levels."
        )));
    }
    let mut items = Vec::new();
    for raw in split_top_level(value, ',') {
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
}

//! System query options. The core understands `$top`, `$skiptoken` and `$count`; the rest of the
//! OData options are recognised and refused until the query engine implements them.

use crate::ODataError;

/// The largest page a client may ask for with `$top`.
pub const MAX_TOP: usize = 999;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    pub top: Option<usize>,
    pub skiptoken: Option<String>,
    pub count: bool,
}

const NOT_YET: &[&str] = &[
    "$filter", "$select", "$expand", "$orderby", "$skip", "$search", "$apply", "$compute",
];

impl QueryOptions {
    /// Parses decoded `(name, value)` pairs. On beta the `$` prefix is optional, as on Graph.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        dollar_optional: bool,
    ) -> Result<Self, ODataError> {
        let mut out = Self::default();
        let mut seen = Vec::new();
        for (raw_name, value) in pairs {
            let name = if !raw_name.starts_with('$') && dollar_optional && is_system_name(raw_name)
            {
                format!("${raw_name}")
            } else {
                raw_name.to_string()
            };
            if !name.starts_with('$') {
                continue;
            }
            if seen.contains(&name) {
                return Err(ODataError::bad_request(format!(
                    "The query option '{name}' was specified more than once."
                )));
            }
            seen.push(name.clone());
            match name.as_str() {
                "$top" => out.top = Some(parse_top(value)?),
                "$skiptoken" => out.skiptoken = Some(value.to_string()),
                "$count" => out.count = parse_bool(&name, value)?,
                "$format" if value == "json" || value.starts_with("application/json") => {}
                n if NOT_YET.contains(&n) => {
                    return Err(ODataError::bad_request(format!(
                        "The query option '{n}' is not supported by this complyd build."
                    )))
                }
                n => {
                    return Err(ODataError::bad_request(format!(
                        "The query parameter '{n}' is not supported."
                    )))
                }
            }
        }
        Ok(out)
    }
}

fn is_system_name(name: &str) -> bool {
    ["top", "skiptoken", "count", "format"].contains(&name)
        || NOT_YET.iter().any(|n| &n[1..] == name)
}

fn parse_top(value: &str) -> Result<usize, ODataError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n <= MAX_TOP => Ok(n),
        Ok(_) => Err(ODataError::bad_request(format!(
            "Invalid value '{value}' for $top: at most {MAX_TOP} is allowed."
        ))),
        Err(_) => Err(ODataError::bad_request(format!(
            "Invalid value '{value}' for $top: expected a non-negative integer."
        ))),
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ODataError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ODataError::bad_request(format!(
            "Invalid value '{value}' for {name}: expected true or false."
        ))),
    }
}

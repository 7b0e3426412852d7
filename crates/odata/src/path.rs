//! URL path (below the version segment) to a `ResourcePath`: the root, the navigation steps with
//! their keys, and an optional bound action or function or `$count`. Both key syntaxes are
//! accepted: `/x/{id}` and `/x('{id}')`. Functions take their parameters in the segment:
//! `name()`, `name(p=1,q='text')`.

use crate::edm::{
    Model, Navigation, Operation, OperationKind, Permissions, Primitive, Property, Root, RootKind,
    StructuredType, ValueType, Version,
};
use crate::ODataError;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One step below the root: a navigation (or the root entity set itself) and its key.
#[derive(Debug, Clone)]
pub struct Step<'m> {
    pub name: &'m str,
    pub target: &'m StructuredType,
    pub collection: bool,
    pub key: Option<String>,
    /// The navigation walked (for the root entity set, the root's own), with its annotations.
    pub navigation: &'m Navigation,
}

#[derive(Debug, Clone)]
pub struct ResourcePath<'m> {
    pub root: &'m Root,
    /// For a singleton root, the navigations below it; for an entity-set root, the set first.
    pub steps: Vec<Step<'m>>,
    /// The action or function the path ends in.
    pub operation: Option<&'m Operation>,
    /// A function's parameters as the URL gives them, each literal read as JSON.
    pub arguments: Map<String, Value>,
    pub count: bool,
    /// A structural property of the addressed entity (`/deviceManagement/settings`).
    pub property: Option<&'m Property>,
    /// The path ends in `$ref`: the links of a linked navigation, not the entities.
    pub reference: bool,
}

/// What the path finally addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressed {
    /// The root singleton itself (`/deviceManagement`).
    RootSingleton,
    Collection,
    Entity,
    /// A single-valued navigation (an overview or summary).
    Single,
    Action,
    Function,
    Count,
    /// One structural property of an entity or the root singleton.
    Property,
    /// `…/members/$ref`: the links of a linked collection.
    References,
    /// `…/members/{id}/$ref`: one link.
    Reference,
}

impl<'m> ResourcePath<'m> {
    pub fn parse(model: &'m Model, version: Version, path: &str) -> Result<Self, ODataError> {
        let mut segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode);
        let first = segments.next().ok_or_else(|| ODataError::segment(""))?;
        let mut out = Self::start(model, version, &first)?;
        for segment in segments {
            if out.operation.is_some() || out.count || out.property.is_some() || out.reference {
                return Err(ODataError::segment(&segment));
            }
            out.step(model, version, segment)?;
        }
        Ok(out)
    }

    /// The path's first segment: a root, with its key when it is an entity set, or an import.
    fn start(model: &'m Model, version: Version, first: &str) -> Result<Self, ODataError> {
        let import = model
            .root(call_name(first), version)
            .filter(|r| r.kind == RootKind::OperationImport);
        if let Some(root) = import {
            let op = model
                .imported_operation(root)
                .ok_or_else(|| ODataError::segment(&root.name))?;
            let mut out = Self::at(root);
            out.call(op, first)?;
            return Ok(out);
        }
        let (root_name, root_key) = split_key(first)?;
        let root = model
            .root(root_name, version)
            .ok_or_else(|| ODataError::segment(root_name))?;
        let root_type = model
            .structured(&root.type_name)
            .ok_or_else(|| ODataError::segment(root_name))?;
        let mut out = Self::at(root);
        match root.kind {
            RootKind::Singleton if root_key.is_some() => return Err(ODataError::segment(first)),
            RootKind::EntitySet => out.steps.push(Step {
                name: &root.name,
                target: root_type,
                collection: true,
                key: root_key,
                navigation: &root.navigation,
            }),
            _ => {}
        }
        Ok(out)
    }

    fn at(root: &'m Root) -> Self {
        Self {
            root,
            steps: Vec::new(),
            operation: None,
            arguments: Map::new(),
            count: false,
            property: None,
            reference: false,
        }
    }

    /// One segment after the root: a key, `$count`, a navigation or an operation.
    fn step(
        &mut self,
        model: &'m Model,
        version: Version,
        segment: Cow<'_, str>,
    ) -> Result<(), ODataError> {
        let current = match self.steps.last() {
            Some(step) => step.target,
            None => model
                .structured(&self.root.type_name)
                .ok_or_else(|| ODataError::segment(&segment))?,
        };
        if segment == "$ref" {
            return match self.steps.last() {
                Some(step) if step.navigation.links.is_some() => {
                    self.reference = true;
                    Ok(())
                }
                _ => Err(ODataError::segment(&segment)),
            };
        }
        let awaiting_key = self
            .steps
            .last()
            .is_some_and(|s| s.collection && s.key.is_none());
        if awaiting_key {
            if segment == "$count" {
                self.count = true;
            } else if let Some(op) =
                model.bound_operation(current, call_name(&segment), true, version)
            {
                self.call(op, &segment)?;
            } else if let Some(step) = self.steps.last_mut() {
                step.key = Some(segment.into_owned());
            }
            return Ok(());
        }
        let function = model
            .bound_operation(current, call_name(&segment), false, version)
            .filter(|op| op.kind == OperationKind::Function);
        if let Some(op) = function {
            return self.call(op, &segment);
        }
        let (name, key) = split_key(&segment)?;
        if let Some(nav) = model.navigation(current, name, version) {
            let target = model
                .structured(&nav.target)
                .ok_or_else(|| ODataError::segment(name))?;
            if key.is_some() && !nav.collection {
                return Err(ODataError::segment(&segment));
            }
            self.steps.push(Step {
                name: &nav.name,
                target,
                collection: nav.collection,
                key,
                navigation: nav,
            });
            return Ok(());
        }
        if let (Some(prop), None, true) = (
            model.property(current, name, version),
            &key,
            self.on_entity(),
        ) {
            self.property = Some(prop);
            return Ok(());
        }
        match (model.bound_operation(current, name, false, version), &key) {
            (Some(op), None) if self.on_entity() => self.call(op, &segment),
            _ => Err(ODataError::segment(name)),
        }
    }

    /// Whether the path so far addresses one entity: a member of a collection, a single-valued
    /// navigation, or the root singleton.
    fn on_entity(&self) -> bool {
        match self.steps.last() {
            Some(step) => !step.collection || step.key.is_some(),
            None => self.root.kind == RootKind::Singleton,
        }
    }

    /// `op` as `segment` calls it: an action by its bare name, a function with or without
    /// `(parameters)`.
    fn call(&mut self, op: &'m Operation, segment: &str) -> Result<(), ODataError> {
        let inner = match segment.strip_prefix(op.name.as_str()) {
            Some("") => None,
            Some(rest) if op.kind == OperationKind::Function => Some(
                rest.strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| ODataError::segment(segment))?,
            ),
            _ => return Err(ODataError::segment(segment)),
        };
        if let Some(inner) = inner {
            self.arguments = function_arguments(op, inner)?;
        }
        self.operation = Some(op);
        Ok(())
    }

    pub fn addressed(&self) -> Addressed {
        match self.operation.map(|op| op.kind) {
            Some(OperationKind::Action) => return Addressed::Action,
            Some(OperationKind::Function) => return Addressed::Function,
            None => {}
        }
        if self.count {
            return Addressed::Count;
        }
        if self.property.is_some() {
            return Addressed::Property;
        }
        if self.reference {
            return match self.steps.last() {
                Some(s) if s.key.is_some() => Addressed::Reference,
                _ => Addressed::References,
            };
        }
        match self.steps.last() {
            None => Addressed::RootSingleton,
            Some(s) if !s.collection => Addressed::Single,
            Some(s) if s.key.is_some() => Addressed::Entity,
            Some(_) => Addressed::Collection,
        }
    }

    /// What the caller needs: the operation's own permissions, else those of the deepest
    /// navigation that declares some, else the root's.
    pub fn permissions(&self) -> &'m Permissions {
        if let Some(own) = self.operation.and_then(|op| op.permissions.as_ref()) {
            return own;
        }
        self.steps
            .iter()
            .rev()
            .find_map(|s| s.navigation.permissions.as_ref())
            .unwrap_or(&self.root.permissions)
    }

    /// The path as `@odata.context` spells it: every key but the last in `('…')` form.
    pub fn context_path(&self) -> String {
        let mut out = String::with_capacity(160);
        if self.root.kind == RootKind::Singleton {
            out.push_str(&self.root.name);
        }
        let last = self.steps.len().saturating_sub(1);
        for (i, step) in self.steps.iter().enumerate() {
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(step.name);
            if let (Some(key), true) = (&step.key, i < last) {
                out.push_str("('");
                for (n, part) in key.split('\'').enumerate() {
                    if n > 0 {
                        out.push_str("''");
                    }
                    out.push_str(part);
                }
                out.push_str("')");
            }
        }
        out
    }
}

/// The name a segment calls: what precedes its `(`, if any.
fn call_name(segment: &str) -> &str {
    segment.split_once('(').map_or(segment, |(name, _)| name)
}

/// `p=1,q='it''s'` → {p: 1, q: "it's"}: each OData literal as JSON (strings quoted, `null`,
/// `true`/`false`, numbers; anything else, such as a date or a GUID, as its text). Which names
/// and types the function takes is the service's check.
fn function_arguments(op: &Operation, inner: &str) -> Result<Map<String, Value>, ODataError> {
    let mut out = Map::new();
    let bad = |why: &str| {
        ODataError::bad_request(format!(
            "The parameters of the function '{}' cannot be read: {why}.",
            op.name
        ))
    };
    for pair in split_outside_quotes(inner).map_err(&bad)? {
        let (name, literal) = pair
            .split_once('=')
            .ok_or_else(|| bad(&format!("'{pair}' is not name=value")))?;
        let name = name.trim();
        if name.is_empty() || out.contains_key(name) {
            return Err(bad(&format!("'{name}' is empty or given twice")));
        }
        let literal_text = literal.trim();
        let string_parameter = op.parameter(name).is_some_and(|p| {
            !p.ty.collection && p.ty.value == ValueType::Primitive(Primitive::String)
        });
        if string_parameter && !literal_text.starts_with('\'') && literal_text != "null" {
            return Err(bad(&format!(
                "'{name}' takes a string literal in single quotes, not {literal_text}"
            )));
        }
        out.insert(
            name.to_string(),
            literal_value(literal.trim()).map_err(|e| bad(&e))?,
        );
    }
    Ok(out)
}

/// The comma-separated items of `text`, commas inside `'…'` kept.
fn split_outside_quotes(text: &str) -> Result<Vec<&str>, &'static str> {
    let mut items = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("a quote is not closed");
    }
    if !text.trim().is_empty() {
        items.push(&text[start..]);
    }
    Ok(items)
}

fn literal_value(literal: &str) -> Result<Value, String> {
    if let Some(text) = literal
        .strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))
    {
        return Ok(Value::String(text.replace("''", "'")));
    }
    if literal.starts_with('@') {
        return Err(format!("parameter aliases ('{literal}') are not supported"));
    }
    // An enum literal may name its type: `microsoft.graph.complianceStatus'compliant'`.
    if let Some((_, member)) = literal.strip_suffix('\'').and_then(|l| l.split_once('\'')) {
        return Ok(Value::String(member.to_string()));
    }
    Ok(match literal {
        "null" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "" => return Err("a value is missing".into()),
        _ => match literal.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => literal
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && literal.contains('.'))
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(literal.to_string()), Value::Number),
        },
    })
}

/// `name('key')`, `name(key)` or plain `name`.
fn split_key(segment: &str) -> Result<(&str, Option<String>), ODataError> {
    let Some(open) = segment.find('(') else {
        return Ok((segment, None));
    };
    let inner = segment[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| ODataError::segment(segment))?;
    let key = match inner.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')) {
        Some(quoted) => quoted.replace("''", "'"),
        None => inner.to_string(),
    };
    if key.is_empty() {
        return Err(ODataError::segment(segment));
    }
    Ok((&segment[..open], Some(key)))
}

/// A path segment with its `%XX` escapes decoded (`+` stays: it is a space only in forms); bytes
/// that are not UTF-8 become U+FFFD. A segment without escapes is borrowed as it is.
fn percent_decode(segment: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(path: &str) -> Result<ResourcePath<'static>, ODataError> {
        let model = Model::intune().map_err(ODataError::bad_request)?;
        ResourcePath::parse(model, Version::V1, path)
    }

    #[test]
    fn both_key_syntaxes_address_the_same_entity() {
        let a = parse("deviceManagement/deviceCompliancePolicies('p1')/assignments/a1");
        let b = parse("deviceManagement/deviceCompliancePolicies/p1/assignments('a1')");
        let (a, b) = (a.map(|p| p.context_path()), b.map(|p| p.context_path()));
        assert_eq!(a, b);
        assert_eq!(
            a.as_deref().ok(),
            Some("deviceManagement/deviceCompliancePolicies('p1')/assignments")
        );
    }

    #[test]
    fn keys_in_the_context_path_double_their_quotes() {
        let p = parse("deviceManagement/deviceCompliancePolicies('''x''y''')/assignments/a1");
        assert_eq!(
            p.map(|p| p.context_path()).ok().as_deref(),
            Some("deviceManagement/deviceCompliancePolicies('''x''y''')/assignments")
        );
        let p = parse("users/u'1/memberOf/g1");
        assert_eq!(
            p.map(|p| p.context_path()).ok().as_deref(),
            Some("users('u''1')/memberOf")
        );
    }

    #[test]
    fn actions_counts_and_singles_are_recognised() {
        let p = parse("deviceManagement/deviceCompliancePolicies/p1/assign");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Action));
        let p = parse("deviceManagement/deviceCompliancePolicies/$count");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Count));
        let p = parse("deviceManagement/deviceCompliancePolicies/p1/deviceStatusOverview");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Single));
        let p = parse("deviceManagement/settings");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Property));
        assert!(parse("deviceManagement/settings/secureByDefault").is_err());
        let p = parse("deviceManagement/deviceCompliancePolicies/p1/displayName");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Property));
    }

    #[test]
    fn permissions_come_from_the_root_unless_a_navigation_declares_its_own() {
        let p = parse("deviceManagement/deviceCompliancePolicies/p1/assignments");
        assert_eq!(
            p.map(|p| p.permissions().name.clone()).ok().as_deref(),
            Some("configuration")
        );
    }

    #[test]
    fn function_literals_are_read_as_json() {
        let cases = [
            ("'it''s'", json!("it's")),
            ("12", json!(12)),
            ("1.5", json!(1.5)),
            ("true", json!(true)),
            ("null", json!(null)),
            (
                "microsoft.graph.complianceStatus'compliant'",
                json!("compliant"),
            ),
            ("2024-01-01T00:00:00Z", json!("2024-01-01T00:00:00Z")),
        ];
        for (literal, expected) in cases {
            assert_eq!(literal_value(literal).ok(), Some(expected), "{literal}");
        }
        assert!(literal_value("@p").is_err());
        assert_eq!(
            split_outside_quotes("a='x,y',b=2").ok(),
            Some(vec!["a='x,y'", "b=2"])
        );
        assert!(split_outside_quotes("a='x").is_err());
    }

    #[test]
    fn unknown_segments_are_named_in_the_error() {
        let err = parse("deviceManagement/deviceCompliancePolicies/p1/bogus").err();
        assert_eq!(
            err.map(|e| e.message),
            Some("Resource not found for the segment 'bogus'.".into())
        );
        assert!(
            parse("managedDeviceCompliances").is_err(),
            "beta-only root on v1.0"
        );
    }
}

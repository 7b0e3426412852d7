//! URL path (below the version segment) to a `ResourcePath`: the root, the navigation steps with
//! their keys, and an optional bound action or `$count`. Both key syntaxes are accepted:
//! `/x/{id}` and `/x('{id}')`.

use crate::edm::{Action, Model, Root, RootKind, StructuredType, Version};
use crate::ODataError;

/// One step below the root: a navigation (or the root entity set itself) and its key.
#[derive(Debug, Clone)]
pub struct Step<'m> {
    pub name: &'m str,
    pub target: &'m StructuredType,
    pub collection: bool,
    pub key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ResourcePath<'m> {
    pub root: &'m Root,
    /// For a singleton root, the navigations below it; for an entity-set root, the set first.
    pub steps: Vec<Step<'m>>,
    pub action: Option<&'m Action>,
    pub count: bool,
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
    Count,
}

impl<'m> ResourcePath<'m> {
    pub fn parse(model: &'m Model, version: Version, path: &str) -> Result<Self, ODataError> {
        let mut segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode);
        let first = segments.next().ok_or_else(|| ODataError::segment(""))?;
        let (root_name, root_key) = split_key(&first)?;
        let root = model
            .root(root_name, version)
            .ok_or_else(|| ODataError::segment(root_name))?;
        let root_type = model
            .structured(root.type_name)
            .ok_or_else(|| ODataError::segment(root_name))?;
        let mut out = Self {
            root,
            steps: Vec::new(),
            action: None,
            count: false,
        };
        match root.kind {
            RootKind::Singleton if root_key.is_some() => return Err(ODataError::segment(&first)),
            RootKind::Singleton => {}
            RootKind::EntitySet => out.steps.push(Step {
                name: root.name,
                target: root_type,
                collection: true,
                key: root_key,
            }),
        }
        for segment in segments {
            if out.action.is_some() || out.count {
                return Err(ODataError::segment(&segment));
            }
            let current = out.steps.last().map_or(root_type, |s| s.target);
            let awaiting_key = out
                .steps
                .last()
                .is_some_and(|s| s.collection && s.key.is_none());
            if awaiting_key {
                if segment == "$count" {
                    out.count = true;
                } else if let Some(step) = out.steps.last_mut() {
                    step.key = Some(segment);
                }
                continue;
            }
            let (name, key) = split_key(&segment)?;
            if let Some(nav) = model.navigation(current, name, version) {
                let target = model
                    .structured(&nav.target)
                    .ok_or_else(|| ODataError::segment(name))?;
                if key.is_some() && !nav.collection {
                    return Err(ODataError::segment(&segment));
                }
                out.steps.push(Step {
                    name: &nav.name,
                    target,
                    collection: nav.collection,
                    key,
                });
            } else if let (Some(action), None) = (model.action(current, name, version), &key) {
                let on_entity = out
                    .steps
                    .last()
                    .is_some_and(|s| s.collection && s.key.is_some());
                if !on_entity {
                    return Err(ODataError::segment(name));
                }
                out.action = Some(action);
            } else {
                return Err(ODataError::segment(name));
            }
        }
        Ok(out)
    }

    pub fn addressed(&self) -> Addressed {
        if self.action.is_some() {
            return Addressed::Action;
        }
        if self.count {
            return Addressed::Count;
        }
        match self.steps.last() {
            None => Addressed::RootSingleton,
            Some(s) if !s.collection => Addressed::Single,
            Some(s) if s.key.is_some() => Addressed::Entity,
            Some(_) => Addressed::Collection,
        }
    }

    /// The path as `@odata.context` spells it: every key but the last in `('…')` form.
    pub fn context_path(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.root.kind == RootKind::Singleton {
            parts.push(self.root.name.to_string());
        }
        let last = self.steps.len().saturating_sub(1);
        for (i, step) in self.steps.iter().enumerate() {
            match &step.key {
                Some(key) if i < last => {
                    parts.push(format!("{}('{}')", step.name, key.replace('\'', "''")))
                }
                _ => parts.push(step.name.to_string()),
            }
        }
        parts.join("/")
    }
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
/// that are not UTF-8 become U+FFFD.
fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn actions_counts_and_singles_are_recognised() {
        let p = parse("deviceManagement/deviceCompliancePolicies/p1/assign");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Action));
        let p = parse("deviceManagement/deviceCompliancePolicies/$count");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Count));
        let p = parse("deviceManagement/deviceCompliancePolicies/p1/deviceStatusOverview");
        assert_eq!(p.map(|p| p.addressed()).ok(), Some(Addressed::Single));
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

//! Label values of a request: its route and its method. A route is one of a few fixed names or
//! a template of the model's names with every key written `{id}`; a method outside the usual
//! ones is `other`. No label value comes from the client, so none can be created by one.

use odata::edm::RootKind;
use odata::path::ResourcePath;
use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};
use std::fmt::{self, Write};
use std::hash::{Hash, Hasher};

/// Steps a template spells out; a deeper path ends in `/...`. The model's paths are shallower
/// (a unit test checks it), so this only bounds what a change of model could do.
pub const MAX_STEPS: usize = 6;

/// What a request addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// The Entra ID endpoints (`/{tenant}/oauth2/v2.0/token`, discovery, JWKS).
    TokenService,
    /// `/{version}/$metadata`.
    Metadata,
    /// `/openapi.json`.
    OpenApi,
    /// `/{version}/$batch` (its requests are counted under their own routes too).
    Batch,
    Healthz,
    Readyz,
    Metrics,
    /// A Graph request refused before its path was resolved: no valid token, or throttled.
    Unresolved,
    /// A path that names nothing: an unknown version, entity set, navigation or action.
    Unmatched,
    /// Anything else (a response no handler labelled, such as a caught panic).
    Other,
    /// A resolved Graph path.
    Resource(Template),
}

impl Route {
    fn name(&self) -> &'static str {
        match self {
            Self::TokenService => "token_service",
            Self::Metadata => "metadata",
            Self::OpenApi => "openapi",
            Self::Batch => "batch",
            Self::Healthz => "healthz",
            Self::Readyz => "readyz",
            Self::Metrics => "metrics",
            Self::Unresolved => "unresolved",
            Self::Unmatched => "unmatched",
            Self::Other | Self::Resource(_) => "other",
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resource(template) => template.fmt(f),
            fixed => f.write_str(fixed.name()),
        }
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        write!(encoder, "{self}")
    }
}

/// A resolved path without its keys: `/{version}/deviceManagement/deviceCompliancePolicies/{id}/assign`.
/// Fixed size and `Copy`, so that labelling a request allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    singleton: Option<&'static str>,
    /// Navigation names, and whether the step carries a key; the first `len` are used.
    steps: [(&'static str, bool); MAX_STEPS],
    len: u8,
    deeper: bool,
    tail: Tail,
}

#[derive(Debug, Clone, Copy)]
enum Tail {
    None,
    Count,
    /// `/$ref`
    Reference,
    Action(&'static str),
}

impl Template {
    pub fn of(path: &ResourcePath<'static>) -> Self {
        let mut template = Self {
            singleton: (path.root.kind == RootKind::Singleton).then_some(path.root.name.as_str()),
            steps: [("", false); MAX_STEPS],
            len: 0,
            deeper: path.steps.len() > MAX_STEPS,
            tail: match (path.operation, path.count, path.reference, path.property) {
                (Some(operation), _, _, _) => Tail::Action(operation.name.as_str()),
                (None, true, _, _) => Tail::Count,
                (None, false, true, _) => Tail::Reference,
                (None, false, false, Some(property)) => Tail::Action(property.name.as_str()),
                (None, false, false, None) => Tail::None,
            },
        };
        for (slot, step) in template.steps.iter_mut().zip(&path.steps) {
            *slot = (step.name, step.key.is_some());
            template.len += 1;
        }
        template
    }
}

/// Names are compared by address first: they are the model's own strings, so equal templates
/// nearly always share them, and comparing text made a lookup cost ten times more.
impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &str, b: &str) -> bool {
            std::ptr::eq(a, b) || a == b
        }
        let tails = match (self.tail, other.tail) {
            (Tail::None, Tail::None)
            | (Tail::Count, Tail::Count)
            | (Tail::Reference, Tail::Reference) => true,
            (Tail::Action(a), Tail::Action(b)) => same(a, b),
            _ => false,
        };
        let steps = usize::from(self.len);
        tails
            && self.len == other.len
            && self.deeper == other.deeper
            && match (self.singleton, other.singleton) {
                (Some(a), Some(b)) => same(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
            && self.steps[..steps]
                .iter()
                .zip(&other.steps[..steps])
                .all(|((a, a_keyed), (b, b_keyed))| a_keyed == b_keyed && same(a, b))
    }
}

impl Eq for Template {}

/// Hashes the template's shape (the lengths of its names, its keys and its tail) rather than its
/// text: one word to hash per lookup. Equal templates have equal shapes; `Eq` tells apart the
/// rare different ones that share one.
impl Hash for Template {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut shape = 0u64;
        let mut mix = |part: usize| {
            shape = (shape.rotate_left(7) ^ part as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        };
        mix(self.singleton.map_or(0, |s| s.len() + 1));
        for (name, keyed) in &self.steps[..usize::from(self.len)] {
            mix(name.len() << 1 | usize::from(*keyed));
        }
        mix(usize::from(self.deeper));
        mix(match self.tail {
            Tail::None => 0,
            Tail::Count => 1,
            Tail::Reference => 2,
            Tail::Action(name) => name.len() + 3,
        });
        state.write_u64(shape);
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("/{version}")?;
        if let Some(singleton) = self.singleton {
            write!(f, "/{singleton}")?;
        }
        for (name, keyed) in &self.steps[..usize::from(self.len)] {
            write!(f, "/{name}")?;
            if *keyed {
                f.write_str("/{id}")?;
            }
        }
        if self.deeper {
            f.write_str("/...")?;
        }
        match self.tail {
            Tail::None => Ok(()),
            Tail::Count => f.write_str("/$count"),
            Tail::Reference => f.write_str("/$ref"),
            Tail::Action(name) => write!(f, "/{name}"),
        }
    }
}

/// The request method, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodLabel {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl MethodLabel {
    pub fn of(method: &axum::http::Method) -> Self {
        use axum::http::Method;
        match *method {
            Method::GET => Self::Get,
            Method::HEAD => Self::Head,
            Method::POST => Self::Post,
            Method::PUT => Self::Put,
            Method::PATCH => Self::Patch,
            Method::DELETE => Self::Delete,
            Method::OPTIONS => Self::Options,
            _ => Self::Other,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other => "other",
        }
    }
}

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use odata::edm::StructuredType;
    use odata::{Model, Version};

    fn template(path: &str) -> String {
        let model = Model::intune().unwrap();
        Template::of(&ResourcePath::parse(model, Version::Beta, path).unwrap()).to_string()
    }

    #[test]
    fn keys_become_placeholders_in_both_key_syntaxes() {
        let id = "0f6c3f9e-2b7e-4c4e-9d7a-1a2b3c4d5e6f";
        let wanted = "/{version}/deviceManagement/deviceCompliancePolicies/{id}/assignments";
        for path in [
            format!("deviceManagement/deviceCompliancePolicies/{id}/assignments"),
            format!("deviceManagement/deviceCompliancePolicies('{id}')/assignments"),
        ] {
            assert_eq!(template(&path), wanted);
        }
        assert_eq!(
            template(&format!(
                "deviceManagement/deviceCompliancePolicies/{id}/assign"
            )),
            "/{version}/deviceManagement/deviceCompliancePolicies/{id}/assign"
        );
        assert_eq!(
            template("deviceManagement/deviceCompliancePolicies/$count"),
            "/{version}/deviceManagement/deviceCompliancePolicies/$count"
        );
    }

    /// Every path the model can address fits in `MAX_STEPS`, so the templates are exactly the
    /// model's paths: a fixed, small set.
    #[test]
    fn every_path_of_the_model_fits_and_they_are_few() {
        fn walk(model: &Model, ty: &StructuredType, version: Version, depth: usize) -> usize {
            assert!(
                depth < MAX_STEPS,
                "a path of the model is deeper than MAX_STEPS"
            );
            model
                .navigations(ty, version)
                .into_iter()
                .map(|nav| {
                    let target = model.structured(&nav.target).unwrap();
                    1 + walk(model, target, version, depth + 1)
                })
                .sum()
        }
        let model = Model::intune().unwrap();
        let mut paths = 0;
        for version in [Version::V1, Version::Beta] {
            for root in model.roots() {
                let ty = model.structured(&root.type_name).unwrap();
                paths += 1 + walk(model, ty, version, 1);
            }
        }
        // Each path is a template with or without its last key, with or without `$count`.
        assert!(paths < 200, "{paths} paths");
    }

    #[test]
    fn methods_outside_the_usual_are_other() {
        let odd = axum::http::Method::from_bytes(b"FROBNICATE").unwrap();
        assert_eq!(MethodLabel::of(&odd), MethodLabel::Other);
        assert_eq!(
            MethodLabel::of(&axum::http::Method::PATCH).as_str(),
            "PATCH"
        );
    }
}

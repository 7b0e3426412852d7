//! The entity model: structured types, properties, enums, navigations, the service root and its
//! bound actions. Everything that differs between entities lives here as data; the rest of the
//! crate (validation, projection, paths) is generic over it.

mod csdl;
mod openapi;
mod service;
mod text;

pub use openapi::DATE_TIME_OFFSET_PATTERN;
pub use service::{Action, Permissions, Root, RootKind};

use std::collections::HashMap;
use std::sync::OnceLock;

/// The two Graph versions complyd serves from one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1,
    Beta,
}

impl Version {
    pub fn parse(segment: &str) -> Option<Self> {
        match segment {
            "v1.0" => Some(Self::V1),
            "beta" => Some(Self::Beta),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1.0",
            Self::Beta => "beta",
        }
    }
}

/// Whether a model element exists in one version or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Both,
    BetaOnly,
}

impl Availability {
    pub fn in_version(self, version: Version) -> bool {
        self == Self::Both || version == Version::Beta
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    String,
    Boolean,
    Int32,
    Int64,
    DateTimeOffset,
    Binary,
    Guid,
}

impl Primitive {
    pub fn edm_name(self) -> &'static str {
        match self {
            Self::String => "Edm.String",
            Self::Boolean => "Edm.Boolean",
            Self::Int32 => "Edm.Int32",
            Self::Int64 => "Edm.Int64",
            Self::DateTimeOffset => "Edm.DateTimeOffset",
            Self::Binary => "Edm.Binary",
            Self::Guid => "Edm.Guid",
        }
    }
}

/// The type of a property value, without collection-ness or nullability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueType {
    Primitive(Primitive),
    /// Qualified name of an enum type.
    Enum(String),
    /// Qualified name of a complex type.
    Complex(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRef {
    pub value: ValueType,
    pub collection: bool,
    pub nullable: bool,
}

#[derive(Debug, Clone)]
pub struct Property {
    pub name: String,
    pub ty: TypeRef,
    pub availability: Availability,
    /// Documented inclusive range of an integer property.
    pub range: Option<(i64, i64)>,
    /// Must be present when the entity is created.
    pub required: bool,
    /// Set by the server only; a client that sends it is refused.
    pub server_managed: bool,
    pub max_items: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Navigation {
    pub name: String,
    /// Qualified name of the target entity type.
    pub target: String,
    pub collection: bool,
    pub availability: Availability,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    Entity,
    Complex,
}

#[derive(Debug, Clone)]
pub struct StructuredType {
    /// Qualified name, e.g. `microsoft.graph.windows10CompliancePolicy`.
    pub name: String,
    pub kind: TypeKind,
    pub base: Option<String>,
    pub is_abstract: bool,
    pub availability: Availability,
    pub own_properties: Vec<Property>,
    pub own_navigations: Vec<Navigation>,
}

impl StructuredType {
    pub fn short_name(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone)]
pub struct EnumMember {
    pub name: String,
    pub value: i64,
    pub availability: Availability,
}

#[derive(Debug, Clone)]
pub struct EnumType {
    pub name: String,
    pub members: Vec<EnumMember>,
}

/// The whole model: every type of the slice, the service root and the bound actions.
#[derive(Debug)]
pub struct Model {
    types: HashMap<String, StructuredType>,
    enums: HashMap<String, EnumType>,
    roots: Vec<Root>,
    actions: Vec<Action>,
}

/// The slice's model text, one file per area: every `slice/*.edm`, sorted by name (listed by
/// `build.rs`).
const SLICE: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/slice.rs"));

impl Model {
    /// The Intune device-compliance model, parsed once.
    pub fn intune() -> Result<&'static Model, String> {
        static MODEL: OnceLock<Result<Model, String>> = OnceLock::new();
        MODEL.get_or_init(Self::load).as_ref().map_err(Clone::clone)
    }

    fn load() -> Result<Model, String> {
        let mut parsed = text::Parsed::default();
        for (file, source) in SLICE {
            text::parse_into(&mut parsed, source).map_err(|e| format!("{file}: {e}"))?;
        }
        let model = Model {
            types: parsed.types,
            enums: parsed.enums,
            roots: service::roots(),
            actions: service::actions(),
        };
        model.check()?;
        Ok(model)
    }

    /// Every reference in the model resolves; no type repeats an inherited property.
    fn check(&self) -> Result<(), String> {
        for ty in self.types.values() {
            if let Some(base) = &ty.base {
                if !self.types.contains_key(base) {
                    return Err(format!("{}: unknown base type {base}", ty.name));
                }
            }
            let mut seen = std::collections::HashSet::new();
            for p in self.all_properties(ty) {
                if !seen.insert(p.name.as_str()) {
                    return Err(format!("{}: property {} declared twice", ty.name, p.name));
                }
                match &p.ty.value {
                    ValueType::Enum(e) if !self.enums.contains_key(e) => {
                        return Err(format!("{}.{}: unknown enum {e}", ty.name, p.name))
                    }
                    ValueType::Complex(c) if !self.types.contains_key(c) => {
                        return Err(format!("{}.{}: unknown type {c}", ty.name, p.name))
                    }
                    _ => {}
                }
            }
            for n in &ty.own_navigations {
                if !self.types.contains_key(&n.target) {
                    return Err(format!(
                        "{}.{}: unknown target {}",
                        ty.name, n.name, n.target
                    ));
                }
            }
        }
        for root in &self.roots {
            if !self.types.contains_key(root.type_name) {
                return Err(format!(
                    "root {}: unknown type {}",
                    root.name, root.type_name
                ));
            }
        }
        for action in &self.actions {
            let bound = self.structured(action.bound_to);
            if bound
                .and_then(|t| self.navigation(t, action.replaces, Version::Beta))
                .is_none()
            {
                return Err(format!(
                    "action {}: no navigation {}",
                    action.name, action.replaces
                ));
            }
        }
        Ok(())
    }

    pub fn structured(&self, qualified: &str) -> Option<&StructuredType> {
        self.types.get(qualified)
    }

    pub fn enum_type(&self, qualified: &str) -> Option<&EnumType> {
        self.enums.get(qualified)
    }

    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    pub fn root(&self, name: &str, version: Version) -> Option<&Root> {
        self.roots
            .iter()
            .find(|r| r.name == name && r.availability.in_version(version))
    }

    /// A type name as a client writes it (`#microsoft.graph.x` or `microsoft.graph.x`).
    pub fn resolve_type_name(&self, name: &str) -> Option<&StructuredType> {
        self.types.get(name.strip_prefix('#').unwrap_or(name))
    }

    /// `ty` and its bases, most derived first.
    pub fn lineage<'a>(
        &'a self,
        ty: &'a StructuredType,
    ) -> impl Iterator<Item = &'a StructuredType> {
        std::iter::successors(Some(ty), |t| {
            t.base.as_deref().and_then(|b| self.types.get(b))
        })
    }

    pub fn is_derived_from(&self, ty: &StructuredType, base: &str) -> bool {
        self.lineage(ty).any(|t| t.name == base)
    }

    pub fn exists_in(&self, ty: &StructuredType, version: Version) -> bool {
        self.lineage(ty).all(|t| t.availability.in_version(version))
    }

    /// The nearest type in `ty`'s lineage that exists in `version`.
    pub fn visible_type<'a>(
        &'a self,
        ty: &'a StructuredType,
        version: Version,
    ) -> &'a StructuredType {
        self.lineage(ty)
            .find(|t| self.exists_in(t, version))
            .unwrap_or(ty)
    }

    /// Every property, base types first, in every version.
    pub fn all_properties<'a>(&'a self, ty: &'a StructuredType) -> Vec<&'a Property> {
        let mut chain: Vec<_> = self.lineage(ty).collect();
        chain.reverse();
        chain
            .into_iter()
            .flat_map(|t| t.own_properties.iter())
            .collect()
    }

    /// The properties `version` shows, base types first.
    pub fn properties<'a>(&'a self, ty: &'a StructuredType, version: Version) -> Vec<&'a Property> {
        let mut props = self.all_properties(ty);
        props.retain(|p| p.availability.in_version(version));
        props
    }

    pub fn property<'a>(
        &'a self,
        ty: &'a StructuredType,
        name: &str,
        version: Version,
    ) -> Option<&'a Property> {
        self.lineage(ty)
            .flat_map(|t| t.own_properties.iter())
            .find(|p| p.name == name && p.availability.in_version(version))
    }

    pub fn navigation<'a>(
        &'a self,
        ty: &'a StructuredType,
        name: &str,
        version: Version,
    ) -> Option<&'a Navigation> {
        self.lineage(ty)
            .flat_map(|t| t.own_navigations.iter())
            .find(|n| n.name == name && n.availability.in_version(version))
    }

    pub fn navigations<'a>(
        &'a self,
        ty: &'a StructuredType,
        version: Version,
    ) -> Vec<&'a Navigation> {
        let mut chain: Vec<_> = self.lineage(ty).collect();
        chain.reverse();
        chain
            .into_iter()
            .flat_map(|t| t.own_navigations.iter())
            .filter(|n| n.availability.in_version(version))
            .collect()
    }

    /// An action bound to `ty` (or one of its bases) that `version` has.
    pub fn action(&self, ty: &StructuredType, name: &str, version: Version) -> Option<&Action> {
        self.actions.iter().find(|a| {
            a.name == name
                && a.availability.in_version(version)
                && self.is_derived_from(ty, a.bound_to)
        })
    }

    pub fn enum_member<'a>(
        &'a self,
        enum_name: &str,
        member: &str,
        version: Version,
    ) -> Option<&'a EnumMember> {
        self.enums
            .get(enum_name)?
            .members
            .iter()
            .find(|m| m.name == member && m.availability.in_version(version))
    }

    /// Concrete types derived from `base` (itself included when concrete) that `version` has.
    pub fn concrete_types<'a>(&'a self, base: &str, version: Version) -> Vec<&'a StructuredType> {
        let mut found: Vec<_> = self
            .types
            .values()
            .filter(|t| {
                !t.is_abstract && self.exists_in(t, version) && self.is_derived_from(t, base)
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slice_parses_and_every_reference_resolves() {
        let model = Model::intune();
        assert!(model.is_ok(), "{:?}", model.err());
    }
}

//! Member paths (`a/b`, `cast/a`, `x/a` inside a lambda) walked through the model to a typed
//! property, a complex value, or the key.

use super::{bad, Binder, Element, Operand, Scalar, Scope};
use crate::edm::{Primitive, Property, StructuredType, TypeKind, ValueType};
use crate::ODataError;

/// A resolved member path.
pub(super) enum Resolved<'m> {
    Id,
    Scalar {
        scope: Scope,
        path: Vec<String>,
        ty: Scalar,
        members: Vec<(String, i64)>,
        only_types: Option<Vec<String>>,
        collection: bool,
    },
    Complex {
        scope: Scope,
        path: Vec<String>,
        ty: &'m StructuredType,
        collection: bool,
    },
}

/// A member path part-way resolved: where it started, the type reached, the JSON path so far,
/// and the types a derived-type property or cast limits it to.
struct Walk<'m> {
    scope: Scope,
    current: Option<&'m StructuredType>,
    path: Vec<String>,
    only_types: Option<Vec<String>>,
}

/// How a path that starts with a lambda variable begins.
enum Start<'m> {
    /// A scalar element is the whole path.
    Done(Resolved<'m>),
    /// A complex element: the walk continues from its type.
    Walk(Walk<'m>),
}

impl<'m> Binder<'m> {
    pub(super) fn resolve(&self, segments: &[String]) -> Result<Resolved<'m>, ODataError> {
        let (mut walk, rest) = match self.variable(segments)? {
            Some(Start::Done(resolved)) => return Ok(resolved),
            Some(Start::Walk(walk)) => (walk, &segments[1..]),
            None => (
                Walk {
                    scope: Scope::Entity,
                    current: Some(self.root),
                    path: Vec::new(),
                    only_types: None,
                },
                segments,
            ),
        };
        if rest.len() == 1 && rest[0] == "id" && walk.scope == Scope::Entity {
            return Ok(Resolved::Id);
        }
        for (i, segment) in rest.iter().enumerate() {
            let ty = walk.current.ok_or_else(|| {
                bad(format!(
                    "Invalid $filter: '{segment}' follows a value that has no properties."
                ))
            })?;
            if segment.contains('.') {
                self.cast(&mut walk, ty, segment)?;
                continue;
            }
            let last = i + 1 == rest.len();
            if let Some(resolved) = self.step(&mut walk, ty, segment, last)? {
                return Ok(resolved);
            }
        }
        Err(bad("Invalid $filter: a property path is incomplete."))
    }

    /// The start of a path whose first segment names a lambda variable (the innermost of that
    /// name); `None` when it names none.
    fn variable(&self, segments: &[String]) -> Result<Option<Start<'m>>, ODataError> {
        let Some(pos) = self
            .vars
            .iter()
            .rposition(|(v, _)| Some(v) == segments.first())
        else {
            return Ok(None);
        };
        let (scope, rest) = (Scope::Element(pos + 1), &segments[1..]);
        match &self.vars[pos].1 {
            Element::Scalar(ty, members) => {
                if !rest.is_empty() {
                    return Err(bad(format!(
                        "Invalid $filter: '{}' has no properties.",
                        self.vars[pos].0
                    )));
                }
                Ok(Some(Start::Done(Resolved::Scalar {
                    scope,
                    path: Vec::new(),
                    ty: ty.clone(),
                    members: members.clone(),
                    only_types: None,
                    collection: false,
                })))
            }
            Element::Complex(_) if rest.is_empty() => Err(bad(
                "Invalid $filter: a lambda variable of a complex type must be followed by a property.",
            )),
            Element::Complex(t) => Ok(Some(Start::Walk(Walk {
                scope,
                current: Some(*t),
                path: Vec::new(),
                only_types: None,
            }))),
        }
    }

    /// A type-cast segment: the walk continues in the derived type; at the start of an entity
    /// path, only entities of that type (and its descendants) have the property.
    fn cast(
        &self,
        walk: &mut Walk<'m>,
        ty: &'m StructuredType,
        segment: &str,
    ) -> Result<(), ODataError> {
        let cast = self
            .model
            .resolve_type_name(segment)
            .filter(|t| {
                self.model.exists_in(t, self.version) && self.model.is_derived_from(t, &ty.name)
            })
            .ok_or_else(|| {
                bad(format!(
                    "Invalid $filter: '{segment}' is not a type derived from '{}'.",
                    ty.name
                ))
            })?;
        if walk.path.is_empty() && walk.scope == Scope::Entity {
            walk.only_types = Some(self.descendants(cast));
        }
        walk.current = Some(cast);
        Ok(())
    }

    /// A property segment; the resolved path when it is the last one.
    fn step(
        &self,
        walk: &mut Walk<'m>,
        ty: &'m StructuredType,
        segment: &str,
        last: bool,
    ) -> Result<Option<Resolved<'m>>, ODataError> {
        let (prop, implicit) = self.property_of(ty, segment)?;
        // Type conditions apply to the entity's own type; inside a complex value an absent
        // member simply reads as null.
        if walk.only_types.is_none() && walk.path.is_empty() && walk.scope == Scope::Entity {
            walk.only_types = implicit;
        }
        walk.path.push(prop.name.clone());
        match &prop.ty.value {
            ValueType::Complex(name) => self.complex_step(walk, prop, name, last),
            other if last => {
                let (ty, members) = self.scalar(other);
                Ok(Some(Resolved::Scalar {
                    scope: walk.scope,
                    path: std::mem::take(&mut walk.path),
                    ty,
                    members,
                    only_types: walk.only_types.take(),
                    collection: prop.ty.collection,
                }))
            }
            _ => Err(bad(format!(
                "Invalid $filter: '{}' has no properties.",
                prop.name
            ))),
        }
    }

    /// A complex-valued property: the whole value when it ends the path, else the walk goes on
    /// in its type (a collection needs a lambda first).
    fn complex_step(
        &self,
        walk: &mut Walk<'m>,
        prop: &'m Property,
        name: &str,
        last: bool,
    ) -> Result<Option<Resolved<'m>>, ODataError> {
        let complex = self
            .model
            .structured(name)
            .filter(|t| t.kind == TypeKind::Complex);
        if last {
            let ty = complex.ok_or_else(|| bad(format!("Unknown type '{name}'.")))?;
            return Ok(Some(Resolved::Complex {
                scope: walk.scope,
                path: std::mem::take(&mut walk.path),
                ty,
                collection: prop.ty.collection,
            }));
        }
        if prop.ty.collection {
            return Err(bad(format!(
                "Invalid $filter: the collection '{}' needs any() or all().",
                prop.name
            )));
        }
        walk.current = complex;
        Ok(None)
    }

    /// The `follows` property an operand names at the entity's top level (or in a call's
    /// arguments), if any.
    pub(super) fn followed_in(&self, operand: &Operand) -> Option<String> {
        let mut stack = vec![operand];
        while let Some(o) = stack.pop() {
            match o {
                Operand::Property {
                    scope: Scope::Entity,
                    path,
                    ..
                } if path.len() == 1 => {
                    let found = self.find_property(self.root, &path[0]);
                    if found.is_some_and(|(p, _)| p.follows.is_some()) {
                        return Some(path[0].clone());
                    }
                }
                Operand::Call { args, .. } => stack.extend(args.iter()),
                _ => {}
            }
        }
        None
    }

    /// The property `name` of `ty` (or of a derived type), or the error that says why not.
    fn property_of(
        &self,
        ty: &'m StructuredType,
        name: &str,
    ) -> Result<(&'m Property, Option<Vec<String>>), ODataError> {
        match self.find_property(ty, name) {
            Some(found) => Ok(found),
            None if self.model.navigation(ty, name, self.version).is_some() => Err(bad(format!(
                "Invalid $filter: navigation property '{name}' cannot be used here."
            ))),
            None => Err(bad(format!(
                "Invalid $filter: could not find a property named '{name}' on type '{}'.",
                ty.name
            ))),
        }
    }

    /// A property of `ty` or, failing that, of one of its derived types (read as null elsewhere).
    pub(super) fn find_property(
        &self,
        ty: &'m StructuredType,
        name: &str,
    ) -> Option<(&'m Property, Option<Vec<String>>)> {
        if let Some(p) = self.model.property(ty, name, self.version) {
            return Some((p, None));
        }
        let having: Vec<&StructuredType> = self
            .model
            .concrete_types(&ty.name, self.version)
            .into_iter()
            .filter(|t| self.model.property(t, name, self.version).is_some())
            .collect();
        let first = having.first()?;
        let prop = self.model.property(first, name, self.version)?;
        Some((prop, Some(having.iter().map(|t| t.name.clone()).collect())))
    }

    pub(super) fn descendants(&self, ty: &StructuredType) -> Vec<String> {
        let mut names: Vec<String> = self
            .model
            .concrete_types(&ty.name, self.version)
            .into_iter()
            .map(|t| t.name.clone())
            .collect();
        if !names.contains(&ty.name) {
            names.push(ty.name.clone());
        }
        names
    }

    pub(super) fn scalar(&self, value: &ValueType) -> (Scalar, Vec<(String, i64)>) {
        match value {
            ValueType::Primitive(p) => (
                match p {
                    // `HH:MM:SS` orders as text.
                    Primitive::String | Primitive::TimeOfDay => Scalar::String,
                    Primitive::Boolean => Scalar::Boolean,
                    Primitive::Int32 | Primitive::Int64 => Scalar::Int,
                    Primitive::Double => Scalar::Decimal,
                    Primitive::DateTimeOffset => Scalar::DateTimeOffset,
                    Primitive::Guid => Scalar::Guid,
                    Primitive::Binary => Scalar::Binary,
                },
                Vec::new(),
            ),
            ValueType::Enum(name) => {
                let mut members: Vec<(String, i64)> = self
                    .model
                    .enum_type(name)
                    .map(|e| {
                        e.members
                            .iter()
                            .map(|m| (m.name.clone(), m.value))
                            .collect()
                    })
                    .unwrap_or_default();
                members.sort_by_key(|(_, v)| *v);
                (Scalar::Enum(name.clone()), members)
            }
            ValueType::Complex(_) => (Scalar::String, Vec::new()),
        }
    }
}

//! Parsed query options + the model → a bound query: every property resolved and typed, every
//! literal checked against what it is compared with. Only a `BoundQuery` reaches the store.

use super::filter::{BinOp, Expr, Logic};
use super::limits::MAX_EXPANDED_NAVIGATIONS;
use super::{ExpandItem, QueryOptions};
use crate::edm::{Model, Navigation, Primitive, StructuredType, TypeKind, ValueType, Version};
use crate::value::DateTimeOffset;
use crate::ODataError;

/// The type of a scalar operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    String,
    Boolean,
    Int,
    Decimal,
    DateTimeOffset,
    Guid,
    Binary,
    /// Qualified enum name.
    Enum(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(f64),
    String(String),
    /// UTC ticks (100 ns since 0001-01-01).
    DateTimeOffset(i64),
    /// An enum member: its name and numeric value.
    Enum {
        name: String,
        value: i64,
    },
}

/// Where a property path starts: the entity's body, or the element of an enclosing lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Entity,
    /// The element of the lambda at this nesting depth (1 = outermost).
    Element(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// The entity key.
    Id,
    Property {
        scope: Scope,
        /// JSON member names from the scope's root.
        path: Vec<String>,
        ty: Scalar,
        /// For a property of a derived type: the types that have it (others read as null).
        only_types: Option<Vec<String>>,
        /// Enum members in value order, for ordering comparisons.
        members: Vec<(String, i64)>,
    },
    Literal(Literal),
    Call {
        func: Func,
        args: Vec<Operand>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    ToLower,
    ToUpper,
    Trim,
    Length,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringTest {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        op: Compare,
        left: Operand,
        right: Operand,
        ty: Scalar,
    },
    IsNull {
        operand: Operand,
        negated: bool,
    },
    In {
        left: Operand,
        list: Vec<Literal>,
        ty: Scalar,
    },
    StringTest {
        test: StringTest,
        subject: Operand,
        needle: Operand,
    },
    /// A Boolean property used as a condition.
    IsTrue(Operand),
    /// All of the terms (a chain of `and`, kept flat as the parser kept it).
    And(Vec<Condition>),
    /// Any of the terms.
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// `path/any(...)` or `path/all(...)` over a collection property; `body: None` is `any()`.
    Lambda {
        scope: Scope,
        path: Vec<String>,
        all: bool,
        depth: usize,
        body: Option<Box<Condition>>,
    },
    /// The entity's runtime type is one of these.
    IsOf(Vec<String>),
    Literal(bool),
}

impl Condition {
    /// Whether the condition uses `contains`, `startswith`, `endswith` or a string-valued function.
    pub fn uses_string_functions(&self) -> bool {
        match self {
            Self::StringTest { .. } => true,
            Self::Compare { left, right, .. } => left.uses_function() || right.uses_function(),
            Self::In { left, .. } => left.uses_function(),
            Self::And(terms) | Self::Or(terms) => terms.iter().any(Self::uses_string_functions),
            Self::Not(a) => a.uses_string_functions(),
            Self::Lambda { body, .. } => body.as_ref().is_some_and(|b| b.uses_string_functions()),
            Self::IsNull { operand, .. } | Self::IsTrue(operand) => operand.uses_function(),
            Self::IsOf(_) | Self::Literal(_) => false,
        }
    }
}

impl Operand {
    fn uses_function(&self) -> bool {
        matches!(
            self,
            Self::Call {
                func: Func::ToLower | Func::ToUpper | Func::Trim | Func::Length,
                ..
            }
        )
    }
}

#[derive(Debug, Clone)]
pub struct BoundExpand<'m> {
    pub navigation: &'m Navigation,
    pub target: &'m StructuredType,
    pub query: BoundQuery<'m>,
}

#[derive(Debug, Clone, Default)]
pub struct BoundQuery<'m> {
    pub filter: Option<Condition>,
    pub orderby: Vec<(Operand, bool)>,
    pub select: Option<Vec<String>>,
    pub expand: Vec<BoundExpand<'m>>,
    pub top: Option<usize>,
    pub skip: Option<usize>,
    pub skiptoken: Option<String>,
    pub count: bool,
}

fn bad(message: impl Into<String>) -> ODataError {
    ODataError::bad_request(message)
}

/// Binds parsed options for a collection (or entity) of `ty`.
pub fn bind<'m>(
    model: &'m Model,
    version: Version,
    ty: &'m StructuredType,
    q: &QueryOptions,
) -> Result<BoundQuery<'m>, ODataError> {
    bind_counting(model, version, ty, q, &mut 0)
}

/// `bind`, adding the navigations it expands (at every level) to `expanded`.
fn bind_counting<'m>(
    model: &'m Model,
    version: Version,
    ty: &'m StructuredType,
    q: &QueryOptions,
    expanded: &mut usize,
) -> Result<BoundQuery<'m>, ODataError> {
    let mut binder = Binder {
        model,
        version,
        root: ty,
        vars: Vec::new(),
    };
    let filter = q.filter.as_ref().map(|e| binder.condition(e)).transpose()?;
    let orderby = q
        .orderby
        .iter()
        .map(|(e, desc)| {
            let operand = binder.operand(e)?;
            if matches!(operand, Operand::Literal(_)) {
                return Err(bad(format!("Invalid $orderby: '{e}' is not a property.")));
            }
            Ok((operand, *desc))
        })
        .collect::<Result<_, _>>()?;
    let select = q
        .select
        .as_ref()
        .map(|items| binder.select(items))
        .transpose()?;
    let mut expand: Vec<BoundExpand<'m>> = Vec::new();
    for item in &q.expand {
        binder.expand(item, expanded, &mut expand)?;
    }
    Ok(BoundQuery {
        filter,
        orderby,
        select,
        expand,
        top: q.top,
        skip: q.skip,
        skiptoken: q.skiptoken.clone(),
        count: q.count,
    })
}

/// What a lambda variable stands for.
#[derive(Clone)]
enum Element<'m> {
    Scalar(Scalar, Vec<(String, i64)>),
    Complex(&'m StructuredType),
}

struct Binder<'m> {
    model: &'m Model,
    version: Version,
    root: &'m StructuredType,
    vars: Vec<(String, Element<'m>)>,
}

/// A resolved member path.
enum Resolved<'m> {
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

impl<'m> Binder<'m> {
    fn select(&self, items: &[String]) -> Result<Vec<String>, ODataError> {
        items
            .iter()
            .map(|item| {
                let name = item.rsplit('/').next().unwrap_or(item);
                let known = name == "id"
                    || self.find_property(self.root, name).is_some()
                    || self
                        .model
                        .navigation(self.root, name, self.version)
                        .is_some();
                if known {
                    Ok(name.to_string())
                } else {
                    Err(bad(format!(
                        "Invalid $select: could not find a property named '{item}' on type '{}'.",
                        self.root.name
                    )))
                }
            })
            .collect()
    }

    /// Adds what `item` expands to `out`. A plain item (no options) does not expand again what
    /// this level already expands: `a,a` and `*,a` are `a` once. Items with options all count.
    fn expand(
        &self,
        item: &ExpandItem,
        expanded: &mut usize,
        out: &mut Vec<BoundExpand<'m>>,
    ) -> Result<(), ODataError> {
        let navs: Vec<&'m Navigation> = if item.path == "*" {
            self.model.navigations(self.root, self.version)
        } else {
            let nav = self
                .model
                .navigation(self.root, &item.path, self.version)
                .ok_or_else(|| {
                    bad(format!(
                        "Invalid $expand: '{}' is not a navigation property of '{}'.",
                        item.path, self.root.name
                    ))
                })?;
            vec![nav]
        };
        let mut navs = navs;
        if item.options == super::QueryOptions::default() {
            navs.retain(|nav| !out.iter().any(|e| std::ptr::eq(e.navigation, *nav)));
        }
        *expanded += navs.len();
        if *expanded > MAX_EXPANDED_NAVIGATIONS {
            return Err(bad(format!(
                "Invalid $expand: more than {MAX_EXPANDED_NAVIGATIONS} navigations are expanded in all (the limit)."
            )));
        }
        for navigation in navs {
            let target = self
                .model
                .structured(&navigation.target)
                .ok_or_else(|| bad(format!("Unknown type '{}'.", navigation.target)))?;
            let query = bind_counting(self.model, self.version, target, &item.options, expanded)?;
            out.push(BoundExpand {
                navigation,
                target,
                query,
            });
        }
        Ok(())
    }

    /// A property of `ty` or, failing that, of one of its derived types (read as null elsewhere).
    fn find_property(
        &self,
        ty: &'m StructuredType,
        name: &str,
    ) -> Option<(&'m crate::edm::Property, Option<Vec<String>>)> {
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

    fn resolve(&self, segments: &[String]) -> Result<Resolved<'m>, ODataError> {
        let mut rest = segments;
        let (mut scope, mut current): (Scope, Option<&'m StructuredType>) =
            (Scope::Entity, Some(self.root));
        let mut only_types: Option<Vec<String>> = None;
        if let Some(pos) = self.vars.iter().rposition(|(v, _)| Some(v) == rest.first()) {
            scope = Scope::Element(pos + 1);
            rest = &rest[1..];
            match &self.vars[pos].1 {
                Element::Scalar(ty, members) => {
                    if !rest.is_empty() {
                        return Err(bad(format!(
                            "Invalid $filter: '{}' has no properties.",
                            self.vars[pos].0
                        )));
                    }
                    let (ty, members) = (ty.clone(), members.clone());
                    return Ok(Resolved::Scalar {
                        scope,
                        path: Vec::new(),
                        ty,
                        members,
                        only_types: None,
                        collection: false,
                    });
                }
                Element::Complex(t) => current = Some(*t),
            }
            if rest.is_empty() {
                return Err(bad("Invalid $filter: a lambda variable of a complex type must be followed by a property."));
            }
        }
        if rest.first().is_some_and(|s| s == "id") && rest.len() == 1 && scope == Scope::Entity {
            return Ok(Resolved::Id);
        }
        let mut path = Vec::new();
        let mut iter = rest.iter().peekable();
        while let Some(segment) = iter.next() {
            let ty = current.ok_or_else(|| {
                bad(format!(
                    "Invalid $filter: '{segment}' follows a value that has no properties."
                ))
            })?;
            if segment.contains('.') {
                let cast = self
                    .model
                    .resolve_type_name(segment)
                    .filter(|t| {
                        self.model.exists_in(t, self.version)
                            && self.model.is_derived_from(t, &ty.name)
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "Invalid $filter: '{segment}' is not a type derived from '{}'.",
                            ty.name
                        ))
                    })?;
                if path.is_empty() && scope == Scope::Entity {
                    only_types = Some(self.descendants(cast));
                }
                current = Some(cast);
                continue;
            }
            let (prop, implicit) = match self.find_property(ty, segment) {
                Some(found) => found,
                None if self.model.navigation(ty, segment, self.version).is_some() => {
                    return Err(bad(format!(
                        "Invalid $filter: navigation property '{segment}' cannot be used here."
                    )))
                }
                None => {
                    return Err(bad(format!(
                    "Invalid $filter: could not find a property named '{segment}' on type '{}'.",
                    ty.name
                )))
                }
            };
            // Type conditions apply to the entity's own type; inside a complex value an absent
            // member simply reads as null.
            if only_types.is_none() && path.is_empty() && scope == Scope::Entity {
                only_types = implicit;
            }
            path.push(prop.name.clone());
            let last = iter.peek().is_none();
            match &prop.ty.value {
                ValueType::Complex(name) => {
                    let complex = self
                        .model
                        .structured(name)
                        .filter(|t| t.kind == TypeKind::Complex);
                    if last {
                        let ty = complex.ok_or_else(|| bad(format!("Unknown type '{name}'.")))?;
                        return Ok(Resolved::Complex {
                            scope,
                            path,
                            ty,
                            collection: prop.ty.collection,
                        });
                    }
                    if prop.ty.collection {
                        return Err(bad(format!(
                            "Invalid $filter: the collection '{}' needs any() or all().",
                            prop.name
                        )));
                    }
                    current = complex;
                }
                other if last => {
                    let (ty, members) = self.scalar(other);
                    return Ok(Resolved::Scalar {
                        scope,
                        path,
                        ty,
                        members,
                        only_types,
                        collection: prop.ty.collection,
                    });
                }
                _ => {
                    return Err(bad(format!(
                        "Invalid $filter: '{}' has no properties.",
                        prop.name
                    )))
                }
            }
        }
        Err(bad("Invalid $filter: a property path is incomplete."))
    }

    fn descendants(&self, ty: &StructuredType) -> Vec<String> {
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

    fn scalar(&self, value: &ValueType) -> (Scalar, Vec<(String, i64)>) {
        match value {
            ValueType::Primitive(p) => (
                match p {
                    Primitive::String => Scalar::String,
                    Primitive::Boolean => Scalar::Boolean,
                    Primitive::Int32 | Primitive::Int64 => Scalar::Int,
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

    fn operand(&mut self, e: &Expr) -> Result<Operand, ODataError> {
        Ok(match e {
            Expr::Member(path) => match self.resolve(path)? {
                Resolved::Id => Operand::Id,
                Resolved::Scalar {
                    collection: true,
                    path,
                    ..
                }
                | Resolved::Complex { path, .. } => {
                    return Err(bad(format!(
                    "Invalid $filter: '{}' is not a single primitive value; use any() or all().",
                    path.join("/")
                )))
                }
                Resolved::Scalar {
                    scope,
                    path,
                    ty,
                    members,
                    only_types,
                    ..
                } => Operand::Property {
                    scope,
                    path,
                    ty,
                    only_types,
                    members,
                },
            },
            Expr::Call { name, args } => self.call(name, args)?,
            Expr::Null => Operand::Literal(Literal::Null),
            Expr::Bool(b) => Operand::Literal(Literal::Bool(*b)),
            Expr::Int(n) => Operand::Literal(Literal::Int(*n)),
            Expr::Decimal(d) => Operand::Literal(Literal::Decimal(
                d.parse()
                    .map_err(|_| bad(format!("Invalid number '{d}'.")))?,
            )),
            Expr::String(s) | Expr::Guid(s) => Operand::Literal(Literal::String(s.clone())),
            Expr::DateTimeOffset(s) => Operand::Literal(Literal::DateTimeOffset(
                DateTimeOffset::parse(s)
                    .map(|t| t.utc_ticks)
                    .ok_or_else(|| bad(format!("Invalid DateTimeOffset '{s}'.")))?,
            )),
            Expr::Enum { type_name, member } => {
                let value = self
                    .model
                    .enum_member(type_name, member, self.version)
                    .ok_or_else(|| {
                        bad(format!(
                            "Invalid $filter: '{member}' is not a member of enum '{type_name}'."
                        ))
                    })?
                    .value;
                Operand::Literal(Literal::Enum {
                    name: member.clone(),
                    value,
                })
            }
            other => return Err(bad(format!("Invalid $filter: '{other}' is not a value."))),
        })
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> Result<Operand, ODataError> {
        let func = match name {
            "tolower" => Func::ToLower,
            "toupper" => Func::ToUpper,
            "trim" => Func::Trim,
            "length" => Func::Length,
            "year" => Func::Year,
            "month" => Func::Month,
            "day" => Func::Day,
            "hour" => Func::Hour,
            "minute" => Func::Minute,
            "second" => Func::Second,
            "now" if args.is_empty() => {
                return Ok(Operand::Literal(Literal::DateTimeOffset(
                    DateTimeOffset::now().utc_ticks,
                )))
            }
            "contains" | "startswith" | "endswith" | "isof" => {
                return Err(bad(format!(
                    "Invalid $filter: '{name}' returns a Boolean and cannot be compared."
                )))
            }
            other => return Err(bad(format!("Invalid $filter: unknown function '{other}'."))),
        };
        let [arg] = args else {
            return Err(bad(format!(
                "Invalid $filter: '{name}' takes exactly one argument."
            )));
        };
        let arg = self.operand(arg)?;
        let want = if matches!(
            func,
            Func::ToLower | Func::ToUpper | Func::Trim | Func::Length
        ) {
            Scalar::String
        } else {
            Scalar::DateTimeOffset
        };
        if type_of(&arg).is_some_and(|t| t != want) {
            return Err(bad(format!(
                "Invalid $filter: '{name}' needs an argument of type {want:?}."
            )));
        }
        Ok(Operand::Call {
            func,
            args: vec![arg],
        })
    }

    fn condition(&mut self, e: &Expr) -> Result<Condition, ODataError> {
        Ok(match e {
            Expr::Logical { op, terms } => {
                let terms = terms
                    .iter()
                    .map(|t| self.condition(t))
                    .collect::<Result<Vec<_>, _>>()?;
                match op {
                    Logic::And => Condition::And(terms),
                    Logic::Or => Condition::Or(terms),
                }
            }
            Expr::Not(inner) => Condition::Not(Box::new(self.condition(inner)?)),
            Expr::Binary {
                op: BinOp::Has,
                left,
                ..
            } => {
                return Err(bad(format!(
                    "Invalid $filter: 'has' needs a flags enum, and '{left}' is not one."
                )))
            }
            Expr::Binary { op, left, right } => self.compare(*op, left, right)?,
            Expr::In { left, list } => {
                let operand = self.operand(left)?;
                let ty = type_of(&operand)
                    .ok_or_else(|| bad("Invalid $filter: 'in' needs a property on its left."))?;
                let list = list
                    .iter()
                    .map(|item| match self.operand(item)? {
                        Operand::Literal(lit) => coerce(lit, &ty, &operand, item),
                        _ => Err(bad(format!(
                            "Invalid $filter: '{item}' in an 'in' list must be a literal."
                        ))),
                    })
                    .collect::<Result<_, _>>()?;
                Condition::In {
                    left: operand,
                    list,
                    ty,
                }
            }
            Expr::Call { name, args }
                if matches!(name.as_str(), "contains" | "startswith" | "endswith") =>
            {
                let test = match name.as_str() {
                    "contains" => StringTest::Contains,
                    "startswith" => StringTest::StartsWith,
                    _ => StringTest::EndsWith,
                };
                let [subject, needle] = args.as_slice() else {
                    return Err(bad(format!(
                        "Invalid $filter: '{name}' takes two arguments."
                    )));
                };
                let (subject, needle) = (self.operand(subject)?, self.operand(needle)?);
                for o in [&subject, &needle] {
                    if type_of(o).is_some_and(|t| t != Scalar::String) {
                        return Err(bad(format!(
                            "Invalid $filter: '{name}' needs string arguments."
                        )));
                    }
                }
                Condition::StringTest {
                    test,
                    subject,
                    needle,
                }
            }
            Expr::Call { name, args } if name == "isof" => {
                let type_name = match args.as_slice() {
                    [Expr::Member(p)] | [_, Expr::Member(p)] if p.len() == 1 => p[0].clone(),
                    [Expr::String(s)] | [_, Expr::String(s)] => s.clone(),
                    _ => return Err(bad("Invalid $filter: isof needs a type name.")),
                };
                let ty = self
                    .model
                    .resolve_type_name(&type_name)
                    .filter(|t| self.model.exists_in(t, self.version))
                    .ok_or_else(|| {
                        bad(format!(
                            "Invalid $filter: unknown type '{type_name}' in isof."
                        ))
                    })?;
                Condition::IsOf(self.descendants(ty))
            }
            Expr::Lambda {
                path,
                all,
                var,
                body,
            } => self.lambda(path, *all, var.as_deref(), body.as_deref())?,
            Expr::Bool(b) => Condition::Literal(*b),
            other => {
                let operand = self.operand(other)?;
                if type_of(&operand) != Some(Scalar::Boolean) {
                    return Err(bad(format!(
                        "Invalid $filter: '{other}' is not a Boolean expression."
                    )));
                }
                Condition::IsTrue(operand)
            }
        })
    }

    fn compare(&mut self, op: BinOp, left: &Expr, right: &Expr) -> Result<Condition, ODataError> {
        let op = match op {
            BinOp::Eq => Compare::Eq,
            BinOp::Ne => Compare::Ne,
            BinOp::Gt => Compare::Gt,
            BinOp::Ge => Compare::Ge,
            BinOp::Lt => Compare::Lt,
            _ => Compare::Le,
        };
        let (l, r) = (self.operand(left)?, self.operand(right)?);
        let null = Operand::Literal(Literal::Null);
        if l == null || r == null {
            if !matches!(op, Compare::Eq | Compare::Ne) {
                return Err(bad(
                    "Invalid $filter: null can only be compared with eq or ne.",
                ));
            }
            let operand = if l == null { r } else { l };
            return Ok(Condition::IsNull {
                operand,
                negated: op == Compare::Ne,
            });
        }
        let ty = match (type_of(&l), type_of(&r)) {
            (Some(t), _) | (None, Some(t)) => t,
            (None, None) => {
                return Err(bad(format!(
                    "Invalid $filter: '{left} … {right}' compares two literals."
                )))
            }
        };
        let l = match l {
            Operand::Literal(lit) => Operand::Literal(coerce(lit, &ty, &r, left)?),
            other => other,
        };
        let r = match r {
            Operand::Literal(lit) => Operand::Literal(coerce(lit, &ty, &l, right)?),
            other => other,
        };
        if let (Some(a), Some(b)) = (type_of(&l), type_of(&r)) {
            if !compatible(&a, &b) {
                return Err(bad(format!(
                    "Invalid $filter: cannot compare '{left}' ({a:?}) with '{right}' ({b:?})."
                )));
            }
        }
        Ok(Condition::Compare {
            op,
            left: l,
            right: r,
            ty,
        })
    }

    fn lambda(
        &mut self,
        path: &[String],
        all: bool,
        var: Option<&str>,
        body: Option<&Expr>,
    ) -> Result<Condition, ODataError> {
        let (scope, json_path, element) = match self.resolve(path)? {
            Resolved::Scalar {
                scope,
                path,
                ty,
                members,
                collection: true,
                ..
            } => (scope, path, Element::Scalar(ty, members)),
            Resolved::Complex {
                scope,
                path,
                ty,
                collection: true,
            } => (scope, path, Element::Complex(ty)),
            _ => {
                return Err(bad(format!(
                    "Invalid $filter: '{}' is not a collection.",
                    path.join("/")
                )))
            }
        };
        let depth = self.vars.len() + 1;
        let body = match (var, body) {
            (Some(var), Some(body)) => {
                self.vars.push((var.to_string(), element));
                let bound = self.condition(body);
                self.vars.pop();
                Some(Box::new(bound?))
            }
            _ => None,
        };
        Ok(Condition::Lambda {
            scope,
            path: json_path,
            all,
            depth,
            body,
        })
    }
}

/// The scalar type of an operand; `None` for an untyped literal.
pub fn type_of(o: &Operand) -> Option<Scalar> {
    match o {
        Operand::Id => Some(Scalar::String),
        Operand::Property { ty, .. } => Some(ty.clone()),
        Operand::Call {
            func: Func::ToLower | Func::ToUpper | Func::Trim,
            ..
        } => Some(Scalar::String),
        Operand::Call { .. } => Some(Scalar::Int),
        Operand::Literal(_) => None,
    }
}

fn compatible(a: &Scalar, b: &Scalar) -> bool {
    a == b
        || matches!(
            (a, b),
            (Scalar::Int, Scalar::Decimal)
                | (Scalar::Decimal, Scalar::Int)
                | (Scalar::String, Scalar::Guid)
                | (Scalar::Guid, Scalar::String)
        )
}

/// A literal made fit for comparison with a value of type `ty` (enum names resolved, dates parsed).
fn coerce(
    lit: Literal,
    ty: &Scalar,
    other: &Operand,
    written: &Expr,
) -> Result<Literal, ODataError> {
    let target = match other {
        Operand::Property { path, .. } => format!("property '{}'", path.join("/")),
        Operand::Id => "property 'id'".to_string(),
        _ => "the value it is compared with".to_string(),
    };
    let mismatch = || {
        bad(format!(
            "Invalid $filter: the literal {written} does not fit {target} of type {ty:?}."
        ))
    };
    Ok(match (ty, lit) {
        (_, Literal::Null) => Literal::Null,
        (Scalar::Enum(name), Literal::String(member))
        | (Scalar::Enum(name), Literal::Enum { name: member, .. }) => {
            let members = match other {
                Operand::Property { members, .. } => members.clone(),
                _ => Vec::new(),
            };
            let value = members
                .iter()
                .find(|(m, _)| *m == member)
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    bad(format!(
                        "Invalid $filter: '{member}' is not a member of enum '{name}'."
                    ))
                })?;
            Literal::Enum {
                name: member,
                value,
            }
        }
        (Scalar::DateTimeOffset, Literal::String(s)) => Literal::DateTimeOffset(
            DateTimeOffset::parse(&s)
                .map(|t| t.utc_ticks)
                .ok_or_else(mismatch)?,
        ),
        (Scalar::String | Scalar::Guid | Scalar::Binary, lit @ Literal::String(_)) => lit,
        (Scalar::Boolean, lit @ Literal::Bool(_)) => lit,
        (Scalar::Int, lit @ (Literal::Int(_) | Literal::Decimal(_))) => lit,
        (Scalar::Decimal, Literal::Int(n)) => Literal::Decimal(n as f64),
        (Scalar::DateTimeOffset, lit @ Literal::DateTimeOffset(_)) => lit,
        _ => return Err(mismatch()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::QueryOptions;

    fn bind_filter(
        set_type: &str,
        version: Version,
        filter: &str,
    ) -> Result<Condition, ODataError> {
        let model = Model::intune().map_err(ODataError::bad_request)?;
        let ty = model.structured(set_type).ok_or_else(|| bad("no type"))?;
        let q = QueryOptions::parse([("$filter", filter)], false)?;
        bind(model, version, ty, &q).map(|b| b.filter.unwrap_or(Condition::Literal(true)))
    }

    const STATUS: &str = "microsoft.graph.deviceComplianceDeviceStatus";
    const POLICY: &str = "microsoft.graph.deviceCompliancePolicy";

    #[test]
    fn enum_literals_are_checked_against_members() {
        assert!(bind_filter(STATUS, Version::V1, "status eq 'nonCompliant'").is_ok());
        let err = bind_filter(STATUS, Version::V1, "status eq 'bogus'")
            .err()
            .map(|e| e.message);
        assert!(err.is_some_and(|m| m.contains("'bogus' is not a member")));
    }

    #[test]
    fn types_and_properties_are_checked() {
        assert!(
            bind_filter(STATUS, Version::V1, "platform eq 8").is_err(),
            "platform is beta-only"
        );
        assert!(bind_filter(STATUS, Version::Beta, "platform eq 8").is_ok());
        assert!(bind_filter(STATUS, Version::V1, "userName eq 5").is_err());
        assert!(bind_filter(
            STATUS,
            Version::V1,
            "lastReportedDateTime gt 2020-01-01T00:00:00Z"
        )
        .is_ok());
        assert!(bind_filter(STATUS, Version::V1, "nosuch eq 1")
            .err()
            .is_some_and(|e| e.message.contains("'nosuch'")));
        assert!(bind_filter(STATUS, Version::V1, "frobnicate(userName)").is_err());
    }

    #[test]
    fn casts_lambdas_and_isof_bind() {
        let c = bind_filter(
            POLICY,
            Version::V1,
            "microsoft.graph.windows10CompliancePolicy/bitLockerEnabled eq true",
        );
        assert!(
            matches!(
                c,
                Ok(Condition::Compare {
                    left: Operand::Property {
                        only_types: Some(_),
                        ..
                    },
                    ..
                })
            ),
            "{c:?}"
        );
        assert!(bind_filter(POLICY, Version::Beta, "roleScopeTagIds/any(t: t eq '0')").is_ok());
        assert!(bind_filter(
            POLICY,
            Version::V1,
            "isof('microsoft.graph.iosCompliancePolicy')"
        )
        .is_ok());
        assert!(
            bind_filter(POLICY, Version::V1, "roleScopeTagIds/any(t: t eq '0')").is_err(),
            "beta-only"
        );
    }

    #[test]
    fn and_or_chains_bind_as_flat_lists() {
        let chain = vec!["status eq 'compliant'"; 200].join(" or ");
        let c = bind_filter(STATUS, Version::V1, &chain);
        assert!(
            matches!(&c, Ok(Condition::Or(terms)) if terms.len() == 200),
            "{c:?}"
        );
        let c = bind_filter(
            STATUS,
            Version::V1,
            "userName eq 'a' and (userName eq 'b' or userName eq 'c') and not (userName eq 'd')",
        );
        let shape = |terms: &[Condition]| {
            terms.len() == 3
                && matches!(&terms[1], Condition::Or(inner) if inner.len() == 2)
                && matches!(&terms[2], Condition::Not(_))
        };
        assert!(
            matches!(&c, Ok(Condition::And(terms)) if shape(terms)),
            "{c:?}"
        );
        let c = bind_filter(
            STATUS,
            Version::V1,
            "userName eq 'a' or contains(userName, 'b')",
        );
        assert!(c.is_ok_and(|c| c.uses_string_functions()));
    }

    #[test]
    fn the_deepest_filter_the_parser_allows_binds() {
        // Nesting at the depth limit, through `not`, `tolower` and lambdas, binds without trouble.
        let depth = crate::query::MAX_FILTER_DEPTH;
        let nots = |n: usize| format!("{}(tolower(userName) eq 'a')", "not ".repeat(n));
        let c = bind_filter(STATUS, Version::V1, &nots(depth - 3));
        assert!(c.is_ok(), "{c:?}");
        assert!(bind_filter(STATUS, Version::V1, &nots(depth - 2)).is_err());
        let lambdas = format!(
            "{}x eq 'a'{}",
            "roleScopeTagIds/any(x: ".repeat(2),
            ")".repeat(2)
        );
        assert!(bind_filter(POLICY, Version::Beta, &lambdas).is_ok());
    }

    #[test]
    fn expanded_navigations_are_counted_over_every_level() -> Result<(), ODataError> {
        let model = Model::intune().map_err(ODataError::bad_request)?;
        let ty = model.structured(POLICY).ok_or_else(|| bad("no type"))?;
        let limit = crate::query::MAX_EXPANDED_NAVIGATIONS;
        // Each item expands the rule and, below it, `inner` configuration lists.
        let expand = |items: usize, inner: usize| {
            // Items with options: plain repeats of a name are expanded once.
            let nested = vec!["scheduledActionConfigurations($top=1)"; inner].join(",");
            vec![format!("scheduledActionsForRule($expand={nested})"); items].join(",")
        };
        let within = QueryOptions::parse([("$expand", expand(limit / 2, 1).as_str())], false)?;
        assert!(bind(model, Version::V1, ty, &within).is_ok());
        let past = QueryOptions::parse([("$expand", expand(limit / 3 + 1, 2).as_str())], false)?;
        let err = bind(model, Version::V1, ty, &past).err().map(|e| e.message);
        assert!(
            err.as_ref().is_some_and(|m| m.contains(&format!(
                "more than {limit} navigations are expanded in all (the limit)"
            ))),
            "{err:?}"
        );
        // Plain repeats and `*` beside names expand each navigation once.
        let plain = QueryOptions::parse([("$expand", "*,assignments,assignments,*")], false)?;
        let bound = bind(model, Version::V1, ty, &plain)?;
        assert_eq!(bound.expand.len(), model.navigations(ty, Version::V1).len());
        Ok(())
    }
}

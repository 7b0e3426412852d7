//! What a bound query is made of: typed operands and conditions, and the bound options.

use crate::edm::{Navigation, StructuredType};

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

impl Operand {
    /// Renames the first member of an entity-scoped property path by `rename` (a view's
    /// properties shown from stored properties of other names).
    pub fn rename_entity_properties(&mut self, rename: &dyn Fn(&str) -> Option<String>) {
        match self {
            Operand::Property {
                scope: Scope::Entity,
                path,
                ..
            } => {
                if let Some(to) = path.first().and_then(|first| rename(first)) {
                    path[0] = to;
                }
            }
            Operand::Call { args, .. } => args
                .iter_mut()
                .for_each(|a| a.rename_entity_properties(rename)),
            _ => {}
        }
    }
}

impl Condition {
    /// [`Operand::rename_entity_properties`] over every operand (the depth is the filter's,
    /// which its limits bound).
    pub fn rename_entity_properties(&mut self, rename: &dyn Fn(&str) -> Option<String>) {
        match self {
            Condition::Compare { left, right, .. } => {
                left.rename_entity_properties(rename);
                right.rename_entity_properties(rename);
            }
            Condition::IsNull { operand, .. } | Condition::IsTrue(operand) => {
                operand.rename_entity_properties(rename)
            }
            Condition::In { left, .. } => left.rename_entity_properties(rename),
            Condition::StringTest {
                subject, needle, ..
            } => {
                subject.rename_entity_properties(rename);
                needle.rename_entity_properties(rename);
            }
            Condition::And(terms) | Condition::Or(terms) => terms
                .iter_mut()
                .for_each(|t| t.rename_entity_properties(rename)),
            Condition::Not(inner) => inner.rename_entity_properties(rename),
            Condition::Lambda {
                scope: Scope::Entity,
                path,
                ..
            } => {
                if let Some(to) = path.first().and_then(|first| rename(first)) {
                    path[0] = to;
                }
            }
            Condition::Lambda { .. } | Condition::IsOf(_) | Condition::Literal(_) => {}
        }
    }
}

//! `$filter` and `$orderby` values: member paths, literals and function calls, with their types;
//! literals made fit for what they are compared with.

use super::resolve::Resolved;
use super::{bad, Binder, Func, Literal, Operand, Scalar};
use crate::query::filter::Expr;
use crate::value::DateTimeOffset;
use crate::ODataError;

impl Binder<'_> {
    pub(super) fn operand(&mut self, e: &Expr) -> Result<Operand, ODataError> {
        Ok(match e {
            Expr::Member(path) => self.member(path)?,
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
            Expr::Enum { type_name, member } => self.enum_literal(type_name, member)?,
            other => return Err(bad(format!("Invalid $filter: '{other}' is not a value."))),
        })
    }

    /// A member path as an operand: the key or one primitive value.
    fn member(&self, path: &[String]) -> Result<Operand, ODataError> {
        Ok(match self.resolve(path)? {
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
        })
    }

    /// `Namespace.Enum'member'`, checked against the enum's members.
    fn enum_literal(&self, type_name: &str, member: &str) -> Result<Operand, ODataError> {
        let value = self
            .model
            .enum_member(type_name, member, self.version)
            .ok_or_else(|| {
                bad(format!(
                    "Invalid $filter: '{member}' is not a member of enum '{type_name}'."
                ))
            })?
            .value;
        Ok(Operand::Literal(Literal::Enum {
            name: member.to_string(),
            value,
        }))
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
        if !fits(&arg, &want) {
            return Err(bad(format!(
                "Invalid $filter: '{name}' needs an argument of type {want:?}."
            )));
        }
        Ok(Operand::Call {
            func,
            args: vec![arg],
        })
    }
}

/// Whether an operand can be a function's argument of type `want`: a property or call of that
/// type, a literal of that kind, or `null`.
pub(super) fn fits(o: &Operand, want: &Scalar) -> bool {
    match o {
        Operand::Literal(lit) => matches!(
            (lit, want),
            (Literal::Null, _)
                | (Literal::String(_), Scalar::String)
                | (Literal::DateTimeOffset(_), Scalar::DateTimeOffset)
        ),
        _ => type_of(o).is_none_or(|t| t == *want),
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

pub(super) fn compatible(a: &Scalar, b: &Scalar) -> bool {
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
pub(super) fn coerce(
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

//! The printer: minimal parentheses, so that `parse(print(e)) == e` and the printed text nests no
//! deeper than the parsed one.

use super::{Expr, COMPARISON_PRECEDENCE};
use std::fmt;

/// Prints an expression so that `parse(print(e)) == e`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Null => f.write_str("null"),
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Decimal(d) | Expr::Guid(d) | Expr::DateTimeOffset(d) => f.write_str(d),
            Expr::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Expr::Enum { type_name, member } => {
                write!(f, "{type_name}'{}'", member.replace('\'', "''"))
            }
            Expr::Member(path) => f.write_str(&path.join("/")),
            Expr::Lambda {
                path,
                all,
                var,
                body,
            } => {
                let kind = if *all { "all" } else { "any" };
                match (var, body) {
                    (Some(v), Some(b)) => write!(f, "{}/{kind}({v}: {b})", path.join("/")),
                    _ => write!(f, "{}/{kind}()", path.join("/")),
                }
            }
            Expr::Call { name, args } => {
                let args: Vec<String> = args.iter().map(ToString::to_string).collect();
                write!(f, "{name}({})", args.join(", "))
            }
            Expr::Not(inner) => {
                f.write_str("not ")?;
                // `not` binds tighter than any operator, so only an operator needs parentheses.
                operand(f, inner, u8::MAX, false)
            }
            Expr::Logical { op, terms } => {
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {} ", op.keyword())?;
                    }
                    // A term of the same operator was written in parentheses (else it would
                    // have joined this chain): it is printed so again.
                    operand(f, term, op.precedence(), true)?;
                }
                Ok(())
            }
            Expr::Binary { op, left, right } => {
                operand(f, left, COMPARISON_PRECEDENCE, false)?;
                write!(f, " {} ", op.keyword())?;
                operand(f, right, COMPARISON_PRECEDENCE, true)
            }
            Expr::In { left, list } => {
                let items: Vec<String> = list.iter().map(ToString::to_string).collect();
                operand(f, left, COMPARISON_PRECEDENCE, false)?;
                write!(f, " in ({})", items.join(", "))
            }
        }
    }
}

/// An operand, parenthesised only where the parser would otherwise group it differently (all
/// operators are left-associative). Minimal parentheses keep the printed text nested no deeper
/// than the parsed one, so whatever parsed within the nesting cap prints within it too.
fn operand(f: &mut fmt::Formatter<'_>, child: &Expr, parent: u8, right: bool) -> fmt::Result {
    let precedence = match child {
        Expr::Logical { op, .. } => Some(op.precedence()),
        Expr::Binary { .. } | Expr::In { .. } => Some(COMPARISON_PRECEDENCE),
        _ => None,
    };
    let grouped = precedence.is_some_and(|p| p < parent || (p == parent && right));
    if grouped {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

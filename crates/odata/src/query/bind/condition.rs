//! `$filter` expressions as conditions: logic, comparisons, `in`, string tests, `isof` and
//! lambdas.

use super::operand::{coerce, compatible, fits, type_of};
use super::resolve::Resolved;
use super::{bad, Binder, Compare, Condition, Element, Literal, Operand, Scalar, StringTest};
use crate::query::filter::{BinOp, Expr, Logic};
use crate::ODataError;

impl Binder<'_> {
    /// A `$filter` expression as a condition.
    pub(super) fn condition(&mut self, e: &Expr) -> Result<Condition, ODataError> {
        match e {
            Expr::Logical { op, terms } => {
                let terms = terms
                    .iter()
                    .map(|t| self.condition(t))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(match op {
                    Logic::And => Condition::And(terms),
                    Logic::Or => Condition::Or(terms),
                })
            }
            Expr::Not(inner) => Ok(Condition::Not(Box::new(self.condition(inner)?))),
            Expr::Binary {
                op: BinOp::Has,
                left,
                ..
            } => Err(bad(format!(
                "Invalid $filter: 'has' needs a flags enum, and '{left}' is not one."
            ))),
            Expr::Binary { op, left, right } => self.compare(*op, left, right),
            Expr::In { left, list } => self.in_list(left, list),
            Expr::Call { name, args }
                if matches!(name.as_str(), "contains" | "startswith" | "endswith") =>
            {
                self.string_test(name, args)
            }
            Expr::Call { name, args } if name == "isof" => self.isof(args),
            Expr::Lambda {
                path,
                all,
                var,
                body,
            } => self.lambda(path, *all, var.as_deref(), body.as_deref()),
            Expr::Bool(b) => Ok(Condition::Literal(*b)),
            other => self.is_true(other),
        }
    }

    /// `left in (a, b, …)`: a property against literals of its type.
    fn in_list(&mut self, left: &Expr, list: &[Expr]) -> Result<Condition, ODataError> {
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
        Ok(Condition::In {
            left: operand,
            list,
            ty,
        })
    }

    /// `contains`, `startswith` or `endswith` (named `name`) over two strings.
    fn string_test(&mut self, name: &str, args: &[Expr]) -> Result<Condition, ODataError> {
        let test = match name {
            "contains" => StringTest::Contains,
            "startswith" => StringTest::StartsWith,
            _ => StringTest::EndsWith,
        };
        let [subject, needle] = args else {
            return Err(bad(format!(
                "Invalid $filter: '{name}' takes two arguments."
            )));
        };
        let (subject, needle) = (self.operand(subject)?, self.operand(needle)?);
        for o in [&subject, &needle] {
            if !fits(o, &Scalar::String) {
                return Err(bad(format!(
                    "Invalid $filter: '{name}' needs string arguments."
                )));
            }
        }
        Ok(Condition::StringTest {
            test,
            subject,
            needle,
        })
    }

    /// `isof('Type')` (or `isof($it, 'Type')`): the type and every type derived from it.
    fn isof(&self, args: &[Expr]) -> Result<Condition, ODataError> {
        let type_name = match args {
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
        Ok(Condition::IsOf(self.descendants(ty)))
    }

    /// A Boolean value used as a condition.
    fn is_true(&mut self, e: &Expr) -> Result<Condition, ODataError> {
        let operand = self.operand(e)?;
        if type_of(&operand) != Some(Scalar::Boolean) {
            return Err(bad(format!(
                "Invalid $filter: '{e}' is not a Boolean expression."
            )));
        }
        Ok(Condition::IsTrue(operand))
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

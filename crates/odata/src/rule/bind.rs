//! A parsed rule checked against a vocabulary: one object throughout, every property known,
//! every operator fit for its property's kind, every value of the right form (a `-match`
//! pattern compiled, within a size limit). The result evaluates without further checks.

use super::{Kind, Literal, Name, Node, Op, Operand, RuleError, RuleProperty, Test, Vocabulary};
use crate::value::DateTimeOffset;

/// The most memory one compiled `-match` pattern may take.
const MAX_PATTERN_BYTES: usize = 256 * 1024;

/// A rule ready to evaluate: its object and its checked tree.
#[derive(Debug, Clone)]
pub struct BoundRule {
    /// The object the rule selects (`user`, `device`), in the vocabulary's spelling.
    pub subject: String,
    pub(super) root: Bound,
    /// The rule reads the object's group memberships.
    pub uses_member_of: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Bound {
    And(Vec<Bound>),
    Or(Vec<Bound>),
    Not(Box<Bound>),
    Test {
        target: Target,
        check: Check,
    },
    /// Over the array at `path` of the object (strings or records).
    Lambda {
        path: Vec<String>,
        all: bool,
        body: Box<Bound>,
    },
    /// Over the object's groups; the body tests `Target::Element` (a group's id).
    MemberOf {
        all: bool,
        body: Box<Bound>,
    },
    /// A rule complyd accepts but cannot evaluate (direct reports: no manager links).
    Never,
}

#[derive(Debug, Clone)]
pub(super) enum Target {
    /// The object's id.
    Key,
    /// A value of the object (a string collection tests any of its members).
    Path(Vec<String>, bool),
    /// The current item of a lambda.
    Element,
    /// A field of the current record of a lambda.
    Field(Vec<String>),
}

#[derive(Debug, Clone)]
pub(super) struct Check {
    pub op: Op,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub(super) enum Value {
    Null,
    Bool(bool),
    /// Lower-cased: string tests ignore case.
    Text(String),
    List(Vec<String>),
    Pattern(regex::Regex),
    Instant(i64),
    Version(Vec<u64>),
}

/// What a lambda body may name.
enum Scope<'v> {
    Top,
    Strings,
    Records(&'v [RuleProperty]),
    Groups,
}

struct Binder<'v> {
    vocabulary: &'v Vocabulary,
    /// The object named first; every other top-level name must use it.
    subject: Option<(String, usize)>,
    uses_member_of: bool,
}

/// Checks `node` against `vocabulary`.
pub fn bind(node: &Node, vocabulary: &Vocabulary) -> Result<BoundRule, RuleError> {
    let mut binder = Binder {
        vocabulary,
        subject: None,
        uses_member_of: false,
    };
    let root = binder.node(node, &Scope::Top)?;
    let subject = binder
        .subject
        .map(|(s, _)| s)
        .ok_or_else(|| RuleError::at(0, "the rule names no property"))?;
    Ok(BoundRule {
        subject,
        root,
        uses_member_of: binder.uses_member_of,
    })
}

fn unknown_property(name: &Name, subject: &str) -> RuleError {
    RuleError::at(
        name.at,
        format!(
            "Wrong property applied. Property '{}' cannot be applied to object '{subject}'",
            name.property
        ),
    )
}

fn bad_operands(op: Op, at: usize) -> RuleError {
    RuleError::at(
        at,
        format!("Invalid operands found for operator {}", op.as_str()),
    )
}

impl<'v> Binder<'v> {
    fn node(&mut self, node: &Node, scope: &Scope<'v>) -> Result<Bound, RuleError> {
        Ok(match node {
            Node::And(terms) => Bound::And(self.all(terms, scope)?),
            Node::Or(terms) => Bound::Or(self.all(terms, scope)?),
            Node::Not(inner) => Bound::Not(Box::new(self.node(inner, scope)?)),
            Node::Test(test) => self.test(test, scope)?,
            Node::Lambda {
                property,
                all,
                body,
            } => self.lambda(property, *all, body, scope)?,
            Node::DirectReports { at, .. } => {
                self.use_subject("user", *at)?;
                Bound::Never
            }
        })
    }

    fn all(&mut self, terms: &[Node], scope: &Scope<'v>) -> Result<Vec<Bound>, RuleError> {
        terms.iter().map(|t| self.node(t, scope)).collect()
    }

    /// Records the object a top-level name uses; refuses a second one.
    fn use_subject(&mut self, object: &str, at: usize) -> Result<&'v super::Subject, RuleError> {
        let vocabulary = self.vocabulary;
        let subject = vocabulary.subject(object).ok_or_else(|| {
            let known: Vec<&str> = vocabulary
                .subjects
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            RuleError::at(
                at,
                format!(
                    "Unknown object '{object}': a rule names properties of {}",
                    known.join(" or ")
                ),
            )
        })?;
        match &self.subject {
            Some((first, _)) if !first.eq_ignore_ascii_case(&subject.name) => {
                return Err(RuleError::at(
                    at,
                    format!(
                        "a rule cannot mix properties of '{first}' and '{}'",
                        subject.name
                    ),
                ))
            }
            Some(_) => {}
            None => self.subject = Some((subject.name.clone(), at)),
        }
        Ok(subject)
    }

    /// A top-level `object.property`.
    fn property(&mut self, name: &Name) -> Result<&'v RuleProperty, RuleError> {
        let subject = self.use_subject(&name.object, name.at)?;
        subject
            .property(&name.property)
            .ok_or_else(|| unknown_property(name, &subject.name))
    }

    fn lambda(
        &mut self,
        name: &Name,
        all: bool,
        body: &Node,
        scope: &Scope<'v>,
    ) -> Result<Bound, RuleError> {
        if !matches!(scope, Scope::Top) {
            return Err(RuleError::at(name.at, "-any and -all cannot be nested"));
        }
        let property = self.property(name)?;
        let (inner, path) = match &property.kind {
            Kind::TextList => (Scope::Strings, property.path.clone()),
            Kind::Records(fields) => (Scope::Records(fields), property.path.clone()),
            Kind::MemberOf => {
                self.uses_member_of = true;
                let body = self.node(body, &Scope::Groups)?;
                return Ok(Bound::MemberOf {
                    all,
                    body: Box::new(body),
                });
            }
            _ => {
                return Err(RuleError::at(
                    name.at,
                    format!(
                        "-any and -all apply to multi-valued properties; '{}' has one value",
                        name.property
                    ),
                ))
            }
        };
        let body = self.node(body, &inner)?;
        Ok(Bound::Lambda {
            path,
            all,
            body: Box::new(body),
        })
    }

    fn test(&mut self, test: &Test, scope: &Scope<'v>) -> Result<Bound, RuleError> {
        let (target, kind) = match (&test.operand, scope) {
            (Operand::Element { .. }, Scope::Strings) => (Target::Element, Kind::Text),
            (Operand::Element { at }, _) => {
                return Err(RuleError::at(
                    *at,
                    "'_' stands for a member of a string collection inside -any or -all",
                ))
            }
            (Operand::Property(name), Scope::Top) => {
                let property = self.property(name)?;
                match &property.kind {
                    Kind::Records(_) | Kind::MemberOf => {
                        return Err(RuleError::at(
                            name.at,
                            format!("'{}' is tested with -any or -all", name.property),
                        ))
                    }
                    Kind::TextList => (Target::Path(property.path.clone(), true), Kind::Text),
                    _ if property.path.is_empty() => (Target::Key, property.kind.clone()),
                    kind => (Target::Path(property.path.clone(), false), kind.clone()),
                }
            }
            (Operand::Property(name), Scope::Records(fields)) => {
                let field = fields
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(&name.property))
                    .ok_or_else(|| unknown_property(name, &name.object))?;
                (Target::Field(field.path.clone()), field.kind.clone())
            }
            (Operand::Property(name), Scope::Groups) => {
                if !name.property.eq_ignore_ascii_case("objectId") {
                    return Err(unknown_property(name, &name.object));
                }
                (Target::Element, Kind::Text)
            }
            (Operand::Property(name), Scope::Strings) => {
                return Err(RuleError::at(
                    name.at,
                    "inside -any or -all over strings, write '_' for the member",
                ))
            }
        };
        let value = value(test, &kind)?;
        Ok(Bound::Test {
            target,
            check: Check { op: test.op, value },
        })
    }
}

/// The literal of `test`, checked against the operator and the property's kind.
fn value(test: &Test, kind: &Kind) -> Result<Value, RuleError> {
    let (op, at) = (test.op, test.at);
    let positive = op.negates().unwrap_or(op);
    let ordered = matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le);
    match (&test.value, positive) {
        (Literal::Null, Op::Eq) => return Ok(Value::Null),
        (Literal::Null, _) => return Err(bad_operands(op, at)),
        (Literal::List(items), Op::In) => {
            return Ok(Value::List(
                items.iter().map(|i| i.to_lowercase()).collect(),
            ))
        }
        (_, Op::In) | (Literal::List(_), _) => return Err(bad_operands(op, at)),
        _ => {}
    }
    let text = match &test.value {
        Literal::Text(t) | Literal::Bare(t) => t.clone(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null | Literal::List(_) => return Err(bad_operands(op, at)),
    };
    match kind {
        Kind::Bool => match (positive, text.to_ascii_lowercase().as_str()) {
            (Op::Eq, "true") => Ok(Value::Bool(true)),
            (Op::Eq, "false") => Ok(Value::Bool(false)),
            (Op::Eq, _) => Err(RuleError::at(
                at,
                format!("'{text}' is not a Boolean: write true or false"),
            )),
            _ => Err(bad_operands(op, at)),
        },
        Kind::DateTime if ordered || positive == Op::Eq => DateTimeOffset::parse(&text)
            .map(|t| Value::Instant(t.utc_ticks))
            .ok_or_else(|| RuleError::at(at, format!("'{text}' is not a date and time"))),
        Kind::Version if ordered || positive == Op::Eq => version(&text)
            .map(Value::Version)
            .ok_or_else(|| RuleError::at(at, format!("'{text}' is not a version such as 10.0.1"))),
        Kind::Text if positive == Op::Match => regex::RegexBuilder::new(&text)
            .case_insensitive(true)
            .size_limit(MAX_PATTERN_BYTES)
            .build()
            .map(Value::Pattern)
            .map_err(|_| RuleError::at(at, format!("'{text}' is not a valid regular expression"))),
        Kind::Text if !ordered => Ok(Value::Text(text.to_lowercase())),
        _ => Err(bad_operands(op, at)),
    }
}

/// `10.0.22000.1000` → [10, 0, 22000, 1000]; anything else is `None`.
pub(super) fn version(text: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = text.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty() && p.len() <= 8)
}

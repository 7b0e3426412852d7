//! Rules in the grammar family of Entra's dynamic membership rules and Intune's assignment
//! filters: `user.department -eq "Sales" -and -not (user.jobTitle -startsWith "SDE")`,
//! `device.osVersion -startsWith "10"`, `user.otherMails -any (_ -contains "x")`.
//!
//! `parse` reads the text into an untyped tree (a lexer that hands out one token at a time and a
//! recursive-descent parser, both held to the `$filter` limits on nodes and nesting, and to
//! [`MAX_RULE_LENGTH`] characters); `bind` checks it against a [`Vocabulary`] (which objects and
//! properties a rule may name, and of what kind); [`BoundRule::matches`] evaluates it against an
//! object's stored JSON. Every error names the position (characters from the start, counting
//! from 0) where the rule goes wrong.

mod bind;
mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;
mod vocabulary;

pub use bind::{bind, BoundRule};
pub use eval::Candidate;
pub use parser::parse;
pub use vocabulary::{Kind, RuleProperty, Subject, Vocabulary};

use crate::query::limits::MAX_RULE_LENGTH;
use std::fmt;

/// A rule as written, before its names are checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Test(Test),
    /// `object.property -any|-all (body)`: `body` tests `_` (each string) or `var.field`.
    Lambda {
        property: Name,
        all: bool,
        body: Box<Node>,
    },
    /// `Direct Reports for "{managerId}"`.
    DirectReports {
        manager: String,
        at: usize,
    },
}

/// `object.property` (or `var.field` inside a lambda), and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub object: String,
    pub property: String,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Property(Name),
    /// `_`: the current string of a lambda over a string collection.
    Element {
        at: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub operand: Operand,
    pub op: Op,
    pub value: Literal,
    /// Where the operator is.
    pub at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    StartsWith,
    NotStartsWith,
    EndsWith,
    NotEndsWith,
    Contains,
    NotContains,
    Match,
    NotMatch,
    In,
    NotIn,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    /// The operator a word names, with or without its leading `-`, in any case.
    pub fn from_word(word: &str) -> Option<Self> {
        let bare = word.strip_prefix('-').unwrap_or(word).to_ascii_lowercase();
        Some(match bare.as_str() {
            "eq" | "equals" => Self::Eq,
            "ne" | "notequals" => Self::Ne,
            "startswith" => Self::StartsWith,
            "notstartswith" => Self::NotStartsWith,
            "endswith" => Self::EndsWith,
            "notendswith" => Self::NotEndsWith,
            "contains" => Self::Contains,
            "notcontains" => Self::NotContains,
            "match" => Self::Match,
            "notmatch" => Self::NotMatch,
            "in" => Self::In,
            "notin" => Self::NotIn,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "-eq",
            Self::Ne => "-ne",
            Self::StartsWith => "-startsWith",
            Self::NotStartsWith => "-notStartsWith",
            Self::EndsWith => "-endsWith",
            Self::NotEndsWith => "-notEndsWith",
            Self::Contains => "-contains",
            Self::NotContains => "-notContains",
            Self::Match => "-match",
            Self::NotMatch => "-notMatch",
            Self::In => "-in",
            Self::NotIn => "-notIn",
            Self::Gt => "-gt",
            Self::Ge => "-ge",
            Self::Lt => "-lt",
            Self::Le => "-le",
        }
    }

    /// The positive operator this one negates, if it is a negation.
    pub fn negates(self) -> Option<Self> {
        Some(match self {
            Self::Ne => Self::Eq,
            Self::NotStartsWith => Self::StartsWith,
            Self::NotEndsWith => Self::EndsWith,
            Self::NotContains => Self::Contains,
            Self::NotMatch => Self::Match,
            Self::NotIn => Self::In,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A quoted string.
    Text(String),
    /// An unquoted value: a number or a version (`10.0.22000.1000`).
    Bare(String),
    Bool(bool),
    Null,
    /// `["a", "b"]` (or `['a']`).
    List(Vec<String>),
}

/// A rule refused: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Characters before the offending token.
    pub position: usize,
    pub message: String,
}

impl RuleError {
    pub fn at(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}.", self.message, self.position)
    }
}

/// Parses and binds `text` in one step.
pub fn check(text: &str, vocabulary: &Vocabulary) -> Result<BoundRule, RuleError> {
    bind(&parse(text)?, vocabulary)
}

/// Refuses a text longer than [`MAX_RULE_LENGTH`] characters before anything is read.
fn check_length(text: &str) -> Result<(), RuleError> {
    match text.char_indices().nth(MAX_RULE_LENGTH) {
        Some(_) => Err(RuleError::at(
            MAX_RULE_LENGTH,
            format!("the rule is longer than {MAX_RULE_LENGTH} characters (the limit)"),
        )),
        None => Ok(()),
    }
}

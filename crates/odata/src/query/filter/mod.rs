//! `$filter` (and `$orderby` keys): a lexer that hands out tokens one at a time, an untyped
//! expression tree, a Pratt parser, and a printer whose output parses back to the same tree.
//! A chain of `and`/`or` becomes one wide node rather than a deep tree. The parser's own nesting,
//! the tree's height (chains of comparisons or `in` still nest) and its number of nodes are capped
//! while parsing (`super::limits`), so a walk over any parsed tree recurses at most
//! `MAX_FILTER_DEPTH` levels, and a text far past a limit is read no further than the limit.

mod lexer;
mod parser;
mod print;
#[cfg(test)]
mod tests;

pub use parser::{parse, parse_order_item};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    /// Kept as written (`1.5`), so the tree stays comparable.
    Decimal(String),
    String(String),
    Guid(String),
    DateTimeOffset(String),
    /// `microsoft.graph.complianceStatus'compliant'`.
    Enum {
        type_name: String,
        member: String,
    },
    /// A property path; the first segment may be a type cast (`microsoft.graph.x/prop`) or a
    /// lambda variable.
    Member(Vec<String>),
    /// `path/any(v: body)`, `path/all(v: body)` or `path/any()`.
    Lambda {
        path: Vec<String>,
        all: bool,
        var: Option<String>,
        body: Option<Box<Expr>>,
    },
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    /// `t1 and t2 and …` or `t1 or t2 or …`: two or more terms joined by one logical operator,
    /// as written without parentheses. A parenthesised chain of the same operator stays one term.
    Logical {
        op: Logic,
        terms: Vec<Expr>,
    },
    /// A comparison or `has`.
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    In {
        left: Box<Expr>,
        list: Vec<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logic {
    Or,
    And,
}

impl Logic {
    fn keyword(self) -> &'static str {
        match self {
            Self::Or => "or",
            Self::And => "and",
        }
    }
    fn from_keyword(word: &str) -> Option<Self> {
        match word {
            "or" => Some(Self::Or),
            "and" => Some(Self::And),
            _ => None,
        }
    }
    fn precedence(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::And => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Has,
}

impl BinOp {
    fn keyword(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Has => "has",
        }
    }
    fn from_keyword(word: &str) -> Option<Self> {
        Some(match word {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            "has" => Self::Has,
            _ => return None,
        })
    }
}

/// Comparisons, `has` and `in` group alike: left-associative, above `and` and `or`.
const COMPARISON_PRECEDENCE: u8 = 4;

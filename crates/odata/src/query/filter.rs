//! `$filter` (and `$orderby` keys): tokens, an untyped expression tree, a Pratt parser with a
//! nesting cap, and a printer whose output parses back to the same tree.

use crate::value::{is_guid, DateTimeOffset};
use crate::ODataError;
use std::fmt;

/// Deeper nesting than this is refused rather than recursed into.
pub const MAX_DEPTH: usize = 64;

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
pub enum BinOp {
    Or,
    And,
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
            Self::Or => "or",
            Self::And => "and",
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
            "or" => Self::Or,
            "and" => Self::And,
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
    fn precedence(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::And => 2,
            _ => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Literal(Expr),
    Open,
    Close,
    Comma,
    Slash,
    Colon,
}

fn invalid(message: impl fmt::Display) -> ODataError {
    ODataError::bad_request(format!("Invalid $filter: {message}"))
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ODataError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let token = match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '/' => Token::Slash,
            ':' => Token::Colon,
            '\'' => {
                let (s, next) = quoted(&chars, i)?;
                i = next;
                out.push((start, Token::Literal(Expr::String(s))));
                continue;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let end = scan(&chars, i + 1, |c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-')
                });
                let raw: String = chars[i..end].iter().collect();
                i = end;
                out.push((start, Token::Literal(number_like(&raw)?)));
                continue;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' || c == '@' => {
                let mut end = scan(&chars, i + 1, |c| {
                    c.is_alphanumeric() || matches!(c, '_' | '.')
                });
                let word: String = chars[i..end].iter().collect();
                // An unquoted GUID may start with letters: e01a1893-1893-…
                let guid_end = i + 36;
                if word.len() == 8 && chars.get(end) == Some(&'-') && guid_end <= chars.len() {
                    let candidate: String = chars[i..guid_end].iter().collect();
                    if is_guid(&candidate) {
                        i = guid_end;
                        out.push((start, Token::Literal(Expr::Guid(candidate))));
                        continue;
                    }
                }
                if chars.get(end) == Some(&'\'') && word.contains('.') {
                    let (member, next) = quoted(&chars, end)?;
                    end = next;
                    i = end;
                    out.push((
                        start,
                        Token::Literal(Expr::Enum {
                            type_name: word,
                            member,
                        }),
                    ));
                    continue;
                }
                i = end;
                let token = match word.as_str() {
                    "null" => Token::Literal(Expr::Null),
                    "true" => Token::Literal(Expr::Bool(true)),
                    "false" => Token::Literal(Expr::Bool(false)),
                    _ => Token::Word(word),
                };
                out.push((start, token));
                continue;
            }
            other => {
                return Err(invalid(format!(
                    "unexpected character '{other}' at position {i}"
                )))
            }
        };
        i += 1;
        out.push((start, token));
    }
    Ok(out)
}

fn scan(chars: &[char], mut i: usize, accept: impl Fn(char) -> bool) -> usize {
    while i < chars.len() && accept(chars[i]) {
        i += 1;
    }
    i
}

/// A `'…'` literal starting at `i`, with `''` as an escaped quote. Returns the text and the index after it.
fn quoted(chars: &[char], mut i: usize) -> Result<(String, usize), ODataError> {
    let start = i;
    i += 1;
    let mut s = String::new();
    loop {
        match chars.get(i) {
            None => {
                return Err(invalid(format!(
                    "unterminated string literal at position {start}"
                )))
            }
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                s.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((s, i + 1)),
            Some(c) => {
                s.push(*c);
                i += 1;
            }
        }
    }
}

fn number_like(raw: &str) -> Result<Expr, ODataError> {
    if is_guid(raw) {
        return Ok(Expr::Guid(raw.to_string()));
    }
    if DateTimeOffset::parse(raw).is_some() {
        return Ok(Expr::DateTimeOffset(raw.to_string()));
    }
    if let Ok(n) = raw.parse::<i64>() {
        return Ok(Expr::Int(n));
    }
    let decimal = raw.strip_prefix('-').unwrap_or(raw);
    let mut parts = decimal.splitn(2, '.');
    let whole_ok = parts
        .next()
        .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()));
    let frac_ok = parts
        .next()
        .is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if whole_ok && frac_ok {
        return Ok(Expr::Decimal(raw.to_string()));
    }
    Err(invalid(format!("'{raw}' is not a valid literal")))
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    depth: usize,
}

/// Parses a whole `$filter` expression.
pub fn parse(text: &str) -> Result<Expr, ODataError> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        depth: 0,
    };
    let expr = p.expr(0)?;
    p.end()?;
    Ok(expr)
}

/// Parses one expression followed by an optional `asc`/`desc` (an `$orderby` item).
pub fn parse_order_item(text: &str) -> Result<(Expr, bool), ODataError> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        depth: 0,
    };
    let expr = p.expr(0)?;
    let descending = match p.peek_word() {
        Some("asc") => {
            p.pos += 1;
            false
        }
        Some("desc") => {
            p.pos += 1;
            true
        }
        _ => false,
    };
    p.end()?;
    Ok((expr, descending))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }
    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }
    fn position(&self) -> usize {
        self.tokens.get(self.pos).map_or(usize::MAX, |(p, _)| *p)
    }
    fn expect(&mut self, want: Token, what: &str) -> Result<(), ODataError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            _ => Err(invalid(format!(
                "expected {what} at position {}",
                self.position_before()
            ))),
        }
    }
    fn position_before(&self) -> usize {
        self.tokens
            .get(self.pos.saturating_sub(1))
            .map_or(0, |(p, _)| *p)
    }
    fn end(&self) -> Result<(), ODataError> {
        match self.tokens.get(self.pos) {
            None => Ok(()),
            Some((at, t)) => Err(invalid(format!(
                "unexpected {} at position {at}",
                describe(t)
            ))),
        }
    }

    fn enter(&mut self) -> Result<(), ODataError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(format!(
                "expression nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn expr(&mut self, min_precedence: u8) -> Result<Expr, ODataError> {
        self.enter()?;
        let mut left = self.unary()?;
        while let Some(word) = self.peek_word() {
            if word == "in" {
                if IN_PRECEDENCE < min_precedence {
                    break;
                }
                self.pos += 1;
                let list = self.list()?;
                left = Expr::In {
                    left: Box::new(left),
                    list,
                };
                continue;
            }
            let Some(op) = BinOp::from_keyword(word) else {
                if matches!(word, "add" | "sub" | "mul" | "div" | "divby" | "mod") {
                    return Err(invalid(format!(
                        "the arithmetic operator '{word}' is not supported"
                    )));
                }
                break;
            };
            if op.precedence() < min_precedence {
                break;
            }
            self.pos += 1;
            // Comparisons do not chain; logical operators are left-associative.
            let right = self.expr(op.precedence() + 1)?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        self.depth -= 1;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ODataError> {
        if self.peek_word() == Some("not") {
            self.pos += 1;
            self.enter()?;
            // Unary `not` binds tighter than any binary operator (OData precedence).
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn list(&mut self) -> Result<Vec<Expr>, ODataError> {
        self.expect(Token::Open, "'(' after 'in'")?;
        let mut items = Vec::new();
        loop {
            items.push(self.expr(0)?);
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::Close) => return Ok(items),
                _ => {
                    return Err(invalid(format!(
                        "expected ',' or ')' at position {}",
                        self.position_before()
                    )))
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ODataError> {
        let at = self.position();
        match self.next() {
            Some(Token::Literal(lit)) => Ok(lit),
            Some(Token::Open) => {
                let inner = self.expr(0)?;
                self.expect(Token::Close, "')'")?;
                Ok(inner)
            }
            Some(Token::Word(word)) if self.peek() == Some(&Token::Open) => self.call(word),
            Some(Token::Word(word)) => self.member(word),
            Some(t) => Err(invalid(format!(
                "unexpected {} at position {at}",
                describe(&t)
            ))),
            None => Err(invalid("the expression ends too early")),
        }
    }

    fn call(&mut self, name: String) -> Result<Expr, ODataError> {
        self.expect(Token::Open, "'('")?;
        let mut args = Vec::new();
        if self.peek() == Some(&Token::Close) {
            self.pos += 1;
            return Ok(Expr::Call { name, args });
        }
        loop {
            args.push(self.expr(0)?);
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::Close) => return Ok(Expr::Call { name, args }),
                _ => {
                    return Err(invalid(format!(
                        "expected ',' or ')' at position {}",
                        self.position_before()
                    )))
                }
            }
        }
    }

    fn member(&mut self, first: String) -> Result<Expr, ODataError> {
        let mut path = vec![first];
        while self.peek() == Some(&Token::Slash) {
            self.pos += 1;
            let Some(Token::Word(segment)) = self.next() else {
                return Err(invalid(format!(
                    "expected a property name at position {}",
                    self.position_before()
                )));
            };
            if matches!(segment.as_str(), "any" | "all") && self.peek() == Some(&Token::Open) {
                return self.lambda(path, segment == "all");
            }
            path.push(segment);
        }
        Ok(Expr::Member(path))
    }

    fn lambda(&mut self, path: Vec<String>, all: bool) -> Result<Expr, ODataError> {
        self.expect(Token::Open, "'('")?;
        if self.peek() == Some(&Token::Close) && !all {
            self.pos += 1;
            return Ok(Expr::Lambda {
                path,
                all,
                var: None,
                body: None,
            });
        }
        let Some(Token::Word(var)) = self.next() else {
            return Err(invalid(format!(
                "expected a lambda variable at position {}",
                self.position_before()
            )));
        };
        self.expect(Token::Colon, "':' after the lambda variable")?;
        let body = self.expr(0)?;
        self.expect(Token::Close, "')' closing the lambda")?;
        Ok(Expr::Lambda {
            path,
            all,
            var: Some(var),
            body: Some(Box::new(body)),
        })
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("'{w}'"),
        Token::Literal(l) => format!("literal {l}"),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::Comma => "','".into(),
        Token::Slash => "'/'".into(),
        Token::Colon => "':'".into(),
    }
}

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
            Expr::Binary { op, left, right } => {
                operand(f, left, op.precedence(), false)?;
                write!(f, " {} ", op.keyword())?;
                operand(f, right, op.precedence(), true)
            }
            Expr::In { left, list } => {
                let items: Vec<String> = list.iter().map(ToString::to_string).collect();
                operand(f, left, IN_PRECEDENCE, false)?;
                write!(f, " in ({})", items.join(", "))
            }
        }
    }
}

/// `in` groups like a comparison: left-associative, at the comparisons' precedence.
const IN_PRECEDENCE: u8 = 4;

/// An operand, parenthesised only where the parser would otherwise group it differently (all
/// operators are left-associative). Minimal parentheses keep the printed text nested no deeper
/// than the parsed one, so whatever parsed within the nesting cap prints within it too.
fn operand(f: &mut fmt::Formatter<'_>, child: &Expr, parent: u8, right: bool) -> fmt::Result {
    let precedence = match child {
        Expr::Binary { op, .. } => Some(op.precedence()),
        Expr::In { .. } => Some(IN_PRECEDENCE),
        _ => None,
    };
    let grouped = precedence.is_some_and(|p| p < parent || (p == parent && right));
    if grouped {
        write!(f, "({child})")
    } else {
        write!(f, "{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(p: &str) -> Box<Expr> {
        Box::new(Expr::Member(p.split('/').map(str::to_string).collect()))
    }

    #[test]
    fn precedence_and_literals() {
        let e = parse("status eq 'nonCompliant' and platform gt 3 or not (userName eq null)");
        let expected = Expr::Binary {
            op: BinOp::Or,
            left: Box::new(Expr::Binary {
                op: BinOp::And,
                left: Box::new(Expr::Binary {
                    op: BinOp::Eq,
                    left: member("status"),
                    right: Box::new(Expr::String("nonCompliant".into())),
                }),
                right: Box::new(Expr::Binary {
                    op: BinOp::Gt,
                    left: member("platform"),
                    right: Box::new(Expr::Int(3)),
                }),
            }),
            right: Box::new(Expr::Not(Box::new(Expr::Binary {
                op: BinOp::Eq,
                left: member("userName"),
                right: Box::new(Expr::Null),
            }))),
        };
        assert_eq!(e, Ok(expected));
    }

    #[test]
    fn guids_dates_lambdas_casts_and_in() {
        let e = parse("id eq e01a1893-1893-e01a-9318-1ae093181ae0 and lastReportedDateTime ge 2017-01-01T00:00:17.7769392-08:00");
        assert!(e.is_ok(), "{e:?}");
        let e = parse("roleScopeTagIds/any(t: t eq '0') and microsoft.graph.windows10CompliancePolicy/bitLockerEnabled eq true");
        assert!(e.is_ok(), "{e:?}");
        let e = parse("status in ('compliant', 'error')");
        assert!(matches!(e, Ok(Expr::In { .. })), "{e:?}");
        assert_eq!(
            parse("displayName eq 'O''Brien'").map(|e| e.to_string()),
            Ok("displayName eq 'O''Brien'".into())
        );
    }

    #[test]
    fn errors_point_at_the_token() {
        let err = parse("status eq").err().map(|e| e.message);
        assert!(err.is_some_and(|m| m.contains("ends too early")));
        let err = parse("status eq 'x' )").err().map(|e| e.message);
        assert!(
            err.as_ref().is_some_and(|m| m.contains("position 14")),
            "{err:?}"
        );
        let deep = format!("{}a eq 1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn a_long_flat_chain_prints_flat_and_parses_again() {
        // Found by the fuzzer: 200 `or`s parse (left-associative, no nesting) and must reprint
        // without 200 levels of parentheses.
        let chain = (0..200)
            .map(|i| format!("a eq {i}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let parsed = parse(&chain);
        let printed = parsed.as_ref().map(ToString::to_string);
        assert_eq!(printed.as_deref(), Ok(chain.as_str()));
        assert_eq!(printed.map(|p| parse(&p)), Ok(parsed.clone()));
        let grouped = parse("a or (b or c) and not (d eq 1)").map(|e| e.to_string());
        assert_eq!(grouped.as_deref(), Ok("a or (b or c) and not (d eq 1)"));
    }

    #[test]
    fn chained_in_and_repeated_not_print_no_deeper_than_they_parse() {
        // Found by the fuzzer: `a in (…) in (…) …` and `not not … a` parse within the nesting
        // cap, and each printed level used to add a pair of parentheses.
        let chain = format!("a{}", " in (1, b)".repeat(100));
        let nots = format!("{}a", "not ".repeat(MAX_DEPTH - 2));
        for text in [chain.as_str(), nots.as_str()] {
            let parsed = parse(text);
            let printed = parsed.as_ref().map(ToString::to_string);
            assert_eq!(printed.as_deref(), Ok(text));
            assert_eq!(printed.map(|p| parse(&p)), Ok(parsed.clone()));
        }
        let mixed = parse("not (a in (1)) eq (b in (2)) and not c in (3)").map(|e| e.to_string());
        assert_eq!(
            mixed.as_deref(),
            Ok("not (a in (1)) eq (b in (2)) and not c in (3)")
        );
    }
}

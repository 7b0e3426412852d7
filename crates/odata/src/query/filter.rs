//! `$filter` (and `$orderby` keys): a lexer that hands out tokens one at a time, an untyped
//! expression tree, a Pratt parser, and a printer whose output parses back to the same tree.
//! A chain of `and`/`or` becomes one wide node rather than a deep tree. The parser's own nesting,
//! the tree's height (chains of comparisons or `in` still nest) and its number of nodes are capped
//! while parsing (`super::limits`), so a walk over any parsed tree recurses at most
//! `MAX_FILTER_DEPTH` levels, and a text far past a limit is read no further than the limit.

use super::limits::{MAX_FILTER_DEPTH, MAX_FILTER_NODES};
use crate::value::{is_guid, DateTimeOffset};
use crate::ODataError;
use std::fmt;

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

fn too_deep() -> ODataError {
    invalid(format!(
        "the expression is nested deeper than {MAX_FILTER_DEPTH} levels (the limit)."
    ))
}

/// Reads tokens one at a time, so that a text far past the node limit costs no more than the
/// limit's worth of tokens. Names and literals (operators are names) count as nodes.
struct Lexer<'t> {
    text: &'t str,
    /// Byte offset of the next unread character.
    at: usize,
    /// Characters before `at`: positions in messages count characters.
    position: usize,
    nodes: usize,
}

impl<'t> Lexer<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            at: 0,
            position: 0,
            nodes: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.text[self.at..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        self.position += 1;
        Some(c)
    }

    fn skip_while(&mut self, accept: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&accept) {
            self.bump();
        }
    }

    /// The next token and the position it starts at; `None` at the end of the text.
    fn token(&mut self) -> Result<Option<(usize, Token)>, ODataError> {
        self.skip_while(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
        let (start, from) = (self.position, self.at);
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let punctuation = match c {
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            ',' => Some(Token::Comma),
            '/' => Some(Token::Slash),
            ':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(token) = punctuation {
            self.bump();
            return Ok(Some((start, token)));
        }
        let token = match c {
            '\'' => Token::Literal(Expr::String(self.quoted()?)),
            c if c.is_ascii_digit()
                || (c == '-' && self.peek_second().is_some_and(|d| d.is_ascii_digit())) =>
            {
                self.bump();
                self.skip_while(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-')
                });
                Token::Literal(number_like(&self.text[from..self.at])?)
            }
            c if c.is_alphabetic() || c == '_' || c == '$' || c == '@' => self.word(from)?,
            other => {
                return Err(invalid(format!(
                    "unexpected character '{other}' at position {start}"
                )))
            }
        };
        self.nodes += 1;
        if self.nodes > MAX_FILTER_NODES {
            return Err(invalid(format!(
                "the expression has more than {MAX_FILTER_NODES} nodes (the limit)."
            )));
        }
        Ok(Some((start, token)))
    }

    /// A name, keyword, unquoted GUID or enum literal starting at byte `from`.
    fn word(&mut self, from: usize) -> Result<Token, ODataError> {
        let text = self.text;
        self.bump();
        self.skip_while(|c| c.is_alphanumeric() || matches!(c, '_' | '.'));
        let word = &text[from..self.at];
        // An unquoted GUID may start with letters: e01a1893-1893-…
        if word.len() == 8 && self.peek() == Some('-') {
            if let Some(guid) = text.get(from..from + 36).filter(|g| is_guid(g)) {
                while self.at < from + 36 {
                    self.bump();
                }
                return Ok(Token::Literal(Expr::Guid(guid.to_string())));
            }
        }
        if self.peek() == Some('\'') && word.contains('.') {
            let member = self.quoted()?;
            return Ok(Token::Literal(Expr::Enum {
                type_name: word.to_string(),
                member,
            }));
        }
        Ok(match word {
            "null" => Token::Literal(Expr::Null),
            "true" => Token::Literal(Expr::Bool(true)),
            "false" => Token::Literal(Expr::Bool(false)),
            _ => Token::Word(word.to_string()),
        })
    }

    /// A `'…'` literal at the current position, with `''` as an escaped quote.
    fn quoted(&mut self) -> Result<String, ODataError> {
        let start = self.position;
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(invalid(format!(
                        "unterminated string literal at position {start}"
                    )))
                }
                Some('\'') if self.peek() == Some('\'') => {
                    self.bump();
                    s.push('\'');
                }
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
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

/// A parsed expression and its height: the nodes on its longest path down to a leaf.
struct Sub {
    expr: Expr,
    height: usize,
}

impl Sub {
    fn leaf(expr: Expr) -> Self {
        Self { expr, height: 1 }
    }

    /// `expr` over children at most `below` high; refused past the depth limit.
    fn over(expr: Expr, below: usize) -> Result<Self, ODataError> {
        let height = below + 1;
        if height > MAX_FILTER_DEPTH {
            return Err(too_deep());
        }
        Ok(Self { expr, height })
    }
}

struct Parser<'t> {
    lexer: Lexer<'t>,
    /// The next token and its position, already read.
    ahead: Option<(usize, Token)>,
    /// Where the token taken last starts (the end of the text once the text is used up).
    last: usize,
    /// Nesting of the parser's own recursion.
    depth: usize,
}

/// Parses a whole `$filter` expression.
pub fn parse(text: &str) -> Result<Expr, ODataError> {
    let mut p = Parser::new(text)?;
    let expr = p.expr(0)?.expr;
    p.end()?;
    Ok(expr)
}

/// Parses one expression followed by an optional `asc`/`desc` (an `$orderby` item).
pub fn parse_order_item(text: &str) -> Result<(Expr, bool), ODataError> {
    let mut p = Parser::new(text)?;
    let expr = p.expr(0)?.expr;
    let descending = match p.peek_word() {
        Some("asc") => {
            p.next()?;
            false
        }
        Some("desc") => {
            p.next()?;
            true
        }
        _ => false,
    };
    p.end()?;
    Ok((expr, descending))
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Result<Self, ODataError> {
        let mut lexer = Lexer::new(text);
        let ahead = lexer.token()?;
        Ok(Self {
            lexer,
            ahead,
            last: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.ahead.as_ref().map(|(_, t)| t)
    }
    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn next(&mut self) -> Result<Option<Token>, ODataError> {
        let taken = self.ahead.take();
        self.last = taken
            .as_ref()
            .map_or(self.lexer.position, |(position, _)| *position);
        self.ahead = self.lexer.token()?;
        Ok(taken.map(|(_, t)| t))
    }
    fn position(&self) -> usize {
        self.ahead.as_ref().map_or(usize::MAX, |(p, _)| *p)
    }
    fn expect(&mut self, want: Token, what: &str) -> Result<(), ODataError> {
        match self.next()? {
            Some(t) if t == want => Ok(()),
            _ => Err(invalid(format!(
                "expected {what} at position {}",
                self.last
            ))),
        }
    }
    fn end(&self) -> Result<(), ODataError> {
        match &self.ahead {
            None => Ok(()),
            Some((at, t)) => Err(invalid(format!(
                "unexpected {} at position {at}",
                describe(t)
            ))),
        }
    }

    fn enter(&mut self) -> Result<(), ODataError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(too_deep());
        }
        Ok(())
    }

    fn expr(&mut self, min_precedence: u8) -> Result<Sub, ODataError> {
        self.enter()?;
        let mut left = self.unary()?;
        // Whether `left` is a chain this loop built, which further terms of its operator extend.
        let mut chain = false;
        while let Some(word) = self.peek_word() {
            if let Some(op) = Logic::from_keyword(word) {
                if op.precedence() < min_precedence {
                    break;
                }
                self.next()?;
                let right = self.expr(op.precedence() + 1)?;
                left = match left {
                    Sub {
                        expr:
                            Expr::Logical {
                                op: same,
                                mut terms,
                            },
                        height,
                    } if chain && same == op => {
                        terms.push(right.expr);
                        Sub::over(Expr::Logical { op, terms }, (height - 1).max(right.height))?
                    }
                    other => Sub::over(
                        Expr::Logical {
                            op,
                            terms: vec![other.expr, right.expr],
                        },
                        other.height.max(right.height),
                    )?,
                };
                chain = true;
                continue;
            }
            if COMPARISON_PRECEDENCE < min_precedence {
                break;
            }
            chain = false;
            if word == "in" {
                self.next()?;
                let (list, below) = self.list()?;
                let below = below.max(left.height);
                left = Sub::over(
                    Expr::In {
                        left: Box::new(left.expr),
                        list,
                    },
                    below,
                )?;
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
            self.next()?;
            // Comparisons chain to the left: `a eq b eq c` is `(a eq b) eq c`.
            let right = self.expr(COMPARISON_PRECEDENCE + 1)?;
            let below = left.height.max(right.height);
            left = Sub::over(
                Expr::Binary {
                    op,
                    left: Box::new(left.expr),
                    right: Box::new(right.expr),
                },
                below,
            )?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Sub, ODataError> {
        if self.peek_word() == Some("not") {
            self.next()?;
            self.enter()?;
            // Unary `not` binds tighter than any binary operator (OData precedence).
            let inner = self.unary()?;
            self.depth -= 1;
            return Sub::over(Expr::Not(Box::new(inner.expr)), inner.height);
        }
        self.primary()
    }

    /// `(item, …)` after `in`: the items and the height of the highest.
    fn list(&mut self) -> Result<(Vec<Expr>, usize), ODataError> {
        self.expect(Token::Open, "'(' after 'in'")?;
        self.items()
    }

    /// Comma-separated expressions up to a `)`: the items and the height of the highest.
    fn items(&mut self) -> Result<(Vec<Expr>, usize), ODataError> {
        let (mut items, mut height) = (Vec::new(), 0);
        loop {
            let item = self.expr(0)?;
            height = height.max(item.height);
            items.push(item.expr);
            match self.next()? {
                Some(Token::Comma) => continue,
                Some(Token::Close) => return Ok((items, height)),
                _ => {
                    return Err(invalid(format!(
                        "expected ',' or ')' at position {}",
                        self.last
                    )))
                }
            }
        }
    }

    fn primary(&mut self) -> Result<Sub, ODataError> {
        let at = self.position();
        match self.next()? {
            Some(Token::Literal(lit)) => Ok(Sub::leaf(lit)),
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

    fn call(&mut self, name: String) -> Result<Sub, ODataError> {
        self.expect(Token::Open, "'('")?;
        if self.peek() == Some(&Token::Close) {
            self.next()?;
            return Ok(Sub::leaf(Expr::Call {
                name,
                args: Vec::new(),
            }));
        }
        let (args, below) = self.items()?;
        Sub::over(Expr::Call { name, args }, below)
    }

    fn member(&mut self, first: String) -> Result<Sub, ODataError> {
        let mut path = vec![first];
        while self.peek() == Some(&Token::Slash) {
            self.next()?;
            let Some(Token::Word(segment)) = self.next()? else {
                return Err(invalid(format!(
                    "expected a property name at position {}",
                    self.last
                )));
            };
            if matches!(segment.as_str(), "any" | "all") && self.peek() == Some(&Token::Open) {
                return self.lambda(path, segment == "all");
            }
            path.push(segment);
        }
        Ok(Sub::leaf(Expr::Member(path)))
    }

    fn lambda(&mut self, path: Vec<String>, all: bool) -> Result<Sub, ODataError> {
        self.expect(Token::Open, "'('")?;
        if self.peek() == Some(&Token::Close) && !all {
            self.next()?;
            return Ok(Sub::leaf(Expr::Lambda {
                path,
                all,
                var: None,
                body: None,
            }));
        }
        let Some(Token::Word(var)) = self.next()? else {
            return Err(invalid(format!(
                "expected a lambda variable at position {}",
                self.last
            )));
        };
        self.expect(Token::Colon, "':' after the lambda variable")?;
        let body = self.expr(0)?;
        self.expect(Token::Close, "')' closing the lambda")?;
        Sub::over(
            Expr::Lambda {
                path,
                all,
                var: Some(var),
                body: Some(Box::new(body.expr)),
            },
            body.height,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn member(p: &str) -> Expr {
        Expr::Member(p.split('/').map(str::to_string).collect())
    }

    fn compare(op: BinOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    fn message(result: Result<Expr, ODataError>) -> String {
        result.err().map(|e| e.message).unwrap_or_default()
    }

    /// `n` copies of `term` joined by `op`.
    fn chain(term: &str, op: &str, n: usize) -> String {
        vec![term; n].join(&format!(" {op} "))
    }

    #[test]
    fn precedence_and_literals() {
        let e = parse("status eq 'nonCompliant' and platform gt 3 or not (userName eq null)");
        let expected = Expr::Logical {
            op: Logic::Or,
            terms: vec![
                Expr::Logical {
                    op: Logic::And,
                    terms: vec![
                        compare(
                            BinOp::Eq,
                            member("status"),
                            Expr::String("nonCompliant".into()),
                        ),
                        compare(BinOp::Gt, member("platform"), Expr::Int(3)),
                    ],
                },
                Expr::Not(Box::new(compare(BinOp::Eq, member("userName"), Expr::Null))),
            ],
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
        assert_eq!(
            parse("name eq 'Zoë' and ünïcode/any(x: x eq 'ß')").map(|e| e.to_string()),
            Ok("name eq 'Zoë' and ünïcode/any(x: x eq 'ß')".into())
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
        // Positions count characters, not bytes.
        let err = parse("név eq 'é' #").err().map(|e| e.message);
        assert!(
            err.as_ref()
                .is_some_and(|m| m.contains("'#' at position 11")),
            "{err:?}"
        );
        let err = parse("(a eq 1").err().map(|e| e.message);
        assert!(
            err.as_ref().is_some_and(|m| m.contains("expected ')'")),
            "{err:?}"
        );
        let deep = format!("{}a eq 1{}", "(".repeat(200), ")".repeat(200));
        assert!(message(parse(&deep)).contains("(the limit)"));
    }

    #[test]
    fn and_or_chains_are_one_wide_node_and_groups_stay_apart() {
        let e = parse("a or b or c and d and e or f");
        let expected = Expr::Logical {
            op: Logic::Or,
            terms: vec![
                member("a"),
                member("b"),
                Expr::Logical {
                    op: Logic::And,
                    terms: vec![member("c"), member("d"), member("e")],
                },
                member("f"),
            ],
        };
        assert_eq!(e, Ok(expected));
        // A parenthesised chain of the same operator stays a term of its own, and prints so.
        let grouped = parse("(a or b) or c or (d or e)");
        assert_eq!(
            grouped,
            Ok(Expr::Logical {
                op: Logic::Or,
                terms: vec![
                    Expr::Logical {
                        op: Logic::Or,
                        terms: vec![member("a"), member("b")],
                    },
                    member("c"),
                    Expr::Logical {
                        op: Logic::Or,
                        terms: vec![member("d"), member("e")],
                    },
                ],
            })
        );
        assert_eq!(
            grouped.map(|g| g.to_string()).as_deref(),
            Ok("(a or b) or c or (d or e)")
        );
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
        assert!(
            matches!(&parsed, Ok(Expr::Logical { terms, .. }) if terms.len() == 200),
            "{parsed:?}"
        );
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
        let chain = format!("a{}", " in (1, b)".repeat(MAX_FILTER_DEPTH - 1));
        let nots = format!("{}a", "not ".repeat(MAX_FILTER_DEPTH - 2));
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

    #[test]
    fn left_chains_of_comparisons_and_in_stop_at_the_depth_limit() {
        // Each `eq`, `in` or `has` of a chain nests one level: the tree's height is capped.
        let at_limit = format!("a{}", " eq 1".repeat(MAX_FILTER_DEPTH - 1));
        assert!(parse(&at_limit).is_ok());
        let limit = format!("nested deeper than {MAX_FILTER_DEPTH} levels (the limit)");
        for op in ["eq 1", "ne 'x'", "has 'y'", "in (1, 2)"] {
            let past = format!("a{}", format!(" {op}").repeat(MAX_FILTER_DEPTH));
            assert!(message(parse(&past)).contains(&limit), "{op}");
        }
        let nots = format!("{}a", "not ".repeat(MAX_FILTER_DEPTH));
        assert!(message(parse(&nots)).contains(&limit));
        let calls = format!(
            "{}a{}",
            "tolower(".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        );
        assert!(message(parse(&calls)).contains(&limit));
        let lambdas = format!(
            "{}x eq 1{}",
            "t/any(x: ".repeat(MAX_FILTER_DEPTH),
            ")".repeat(MAX_FILTER_DEPTH)
        );
        assert!(message(parse(&lambdas)).contains(&limit));
    }

    #[test]
    fn node_limit_counts_names_literals_and_operators() {
        // `a eq 1` is three nodes, each `or` one more: 250 comparisons are 999 nodes.
        let terms = (MAX_FILTER_NODES + 1) / 4;
        let under = chain("displayName eq 'a'", "or", terms);
        assert!(parse(&under).is_ok());
        let over = chain("displayName eq 'a'", "or", terms + 1);
        let limit = format!("more than {MAX_FILTER_NODES} nodes (the limit)");
        assert!(message(parse(&over)).contains(&limit));
        let list = format!(
            "id in ({})",
            vec!["'e01a1893-1893-e01a-9318-1ae093181ae0'"; MAX_FILTER_NODES - 2].join(", ")
        );
        assert!(parse(&list).is_ok());
        let list = list.replacen("(", "('x', ", 1);
        assert!(message(parse(&list)).contains(&limit));
    }

    #[test]
    fn hundred_thousand_term_inputs_stop_at_a_limit() {
        const TERMS: usize = 100_000;
        let nodes = format!("more than {MAX_FILTER_NODES} nodes (the limit)");
        let depth = format!("nested deeper than {MAX_FILTER_DEPTH} levels (the limit)");
        let mixed = (0..TERMS)
            .map(|i| match i % 4 {
                0 => "displayName eq 'a'",
                1 => "contains(displayName, 'b')",
                2 => "not (version gt 3)",
                _ => "id in ('x', 'y')",
            })
            .collect::<Vec<_>>()
            .join(" and ");
        let cases = [
            (chain("displayName eq 'a'", "or", TERMS), &nodes),
            (chain("displayName eq 'a'", "and", TERMS), &nodes),
            (chain("contains(displayName, 'a')", "or", TERMS), &nodes),
            (mixed, &nodes),
            (chain("a", "or", TERMS), &nodes),
            (format!("a{}", " eq 1".repeat(TERMS)), &depth),
            (format!("a{}", " in (1)".repeat(TERMS)), &depth),
            (format!("a{}", " has 'x'".repeat(TERMS)), &depth),
            (format!("{}a", "(".repeat(TERMS)), &depth),
            (format!("{}a", "not ".repeat(TERMS)), &depth),
        ];
        for (text, limit) in cases {
            let found = message(parse(&text));
            assert!(found.contains(limit.as_str()), "{found}");
            let order = parse_order_item(&text).err().map(|e| e.message);
            assert!(order.is_some_and(|m| m.contains(limit.as_str())));
        }
    }

    #[test]
    fn the_lexer_stops_at_the_node_limit() {
        // Tokens are read one at a time: past the limit the rest of the text is never read, so a
        // bad character far behind it is not what is reported.
        let text = format!("{} or #", chain("a", "or", MAX_FILTER_NODES));
        let found = message(parse(&text));
        assert!(found.contains("nodes (the limit)"), "{found}");
    }
}

//! The Pratt parser: precedence climbing over the lexer's tokens, with the tree's height and the
//! parser's own nesting capped as it goes.

use super::lexer::{describe, invalid, too_deep, Lexer, Token};
use super::{BinOp, Expr, Logic, COMPARISON_PRECEDENCE};
use crate::query::limits::MAX_FILTER_DEPTH;
use crate::ODataError;

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

pub(super) struct Parser<'t> {
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

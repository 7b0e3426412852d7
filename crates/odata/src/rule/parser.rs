//! The rule parser: recursive descent over the lexer's tokens, lowest precedence first
//! (`-or`, `-and`, `-not`, then a comparison or an `-any`/`-all` over a collection). Its own
//! nesting is capped at the `$filter` depth limit.

use super::lexer::{describe, Lexer, Token};
use super::{check_length, Literal, Name, Node, Op, Operand, RuleError, Test};
use crate::query::limits::MAX_FILTER_DEPTH;

/// Parses a whole rule.
pub fn parse(text: &str) -> Result<Node, RuleError> {
    check_length(text)?;
    let mut p = Parser {
        lexer: Lexer::new(text),
        ahead: None,
        depth: 0,
    };
    p.fill()?;
    if p.ahead.is_none() {
        return Err(RuleError::at(0, "the rule is empty"));
    }
    let node = if p.peek_keyword("direct") {
        p.direct_reports()?
    } else {
        p.or()?
    };
    match p.ahead.take() {
        None => Ok(node),
        Some((at, token)) => Err(RuleError::at(
            at,
            format!("unexpected {} after a complete rule", describe(&token)),
        )),
    }
}

struct Parser<'t> {
    lexer: Lexer<'t>,
    ahead: Option<(usize, Token)>,
    depth: usize,
}

impl Parser<'_> {
    fn fill(&mut self) -> Result<(), RuleError> {
        if self.ahead.is_none() {
            self.ahead = self.lexer.token()?;
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<(usize, Token)>, RuleError> {
        self.fill()?;
        let taken = self.ahead.take();
        self.fill()?;
        Ok(taken)
    }

    /// Where the next token starts (the end of the text once it is used up).
    fn position(&self) -> usize {
        self.ahead
            .as_ref()
            .map_or(self.lexer.position, |(at, _)| *at)
    }

    fn peek_word(&self) -> Option<&str> {
        match &self.ahead {
            Some((_, Token::Word(w))) => Some(w),
            _ => None,
        }
    }

    /// Whether the next word is `keyword` (any case), with or without a leading `-`.
    fn peek_keyword(&self, keyword: &str) -> bool {
        self.peek_word().is_some_and(|w| {
            w.strip_prefix('-')
                .unwrap_or(w)
                .eq_ignore_ascii_case(keyword)
        })
    }

    fn expected(&self, what: &str) -> RuleError {
        match &self.ahead {
            Some((at, token)) => {
                RuleError::at(*at, format!("expected {what}, found {}", describe(token)))
            }
            None => RuleError::at(self.position(), format!("expected {what}, found the end")),
        }
    }

    fn expect(&mut self, want: &Token, what: &str) -> Result<(), RuleError> {
        match &self.ahead {
            Some((_, token)) if token == want => {
                self.next()?;
                Ok(())
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Enters one level of nesting, refused past the limit.
    fn descend(&mut self) -> Result<(), RuleError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(RuleError::at(
                self.position(),
                format!("the rule is nested deeper than {MAX_FILTER_DEPTH} levels (the limit)"),
            ));
        }
        Ok(())
    }

    /// `and (or and)*`: one wide node for a chain.
    fn or(&mut self) -> Result<Node, RuleError> {
        let mut terms = vec![self.and()?];
        while self.peek_keyword("or") {
            self.next()?;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Node::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Node, RuleError> {
        let mut terms = vec![self.unary()?];
        while self.peek_keyword("and") {
            self.next()?;
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Node::And(terms)
        })
    }

    fn unary(&mut self) -> Result<Node, RuleError> {
        self.descend()?;
        let node = if self.peek_keyword("not") {
            self.next()?;
            Node::Not(Box::new(self.unary()?))
        } else if matches!(self.ahead, Some((_, Token::Open))) {
            self.next()?;
            let inner = self.or()?;
            self.expect(&Token::Close, "')'")?;
            inner
        } else {
            self.condition()?
        };
        self.depth -= 1;
        Ok(node)
    }

    /// `operand OP value`, or `object.property -any|-all (body)` (parentheses optional around a
    /// single condition).
    fn condition(&mut self) -> Result<Node, RuleError> {
        let operand = self.operand()?;
        let at = self.position();
        let word = self
            .peek_word()
            .map(str::to_string)
            .ok_or_else(|| self.expected("an operator"))?;
        let bare = word.strip_prefix('-').unwrap_or(&word).to_ascii_lowercase();
        if bare == "any" || bare == "all" {
            let Operand::Property(property) = operand else {
                return Err(RuleError::at(
                    at,
                    "'_' cannot be the subject of -any or -all",
                ));
            };
            self.next()?;
            self.descend()?;
            let body = if matches!(self.ahead, Some((_, Token::Open))) {
                self.next()?;
                let inner = self.or()?;
                self.expect(&Token::Close, "')'")?;
                inner
            } else {
                self.condition()?
            };
            self.depth -= 1;
            return Ok(Node::Lambda {
                property,
                all: bare == "all",
                body: Box::new(body),
            });
        }
        let op = Op::from_word(&word)
            .ok_or_else(|| RuleError::at(at, format!("'{word}' is not an operator")))?;
        self.next()?;
        let value = self.value(op)?;
        Ok(Node::Test(Test {
            operand,
            op,
            value,
            at,
        }))
    }

    /// `object.property`, or `_`.
    fn operand(&mut self) -> Result<Operand, RuleError> {
        let (at, word) = match self.next()? {
            Some((at, Token::Word(w))) if !w.starts_with('-') => (at, w),
            Some((at, token)) => {
                return Err(RuleError::at(
                    at,
                    format!("expected a property, found {}", describe(&token)),
                ))
            }
            None => return Err(self.expected("a property")),
        };
        if word == "_" {
            return Ok(Operand::Element { at });
        }
        match word.split_once('.') {
            Some((object, property)) if !object.is_empty() && !property.is_empty() => {
                Ok(Operand::Property(Name {
                    object: object.to_string(),
                    property: property.to_string(),
                    at,
                }))
            }
            _ => Err(RuleError::at(
                at,
                format!(
                    "'{word}' is not a property: write object.property, such as user.department"
                ),
            )),
        }
    }

    /// A string, `true`/`false`, `null`/`$null`, an unquoted value, or `[…]` for `-in`/`-notIn`.
    fn value(&mut self, op: Op) -> Result<Literal, RuleError> {
        let list_op = matches!(op, Op::In | Op::NotIn);
        match self.next()? {
            Some((_, Token::OpenList)) if list_op => self.list(),
            Some((at, _)) if list_op => Err(RuleError::at(
                at,
                format!("{} takes a list of values in [ ]", op.as_str()),
            )),
            Some((_, Token::Text(t))) => Ok(Literal::Text(t)),
            Some((at, Token::Word(w))) if w.starts_with('-') => {
                Err(RuleError::at(at, format!("expected a value, found '{w}'")))
            }
            Some((_, Token::Word(w))) => Ok(match w.to_ascii_lowercase().as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" | "$null" => Literal::Null,
                _ => Literal::Bare(w),
            }),
            Some((at, token)) => Err(RuleError::at(
                at,
                format!("expected a value, found {}", describe(&token)),
            )),
            None => Err(self.expected("a value")),
        }
    }

    /// The items of `[…]` after its `[`.
    fn list(&mut self) -> Result<Literal, RuleError> {
        let mut items = Vec::new();
        if matches!(self.ahead, Some((_, Token::CloseList))) {
            self.next()?;
            return Ok(Literal::List(items));
        }
        loop {
            match self.next()? {
                Some((_, Token::Text(t) | Token::Word(t))) => items.push(t),
                Some((at, token)) => {
                    return Err(RuleError::at(
                        at,
                        format!("expected a list item, found {}", describe(&token)),
                    ))
                }
                None => return Err(self.expected("a list item")),
            }
            match self.next()? {
                Some((_, Token::Comma)) => {}
                Some((_, Token::CloseList)) => return Ok(Literal::List(items)),
                Some((at, token)) => {
                    return Err(RuleError::at(
                        at,
                        format!("expected ',' or ']', found {}", describe(&token)),
                    ))
                }
                None => return Err(self.expected("',' or ']'")),
            }
        }
    }

    /// `Direct Reports for "{id}"`, which stands alone.
    fn direct_reports(&mut self) -> Result<Node, RuleError> {
        let at = self.position();
        for keyword in ["direct", "reports", "for"] {
            if !self.peek_keyword(keyword) {
                return Err(self.expected(&format!("'{keyword}'")));
            }
            self.next()?;
        }
        match self.next()? {
            Some((_, Token::Text(manager))) => Ok(Node::DirectReports { manager, at }),
            Some((at, token)) => Err(RuleError::at(
                at,
                format!(
                    "expected the manager's id in quotes, found {}",
                    describe(&token)
                ),
            )),
            None => Err(self.expected("the manager's id in quotes")),
        }
    }
}

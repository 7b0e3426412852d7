//! The `$filter` lexer: one token at a time, counting names and literals against the node limit.

use super::Expr;
use crate::query::limits::{MAX_FILTER_DEPTH, MAX_FILTER_NODES};
use crate::value::{is_guid, DateTimeOffset};
use crate::ODataError;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Word(String),
    Literal(Expr),
    Open,
    Close,
    Comma,
    Slash,
    Colon,
}

pub(super) fn invalid(message: impl fmt::Display) -> ODataError {
    ODataError::bad_request(format!("Invalid $filter: {message}"))
}

pub(super) fn too_deep() -> ODataError {
    invalid(format!(
        "the expression is nested deeper than {MAX_FILTER_DEPTH} levels (the limit)."
    ))
}

/// Reads tokens one at a time, so that a text far past the node limit costs no more than the
/// limit's worth of tokens. Names and literals (operators are names) count as nodes.
pub(super) struct Lexer<'t> {
    text: &'t str,
    /// Byte offset of the next unread character.
    at: usize,
    /// Characters before `at`: positions in messages count characters.
    pub(super) position: usize,
    nodes: usize,
}

impl<'t> Lexer<'t> {
    pub(super) fn new(text: &'t str) -> Self {
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
    pub(super) fn token(&mut self) -> Result<Option<(usize, Token)>, ODataError> {
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

pub(super) fn describe(t: &Token) -> String {
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

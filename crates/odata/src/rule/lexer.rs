//! The rule lexer: one token at a time, words and strings counted against the node limit.

use super::RuleError;
use crate::query::limits::MAX_FILTER_NODES;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    /// A name, keyword, operator (`-eq`, `and`) or unquoted value (`10.0.1`, `true`, `$null`).
    Word(String),
    /// A quoted string, unescaped.
    Text(String),
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
}

pub(super) fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("'{w}'"),
        Token::Text(t) => format!("the string \"{t}\""),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
        Token::OpenList => "'['".into(),
        Token::CloseList => "']'".into(),
        Token::Comma => "','".into(),
    }
}

pub(super) struct Lexer<'t> {
    text: &'t str,
    /// Byte offset of the next unread character.
    at: usize,
    /// Characters before `at`.
    pub(super) position: usize,
    nodes: usize,
}

/// Dashes that documentation (and so pasted rules) prints in place of `-`.
fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2013}' | '\u{2014}')
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

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        self.position += 1;
        Some(c)
    }

    fn take_while(&mut self, accept: impl Fn(char) -> bool, out: &mut String) {
        while let Some(c) = self.peek().filter(|c| accept(*c)) {
            out.push(if is_dash(c) { '-' } else { c });
            self.bump();
        }
    }

    /// The next token and the position it starts at; `None` at the end of the text.
    pub(super) fn token(&mut self) -> Result<Option<(usize, Token)>, RuleError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        let start = self.position;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let punctuation = match c {
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            '[' => Some(Token::OpenList),
            ']' => Some(Token::CloseList),
            ',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(token) = punctuation {
            self.bump();
            return Ok(Some((start, token)));
        }
        let token = match c {
            '"' | '`' => Token::Text(self.double_quoted(start)?),
            '\'' => Token::Text(self.single_quoted(start)?),
            c if is_dash(c) || c.is_alphanumeric() || matches!(c, '_' | '$') => {
                let mut word = String::new();
                if is_dash(c) {
                    word.push('-');
                    self.bump();
                }
                let value_like = self.peek().is_some_and(|c| c.is_ascii_digit());
                self.take_while(
                    |c| {
                        c.is_alphanumeric()
                            || matches!(c, '_' | '.' | '$')
                            || (value_like && (is_dash(c) || matches!(c, ':' | '+')))
                    },
                    &mut word,
                );
                if word == "-" {
                    return Err(RuleError::at(start, "a '-' must start an operator"));
                }
                Token::Word(word)
            }
            other => {
                return Err(RuleError::at(
                    start,
                    format!("unexpected character '{other}'"),
                ))
            }
        };
        self.nodes += 1;
        if self.nodes > MAX_FILTER_NODES {
            return Err(RuleError::at(
                start,
                format!("the rule has more than {MAX_FILTER_NODES} nodes (the limit)"),
            ));
        }
        Ok(Some((start, token)))
    }

    /// `"…"`, where a backtick escapes the next character (`` `" `` is a quote). A value may also
    /// be written with escaped quotes alone: `` `"Sales`" `` is the text `"Sales"`, quotes
    /// included; it ends at a space or a parenthesis.
    fn double_quoted(&mut self, start: usize) -> Result<String, RuleError> {
        let mut s = String::new();
        if self.peek() == Some('`') {
            while let Some(c) = self.peek().filter(|c| !c.is_whitespace() && *c != ')') {
                self.bump();
                if c == '`' {
                    let escaped = self
                        .bump()
                        .ok_or_else(|| RuleError::at(start, "a '`' must escape a character"))?;
                    s.push(escaped);
                } else {
                    s.push(c);
                }
            }
            return Ok(s);
        }
        self.bump();
        loop {
            match self.bump() {
                None => return Err(RuleError::at(start, "the string is not closed")),
                Some('`') => match self.bump() {
                    Some(c) => s.push(c),
                    None => return Err(RuleError::at(start, "the string is not closed")),
                },
                Some('"') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    /// `'…'`, where `''` is a quote.
    fn single_quoted(&mut self, start: usize) -> Result<String, RuleError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(RuleError::at(start, "the string is not closed")),
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

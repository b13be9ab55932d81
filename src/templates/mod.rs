//! Message templates: stored texts with `{{variables}}`, filled in at send
//! time.
//!
//! The language is deliberately tiny and safe: `{{name}}` inserts a
//! variable, `{{name|default text}}` falls back to a default, `{{{{` writes
//! a literal `{{`. Nothing is evaluated, inserted values are never expanded
//! again (a value containing `{{x}}` stays as written), and the output is
//! capped, so a template cannot run code or grow without bound.

use std::collections::{BTreeSet, HashMap};

/// Longest template text.
pub const MAX_TEMPLATE: usize = 16_384;
/// Longest rendered text (WhatsApp's text limit).
pub const MAX_OUTPUT: usize = 65_536;
/// Longest variable name.
const MAX_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var { name: String, default: Option<String> },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

/// Why a template text is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the template is longer than {MAX_TEMPLATE} characters")]
    TooLong,
    #[error("`{{{{` at character {0} is not closed by `}}}}`")]
    Unclosed(usize),
    #[error("`{0}` is not a variable name (letters, digits, `_`, `.` and `-`, at most 64)")]
    BadName(String),
}

/// Why a template cannot be filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("missing variables: {}", .0.join(", "))]
    Missing(Vec<String>),
    #[error("the message would be longer than {MAX_OUTPUT} characters")]
    TooLong,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.chars().count() > MAX_TEMPLATE {
            return Err(ParseError::TooLong);
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(at) = rest.find("{{") {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            if let Some(escaped) = after.strip_prefix("{{") {
                literal.push_str("{{");
                offset += at + 4;
                rest = escaped;
                continue;
            }
            let Some(end) = after.find("}}") else {
                return Err(ParseError::Unclosed(text[..offset + at].chars().count()));
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once('|') {
                Some((n, d)) => (n.trim(), Some(d.to_owned())),
                None => (inner.trim(), None),
            };
            if !valid_name(name) {
                return Err(ParseError::BadName(name.to_owned()));
            }
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Var { name: name.to_owned(), default });
            offset += at + 2 + end + 2;
            rest = &after[end + 2..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Self(pieces))
    }

    /// The variables the template uses, sorted; `required` only those
    /// without a default.
    pub fn variables(&self, required: bool) -> Vec<String> {
        let names: BTreeSet<&str> = self
            .0
            .iter()
            .filter_map(|p| match p {
                Piece::Var { name, default } if !required || default.is_none() => Some(name.as_str()),
                _ => None,
            })
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }

    /// Fills in `values`; every variable without a default must be given.
    pub fn render(&self, values: &HashMap<String, String>) -> Result<String, RenderError> {
        let missing: Vec<String> =
            self.variables(true).into_iter().filter(|n| !values.contains_key(n)).collect();
        if !missing.is_empty() {
            return Err(RenderError::Missing(missing));
        }
        let mut out = String::new();
        let mut chars = 0;
        for piece in &self.0 {
            let text = match piece {
                Piece::Text(t) => t.as_str(),
                Piece::Var { name, default } => {
                    values.get(name).map(String::as_str).or(default.as_deref()).unwrap_or_default()
                }
            };
            chars += text.chars().count();
            if chars > MAX_OUTPUT {
                return Err(RenderError::TooLong);
            }
            out.push_str(text);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;

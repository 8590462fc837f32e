//! Validation errors: every problem of an input at once, each naming its param and rule.

use std::fmt;

use crate::section::Section;

/// The longest excerpt of an offending value that an error message quotes.
const MAX_QUOTED_CHARS: usize = 64;

/// One problem with one param of a connection's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    section: Section,
    param: String,
    kind: ValidationErrorKind,
}

/// Which rule a param broke. Offending values are kept only for non-secret params.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationErrorKind {
    /// The input is not a JSON object (`found` names what it is instead).
    NotAnObject {
        /// `"an array"`, `"a string"`, ...
        found: &'static str,
    },
    /// A required param is absent or `null`.
    Missing,
    /// A required param is the empty string.
    Empty,
    /// The value is not a JSON string.
    NotAString {
        /// `"a number"`, `"an object"`, ...
        found: &'static str,
    },
    /// The value does not match the param's `pattern` (a regex searched in the value).
    Pattern {
        /// The pattern as written in providers.yaml.
        pattern: String,
        /// The offending value; `None` for a secret.
        value: Option<String>,
    },
    /// The value is not UPPER_SNAKE_CASE.
    UpperSnakeCase {
        /// The offending value; `None` for a secret.
        value: Option<String>,
    },
    /// The value is not one of the allowed values.
    NotOneOf {
        /// The allowed values.
        allowed: Vec<String>,
        /// The offending value; `None` for a secret.
        value: Option<String>,
    },
    /// The input has a param that the provider does not declare.
    UnknownParam {
        /// The closest declared param, when one is close.
        suggestion: Option<String>,
    },
}

impl ValidationError {
    pub(crate) fn new(
        section: Section,
        param: impl Into<String>,
        kind: ValidationErrorKind,
    ) -> Self {
        ValidationError {
            section,
            param: param.into(),
            kind,
        }
    }

    /// The param as written in providers.yaml (e.g. `partnerId`); for
    /// [`ValidationErrorKind::NotAnObject`], the section's name.
    pub fn param(&self) -> &str {
        &self.param
    }

    /// Whether the param belongs to the connection config or the credentials.
    pub fn section(&self) -> Section {
        self.section
    }

    /// The rule that was broken.
    pub fn kind(&self) -> &ValidationErrorKind {
        &self.kind
    }
}

/// Quotes a value for an error message: escaped (no raw control characters reach a log) and
/// cut to a readable length.
fn quoted(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(MAX_QUOTED_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

fn value_text(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("value {}", quoted(v)),
        None => "the secret value (not shown)".to_owned(),
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let section = self.section.as_str();
        if let ValidationErrorKind::NotAnObject { found } = &self.kind {
            return write!(
                f,
                "{section}: expected a JSON object of params, got {found}"
            );
        }
        write!(f, "{section} param `{}`: ", self.param)?;
        match &self.kind {
            ValidationErrorKind::NotAnObject { .. } => Ok(()),
            ValidationErrorKind::Missing => f.write_str("required param is missing"),
            ValidationErrorKind::Empty => f.write_str("required param is empty"),
            ValidationErrorKind::NotAString { found } => write!(f, "must be a string, got {found}"),
            ValidationErrorKind::Pattern { pattern, value } => {
                write!(
                    f,
                    "{} does not match the pattern `{pattern}`",
                    value_text(value)
                )
            }
            ValidationErrorKind::UpperSnakeCase { value } => write!(
                f,
                "{} is not UPPER_SNAKE_CASE (an uppercase letter, then uppercase letters and digits, \
                 words joined by single underscores, at most {} characters; e.g. MY_APPLICATION)",
                value_text(value),
                crate::rules::UPPER_SNAKE_CASE_MAX_LEN
            ),
            ValidationErrorKind::NotOneOf { allowed, value } => {
                write!(f, "{} is not one of ", value_text(value))?;
                for (i, a) in allowed.iter().enumerate() {
                    write!(f, "{}`{a}`", if i == 0 { "" } else { ", " })?;
                }
                Ok(())
            }
            ValidationErrorKind::UnknownParam { suggestion } => {
                f.write_str("unknown param")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean `{s}`?)"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for ValidationError {}

/// Every problem found in one input: the provider's params in catalog order, then unknown
/// params sorted by key.
/// Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    errors: Vec<ValidationError>,
}

impl ValidationErrors {
    pub(crate) fn from_vec(errors: Vec<ValidationError>) -> Option<Self> {
        if errors.is_empty() {
            None
        } else {
            Some(ValidationErrors { errors })
        }
    }

    /// The problems, one per param and rule.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.errors.iter()
    }

    /// How many problems there are (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always `false`: a `ValidationErrors` holds at least one error.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Joins the problems of two inputs (e.g. connection config and credentials).
    pub fn merge(mut self, other: ValidationErrors) -> Self {
        self.errors.extend(other.errors);
        self
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems:", many.len())?;
                for e in many {
                    write!(f, "\n- {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ValidationErrors {}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

/// Both results, or every validation problem of both.
#[doc(hidden)]
pub fn both<C, K>(
    config: Result<C, ValidationErrors>,
    credentials: Result<K, ValidationErrors>,
) -> Result<(C, K), ValidationErrors> {
    match (config, credentials) {
        (Ok(c), Ok(k)) => Ok((c, k)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(a.merge(b)),
    }
}

/// A provider key that the catalog does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider `{given}`{}", match .suggestion { Some(s) => format!(" (did you mean `{s}`?)"), None => String::new() })]
pub struct UnknownProvider {
    given: String,
    suggestion: Option<String>,
}

impl UnknownProvider {
    /// The error for `given`, with the closest of `known` as a suggestion.
    pub fn new(given: &str, known: &[&str]) -> Self {
        UnknownProvider {
            given: given.to_owned(),
            suggestion: closest(given, known.iter().copied()).map(str::to_owned),
        }
    }

    /// The key that was asked for.
    pub fn given(&self) -> &str {
        &self.given
    }

    /// The closest known key, if one is close.
    pub fn suggestion(&self) -> Option<&str> {
        self.suggestion.as_deref()
    }
}

/// The candidate closest to `given`, if it is close enough to be a likely typo
/// (case-insensitive, Jaro-Winkler similarity of at least 0.8).
#[doc(hidden)]
pub fn closest<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&given, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_escape_and_cut() {
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
        let long = "x".repeat(100);
        assert_eq!(quoted(&long), format!("\"{}\"…", "x".repeat(64)));
    }

    #[test]
    fn closest_finds_typos_only() {
        let keys = ["personio", "personio-v2", "personio-recruiting"];
        assert_eq!(
            closest("personio-recuiting", keys.iter().copied()),
            Some("personio-recruiting")
        );
        assert_eq!(closest("PERSONIO", keys.iter().copied()), Some("personio"));
        assert_eq!(closest("slack", keys.iter().copied()), None);
    }

    #[test]
    fn unknown_provider_message() {
        let e = UnknownProvider::new("personio-v3", &["personio", "personio-v2"]);
        assert_eq!(
            e.to_string(),
            "unknown provider `personio-v3` (did you mean `personio-v2`?)"
        );
    }
}

//! A string whose value never shows up in `Debug`, `Display` or error messages.

use std::fmt;

/// A secret string: an API key, a client secret, a password.
///
/// `Debug` prints `Secret("***")` and `Display` prints `***`, so a secret cannot reach a log
/// line by accident. Read the value with [`Secret::expose`], at the one place that sends it.
/// It deliberately implements neither `Serialize` nor `Deref<Target = str>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Call this only where the value is sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("papi-123-very-secret");
        assert_eq!(format!("{s:?}"), "Secret(\"***\")");
        assert_eq!(format!("{s:#?}"), "Secret(\"***\")");
        assert_eq!(s.to_string(), "***");
        assert_eq!(s.expose(), "papi-123-very-secret");
    }
}

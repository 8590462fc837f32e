//! The two groups of a provider's params.

use std::fmt;

/// Which group of params an input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Section {
    /// `connection_config`: per-connection settings such as a company id.
    ConnectionConfig,
    /// `credentials`: what the user authenticates with.
    Credentials,
}

impl Section {
    /// The key of the section in providers.yaml.
    pub const fn as_str(self) -> &'static str {
        match self {
            Section::ConnectionConfig => "connection_config",
            Section::Credentials => "credentials",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! The auth modes of the catalog format.

use std::fmt;
use std::str::FromStr;

macro_rules! auth_modes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, )*) => {
        /// How a provider authenticates, as its `auth_mode` says.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum AuthMode {
            $( $(#[$doc])* $variant, )*
        }

        impl AuthMode {
            /// Every auth mode the catalog format knows, in the order of its documentation.
            pub const ALL: &'static [AuthMode] = &[$(AuthMode::$variant),*];

            /// The spelling used in `providers.yaml`, e.g. `OAUTH2_CC`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuthMode::$variant => $text,)*
                }
            }
        }
    };
}

auth_modes! {
    /// A static API key (`${apiKey}`).
    ApiKey = "API_KEY",
    /// A GitHub-style app installation.
    App = "APP",
    /// Legacy: App Store Connect keys. No longer used by current catalogs.
    AppStore = "APP_STORE",
    /// HTTP basic authentication.
    Basic = "BASIC",
    /// No authentication.
    None = "NONE",
    /// OAuth 1.0a.
    OAuth1 = "OAUTH1",
    /// OAuth 2.0 authorization code flow.
    OAuth2 = "OAUTH2",
    /// OAuth 2.0 client credentials grant.
    OAuth2Cc = "OAUTH2_CC",
    /// OAuth 2.0 with a GitHub App (`token_url` per mode).
    Custom = "CUSTOM",
    /// NetSuite token-based authentication.
    Tba = "TBA",
    /// Legacy: Tableau personal access tokens. No longer used by current catalogs.
    Tableau = "TABLEAU",
    /// A signed JSON Web Token.
    Jwt = "JWT",
    /// Bill.com sessions.
    Bill = "BILL",
    /// A token obtained through one or more custom requests.
    TwoStep = "TWO_STEP",
    /// A signature such as WSSE.
    Signature = "SIGNATURE",
    /// OAuth 2.0 for an MCP server.
    McpOAuth2 = "MCP_OAUTH2",
    /// Generic OAuth 2.0 for an MCP server, configured programmatically.
    McpOAuth2Generic = "MCP_OAUTH2_GENERIC",
    /// A plugin installed on the provider's side.
    InstallPlugin = "INSTALL_PLUGIN",
    /// AWS Signature Version 4.
    AwsSigV4 = "AWS_SIGV4",
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no auth mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown auth mode `{given}`{}", suggestion_suffix(.suggestion.as_deref()))]
pub struct UnknownAuthMode {
    /// What was given.
    pub given: String,
    /// The closest known auth mode, when one is close.
    pub suggestion: Option<&'static str>,
}

fn suggestion_suffix(s: Option<&str>) -> String {
    s.map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

impl FromStr for AuthMode {
    type Err = UnknownAuthMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuthMode::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownAuthMode {
                given: s.to_owned(),
                suggestion: crate::error::closest(s, AuthMode::ALL.iter().map(|m| m.as_str())),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_mode() {
        for mode in AuthMode::ALL {
            assert_eq!(mode.as_str().parse::<AuthMode>(), Ok(*mode));
            assert_eq!(mode.to_string(), mode.as_str());
        }
        assert_eq!(AuthMode::ALL.len(), 19);
    }

    #[test]
    fn suggests_close_spelling() {
        let err = "OAUTH2CC".parse::<AuthMode>().unwrap_err();
        assert_eq!(err.suggestion, Some("OAUTH2_CC"));
        assert_eq!(
            err.to_string(),
            "unknown auth mode `OAUTH2CC` (did you mean `OAUTH2_CC`?)"
        );
        assert_eq!("slack".parse::<AuthMode>().unwrap_err().suggestion, None);
    }
}

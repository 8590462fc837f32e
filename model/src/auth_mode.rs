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

            /// The variant's name, e.g. `OAuth2Cc`: what generated code writes after
            /// `AuthMode::`.
            pub const fn variant_name(self) -> &'static str {
                match self {
                    $(AuthMode::$variant => stringify!($variant),)*
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

/// When the credentials an auth mode implies are added to an entry that does not declare
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Implied {
    /// In every catalog: the platform asks every connection of the mode for them, declared or
    /// not (OAUTH2_CC's OAuth client; APP_STORE's keys, whose `credentials` block the
    /// platform's CI forbade until mid-2026 and has required since).
    Always,
    /// In older-format catalogs only, which declare no credentials at all; a current catalog
    /// must declare them.
    OlderFormat,
}

/// What each auth mode needs, declared once: read by the generator's rules and the client.
impl AuthMode {
    /// The credentials a user supplies that the mode implies, and when they are implied for
    /// an entry that does not declare them.
    pub const fn implied_credentials(self) -> (&'static [&'static str], Implied) {
        match self {
            AuthMode::OAuth2Cc => (&["client_id", "client_secret"], Implied::Always),
            AuthMode::AppStore => (&["issuerId", "privateKeyId", "privateKey"], Implied::Always),
            // What the platform's BILL route takes, strictly.
            AuthMode::Bill => (
                &["username", "password", "organization_id", "dev_key"],
                Implied::Always,
            ),
            AuthMode::ApiKey => (&["apiKey"], Implied::OlderFormat),
            // The platform stores a username and a password for every BASIC connection,
            // declared or not.
            AuthMode::Basic => (&["username", "password"], Implied::Always),
            AuthMode::Signature => (&["username", "password"], Implied::OlderFormat),
            _ => (&[], Implied::OlderFormat),
        }
    }

    /// Whether every credential of the mode is supplied by the user. In the other modes the
    /// platform obtains credentials (tokens, cookies, the raw token response) that templates
    /// read as `${credentials.x}`.
    pub const fn user_credentials_only(self) -> bool {
        matches!(
            self,
            AuthMode::ApiKey | AuthMode::Basic | AuthMode::None | AuthMode::AwsSigV4
        )
    }

    /// Whether the platform's CI forbids a `credentials` block: the platform obtains the
    /// credentials itself.
    pub const fn forbids_credentials(self) -> bool {
        matches!(
            self,
            AuthMode::OAuth2
                | AuthMode::OAuth1
                | AuthMode::App
                | AuthMode::Custom
                | AuthMode::None
                | AuthMode::Tba
                | AuthMode::Bill
                | AuthMode::McpOAuth2
                | AuthMode::McpOAuth2Generic
                | AuthMode::InstallPlugin
        )
    }

    /// Whether the platform reads the mode's connection params programmatically, so that
    /// none of them needs a template.
    pub const fn params_read_programmatically(self) -> bool {
        matches!(self, AuthMode::McpOAuth2Generic | AuthMode::AwsSigV4)
    }

    /// Whether the mode exchanges credentials for a token at `token_url`.
    pub const fn needs_token_url(self) -> bool {
        matches!(self, AuthMode::OAuth2Cc)
    }

    /// How the runtime's client serves the mode; `None` when it does not (the provider's
    /// description then says why, `spec::Unsupported`). The generator's client planning and
    /// the client's connect both read this row.
    pub const fn client_auth(self) -> Option<ClientAuth> {
        match self {
            AuthMode::ApiKey | AuthMode::None => Some(ClientAuth::Templates),
            AuthMode::Basic => Some(ClientAuth::Basic),
            AuthMode::OAuth2Cc => Some(ClientAuth::ClientCredentials),
            AuthMode::OAuth2 | AuthMode::McpOAuth2 | AuthMode::McpOAuth2Generic => {
                Some(ClientAuth::AuthorizationCode)
            }
            // BILL is a login request with a fixed recipe (`sessionId` from `token_url`).
            AuthMode::TwoStep | AuthMode::Bill => Some(ClientAuth::TokenRequest),
            AuthMode::Jwt | AuthMode::AppStore => Some(ClientAuth::SignedToken),
            AuthMode::OAuth1 => Some(ClientAuth::OAuth1),
            _ => None,
        }
    }

    /// The modes the client serves, by their catalog spelling.
    pub fn served() -> impl Iterator<Item = AuthMode> {
        let mut modes: Vec<AuthMode> = AuthMode::ALL
            .iter()
            .copied()
            .filter(|m| m.client_auth().is_some())
            .collect();
        modes.sort_by_key(|m| m.as_str());
        modes.into_iter()
    }
}

/// How the client authenticates the requests of a mode it serves: one strategy per row of
/// [`AuthMode::client_auth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuth {
    /// The provider's rendered headers and query carry the credentials (API_KEY, NONE).
    Templates,
    /// `Authorization: Basic` from `username` and `password`, unless the headers set one
    /// (BASIC).
    Basic,
    /// An access token from `token_url` for the OAuth client's credentials, cached and renewed
    /// (OAUTH2_CC).
    ClientCredentials,
    /// An access token a user granted through the authorization code flow (with PKCE), renewed
    /// with its refresh token; the OAuth client is the application's, not a credential of the
    /// connection (OAUTH2, MCP_OAUTH2).
    AuthorizationCode,
    /// A token from a request the catalog describes, with the connection's credentials
    /// (`token_url`, `token_params`, `token_headers`, `token_response`), renewed by its
    /// refresh request or by the same request again (TWO_STEP).
    TokenRequest,
    /// A JWT the client signs itself from the connection's key and the catalog's claims, used
    /// as the bearer token and signed again before it expires (JWT).
    SignedToken,
    /// OAuth 1.0a (RFC 5849): token credentials a user granted through the three-legged flow,
    /// and every request signed with them and the application's client (OAUTH1).
    OAuth1,
}

impl ClientAuth {
    /// The credentials a connection must have, required (not optional) in the catalog.
    pub const fn required_credentials(self) -> &'static [&'static str] {
        match self {
            ClientAuth::Templates => &[],
            ClientAuth::Basic => &["username"],
            ClientAuth::ClientCredentials => &["client_id", "client_secret"],
            ClientAuth::AuthorizationCode
            | ClientAuth::TokenRequest
            | ClientAuth::SignedToken
            | ClientAuth::OAuth1 => &[],
        }
    }

    /// Whether a user authorizes the application in a browser, and a connection starts from
    /// that authorization or its saved tokens (with the application's OAuth client).
    pub const fn authorizes(self) -> bool {
        matches!(self, ClientAuth::AuthorizationCode | ClientAuth::OAuth1)
    }

    /// Whether requests need an access token (from the token URL).
    pub const fn uses_token(self) -> bool {
        matches!(
            self,
            ClientAuth::ClientCredentials
                | ClientAuth::AuthorizationCode
                | ClientAuth::TokenRequest
                | ClientAuth::SignedToken
        )
    }
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

/// An auth mode travels as its catalog name (`OAUTH2_CC`).
impl serde::Serialize for AuthMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for AuthMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
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

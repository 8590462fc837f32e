//! Who calls: the application's backend with a secret key (scopes per key), or an end user's
//! browser with a connect session token. Keys and session tokens are random; the store keeps
//! their SHA-256 and compares it in constant time.

use std::fmt;
use std::str::FromStr;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read connections (without credentials) and providers; the sync status.
    ConnectionsRead,
    /// Read a connection's credentials (`include_credentials=true`).
    CredentialsRead,
    /// Create, import, update and delete connections; create connect sessions.
    ConnectionsWrite,
    /// Send requests through `/proxy`.
    Proxy,
    /// Read synced records.
    Records,
    /// Trigger syncs.
    Sync,
    /// Run declared actions.
    Actions,
    /// Everything, and the outbox.
    Admin,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 8] = [
        Scope::ConnectionsRead,
        Scope::CredentialsRead,
        Scope::ConnectionsWrite,
        Scope::Proxy,
        Scope::Records,
        Scope::Sync,
        Scope::Actions,
        Scope::Admin,
    ];

    /// The scope's name: `connections:read`, ...
    pub const fn name(self) -> &'static str {
        match self {
            Scope::ConnectionsRead => "connections:read",
            Scope::CredentialsRead => "credentials:read",
            Scope::ConnectionsWrite => "connections:write",
            Scope::Proxy => "proxy",
            Scope::Records => "records",
            Scope::Sync => "sync",
            Scope::Actions => "actions",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`: the scopes are connections:read, credentials:read, connections:write, proxy, records, sync, actions, admin")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Scope, UnknownScope> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.name() == s)
            .ok_or_else(|| UnknownScope(s.escape_default().to_string()))
    }
}

/// An authenticated caller, put in the request's extensions by the authentication layers.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A secret key.
    Key {
        /// The key's id (not secret).
        id: String,
        /// Its scopes.
        scopes: Vec<Scope>,
    },
    /// A connect session.
    Session(Session),
}

/// The connect session of an end user's browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's id (not its token).
    pub id: String,
    /// The end user it was created for (`id`, `email`, `display_name`).
    pub end_user: serde_json::Value,
    /// The end user's id.
    pub end_user_id: String,
    /// The providers it may connect (`None`: every provider).
    pub allowed_integrations: Option<Vec<String>>,
    /// Tags the connections it makes get.
    pub tags: std::collections::BTreeMap<String, String>,
}

impl Session {
    /// Whether the session may connect `provider`.
    pub fn allows(&self, provider: &str) -> bool {
        self.allowed_integrations
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|p| p == provider))
    }
}

impl Caller {
    /// Whether the caller is a key with `scope` (or `admin`).
    pub fn has(&self, scope: Scope) -> bool {
        match self {
            Caller::Key { scopes, .. } => scopes.contains(&scope) || scopes.contains(&Scope::Admin),
            Caller::Session(_) => false,
        }
    }
}

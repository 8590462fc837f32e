//! Who calls: the application's backend with a secret key (scopes per key), or an end user's
//! browser with a connect session token. Keys and session tokens are random; the store keeps
//! their SHA-256 and compares it in constant time.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use axum::extract::FromRequestParts;

use crate::error::ApiError;
use crate::state::Server;

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
#[error(
    "unknown scope `{0}`: the scopes are connections:read, credentials:read, connections:write, proxy, records, sync, actions, admin"
)]
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

/// The scope a route needs, as a type ([`Key<S>`]).
pub(crate) trait Needed: Send + Sync + 'static {
    /// The scope.
    const SCOPE: Scope;
}

/// The scopes as types, for [`Key<S>`].
pub(crate) mod need {
    macro_rules! needs {
        ($($name:ident),*) => {$(
            #[doc = concat!("Needs the scope `", stringify!($name), "`.")]
            pub(crate) struct $name;
            impl super::Needed for $name {
                const SCOPE: super::Scope = super::Scope::$name;
            }
        )*};
    }
    needs!(
        ConnectionsRead,
        ConnectionsWrite,
        Proxy,
        Records,
        Sync,
        Actions,
        Admin
    );
}

/// The prefix of a connect session token.
pub(crate) const SESSION_PREFIX: &str = "tcs_";

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
fn bearer(parts: &http::request::Parts) -> Result<&str, ApiError> {
    let Some(value) = parts.headers.get(http::header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "no key: send `Authorization: Bearer <secret key>`",
        ));
    };
    let value = value.to_str().map_err(|_| {
        ApiError::unauthorized("the Authorization header is not `Bearer <secret key>`")
    })?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "the Authorization header is not `Bearer <secret key>`",
        ));
    }
    Ok(token.trim())
}

/// The session of a session token, if it is one and it is live.
async fn session(server: &Server, token: &str) -> Result<Session, ApiError> {
    let Some(session) = server.store().connect_session(token).await? else {
        return Err(ApiError::new(
            http::StatusCode::UNAUTHORIZED,
            "invalid_session",
            "the connect session is unknown or has expired: ask the application for a new one",
        ));
    };
    Ok(Session {
        id: session.id,
        end_user_id: session.end_user.id.clone(),
        end_user: serde_json::to_value(&session.end_user).unwrap_or_default(),
        allowed_integrations: session.allowed_integrations,
        tags: session.tags,
    })
}

/// The key of a secret, if it is one and it is live.
async fn key(server: &Server, secret: &str) -> Result<Caller, ApiError> {
    let Some(key) = server.store().api_key(secret).await? else {
        return Err(ApiError::unauthorized("the key is unknown or revoked"));
    };
    let scopes = key
        .scopes
        .iter()
        .filter_map(|s| s.parse::<Scope>().ok())
        .collect();
    Ok(Caller::Key { id: key.id, scopes })
}

/// A secret key with the scope `S` (or `admin`): 401 without a key or with an unknown or
/// revoked one, 403 with a session token or without the scope. First among a handler's
/// arguments, so that it is checked before the body is read.
pub(crate) struct Key<S>(pub Caller, pub PhantomData<S>);

impl<S: Needed> FromRequestParts<Server> for Key<S> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        server: &Server,
    ) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if token.starts_with(SESSION_PREFIX) {
            return Err(ApiError::forbidden(
                "a connect session token cannot call this route: it needs a secret key",
            ));
        }
        let caller = key(server, token).await?;
        if !caller.has(S::SCOPE) {
            return Err(ApiError::forbidden(format!(
                "this key lacks the scope `{}`",
                S::SCOPE
            )));
        }
        Ok(Key(caller, PhantomData))
    }
}

/// A connect session token (the end-user routes): 401 without one or with an unknown or
/// expired one, 403 with a secret key.
pub(crate) struct EndUser(pub Session);

impl FromRequestParts<Server> for EndUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        server: &Server,
    ) -> Result<Self, ApiError> {
        let token = bearer(parts).map_err(|_| {
            ApiError::unauthorized(
                "no connect session: send `Authorization: Bearer <connect session token>`",
            )
        })?;
        if !token.starts_with(SESSION_PREFIX) {
            // A key that is not one is 401 like anywhere else; a valid one is refused here.
            key(server, token).await?;
            return Err(ApiError::forbidden(
                "this route takes a connect session token, not a secret key",
            ));
        }
        Ok(EndUser(session(server, token).await?))
    }
}

/// A key (any scope) or a connect session.
pub(crate) struct AnyCaller(pub Caller);

impl FromRequestParts<Server> for AnyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        server: &Server,
    ) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if token.starts_with(SESSION_PREFIX) {
            Ok(AnyCaller(Caller::Session(session(server, token).await?)))
        } else {
            Ok(AnyCaller(key(server, token).await?))
        }
    }
}

/// Looks up a session token given outside the `Authorization` header (the connect link's
/// `session_token` query param).
pub(crate) async fn session_of_token(server: &Server, token: &str) -> Result<Session, ApiError> {
    if !token.starts_with(SESSION_PREFIX) {
        return Err(ApiError::new(
            http::StatusCode::UNAUTHORIZED,
            "invalid_session",
            "not a connect session token",
        ));
    }
    session(server, token).await
}

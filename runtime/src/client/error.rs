//! The one error type of the client: which step failed, the HTTP status, the provider's own
//! message; never a secret, never a URL query (it may carry one).

use std::fmt;

use crate::AuthMode;
use crate::paginate::PageError;
use crate::render::RenderError;
use crate::retry::GiveUpReason;
use crate::{UnknownProvider, ValidationErrors};

/// The step of talking to a provider that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Setting up the connection: rendering its URLs, checking them, building the client.
    Connect,
    /// Getting an access token from the token endpoint.
    Token,
    /// Sending a request (a proxied request, a page, or a credential check).
    Request,
    /// Reading a response body as JSON or as the caller's type.
    Decode,
    /// Checking the credentials (`verify`).
    Verify,
    /// Authorizing: building the authorization URL, reading the callback.
    Authorize,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Connect => "connect",
            Step::Token => "token",
            Step::Request => "request",
            Step::Decode => "decode",
            Step::Verify => "verify",
            Step::Authorize => "authorize",
        })
    }
}

/// Why a request never got a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The request or the connection attempt took longer than the timeout.
    Timeout,
    /// No connection could be made.
    Connect,
    /// Anything else (the connection broke, the body could not be read, ...).
    Other,
}

/// Everything that can go wrong when a [`Connection`](super::Connection) talks to a provider.
///
/// Every variant says which [`Step`] failed. Messages carry the HTTP status and the
/// provider's own error message where there is one, and the request's path without its
/// query; never a credential or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A template value is not safe where it lands (a header, a host, a path, ...).
    #[error("{step}: {source}")]
    Render {
        /// The step.
        step: Step,
        /// What was wrong.
        #[source]
        source: RenderError,
    },
    /// A URL or endpoint was refused: not https, another host than the template fixes, a
    /// path that leaves the base URL, an invalid origin override, ...
    #[error("{step}: {message}")]
    Url {
        /// The step.
        step: Step,
        /// What was wrong.
        message: String,
    },
    /// A header the caller added is invalid or would replace one of the provider's.
    #[error("request: header `{name}`: {message}")]
    Header {
        /// The header's name.
        name: String,
        /// What was wrong.
        message: String,
    },
    /// The connection cannot be set up as the catalog describes it (or as the settings allow).
    #[error("connect: {provider} ({auth_mode}): {reason}")]
    Unsupported {
        /// The catalog key.
        provider: crate::Text,
        /// Its auth mode.
        auth_mode: AuthMode,
        /// Why: the description's reason, or one found at connect.
        reason: crate::spec::Unsupported,
    },
    /// No response: a timeout, a refused connection, a broken connection.
    #[error("{step}: {method} {path}: {kind_text}: {message}", kind_text = transport_text(*.kind))]
    Transport {
        /// The step.
        step: Step,
        /// The request's method.
        method: String,
        /// The request's path, without its query.
        path: String,
        /// What kind of failure.
        kind: TransportKind,
        /// The HTTP library's description (URLs removed).
        message: String,
    },
    /// The provider answered with an error status (after any retries).
    #[error("{step}: {method} {path}: HTTP {status}{}{}", message_suffix(.message.as_deref()), gave_up_suffix(.gave_up.as_deref()))]
    Status {
        /// The step.
        step: Step,
        /// The request's method.
        method: String,
        /// The request's path, without its query.
        path: String,
        /// The status.
        status: u16,
        /// The provider's error message, from the body.
        message: Option<String>,
        /// Why retrying stopped, when the status was one to retry.
        gave_up: Option<Box<GiveUpReason>>,
    },
    /// The response body is larger than the client reads:
    /// [`Settings::max_body_bytes`](super::Settings::max_body_bytes) for a response,
    /// [`SMALL_BODY_BYTES`] for a token response. The body was not read past the limit (not at
    /// all when its `Content-Length` said so).
    #[error("{step}: {method} {path}: HTTP {status}: the response body is larger than the limit of {limit} bytes{}", declared_suffix(*.declared))]
    BodyTooLarge {
        /// The step.
        step: Step,
        /// The request's method.
        method: String,
        /// The request's path, without its query.
        path: String,
        /// The status.
        status: u16,
        /// The limit in force.
        limit: u64,
        /// The length its `Content-Length` declared, when it declared one.
        declared: Option<u64>,
    },
    /// The provider answered with a redirect, which a credentialed request never follows.
    #[error("{step}: {method} {path}: HTTP {status} redirect{} not followed", location_suffix(.location.as_deref()))]
    Redirect {
        /// The step.
        step: Step,
        /// The request's method.
        method: String,
        /// The request's path, without its query.
        path: String,
        /// The status.
        status: u16,
        /// The `Location` header's scheme, host and path.
        location: Option<String>,
    },
    /// The credential check failed because the provider did not recognise the account named
    /// by the connection config: it redirected instead of answering (Personio's job feed
    /// does this for an unknown company).
    #[error("verify: unknown {params}: the provider answered HTTP {status}{} instead of the check's response", location_suffix(.location.as_deref()))]
    UnknownAccount {
        /// The connection config params that name the account, e.g.
        /// ``company (`connectionConfig.company`)``.
        params: String,
        /// The status.
        status: u16,
        /// Where it redirected to.
        location: Option<String>,
    },
    /// The token endpoint refused the credentials or answered something that holds no token.
    #[error("token: {}HTTP {status}: {message}", .path.as_deref().map(|p| format!("POST {p}: ")).unwrap_or_default())]
    Token {
        /// The token endpoint's path.
        path: Option<String>,
        /// The status.
        status: u16,
        /// The provider's error message, or what is missing.
        message: String,
    },
    /// The connection's grant is gone and the user has to authorize again: the provider
    /// refused the refresh token or the code (`invalid_grant`: expired, revoked, or used
    /// already, as a rotated refresh token is), or the access token expired or was refused
    /// and no refresh token was granted. Never retried: every later request of the
    /// connection gets this error at once.
    #[error("token: {provider}: the user has to authorize again: {reason}")]
    Reauthorize {
        /// The catalog key.
        provider: crate::Text,
        /// The provider's message, or what is missing.
        reason: String,
    },
    /// The connection's token sink could not save renewed tokens. They are kept in memory,
    /// not used yet, and saving is tried again before the next request uses them: a store
    /// never misses a rotated refresh token.
    #[error(
        "token: the renewed tokens could not be saved (tried again with the next request): {message}"
    )]
    TokenSink {
        /// The sink's error.
        message: String,
    },
    /// The connection's shared tokens (a connection store) could not be read or saved.
    #[error("token: the connection store: {message}")]
    TokenStore {
        /// The store's error (never a secret).
        message: String,
    },
    /// The authorization callback is not the one the pending authorization expects, or the
    /// provider or the user refused the authorization.
    #[error("authorize: {0}")]
    Authorization(#[from] CallbackError),
    /// A response body is not what was expected.
    #[error("decode: {method} {path}: HTTP {status}: {message}")]
    Decode {
        /// The request's method.
        method: String,
        /// The request's path, without its query.
        path: String,
        /// The status.
        status: u16,
        /// What was wrong (serde_json's message: a position and an expectation, no data).
        message: String,
    },
    /// Pagination stopped: no records array, a link to another host, a repeated cursor.
    #[error("request: {path}: pagination: {source}")]
    Page {
        /// The listing's path.
        path: String,
        /// What was wrong.
        #[source]
        source: PageError,
    },
    /// The provider has no `proxy.paginate` and none was given.
    #[error(
        "request: {provider} has no `proxy.paginate` in the catalog; give a `PaginateConfig` with `paginate_with`"
    )]
    NoPagination {
        /// The catalog key.
        provider: crate::Text,
    },
}

impl Error {
    /// The step that failed.
    pub fn step(&self) -> Step {
        match self {
            Error::Render { step, .. }
            | Error::Url { step, .. }
            | Error::Transport { step, .. }
            | Error::Status { step, .. }
            | Error::BodyTooLarge { step, .. }
            | Error::Redirect { step, .. } => *step,
            Error::Header { .. } | Error::Page { .. } | Error::NoPagination { .. } => Step::Request,
            Error::Unsupported { .. } => Step::Connect,
            Error::UnknownAccount { .. } => Step::Verify,
            Error::Token { .. }
            | Error::Reauthorize { .. }
            | Error::TokenSink { .. }
            | Error::TokenStore { .. } => Step::Token,
            Error::Authorization(_) => Step::Authorize,
            Error::Decode { .. } => Step::Decode,
        }
    }

    /// The HTTP status of the response that caused the error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. }
            | Error::BodyTooLarge { status, .. }
            | Error::Redirect { status, .. }
            | Error::UnknownAccount { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            Error::Token { status, .. } if *status != 0 => Some(*status),
            _ => None,
        }
    }

    /// The provider's own error message, if it gave one.
    pub fn provider_message(&self) -> Option<&str> {
        match self {
            Error::Status { message, .. } => message.as_deref(),
            Error::Token { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether the user has to authorize the connection again ([`Error::Reauthorize`]).
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self, Error::Reauthorize { .. })
    }

    /// Whether a timeout caused the error.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        )
    }
}

/// Why a connection to a provider chosen by key (`Connection::from_json` of generated code)
/// could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No provider has this key.
    #[error(transparent)]
    UnknownProvider(#[from] UnknownProvider),
    /// The connection config or the credentials are not valid: every problem of both.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The inputs are valid, but the connection cannot be set up.
    #[error(transparent)]
    Connect(#[from] Error),
}

/// Both results, or every validation problem of both.
pub fn validated<C, K>(
    config: Result<C, ValidationErrors>,
    credentials: Result<K, ValidationErrors>,
) -> Result<(C, K), ValidationErrors> {
    terapi_model::both(config, credentials)
}

fn transport_text(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Timeout => "timed out",
        TransportKind::Connect => "could not connect",
        TransportKind::Other => "failed",
    }
}

fn message_suffix(message: Option<&str>) -> String {
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

fn gave_up_suffix(gave_up: Option<&GiveUpReason>) -> String {
    match gave_up {
        Some(GiveUpReason::NotRetryable { .. }) | None => String::new(),
        Some(reason) => format!(" ({reason})"),
    }
}

fn declared_suffix(declared: Option<u64>) -> String {
    declared
        .map(|n| format!(" (it declared {n})"))
        .unwrap_or_default()
}

fn location_suffix(location: Option<&str>) -> String {
    location.map(|l| format!(" to {l}")).unwrap_or_default()
}

/// A `reqwest` error as a [`Error::Transport`], without the URL (whose query may carry a
/// secret).
pub(crate) fn transport(step: Step, method: &str, path: &str, error: reqwest::Error) -> Error {
    let kind = if error.is_timeout() {
        TransportKind::Timeout
    } else if error.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    };
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    Error::Transport {
        step,
        method: method.to_owned(),
        path: path.to_owned(),
        kind,
        message,
    }
}

/// The provider's error message in a JSON error body, in the shapes providers use: OAuth 2.0
/// (`error`, `error_description`), Personio v1 (`error.message`), RFC 9457 problem details
/// (`title`, `detail`), or a top-level `message`. Whole: it is cut to
/// [`MESSAGE_CHARS`] only after the connection's secrets are masked in it, so that no part of a
/// secret survives the cut.
pub(crate) fn provider_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |v: Option<&serde_json::Value>| -> Option<String> {
        match v? {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    };
    let message = match value.get("error") {
        Some(serde_json::Value::String(code)) => Some(match text(value.get("error_description")) {
            Some(d) => format!("{code}: {d}"),
            None => code.clone(),
        }),
        Some(error @ serde_json::Value::Object(_)) => text(error.get("message")),
        _ => None,
    }
    .or_else(
        || match (text(value.get("title")), text(value.get("detail"))) {
            (Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (t, d) => t.or(d),
        },
    )
    .or_else(|| text(value.get("message")))?;
    Some(message)
}

/// The bytes of a token response, and of an error or redirect body, that the client reads:
/// enough for any provider's error message. The rest of an error body is not read.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;

/// The characters of a provider's message that an error keeps.
pub(crate) const MESSAGE_CHARS: usize = 300;

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Why a callback does not complete an authorization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The callback URL does not parse.
    #[error("the callback URL is not a URL")]
    NotAUrl,
    /// The callback does not go to the pending authorization's redirect URI.
    #[error("the callback does not go to the redirect URI `{expected}`")]
    WrongRedirect {
        /// The redirect URI (scheme, host, port and path).
        expected: String,
    },
    /// The callback's `state` is missing or is not the pending authorization's: a forged or
    /// stale callback, or another user's.
    #[error("the callback's `state` does not match the pending authorization")]
    StateMismatch,
    /// The pending authorization expired before its callback arrived.
    #[error("the pending authorization expired (it was valid for {valid_for_s} s)")]
    Expired {
        /// How long it was valid for, in seconds.
        valid_for_s: u64,
    },
    /// The provider (or the user) refused: the callback carries `error`.
    #[error("the provider refused the authorization: {error}{}", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Denied {
        /// The OAuth error code, e.g. `access_denied`.
        error: String,
        /// `error_description`, cut to 300 characters.
        description: Option<String>,
    },
    /// The callback has no code in the param the catalog names.
    #[error("the callback has no `{param}` param")]
    MissingCode {
        /// The param (`code`, or the catalog's `authorization_code_param_in_callback`).
        param: String,
    },
    /// The pending authorization is for another provider than the connection's.
    #[error("the pending authorization is for `{pending}`, not `{provider}`")]
    WrongProvider {
        /// The pending authorization's provider.
        pending: String,
        /// The provider asked for.
        provider: String,
    },
}

//! What can go wrong in a store. No message carries a secret: not a key, not a token, not a
//! credential, not a database password (URLs are shown without their password).

/// An error of a [`crate::Store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL is not one this crate opens.
    #[error("store: `{url}` is not a store URL (sqlite:PATH, sqlite::memory:, postgres://…)")]
    Url {
        /// The URL, without its password.
        url: String,
    },
    /// The database could not be opened or reached.
    #[error("store: cannot open {url}: {message}")]
    Open {
        /// The URL, without its password.
        url: String,
        /// Why.
        message: String,
    },
    /// A newer version of this crate wrote the database: it is not read at all.
    #[error(
        "store: the database has schema version {found}; this build knows versions up to {supported} (upgrade terapi-store)"
    )]
    NewerSchema {
        /// The database's schema version.
        found: i64,
        /// The newest version this build migrates to.
        supported: i64,
    },
    /// The database failed a statement.
    #[error("store: database: {message}")]
    Database {
        /// The database's message (no parameter values).
        message: String,
    },
    /// A refresh could not finish: another process held the connection's lease too long, or
    /// the connection kept changing under it.
    #[error("store: connection `{id}`: {why}")]
    Contended {
        /// The connection id.
        id: String,
        /// What happened.
        why: String,
    },
    /// Another process runs this model's sync (it holds the lease).
    #[error(
        "store: connection `{connection}`, model `{model}`: another process is syncing it (its lease runs until it finishes or expires)"
    )]
    Busy {
        /// The connection id.
        connection: String,
        /// The model.
        model: String,
    },
    /// A sync run lost its lease to another process (it ran longer than the lease without a
    /// page): what it was writing was rolled back.
    #[error(
        "store: connection `{connection}`, model `{model}`: the sync run lost its lease to another process; nothing of this page was written"
    )]
    LeaseLost {
        /// The connection id.
        connection: String,
        /// The model.
        model: String,
    },
    /// A model name is not valid.
    #[error(
        "store: invalid model name `{name}`: a model is 1 to 64 ASCII lowercase letters, digits, `-`, `_` or `.`"
    )]
    InvalidModel {
        /// The name, escaped.
        name: String,
    },
    /// The store was opened without a key: it neither reads nor writes secrets.
    #[error(
        "store: no encryption key: secrets are neither read nor written (give a key, e.g. with --key-env)"
    )]
    NoKey,
    /// A key given is not valid.
    #[error("store: invalid key: {reason}")]
    InvalidKey {
        /// Why (never the key).
        reason: String,
    },
    /// A value was sealed with a key the store was not given.
    #[error("store: {what} is encrypted with key `{key_id}`, which was not given")]
    UnknownKey {
        /// The row.
        what: String,
        /// The key id stored with it.
        key_id: String,
    },
    /// A value does not decrypt with its key: a wrong key of the same id, or tampering.
    #[error(
        "store: {what} does not decrypt with its key (a wrong key under the same id, or a changed row)"
    )]
    Crypto {
        /// The row.
        what: String,
    },
    /// A value was written in clear by a store opened with `Keys::unencrypted`, and this
    /// store was not told to read such values.
    #[error(
        "store: {what} was written unencrypted; open the store with `Keys::unencrypted()` to read it"
    )]
    Plaintext {
        /// The row.
        what: String,
    },
    /// The operating system's random generator failed.
    #[error("store: no randomness: {message}")]
    Random {
        /// Why.
        message: String,
    },
    /// A row's decrypted content is not what this crate wrote.
    #[error("store: {what} is corrupt: {message}")]
    Corrupt {
        /// The row.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// No connection has this id.
    #[error("store: no connection `{id}`")]
    NotFound {
        /// The connection id.
        id: String,
    },
    /// A connection id is not valid.
    #[error("store: invalid connection id `{id}`: {reason}")]
    InvalidId {
        /// The id (ids are not secret).
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// A record id is missing or breaks a rule (see [`crate::check_record_id`]).
    #[error("store: invalid record id `{id}`: {rule}")]
    InvalidRecordId {
        /// The id, escaped and cut (ids are not secret).
        id: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The store's catalog has no provider with this key.
    #[error("store: connection `{id}`: the catalog has no provider `{provider}`")]
    UnknownProvider {
        /// The connection id.
        id: String,
        /// The provider key saved with it.
        provider: String,
    },
    /// No pending authorization has the callback's state (never started here, finished
    /// already, or removed).
    #[error(
        "store: no pending authorization matches this callback (finished already, or never started with this store)"
    )]
    NoPendingAuthorization,
    /// The callback URL has no `state` (nor OAuth 1.0a's `oauth_token`).
    #[error("store: the callback URL has no `state` parameter")]
    NoState,
    /// The connection's params do not validate, or the client refused to connect.
    #[error(transparent)]
    Connect(#[from] terapi_runtime::client::ConnectError),
    /// The client failed (an authorization callback, a token request).
    #[error(transparent)]
    Client(#[from] terapi_runtime::client::Error),
}

impl StoreError {
    pub(crate) fn database(e: impl std::fmt::Display) -> StoreError {
        StoreError::Database {
            message: e.to_string(),
        }
    }
}

/// `url` without its password (`postgres://user:***@host/db`).
pub(crate) fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not a URL: the part before any `@` may be credentials; keep only the rest.
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        },
    }
}

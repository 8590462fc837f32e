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
    /// A record does not read as the model's type.
    #[error("store: record `{id}`: {reason}")]
    RecordShape {
        /// The record's id.
        id: String,
        /// Where it differs (never its content).
        reason: String,
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
        "store: {what} does not decrypt with its key (a wrong key under the same id, or a row changed outside terapi: its provider, ids or value)"
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
    /// A value was sealed by terapi-store before values were bound to their provider and
    /// ids: it is refused, since a row changed outside terapi could not be told apart.
    #[error(
        "store: {what} was sealed by an older terapi-store without binding it to its provider and ids, and is refused (a changed row could not be told apart); if only terapi has written this database, `terapi connections rotate-key --legacy` (`Store::rotate_key_with_legacy`) re-seals such values bound to their current columns"
    )]
    Legacy {
        /// The row.
        what: String,
    },
    /// A connection with this id exists, and the write was one that creates.
    #[error("store: connection `{id}` exists already (replace it explicitly, or remove it first)")]
    Exists {
        /// The connection id.
        id: String,
    },
    /// A row this store would overwrite is sealed with a key it was not given (or does not
    /// open with the key of that id): it is not overwritten.
    #[error(
        "store: connection `{id}` is sealed with key `{key_id}`, which this store was not given (or which does not open it): it is not overwritten (remove it first to reuse the id)"
    )]
    NotOurs {
        /// The connection id.
        id: String,
        /// The key id stored with it.
        key_id: String,
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
    /// A value given to the store breaks a rule (an API key's name or scopes, a secret's
    /// shape, an end user, tags, metadata, a listing's filter).
    #[error("store: invalid {what}: {reason}")]
    Invalid {
        /// What was given (never a secret's value).
        what: String,
        /// The rule it breaks.
        reason: String,
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
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn database(e: impl std::fmt::Display) -> StoreError {
        StoreError::Database {
            message: e.to_string(),
        }
    }
}

/// `url` without its password in any form a store URL can carry it: the user info
/// (`postgres://user:pw@host`), a parameter `password=` or `sslpassword=` (or any whose name
/// has `password`, `secret` or `token`) in the query or in a `key=value` connection string,
/// quoted or not. What PostgreSQL's own parser reads as the password is then looked for in
/// the result: if it is still there, only the scheme is shown.
pub(crate) fn display_url(url: &str) -> String {
    // A SQLite path carries no password: shown as given (an `@` in a file name stays).
    if url.starts_with("sqlite:") {
        return url.to_owned();
    }
    let shown = match url::Url::parse(url) {
        Ok(parsed) if parsed.cannot_be_a_base() => mask_pairs(&mask_userinfo(url)),
        Ok(parsed) => mask_parsed(parsed),
        Err(_) => mask_pairs(&mask_userinfo(url)),
    };
    let leaked = url
        .parse::<tokio_postgres::Config>()
        .ok()
        .and_then(|c| c.get_password().map(<[u8]>::to_vec))
        .filter(|pw| !pw.is_empty())
        .is_some_and(|pw| {
            let text = String::from_utf8_lossy(&pw).into_owned();
            shown.contains(&text) || shown.contains(&percent_encode(&pw))
        });
    if leaked {
        return match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://***"),
            None => "***".to_owned(),
        };
    }
    shown
}

/// Whether a parameter's name says its value is secret.
fn secret_name(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|s| name.contains(s))
}

/// A URL with its password and its secret query parameters masked.
fn mask_parsed(mut parsed: url::Url) -> String {
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_name(&k) {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // A fragment is nothing a store reads: not shown.
    parsed.set_fragment(None);
    parsed.to_string()
}

/// Not a URL: the part between `://` and the last `@` may be credentials; only its user
/// (before a `:`) is kept.
fn mask_userinfo(text: &str) -> String {
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, text),
    };
    let Some((creds, host)) = rest.rsplit_once('@') else {
        return text.to_owned();
    };
    if scheme.is_some() && !creds.contains(':') {
        return text.to_owned();
    }
    let user = creds.split(':').next().unwrap_or("");
    match scheme {
        Some(scheme) => format!("{scheme}://{user}:***@{host}"),
        None => format!("***@{host}"),
    }
}

/// Every `NAME=VALUE` whose name is secret, masked: in a query (`&`-separated) or a
/// `key=value` connection string (spaces around `=`, values quoted with `'` and `\`
/// escapes).
fn mask_pairs(text: &str) -> String {
    const SEPARATORS: [char; 6] = ['?', '&', ';', ' ', '\t', '\n'];
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            // One UTF-8 character as it is.
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
            continue;
        }
        let name = text[..i].trim_end().rsplit(SEPARATORS).next().unwrap_or("");
        let decoded: String = url::form_urlencoded::parse(name.as_bytes())
            .map(|(k, _)| k.into_owned())
            .collect();
        out.push('=');
        i += 1;
        if !secret_name(&decoded) {
            continue;
        }
        while i < bytes.len() && bytes[i] == b' ' {
            out.push(' ');
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            while i < bytes.len() && !matches!(bytes[i], b'&' | b' ' | b'\t' | b'\n' | b';') {
                i += 1;
            }
        }
        out.push_str("***");
        i = i.min(bytes.len());
    }
    out
}

fn percent_encode(bytes: &[u8]) -> String {
    url::form_urlencoded::byte_serialize(bytes).collect()
}

#[cfg(test)]
mod tests {
    use super::display_url;

    #[test]
    fn passwords_are_masked_in_every_form() {
        let pw = "hunter2";
        let table: &[(&str, &str)] = &[
            (
                "postgres://user:hunter2@db.example:5432/app",
                "postgres://user:***@db.example:5432/app",
            ),
            (
                "postgresql://user:hunter2@db.example/app",
                "postgresql://user:***@db.example/app",
            ),
            (
                "postgres://user@db.example/app?password=hunter2",
                "postgres://user@db.example/app?password=***",
            ),
            (
                "postgres://user@db.example/app?sslmode=disable&password=hunter2&application_name=x",
                "postgres://user@db.example/app?sslmode=disable&password=***&application_name=x",
            ),
            (
                "postgres://user@db.example/app?sslpassword=hunter2",
                "postgres://user@db.example/app?sslpassword=***",
            ),
            (
                "postgres://user@db.example/app?PassWord=hunter2",
                "postgres://user@db.example/app?PassWord=***",
            ),
            (
                "postgres://user@db.example/app?pass%77ord=hunter2",
                "postgres://user@db.example/app?password=***",
            ),
            // Several hosts: not a URL to the url crate.
            (
                "postgres://user:hunter2@h1:5432,h2:5433/app",
                "postgres://user:***@h1:5432,h2:5433/app",
            ),
            (
                "postgres://user@h1:5432,h2:5433/app?password=hunter2",
                "postgres://user@h1:5432,h2:5433/app?password=***",
            ),
            // key=value connection strings, quoted or not.
            (
                "host=db.example user=app password=hunter2 dbname=app",
                "host=db.example user=app password=*** dbname=app",
            ),
            (
                "host=db.example password = hunter2 dbname=app",
                "host=db.example password = *** dbname=app",
            ),
            (
                "host=db.example password='hunter2 x\\' y' dbname=app",
                "host=db.example password=*** dbname=app",
            ),
            (
                "host=db.example sslpassword=hunter2",
                "host=db.example sslpassword=***",
            ),
            ("user:hunter2@db.example", "***@db.example"),
            // Nothing secret: unchanged.
            (
                "sqlite:/var/lib/app/store.db",
                "sqlite:/var/lib/app/store.db",
            ),
            ("sqlite::memory:", "sqlite::memory:"),
            ("sqlite:data@2/x.db", "sqlite:data@2/x.db"),
            (
                "postgres://user@db.example/app?sslmode=disable",
                "postgres://user@db.example/app?sslmode=disable",
            ),
        ];
        for (url, expected) in table {
            let shown = display_url(url);
            assert_eq!(&shown, expected, "{url}");
            assert!(!shown.contains(pw), "{url}: {shown}");
        }
        // What PostgreSQL's parser reads as the password never shows, whatever the masking
        // made of the rest.
        for url in [
            "postgres://u:123?b@host/db",
            "postgres://u:a/b@host/db",
            "postgres://u:hunter%32@host/db",
        ] {
            let shown = display_url(url);
            assert!(
                !shown.contains("123?b") && !shown.contains("a/b") && !shown.contains("hunter2"),
                "{url}: {shown}"
            );
        }
    }
}

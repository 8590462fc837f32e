//! The store: its database, keys, catalog and lease settings, and its connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::backend::Val;
use crate::backend::{Backend, Row};
use crate::catalog::Catalog;
use crate::error::StoreError;
use crate::keys::{Binding, Keys};
use crate::record::{ConnectionInfo, ConnectionRecord, StoredConnection};
use crate::record::{Sealed, now_ms, to_s};

/// How long a refresh lease lasts unless [`Store::with_lease`] says otherwise: longer than
/// any token request (a request that outlives it may lose its commit to another process).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// A connection store. Clones share the database connection, the keys and the catalog.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Arc<Backend>,
    pub(crate) keys: Arc<Keys>,
    url: Arc<str>,
    /// This store's name in leases (with a renewal's number): unique per process and store.
    pub(crate) owner: Arc<str>,
    pub(crate) lease: Duration,
    pub(crate) catalog: Option<Arc<dyn Catalog>>,
    pub(crate) stats: Arc<Counters>,
    pub(crate) on_reauthorization: Option<ReauthorizationEvent>,
}

/// A connection whose grant a provider refused: what [`Store::with_reauthorization_event`]'s
/// function is given.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Reauthorization {
    /// The connection id.
    pub connection: String,
    /// Its provider.
    pub provider: String,
    /// Why the user has to authorize again.
    pub reason: String,
    /// Its end user, tags and metadata.
    pub meta: crate::record::ConnectionMeta,
}

/// The body of the outbox event of a [`Reauthorization`], given the delivery's id and
/// creation time.
pub type ReauthorizationEvent =
    Arc<dyn Fn(&Reauthorization, &str, std::time::SystemTime) -> Vec<u8> + Send + Sync>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .field("keys", &self.keys)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    /// Renewals started (each names its lease owner).
    pub(crate) renewals: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) reused: AtomicU64,
    pub(crate) waits: AtomicU64,
    pub(crate) window_ns_max: AtomicU64,
    pub(crate) window_ns_last: AtomicU64,
}

/// What a store's refreshes did in this process ([`Store::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Refreshes sent to a provider, and tokens obtained there from a connection's
    /// credentials (committed or not).
    pub refreshes: u64,
    /// Renewals answered with tokens another process (or connection) had refreshed.
    pub reused: u64,
    /// Times a renewal waited for another process's lease.
    pub waits: u64,
    /// The longest time between a provider's answer to a refresh and its commit: the window
    /// in which a killed process loses a rotated refresh token.
    pub commit_window_max: Duration,
    /// The same for the last refresh.
    pub commit_window_last: Duration,
}

/// `Connection::from_store(&store, id, settings)`: [`Store::connect`] as a constructor.
pub trait FromStore: Sized {
    /// See [`Store::connect`].
    fn from_store(
        store: &Store,
        id: &str,
        settings: terapi_runtime::client::Settings,
    ) -> impl std::future::Future<Output = Result<Self, StoreError>> + Send;
}

/// What [`Store::rotate_key`] re-encrypted, per kind of sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Rotation {
    /// Connections re-encrypted with the primary key.
    pub connections: usize,
    /// Pending authorizations re-encrypted.
    pub pending: usize,
    /// Records (of models holding personal data) re-encrypted.
    pub records: usize,
    /// Webhook tokens re-encrypted.
    pub webhooks: usize,
    /// Webhook event bodies re-encrypted.
    pub events: usize,
    /// Records a sync set aside for their ids (of personal models) re-encrypted.
    pub quarantined: usize,
    /// Of all these, values of the format before bindings re-sealed bound to their columns
    /// ([`Store::rotate_key_with_legacy`] only).
    pub legacy: usize,
}

impl Store {
    /// Opens the store at `url` and migrates its schema: `sqlite:PATH` (created if missing),
    /// `sqlite::memory:` (in memory, for tests), or `postgres://user[:password]@host[:port]/db`.
    /// A database written by a newer version of this crate is refused
    /// ([`StoreError::NewerSchema`]).
    pub async fn open(url: &str, keys: Keys) -> Result<Store, StoreError> {
        let backend = Backend::open(url).await?;
        let mut id = [0u8; 8];
        crate::keys::fill_random(&mut id)?;
        Ok(Store {
            backend: Arc::new(backend),
            keys: Arc::new(keys),
            url: crate::error::display_url(url).into(),
            owner: format!("{}-{}", std::process::id(), hex::encode(id)).into(),
            lease: DEFAULT_LEASE,
            catalog: None,
            stats: Arc::default(),
            on_reauthorization: None,
        })
    }

    /// A store in memory (SQLite's `:memory:`): gone with the last clone.
    pub async fn memory(keys: Keys) -> Result<Store, StoreError> {
        Store::open("sqlite::memory:", keys).await
    }

    /// The catalog that resolves providers for [`Store::connect`] and
    /// [`Store::finish_authorization`].
    pub fn with_catalog(mut self, catalog: impl Catalog) -> Store {
        self.catalog = Some(Arc::new(catalog));
        self
    }

    /// With an outbox event for every connection this store marks as needing a new
    /// authorization: the mark and the event (an `auth` delivery whose body `event` writes)
    /// commit in one transaction, so neither exists without the other.
    pub fn with_reauthorization_event(mut self, event: ReauthorizationEvent) -> Store {
        self.on_reauthorization = Some(event);
        self
    }

    /// How long a refresh lease lasts (default [`DEFAULT_LEASE`]): a process that dies
    /// holding one delays the others' refresh by at most this.
    pub fn with_lease(mut self, lease: Duration) -> Store {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// The store's URL, without a password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.backend.schema_version().await
    }

    /// The newest schema version this build knows.
    pub const SCHEMA_VERSION: i64 = crate::backend::LATEST;

    /// What this process's refreshes did.
    pub fn stats(&self) -> Stats {
        let s = &self.stats;
        Stats {
            refreshes: s.refreshes.load(Ordering::Relaxed),
            reused: s.reused.load(Ordering::Relaxed),
            waits: s.waits.load(Ordering::Relaxed),
            commit_window_max: Duration::from_nanos(s.window_ns_max.load(Ordering::Relaxed)),
            commit_window_last: Duration::from_nanos(s.window_ns_last.load(Ordering::Relaxed)),
        }
    }

    /// Saves a connection under `id`, replacing one saved before (its version goes up, a
    /// reauthorization mark and a lease go). The new version.
    ///
    /// A connection this store could not read is not replaced
    /// ([`StoreError::NotOurs`]): one sealed with a key it was not given (another
    /// application's, or a key retired here), or that does not open with the key of its id.
    /// [`Store::remove`] removes it. [`Store::create_connection`] never replaces.
    pub async fn save_connection(
        &self,
        id: &str,
        record: &ConnectionRecord,
    ) -> Result<i64, StoreError> {
        self.write_connection(id, record, true).await
    }

    /// Saves a new connection under `id`: [`StoreError::Exists`] when there is one. The new
    /// version (1).
    pub async fn create_connection(
        &self,
        id: &str,
        record: &ConnectionRecord,
    ) -> Result<i64, StoreError> {
        self.write_connection(id, record, false).await
    }

    async fn write_connection(
        &self,
        id: &str,
        record: &ConnectionRecord,
        replace: bool,
    ) -> Result<i64, StoreError> {
        check_id(id)?;
        if !self.keys.can_write() {
            return Err(StoreError::NoKey);
        }
        let (key_id, secrets) = self.seal_record(id, record)?;
        let expires_at = record
            .tokens
            .as_ref()
            .and_then(|t| t.expires_at())
            .map(to_s);
        // Each write is one statement conditioned on what was read: a row created or
        // rewritten meanwhile is read again.
        for _ in 0..10 {
            let now = now_ms();
            let stored = self.backend.get(id).await?;
            let params = |extra: Option<i64>| {
                let mut p = vec![
                    Val::text(id),
                    Val::text(record.provider.clone()),
                    Val::text(key_id.clone()),
                    Val::bytes(secrets.clone()),
                    Val::int(now),
                    Val::Int(expires_at),
                ];
                p.extend(extra.map(Val::int));
                p
            };
            let rows = match stored {
                None => self.backend.query(INSERT_NEW, params(None)).await?,
                Some(row) if !replace => {
                    return Err(StoreError::Exists { id: row.id });
                }
                Some(row) => {
                    self.check_ours(&row)?;
                    self.backend
                        .query(REPLACE_AT, params(Some(row.version)))
                        .await?
                }
            };
            if let Some(version) = rows.first().and_then(|r| r.first()).and_then(Val::as_int) {
                return Ok(version);
            }
        }
        Err(StoreError::Contended {
            id: id.to_owned(),
            why: "the connection kept changing while it was saved".to_owned(),
        })
    }

    /// Whether this store may overwrite `row`: it opens with this store's keys (in either
    /// sealed format: the value is replaced, not trusted).
    fn check_ours(&self, row: &Row) -> Result<(), StoreError> {
        let not_ours = || StoreError::NotOurs {
            id: row.id.clone(),
            key_id: row.key_id.clone(),
        };
        if !self.keys.has(&row.key_id) {
            return Err(not_ours());
        }
        let bound = Binding::connection(&row.id, &row.provider);
        match self.keys.open_any(&bound, &row.key_id, &row.secrets) {
            Ok(_) => Ok(()),
            Err(StoreError::Crypto { .. } | StoreError::UnknownKey { .. }) => Err(not_ours()),
            Err(e) => Err(e),
        }
    }

    /// The connection `id`, decrypted.
    pub async fn connection(&self, id: &str) -> Result<StoredConnection, StoreError> {
        let row = self
            .backend
            .get(id)
            .await?
            .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        let record = self.open_row(&row)?;
        Ok(StoredConnection {
            info: ConnectionInfo::of(&row),
            record,
        })
    }

    /// What is known of the connection `id` without decrypting anything (works without a
    /// key), if there is one.
    pub async fn info(&self, id: &str) -> Result<Option<ConnectionInfo>, StoreError> {
        Ok(self.backend.get(id).await?.as_ref().map(ConnectionInfo::of))
    }

    /// Whether [`Store::save_connection`] may replace the connection `id` (there is none,
    /// or this store can read it): else [`StoreError::NotOurs`]. For checking before asking
    /// a provider anything; the save checks again.
    pub async fn check_replace(&self, id: &str) -> Result<(), StoreError> {
        match self.backend.get(id).await? {
            Some(row) => self.check_ours(&row),
            None => Ok(()),
        }
    }

    /// Every connection, by id, without decrypting anything (works without a key).
    pub async fn list(&self) -> Result<Vec<ConnectionInfo>, StoreError> {
        Ok(self
            .backend
            .list()
            .await?
            .iter()
            .map(ConnectionInfo::of)
            .collect())
    }

    pub(crate) fn spec(
        &self,
        id: &str,
        provider: &str,
    ) -> Result<terapi_runtime::spec::SpecRef, StoreError> {
        self.catalog
            .as_ref()
            .and_then(|c| c.spec(provider))
            .ok_or_else(|| StoreError::UnknownProvider {
                id: id.to_owned(),
                provider: provider.to_owned(),
            })
    }

    pub(crate) fn seal_record(
        &self,
        id: &str,
        record: &ConnectionRecord,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let sealed = Sealed {
            config: record.config.clone(),
            credentials: record.credentials.clone(),
            client: record.client.clone(),
            tokens: record.tokens.clone(),
        };
        let bound = Binding::connection(id, &record.provider);
        let plain = serde_json::to_vec(&sealed).map_err(|e| StoreError::Corrupt {
            what: bound.what().to_owned(),
            message: e.to_string(),
        })?;
        self.keys.seal(&bound, &plain)
    }

    pub(crate) fn open_row(&self, row: &Row) -> Result<ConnectionRecord, StoreError> {
        let bound = Binding::connection(&row.id, &row.provider);
        let plain = self.keys.open(&bound, &row.key_id, &row.secrets)?;
        let sealed: Sealed = serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt {
            what: bound.what().to_owned(),
            // serde_json's messages name a position and an expectation, never the data.
            message: e.to_string(),
        })?;
        Ok(ConnectionRecord {
            provider: row.provider.clone(),
            config: sealed.config,
            credentials: sealed.credentials,
            client: sealed.client,
            tokens: sealed.tokens,
        })
    }
}

/// A new connection at version 1, unless one has the id.
const INSERT_NEW: &str = "INSERT INTO terapi_connections (id, provider, key_id, secrets, version, created_at, updated_at, expires_at)
     VALUES ($1, $2, $3, $4, 1, $5, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING version";
/// A connection replaced, if it is still at the version read ($7): the next version, its
/// lease and reauthorization mark cleared, `created_at` kept.
const REPLACE_AT: &str = "UPDATE terapi_connections SET provider = $2, key_id = $3, secrets = $4,
       version = version + 1, updated_at = $5, expires_at = $6,
       lease_owner = NULL, lease_until = NULL, reauthorize = NULL
     WHERE id = $1 AND version = $7 RETURNING version";

/// Checks a connection id: 1 to 200 printable ASCII characters without spaces (ids show in
/// listings and command lines). [`Store::save_connection`] and [`Store::save_pending`] check
/// it; a caller can check it before asking a provider anything.
pub fn check_id(id: &str) -> Result<(), StoreError> {
    let reason = if id.is_empty() {
        Some("it is empty")
    } else if id.len() > 200 {
        Some("it is longer than 200 characters")
    } else if !id.bytes().all(|b| b.is_ascii_graphic()) {
        Some("it has a character other than printable ASCII without spaces")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidId {
            id: id.escape_default().to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A store is shared between tasks and threads.
const _: fn() = || {
    fn is<T: Send + Sync + Clone>() {}
    is::<Store>();
};

//! The store: its database, keys, catalog and lease settings, and its connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::backend::{Backend, Row};
use crate::catalog::Catalog;
use crate::error::StoreError;
use crate::keys::Keys;
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
}

/// The store under the name the design notes use.
pub type ConnectionStore = Store;

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

/// What [`Store::rotate_key`] re-encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Rotation {
    /// Connections re-encrypted with the primary key.
    pub connections: usize,
    /// Pending authorizations re-encrypted.
    pub pending: usize,
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

    /// Saves a connection under `id` (replacing one saved before: its version goes up, a
    /// reauthorization mark and a lease go). The new version.
    pub async fn save_connection(
        &self,
        id: &str,
        record: &ConnectionRecord,
    ) -> Result<i64, StoreError> {
        check_id(id)?;
        if !self.keys.can_write() {
            return Err(StoreError::NoKey);
        }
        let now = now_ms();
        let (key_id, secrets) = self.seal_record(id, record)?;
        self.backend
            .upsert(Row {
                id: id.to_owned(),
                provider: record.provider.clone(),
                key_id,
                secrets,
                version: 0,
                created_at: now,
                updated_at: now,
                expires_at: record
                    .tokens
                    .as_ref()
                    .and_then(|t| t.expires_at())
                    .map(to_s),
                lease_owner: None,
                lease_until: None,
                reauthorize: None,
            })
            .await
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

    /// Removes a connection and its pending authorizations; whether it existed.
    pub async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        self.backend.delete(id).await
    }

    /// Re-encrypts every connection and pending authorization not sealed with the primary
    /// key (the older keys of the ring must open them). Rows are rewritten with a
    /// compare-and-swap on their version, so a refresh under way is never undone: a row that
    /// changes meanwhile is read again.
    pub async fn rotate_key(&self) -> Result<Rotation, StoreError> {
        let primary = self.keys.primary_id().ok_or(StoreError::NoKey)?.to_owned();
        let mut done = Rotation::default();
        for info in self.list().await? {
            for _ in 0..10 {
                let Some(row) = self.backend.get(&info.id).await? else {
                    break;
                };
                if row.key_id == primary {
                    break;
                }
                let what = connection_what(&row.id);
                let plain = self.keys.open(&what, &row.key_id, &row.secrets)?;
                let (key_id, secrets) = self.keys.seal(&what, &plain)?;
                if self
                    .backend
                    .rekey(&row.id, row.version, &key_id, &secrets)
                    .await?
                {
                    done.connections += 1;
                    break;
                }
            }
        }
        for row in self.backend.list_pending().await? {
            if row.key_id == primary {
                continue;
            }
            let what = pending_what(&row.state_hash);
            let plain = self.keys.open(&what, &row.key_id, &row.secrets)?;
            let (key_id, secrets) = self.keys.seal(&what, &plain)?;
            if self
                .backend
                .rekey_pending(&row.state_hash, &row.key_id, &key_id, &secrets)
                .await?
            {
                done.pending += 1;
            }
        }
        Ok(done)
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
        let plain = serde_json::to_vec(&sealed).map_err(|e| StoreError::Corrupt {
            what: connection_what(id),
            message: e.to_string(),
        })?;
        self.keys.seal(&connection_what(id), &plain)
    }

    pub(crate) fn open_row(&self, row: &Row) -> Result<ConnectionRecord, StoreError> {
        let what = connection_what(&row.id);
        let plain = self.keys.open(&what, &row.key_id, &row.secrets)?;
        let sealed: Sealed = serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt {
            what,
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

pub(crate) fn connection_what(id: &str) -> String {
    format!("connection `{id}`")
}

pub(crate) fn pending_what(hash: &str) -> String {
    format!("pending authorization {}", &hash[..hash.len().min(12)])
}

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

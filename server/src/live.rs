//! The connections this process has made from the store, kept between requests so that
//! their token cache, single renewal and HTTP connection pool serve every request of a
//! connection (the proxy, `GET /connections/{id}` with credentials).
//!
//! Bounded: at most [`LiveConnections::CAPACITY`] connections, the least recently used one
//! dropped first. An entry is checked against the store's row (without decrypting it) at
//! most every [`LiveConnections::RECHECK`]: a connection removed, replaced or refreshed by
//! another replica is made again from what the store holds. `DELETE` and `PATCH` of a
//! connection drop its entry at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use terapi_runtime::client::{Connection, Settings};
use terapi_store::{Store, StoreError};
use tokio::sync::OnceCell;

/// One connection id's entry: made once (concurrent requests wait for that one connect).
struct Entry {
    cell: Arc<OnceCell<Made>>,
    used: u64,
}

#[derive(Clone)]
struct Made {
    conn: Connection,
    /// The row's version it was made from.
    version: i64,
    checked: Arc<Mutex<Instant>>,
}

/// The connections made from the store, by id.
pub(crate) struct LiveConnections {
    entries: Mutex<HashMap<String, Entry>>,
    clock: AtomicU64,
}

impl LiveConnections {
    /// The most connections kept.
    pub(crate) const CAPACITY: usize = 1024;
    /// How often an entry is checked against the store.
    pub(crate) const RECHECK: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> LiveConnections {
        LiveConnections {
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        }
    }

    /// The connection `id`, made from the store with `settings` unless one is kept and still
    /// matches the store's row.
    pub(crate) async fn get(
        &self,
        store: &Store,
        id: &str,
        settings: &Settings,
    ) -> Result<Connection, StoreError> {
        for _ in 0..3 {
            let cell = self.cell(id);
            let made = cell
                .get_or_try_init(|| async {
                    let info = store
                        .info(id)
                        .await?
                        .ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
                    let conn = store.connect(id, settings.clone()).await?;
                    Ok::<Made, StoreError>(Made {
                        conn,
                        version: info.version,
                        checked: Arc::new(Mutex::new(Instant::now())),
                    })
                })
                .await;
            let made = match made {
                Ok(made) => made.clone(),
                Err(e) => {
                    // Not kept: the next request tries again.
                    self.drop_cell(id, &cell);
                    return Err(e);
                }
            };
            let due = {
                let mut checked = made.checked.lock().unwrap_or_else(|e| e.into_inner());
                if checked.elapsed() >= Self::RECHECK {
                    *checked = Instant::now();
                    true
                } else {
                    false
                }
            };
            if !due {
                return Ok(made.conn);
            }
            match store.info(id).await? {
                Some(info) if info.version == made.version && info.reauthorize.is_none() => {
                    return Ok(made.conn);
                }
                Some(_) => {
                    // Refreshed, replaced or marked elsewhere: made again from the row.
                    self.drop_cell(id, &cell);
                }
                None => {
                    self.drop_cell(id, &cell);
                    return Err(StoreError::NotFound { id: id.to_owned() });
                }
            }
        }
        // The row keeps changing: a connection made now, not kept.
        store.connect(id, settings.clone()).await
    }

    /// Drops the entry of `id` (its connection was removed or changed here).
    pub(crate) fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is whole.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cell(&self, id: &str) -> Arc<OnceCell<Made>> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(id) {
            entry.used = now;
            return Arc::clone(&entry.cell);
        }
        if entries.len() >= Self::CAPACITY {
            // The least recently used eighth goes: an O(n) scan once per CAPACITY/8 misses.
            let mut used: Vec<u64> = entries.values().map(|e| e.used).collect();
            let cut = Self::CAPACITY / 8;
            used.select_nth_unstable(cut);
            let threshold = used[cut];
            entries.retain(|_, e| e.used > threshold);
        }
        let cell = Arc::new(OnceCell::new());
        entries.insert(
            id.to_owned(),
            Entry {
                cell: Arc::clone(&cell),
                used: now,
            },
        );
        cell
    }

    /// Removes `id`'s entry if it is still `cell`.
    fn drop_cell(&self, id: &str, cell: &Arc<OnceCell<Made>>) {
        let mut entries = self.lock();
        if entries.get(id).is_some_and(|e| Arc::ptr_eq(&e.cell, cell)) {
            entries.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_capacity_entries_are_kept_the_least_recently_used_going_first() {
        let live = LiveConnections::new();
        let keep = live.cell("kept");
        for i in 0..LiveConnections::CAPACITY * 3 {
            live.cell(&format!("c{i}"));
            if i % 16 == 0 {
                // Used again: stays.
                assert!(Arc::ptr_eq(&live.cell("kept"), &keep));
            }
        }
        assert!(live.lock().len() <= LiveConnections::CAPACITY);
        assert!(Arc::ptr_eq(&live.cell("kept"), &keep));
        assert!(!live.lock().contains_key("c0"));
        live.forget("kept");
        assert!(!Arc::ptr_eq(&live.cell("kept"), &keep));
    }
}

//! One refresh across every process that shares a connection: the store's side of
//! [`SharedTokens`].
//!
//! A renewal takes the row's lease (an owner and an expiry, set by one conditional UPDATE),
//! re-reads the tokens (another process may have refreshed meanwhile: those are used),
//! refreshes once, and commits with a compare-and-swap on the version it read, which also
//! ends the lease. A process that finds the lease held polls the row until the holder's
//! tokens appear, or the lease expires (its holder died) and it takes it. The version fences
//! a holder whose lease expired: its late commit fails, and it uses what the row has.
//!
//! A refused refresh (`invalid_grant`) marks the row as needing a new authorization, but
//! only if the row still has the version the refresh was made from: a refusal of a refresh
//! token that another process already rotated is not a dead connection.
//!
//! Tokens obtained from a connection's credentials (OAUTH2_CC, TWO_STEP, BILL) take the same
//! path: under the lease, a stored token that is still fresh is handed over, else one is
//! obtained ([`Renewal::obtain`]) and committed sealed in the connection's secrets by the same
//! compare-and-swap, so that every process shares it until it expires. A refusal of the
//! credentials marks nothing (the error is the answer), and a token that cannot be saved is
//! still used by the process that obtained it.

use std::time::{Duration, Instant};

use std::sync::Arc;

use terapi_runtime::client::{Connection, Error, RenewFuture, Renewal, SharedTokens, TokenSet};

use crate::backend::{Commit, Row};
use crate::error::StoreError;
use crate::record::{now_ms, to_s};
use crate::store::Store;

/// The tokens of a stored connection, renewed through the store.
pub(crate) struct StoredTokens {
    pub(crate) store: Store,
    pub(crate) id: String,
}

impl Store {
    /// Renews `conn`'s tokens through this store from now on.
    pub(crate) fn share(&self, id: &str, conn: &Connection) {
        conn.set_shared_tokens(Arc::new(StoredTokens {
            store: self.clone(),
            id: id.to_owned(),
        }));
    }
}

impl SharedTokens for StoredTokens {
    fn renew<'a>(&'a self, renewal: Renewal<'a>) -> RenewFuture<'a> {
        Box::pin(async move {
            match self.store.renew(&self.id, &renewal).await {
                // A token from the credentials does not need the store to be valid: when the
                // store cannot be read or written (or stays contended), this process obtains
                // its own rather than fail its request.
                Err(Error::TokenStore { .. }) if renewal.from_credentials() => {
                    renewal.obtain(renewal.held()).await
                }
                other => other,
            }
        })
    }
}

fn to_client(e: StoreError) -> Error {
    Error::TokenStore {
        message: e.to_string(),
    }
}

/// How many times a renewal starts over after losing a race (a commit fenced off, a refusal
/// of a token already replaced) before it gives up.
const MAX_ROUNDS: usize = 5;
/// How often a waiting process looks at the row, at most.
const MAX_POLL: Duration = Duration::from_millis(200);
/// How many times a failed commit of refreshed tokens is retried.
const COMMIT_TRIES: usize = 5;

impl Store {
    async fn renew(&self, id: &str, renewal: &Renewal<'_>) -> Result<TokenSet, Error> {
        // Each renewal is an owner of its own: two connections of one process (one store)
        // coordinate through the lease as two processes do.
        let owner = format!(
            "{}-{}",
            self.owner,
            self.stats
                .renewals
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let owner = owner.as_str();
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let deadline = Instant::now() + self.lease * 2 + Duration::from_secs(5);
        let mut poll = Duration::from_millis(10);
        let mut rounds = 0;
        loop {
            let now = now_ms();
            let leased = self
                .backend
                .lease(id, owner, now, now.saturating_add(lease_ms))
                .await
                .map_err(to_client)?;
            let Some(row) = leased else {
                // Another process holds the lease (or the row is gone): wait for its tokens.
                let row = self
                    .backend
                    .get(id)
                    .await
                    .map_err(to_client)?
                    .ok_or_else(|| {
                        renewal.reauthorize("the connection was removed from the store")
                    })?;
                if let Some(reason) = &row.reauthorize {
                    return Err(renewal.reauthorize(reason));
                }
                if let Some(tokens) = self.tokens_of(&row).map_err(to_client)?
                    && renewal.can_use(&tokens)
                {
                    self.stats
                        .reused
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(tokens);
                }
                if Instant::now() >= deadline {
                    return Err(to_client(StoreError::Contended {
                        id: id.to_owned(),
                        why: format!(
                            "waited {} s for another process to finish refreshing it",
                            (self.lease * 2 + Duration::from_secs(5)).as_secs()
                        ),
                    }));
                }
                self.stats
                    .waits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(poll).await;
                poll = (poll * 2).min(MAX_POLL);
                continue;
            };
            match self.refresh_leased(id, owner, &row, renewal).await {
                Ok(Some(tokens)) => return Ok(tokens),
                Ok(None) => {
                    rounds += 1;
                    if rounds >= MAX_ROUNDS {
                        return Err(to_client(StoreError::Contended {
                            id: id.to_owned(),
                            why: format!("it changed under {MAX_ROUNDS} refreshes in a row"),
                        }));
                    }
                }
                Err(e) => {
                    // Best effort: the lease also expires on its own.
                    let _ = self.backend.release(id, owner).await;
                    return Err(e);
                }
            }
        }
    }

    /// With the lease on `row`: the tokens to use, or `None` to start over (the row changed).
    async fn refresh_leased(
        &self,
        id: &str,
        owner: &str,
        row: &Row,
        renewal: &Renewal<'_>,
    ) -> Result<Option<TokenSet>, Error> {
        if let Some(reason) = &row.reauthorize {
            return Err(renewal.reauthorize(reason));
        }
        let mut record = self.open_row(row).map_err(to_client)?;
        let obtained = renewal.from_credentials();
        let stored = record.tokens.clone();
        if let Some(stored) = &stored
            && renewal.can_use(stored)
        {
            self.backend.release(id, owner).await.map_err(to_client)?;
            self.stats
                .reused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Some(stored.clone()));
        }
        self.stats
            .refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let renewed = if obtained {
            // From the credentials: a refusal is the answer (nothing to mark: saving the
            // connection again with other credentials is the remedy).
            renewal.obtain(stored.as_ref()).await?
        } else {
            let Some(stored) = stored else {
                return Err(renewal.reauthorize("the stored connection has no tokens"));
            };
            match renewal.refresh(&stored).await {
                Ok(renewed) => renewed,
                Err(e) if e.needs_reauthorization() => {
                    let reason = match &e {
                        Error::Reauthorize { reason, .. } => reason.clone(),
                        _ => "the provider refused the refresh".to_owned(),
                    };
                    return if self
                        .mark_reauthorize(id, row, owner, &reason)
                        .await
                        .map_err(to_client)?
                    {
                        Err(e)
                    } else {
                        // Another process replaced the tokens meanwhile: the refusal was of a
                        // refresh token already rotated. Use what it saved.
                        Ok(None)
                    };
                }
                Err(e) => return Err(e),
            }
        };
        // The window opens: the provider may have rotated the refresh token, and only this
        // process knows the new one until the commit below.
        let answered = Instant::now();
        record.tokens = Some(renewed.clone());
        let (key_id, secrets) = self.seal_record(id, &record).map_err(to_client)?;
        let mut tries = 0;
        let committed = loop {
            let commit = Commit {
                id,
                expected: row.version,
                owner,
                key_id: &key_id,
                secrets: &secrets,
                expires_at: renewed.expires_at().map(to_s),
                now: now_ms(),
            };
            match self.backend.commit(commit).await {
                Ok(done) => break done,
                Err(e) => {
                    tries += 1;
                    if tries >= COMMIT_TRIES && obtained {
                        // A token from the credentials works without being saved: this
                        // process uses it, the others obtain their own.
                        let _ = self.backend.release(id, owner).await;
                        return Ok(Some(renewed));
                    }
                    if tries >= COMMIT_TRIES {
                        return Err(Error::Reauthorize {
                            provider: renewal.provider().to_owned().into(),
                            reason: format!(
                                "the refreshed tokens could not be saved ({e}); the provider may have rotated the refresh token"
                            ),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(50 << tries)).await;
                }
            }
        };
        let window = u64::try_from(answered.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats
            .window_ns_last
            .store(window, std::sync::atomic::Ordering::Relaxed);
        self.stats
            .window_ns_max
            .fetch_max(window, std::sync::atomic::Ordering::Relaxed);
        if committed {
            Ok(Some(renewed))
        } else {
            // Fenced off: our lease expired and another process committed first. Its tokens
            // are the ones every process now uses.
            Ok(None)
        }
    }

    fn tokens_of(&self, row: &Row) -> Result<Option<TokenSet>, StoreError> {
        Ok(self.open_row(row)?.tokens)
    }
}

/// The reauthorization mark, only at the version refreshed from, with its outbox event
/// when the store has one.
const MARK_RETURNING: &str = "UPDATE terapi_connections SET reauthorize = $3,
       lease_until = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_until END,
       lease_owner = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_owner END
     WHERE id = $1 AND version = $2 RETURNING id";

impl Store {
    /// Marks `id` as needing a new authorization if it is still at `row`'s version, with the
    /// store's reauthorization event in the same transaction: whether it was marked.
    async fn mark_reauthorize(
        &self,
        id: &str,
        row: &crate::backend::Row,
        owner: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let Some(event) = self.on_reauthorization.clone() else {
            return self
                .backend
                .mark_reauthorize(id, row.version, owner, reason)
                .await;
        };
        let meta = self.connection_meta(id).await.unwrap_or_default();
        let what = crate::store::Reauthorization {
            connection: id.to_owned(),
            provider: row.provider.clone(),
            reason: reason.to_owned(),
            meta,
        };
        let enqueue =
            crate::outbox::enqueue_statement(crate::outbox::OutboxKind::Auth, |delivery, at| {
                event(&what, delivery, at)
            })?;
        let mut tx = self.backend.begin().await?;
        let marked = tx
            .query(
                MARK_RETURNING,
                vec![
                    crate::backend::Val::text(id),
                    crate::backend::Val::int(row.version),
                    crate::backend::Val::text(reason),
                    crate::backend::Val::text(owner),
                ],
            )
            .await?;
        if marked.is_empty() {
            return Ok(false);
        }
        tx.query_all(vec![enqueue]).await?;
        tx.commit().await?;
        Ok(true)
    }
}

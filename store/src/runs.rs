//! Sync runs of a model: the lease that lets one process at a time run it, the checkpoint
//! written with every page, generation-based deletes after a complete full run, and the
//! schedule that workers share (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//!
//! The rules a run keeps:
//! - a page's records and the checkpoint after it commit together, so a killed run resumes
//!   at the page after the last one stored;
//! - the incremental cursor becomes the time the run **started**, and only when it
//!   completes; in the provider's clock when that one is behind (see `run_checks.rs`: each
//!   page's `Date` header measures it);
//! - only a complete full run marks records deleted: those its generation did not see,
//!   unless they are more than its [`DeleteGuard`] allows (or the listing was empty): then
//!   it holds them, and the next complete full run applies those it finds missing again;
//! - a failed run keeps its checkpoint (the next run resumes it) and deletes nothing.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::backend::{Stmt, Tx, Val};
use crate::error::StoreError;
use crate::record::{from_ms, now_ms};
use crate::records::{Applied, Model, Stamp, lock_model, set_seq, write_records};
use crate::store::Store;

/// How long a run's lease lasts without a page (each page renews it).
pub const DEFAULT_RUN_LEASE: Duration = Duration::from_secs(120);

/// Which kind of run to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// Every record: a complete run marks the ones it did not see as deleted.
    Full,
    /// What changed since the last complete run started (a full run when there was none).
    Incremental,
}

/// The counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounts {
    /// Records new (or back after a deletion).
    pub added: u64,
    /// Records whose content changed.
    pub updated: u64,
    /// Records seen with the same content (not rewritten).
    pub unchanged: u64,
    /// Records marked deleted (complete full runs only).
    pub deleted: u64,
    /// Pages stored.
    pub pages: u64,
    /// Records set aside because their id is missing or refused (see
    /// [`Store::quarantined`]).
    pub quarantined: u64,
    /// Deletions held back: a complete full run that would have deleted more than its
    /// [`DeleteGuard`] allows (or every record, after an empty listing) deletes none of
    /// them; the next complete full run that finds them missing again applies them.
    pub held: u64,
}

/// What a complete full run may delete ([`Store::finish_run_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteGuard {
    /// Deletions that are more than this percentage of the model's records are held
    /// (0 to 100; the default 10). An empty listing while the model has records holds its
    /// deletions whatever the percentage.
    pub max_percent: u8,
    /// Applies every deletion however many (an operator's explicit choice).
    pub allow_mass_delete: bool,
}

impl Default for DeleteGuard {
    fn default() -> Self {
        DeleteGuard {
            max_percent: 10,
            allow_mass_delete: false,
        }
    }
}

impl DeleteGuard {
    /// Holds deletions of more than `max_percent` % of the records (capped at 100).
    pub fn max_percent(max_percent: u8) -> Self {
        DeleteGuard {
            max_percent: max_percent.min(100),
            allow_mass_delete: false,
        }
    }

    /// Applies every deletion, however many.
    pub fn allow_mass_delete() -> Self {
        DeleteGuard {
            allow_mass_delete: true,
            ..DeleteGuard::default()
        }
    }

    /// Whether `unseen` deletions out of `live` records, after a listing of `listed` records,
    /// are to be held.
    fn holds(self, unseen: u64, live: u64, listed: u64) -> bool {
        if self.allow_mass_delete || unseen == 0 {
            return false;
        }
        listed == 0 || unseen.saturating_mul(100) > u64::from(self.max_percent.min(100)) * live
    }
}

impl RunCounts {
    pub(crate) fn add(&mut self, applied: Applied) {
        match applied {
            Applied::Added => self.added += 1,
            Applied::Updated => self.updated += 1,
            Applied::Unchanged | Applied::Stale => self.unchanged += 1,
            Applied::Deleted => self.deleted += 1,
            Applied::Absent => {}
        }
    }
}

/// A run in progress, holding the model's lease: pass it to [`Store::write_page`] for each
/// page, then to [`Store::finish_run`] or [`Store::fail_run`].
#[derive(Debug)]
pub struct SyncRun {
    connection: String,
    model: String,
    personal: bool,
    owner: String,
    lease: Duration,
    generation: i64,
    full: bool,
    pub(crate) started_ms: i64,
    /// Ids counted, the provider's clock, records to set aside.
    pub(crate) checks: crate::run_state::Checks,
    /// Where the listing continues (`None`: from its first page).
    pub position: Option<String>,
    /// Whether this run continues an interrupted one.
    pub resumed: bool,
    /// The incremental filter's start: when the last complete run started (`None` for a
    /// full run).
    pub since: Option<SystemTime>,
    /// Counts so far (including the pages of the interrupted run it continues).
    pub counts: RunCounts,
}

impl SyncRun {
    /// The model it runs.
    pub fn model(&self) -> Model<'_> {
        Model {
            connection: &self.connection,
            name: &self.model,
            personal: self.personal,
        }
    }

    /// Whether it is a full run.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// When it started (an interrupted run keeps its start).
    pub fn started_at(&self) -> SystemTime {
        from_ms(self.started_ms)
    }
}

/// A model's sync state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Full runs started.
    pub generation: i64,
    /// When the last complete run started: the next incremental run's filter.
    pub since: Option<SystemTime>,
    /// When a run last completed.
    pub last_run_at: Option<SystemTime>,
    /// When a full run last completed.
    pub last_full_at: Option<SystemTime>,
    /// An interrupted or running run: whether full, and pages stored.
    pub in_progress: Option<(bool, u64)>,
    /// Whether a process holds the lease now.
    pub leased: bool,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// The schedule: every this long.
    pub every: Option<Duration>,
    /// When it is due next.
    pub next_due: Option<SystemTime>,
    /// The change feed's latest cursor.
    pub cursor: u64,
    /// Deletions the last complete full run held (0: none).
    pub held_deletions: u64,
    /// The pages of the last complete full run.
    pub last_full_pages: Option<u64>,
}

const TAKE_LEASE: &str = "UPDATE terapi_sync SET lease_owner = $3, lease_until = $4
     WHERE connection_id = $1 AND model = $2
       AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until IS NULL OR lease_until < $5)
     RETURNING generation, run_full, run_started, run_position, run_pages, run_added, run_updated, run_unchanged, cursor_at, run_quarantined";
const START_RUN: &str =
    "UPDATE terapi_sync SET generation = $3, run_full = $4, run_started = $5, run_position = NULL,
       run_pages = 0, run_added = 0, run_updated = 0, run_unchanged = 0, last_error = NULL,
       run_skew_ms = NULL, run_quarantined = 0
     WHERE connection_id = $1 AND model = $2";
/// The guard of every write of a run: the lease is still this owner's (renewed).
const RENEW: &str = "UPDATE terapi_sync SET lease_until = $4 WHERE connection_id = $1 AND model = $2 AND lease_owner = $3
     RETURNING seq, generation";
const CHECKPOINT: &str = "UPDATE terapi_sync SET run_position = $3, run_pages = run_pages + 1,
       run_added = run_added + $4, run_updated = run_updated + $5, run_unchanged = run_unchanged + $6
     WHERE connection_id = $1 AND model = $2";
const UNSEEN: &str = "SELECT record_id FROM terapi_records
     WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL AND generation < $3 AND observed_at < $4
     ORDER BY record_id LIMIT 1000";
const MARK_DELETED: &str = "UPDATE terapi_records SET deleted_at = $4, changed_at = $4, seq = $5
     WHERE connection_id = $1 AND model = $2 AND record_id = $3";
const COMPLETE: &str = "UPDATE terapi_sync SET
       cursor_at = CASE WHEN run_skew_ms < 0 THEN run_started + run_skew_ms ELSE run_started END,
       run_skew_ms = NULL, run_quarantined = 0, last_run_at = $3,
       last_full_at = CASE WHEN run_full = 1 THEN $3 ELSE last_full_at END,
       run_full = NULL, run_started = NULL, run_position = NULL, run_pages = 0, run_added = 0,
       run_updated = 0, run_unchanged = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL,
       next_due = CASE WHEN every_ms IS NULL THEN next_due ELSE $3 + every_ms END
     WHERE connection_id = $1 AND model = $2 AND lease_owner = $4";
const FAIL: &str = "UPDATE terapi_sync SET last_error = $3, lease_owner = NULL, lease_until = NULL,
       next_due = CASE WHEN every_ms IS NULL THEN next_due ELSE $5 END
     WHERE connection_id = $1 AND model = $2 AND lease_owner = $4";
const STATUS: &str = "SELECT generation, cursor_at, last_run_at, last_full_at, run_full, run_pages, lease_owner, lease_until, last_error, every_ms, next_due, seq
     FROM terapi_sync WHERE connection_id = $1 AND model = $2";
/// The held deletions' run (generation and start) and the last complete full run's pages.
const HELD: &str = "SELECT held_generation, held_started, held_count, last_full_pages
     FROM terapi_sync WHERE connection_id = $1 AND model = $2";
const COUNT_UNSEEN: &str = "SELECT COUNT(*) FROM terapi_records
     WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL AND generation < $3 AND observed_at < $4";
const COUNT_LIVE: &str = "SELECT COUNT(*) FROM terapi_records
     WHERE connection_id = $1 AND model = $2 AND deleted_at IS NULL";
/// After a complete full run: its held deletions (NULLs: none) and its pages.
const SET_HELD: &str =
    "UPDATE terapi_sync SET held_generation = $3, held_started = $4, held_count = $5,
       last_full_pages = $6
     WHERE connection_id = $1 AND model = $2";
/// A run whose listing cannot be trusted: ended, its checkpoint dropped (the next run starts
/// over), nothing deleted.
const ABANDON: &str =
    "UPDATE terapi_sync SET last_error = $3, lease_owner = NULL, lease_until = NULL,
       run_full = NULL, run_started = NULL, run_position = NULL, run_pages = 0, run_added = 0,
       run_updated = 0, run_unchanged = 0, run_skew_ms = NULL, run_quarantined = 0,
       next_due = CASE WHEN every_ms IS NULL THEN next_due ELSE $5 END
     WHERE connection_id = $1 AND model = $2 AND lease_owner = $4";
const SCHEDULE: &str = "INSERT INTO terapi_sync (connection_id, model, seq, generation, run_pages, run_added, run_updated, run_unchanged, every_ms, next_due)
     VALUES ($1, $2, 0, 0, 0, 0, 0, 0, $3, $4)
     ON CONFLICT (connection_id, model) DO UPDATE SET every_ms = excluded.every_ms,
       next_due = CASE WHEN terapi_sync.next_due IS NULL OR terapi_sync.next_due > excluded.next_due THEN excluded.next_due ELSE terapi_sync.next_due END";
const UNSCHEDULE: &str = "UPDATE terapi_sync SET every_ms = NULL, next_due = NULL WHERE connection_id = $1 AND model = $2";
const CLAIM_PG: &str = "UPDATE terapi_sync SET lease_owner = $1, lease_until = $2
     WHERE (connection_id, model) = (
       SELECT connection_id, model FROM terapi_sync
       WHERE next_due IS NOT NULL AND next_due <= $3 AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until < $3)
       ORDER BY next_due LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING connection_id, model";
const CLAIM_SQLITE: &str = "UPDATE terapi_sync SET lease_owner = $1, lease_until = $2
     WHERE (connection_id, model) = (
       SELECT connection_id, model FROM terapi_sync
       WHERE next_due IS NOT NULL AND next_due <= $3 AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until < $3)
       ORDER BY next_due LIMIT 1)
     RETURNING connection_id, model";
const RELEASE: &str = "UPDATE terapi_sync SET lease_owner = NULL, lease_until = NULL
     WHERE connection_id = $1 AND model = $2 AND lease_owner = $3";

fn key(connection: &str, model: &str, mut rest: Vec<Val>) -> Vec<Val> {
    let mut params = vec![Val::text(connection), Val::text(model)];
    params.append(&mut rest);
    params
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A model due for a sync, claimed by a worker (it holds the lease; start the run with
/// [`Store::begin_run`] under the same owner, which [`Store::claim_due`] sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The connection id.
    pub connection: String,
    /// The model.
    pub model: String,
}

/// The guard of a run's write in `tx`: renews the lease if it is still the run's (else
/// [`StoreError::LeaseLost`]); the model's sequence.
async fn renew_in(tx: &mut Tx, run: &SyncRun, now: i64) -> Result<i64, StoreError> {
    let rows = tx
        .query(
            RENEW,
            key(
                &run.connection,
                &run.model,
                vec![
                    Val::text(run.owner.clone()),
                    Val::int(now.saturating_add(ms(run.lease))),
                ],
            ),
        )
        .await?;
    let Some(row) = rows.into_iter().next() else {
        return Err(StoreError::LeaseLost {
            connection: run.connection.clone(),
            model: run.model.clone(),
        });
    };
    Ok(row.first().and_then(Val::as_int).unwrap_or(0))
}

async fn count_in(
    tx: &mut Tx,
    run: &SyncRun,
    sql: &'static str,
    rest: Vec<Val>,
) -> Result<u64, StoreError> {
    let rows = tx
        .query(sql, key(&run.connection, &run.model, rest))
        .await?;
    let n = rows
        .into_iter()
        .next()
        .and_then(|row| row.first().and_then(Val::as_int))
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Marks deleted the live records of `run`'s model that the full run of `generation`
/// (started at `started`) did not see; how many.
async fn delete_unseen(
    tx: &mut Tx,
    run: &SyncRun,
    generation: i64,
    started: i64,
    seq: &mut i64,
    now: i64,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let unseen = tx
            .query(
                UNSEEN,
                key(
                    &run.connection,
                    &run.model,
                    vec![Val::int(generation), Val::int(started)],
                ),
            )
            .await?;
        if unseen.is_empty() {
            return Ok(deleted);
        }
        let mut stmts = Vec::with_capacity(unseen.len());
        for row in unseen {
            let Some(id) = row.into_iter().next().and_then(Val::into_text) else {
                continue;
            };
            *seq += 1;
            stmts.push(Stmt {
                sql: MARK_DELETED,
                params: key(
                    &run.connection,
                    &run.model,
                    vec![Val::text(id), Val::int(now), Val::int(*seq)],
                ),
            });
            deleted += 1;
        }
        tx.execute_all(stmts).await?;
    }
}

/// A complete full run's deletions in `tx`, within `guard`: the records missing from both
/// this run and the run that held its deletions before it are deleted whatever their
/// number; the others only if they are not more than `guard` allows, else they are held.
/// The statement that records what is held (or clears it) and the run's pages.
async fn full_run_deletions(
    tx: &mut Tx,
    run: &mut SyncRun,
    seq: &mut i64,
    now: i64,
    guard: DeleteGuard,
) -> Result<Stmt, StoreError> {
    let held = tx
        .query(HELD, key(&run.connection, &run.model, vec![]))
        .await?;
    let row = held.into_iter().next().unwrap_or_default();
    let before = match (
        row.first().and_then(Val::as_int),
        row.get(1).and_then(Val::as_int),
    ) {
        (Some(generation), Some(started)) if generation < run.generation => {
            Some((generation, started))
        }
        _ => None,
    };
    let unseen = count_in(
        tx,
        run,
        COUNT_UNSEEN,
        vec![Val::int(run.generation), Val::int(run.started_ms)],
    )
    .await?;
    // Missing from the holding run too: confirmed by a second consecutive full run.
    let confirmed = match before {
        Some((generation, started)) => {
            count_in(
                tx,
                run,
                COUNT_UNSEEN,
                vec![Val::int(generation), Val::int(started)],
            )
            .await?
        }
        None => 0,
    };
    let live = count_in(tx, run, COUNT_LIVE, vec![]).await?;
    let listed = run.counts.added + run.counts.updated + run.counts.unchanged;
    let fresh = unseen.saturating_sub(confirmed);
    let mut held = Val::Int(None);
    let mut held_started = Val::Int(None);
    let mut held_count = Val::Int(None);
    if guard.holds(fresh, live, listed) {
        if let Some((generation, started)) = before {
            run.counts.deleted += delete_unseen(tx, run, generation, started, seq, now).await?;
        }
        run.counts.held = fresh;
        held = Val::int(run.generation);
        held_started = Val::int(run.started_ms);
        held_count = Val::int(i64::try_from(fresh).unwrap_or(i64::MAX));
    } else {
        run.counts.deleted +=
            delete_unseen(tx, run, run.generation, run.started_ms, seq, now).await?;
    }
    Ok(Stmt {
        sql: SET_HELD,
        params: key(
            &run.connection,
            &run.model,
            vec![
                held,
                held_started,
                held_count,
                Val::int(i64::try_from(run.counts.pages).unwrap_or(i64::MAX)),
            ],
        ),
    })
}

impl Store {
    fn run_owner(&self) -> String {
        format!("{}-run", self.owner)
    }

    /// Starts a run of `model` (or continues the interrupted one: a full run that stopped
    /// half way is always finished first, so its generation can mark deletes), holding the
    /// model's lease for `lease` after each page. [`StoreError::Busy`] when another process
    /// holds it.
    pub async fn begin_run(
        &self,
        model: Model<'_>,
        kind: RunKind,
        lease: Duration,
    ) -> Result<SyncRun, StoreError> {
        model.check()?;
        let owner = self.run_owner();
        let now = now_ms();
        let mut tx = self.backend.begin().await?;
        lock_model(&mut tx, &model).await?;
        let rows = tx
            .query(
                TAKE_LEASE,
                key(
                    model.connection,
                    model.name,
                    vec![
                        Val::text(owner.clone()),
                        Val::int(now.saturating_add(ms(lease))),
                        Val::int(now),
                    ],
                ),
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Err(StoreError::Busy {
                connection: model.connection.to_owned(),
                model: model.name.to_owned(),
            });
        };
        let int = |i: usize| row.get(i).and_then(Val::as_int);
        let generation = int(0).unwrap_or(0);
        let run_full = int(1).map(|v| v != 0);
        let run_started = int(2);
        let position = row.get(3).cloned().and_then(Val::into_text);
        let u = |i: usize| int(i).and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
        let so_far = RunCounts {
            pages: u(4),
            added: u(5),
            updated: u(6),
            unchanged: u(7),
            deleted: 0,
            quarantined: u(9),
            held: 0,
        };
        let cursor_at = int(8);
        // An interrupted run is continued: a full one always; an incremental one unless a
        // full run is asked for.
        let resume = match (run_full, run_started) {
            (Some(true), Some(_)) => true,
            (Some(false), Some(_)) => kind == RunKind::Incremental,
            _ => false,
        };
        let run = if resume {
            let full = run_full == Some(true);
            SyncRun {
                connection: model.connection.to_owned(),
                model: model.name.to_owned(),
                personal: model.personal,
                owner,
                lease,
                generation,
                full,
                started_ms: run_started.unwrap_or(now),
                checks: Default::default(),
                position,
                resumed: true,
                since: if full { None } else { cursor_at.map(from_ms) },
                counts: so_far,
            }
        } else {
            let full = kind == RunKind::Full || cursor_at.is_none();
            let generation = if full { generation + 1 } else { generation };
            tx.execute_all(vec![
                Stmt {
                    sql: START_RUN,
                    params: key(
                        model.connection,
                        model.name,
                        vec![
                            Val::int(generation),
                            Val::int(i64::from(full)),
                            Val::int(now),
                        ],
                    ),
                },
                // The quarantine holds the latest run's records.
                Stmt {
                    sql: crate::run_state::CLEAR_QUARANTINE,
                    params: key(model.connection, model.name, vec![]),
                },
            ])
            .await?;
            SyncRun {
                connection: model.connection.to_owned(),
                model: model.name.to_owned(),
                personal: model.personal,
                owner,
                lease,
                generation,
                full,
                started_ms: now,
                checks: Default::default(),
                position: None,
                resumed: false,
                since: if full { None } else { cursor_at.map(from_ms) },
                counts: RunCounts::default(),
            }
        };
        tx.commit().await?;
        Ok(run)
    }

    /// Stores a page of records (`(id, data)`, observed at `fetched_at`) and the position
    /// after it (`None` after the last page) in one transaction; the page's counts.
    /// [`StoreError::LeaseLost`] (nothing written) if another process took the lease.
    pub async fn write_page(
        &self,
        run: &mut SyncRun,
        records: Vec<(String, Value)>,
        next: Option<String>,
        fetched_at: SystemTime,
    ) -> Result<RunCounts, StoreError> {
        // Owned: the run's checks below change the run.
        let (connection, name) = (run.connection.clone(), run.model.clone());
        let model = Model {
            connection: &connection,
            name: &name,
            personal: run.personal,
        };
        let observed = crate::record::to_ms(fetched_at);
        let now = now_ms();
        let mut tx = self.backend.begin_relaxed().await?;
        let seq0 = renew_in(&mut tx, run, now).await?;
        let mut seq = seq0;
        let stamp = Stamp {
            generation: run.generation,
            observed_at: observed,
            now,
        };
        // Ids checked (the refused set aside), each id counted once per run.
        let (records, ids) = run.checked_records(records);
        let outcomes = write_records(&mut tx, &self.keys, &model, records, stamp, &mut seq).await?;
        let mut page = run.count_once(&ids, outcomes);
        let (mut stmts, quarantined) = run.check_stmts(&self.keys)?;
        page.quarantined = quarantined;
        page.pages = 1;
        if seq != seq0 {
            stmts.push(set_seq(&model, seq));
        }
        stmts.push(Stmt {
            sql: CHECKPOINT,
            params: key(
                &run.connection,
                &run.model,
                vec![
                    Val::Text(next.clone()),
                    Val::int(page.added as i64),
                    Val::int(page.updated as i64),
                    Val::int(page.unchanged as i64),
                ],
            ),
        });
        tx.execute_all(stmts).await?;
        tx.commit().await?;
        run.position = next;
        run.counts.added += page.added;
        run.counts.updated += page.updated;
        run.counts.unchanged += page.unchanged;
        run.counts.quarantined += page.quarantined;
        run.counts.pages += 1;
        Ok(page)
    }

    /// Renews the run's lease (between pages that take long: waiting for the rate limit).
    pub async fn renew_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        let now = now_ms();
        let rows = self
            .backend
            .query(
                RENEW,
                key(
                    &run.connection,
                    &run.model,
                    vec![
                        Val::text(run.owner.clone()),
                        Val::int(now.saturating_add(ms(run.lease))),
                    ],
                ),
            )
            .await?;
        if rows.is_empty() {
            return Err(StoreError::LeaseLost {
                connection: run.connection.clone(),
                model: run.model.clone(),
            });
        }
        Ok(())
    }

    /// Completes a run whose last page was stored: a full run marks the records it did not
    /// see as deleted, within the default [`DeleteGuard`] (see [`Store::finish_run_with`]);
    /// the incremental cursor becomes the run's start; the lease is released. The run's
    /// counts.
    pub async fn finish_run(&self, run: SyncRun) -> Result<RunCounts, StoreError> {
        self.finish_run_with(run, DeleteGuard::default()).await
    }

    /// [`Store::finish_run`] with `guard`: a full run whose deletions are more than `guard`
    /// allows (or that listed nothing while the model has records) completes without them
    /// and holds them ([`RunCounts::held`]); the next complete full run applies those it finds
    /// missing too, whatever their number, and judges the others by its own guard.
    pub async fn finish_run_with(
        &self,
        mut run: SyncRun,
        guard: DeleteGuard,
    ) -> Result<RunCounts, StoreError> {
        let now = now_ms();
        let mut tx = self.backend.begin().await?;
        let mut seq = renew_in(&mut tx, &run, now).await?;
        let seq0 = seq;
        let mut stmts = Vec::new();
        if run.full {
            stmts.push(full_run_deletions(&mut tx, &mut run, &mut seq, now, guard).await?);
        }
        if seq != seq0 {
            stmts.push(set_seq(&run.model(), seq));
        }
        stmts.push(Stmt {
            sql: COMPLETE,
            params: key(
                &run.connection,
                &run.model,
                vec![Val::int(now), Val::text(run.owner.clone())],
            ),
        });
        tx.execute_all(stmts).await?;
        tx.commit().await?;
        Ok(run.counts)
    }

    /// Ends a run that failed: nothing is marked deleted, the checkpoint stays (the next run
    /// continues it), the error is recorded and the lease released. A scheduled model is due
    /// again after `retry_in`.
    pub async fn fail_run(
        &self,
        run: SyncRun,
        error: &str,
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        self.end_run(FAIL, run, error, retry_in).await
    }

    /// Ends a run whose listing cannot be trusted (its record count disagrees with the total
    /// the provider states): nothing is marked deleted, the checkpoint is dropped so the next
    /// run starts the listing over, the error is recorded and the lease released. A
    /// scheduled model is due again after `retry_in`.
    pub async fn abandon_run(
        &self,
        run: SyncRun,
        error: &str,
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        self.end_run(ABANDON, run, error, retry_in).await
    }

    /// Ends a run with `sql` (`FAIL` or `ABANDON`): the error recorded, the lease released,
    /// a scheduled model due again after `retry_in`.
    async fn end_run(
        &self,
        sql: &'static str,
        run: SyncRun,
        error: &str,
        retry_in: Duration,
    ) -> Result<(), StoreError> {
        let message: String = error.chars().take(2000).collect();
        let now = now_ms();
        self.backend
            .query(
                sql,
                key(
                    &run.connection,
                    &run.model,
                    vec![
                        Val::text(message),
                        Val::text(run.owner.clone()),
                        Val::int(now.saturating_add(ms(retry_in))),
                    ],
                ),
            )
            .await?;
        Ok(())
    }

    /// A model's sync state (`None` before anything was synced or scheduled).
    pub async fn sync_status(&self, model: Model<'_>) -> Result<Option<SyncStatus>, StoreError> {
        model.check()?;
        let rows = self
            .backend
            .query(STATUS, key(model.connection, model.name, vec![]))
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let int = |i: usize| row.get(i).and_then(Val::as_int);
        let now = now_ms();
        let held = self
            .backend
            .query(HELD, key(model.connection, model.name, vec![]))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let held_int = |i: usize| {
            held.get(i)
                .and_then(Val::as_int)
                .and_then(|v| u64::try_from(v).ok())
        };
        Ok(Some(SyncStatus {
            held_deletions: held_int(2).unwrap_or(0),
            last_full_pages: held_int(3),
            generation: int(0).unwrap_or(0),
            since: int(1).map(from_ms),
            last_run_at: int(2).map(from_ms),
            last_full_at: int(3).map(from_ms),
            in_progress: int(4).map(|f| (f != 0, int(5).unwrap_or(0) as u64)),
            leased: row.get(6).cloned().and_then(Val::into_text).is_some()
                && int(7).is_some_and(|u| u >= now),
            last_error: row.get(8).cloned().and_then(Val::into_text),
            every: int(9).map(|v| Duration::from_millis(v.max(0) as u64)),
            next_due: int(10).map(from_ms),
            cursor: int(11).map(|v| v.max(0) as u64).unwrap_or(0),
        }))
    }

    /// Syncs `model` every `every` (first due at `first`, or sooner if it was due sooner):
    /// workers find it with [`Store::claim_due`].
    pub async fn schedule(
        &self,
        model: Model<'_>,
        every: Duration,
        first: SystemTime,
    ) -> Result<(), StoreError> {
        model.check()?;
        self.backend
            .query(
                SCHEDULE,
                key(
                    model.connection,
                    model.name,
                    vec![
                        Val::int(ms(every).max(1)),
                        Val::int(crate::record::to_ms(first)),
                    ],
                ),
            )
            .await?;
        Ok(())
    }

    /// Takes a model off the schedule.
    pub async fn unschedule(&self, model: Model<'_>) -> Result<(), StoreError> {
        model.check()?;
        self.backend
            .query(UNSCHEDULE, key(model.connection, model.name, vec![]))
            .await?;
        Ok(())
    }

    /// Claims the model that is due first and that no process holds, for `lease`: one
    /// worker gets each (PostgreSQL skips the rows other workers are claiming). Start its
    /// run with [`Store::begin_run`] (the same store handle).
    pub async fn claim_due(&self, lease: Duration) -> Result<Option<Due>, StoreError> {
        let now = now_ms();
        let sql = if self.backend.is_postgres() {
            CLAIM_PG
        } else {
            CLAIM_SQLITE
        };
        let rows = self
            .backend
            .query(
                sql,
                vec![
                    Val::text(self.run_owner()),
                    Val::int(now.saturating_add(ms(lease))),
                    Val::int(now),
                ],
            )
            .await?;
        Ok(rows.into_iter().next().and_then(|row| {
            let mut it = row.into_iter();
            Some(Due {
                connection: it.next()?.into_text()?,
                model: it.next()?.into_text()?,
            })
        }))
    }

    /// Releases a claim without running (a worker that cannot run it now).
    pub async fn release_due(&self, due: &Due) -> Result<(), StoreError> {
        self.backend
            .query(
                RELEASE,
                key(
                    &due.connection,
                    &due.model,
                    vec![Val::text(self.run_owner())],
                ),
            )
            .await?;
        Ok(())
    }
}

//! What a run checks besides its records' content, written with each page:
//! - record ids ([`crate::check_record_id`]): a record whose id is missing or refused is set
//!   aside in `terapi_quarantine` (its page, its index in the page, the rule it breaks, its
//!   data sealed like the model's records) and counted; the rest of its page is stored. The
//!   quarantine holds the latest run of each model (a new run clears it);
//! - the provider's clock: each page's `Date` header against the local clock gives the skew
//!   (the smallest seen, in the run's row), and a complete run's incremental cursor is its
//!   start **in the provider's clock** when that is earlier than the local one;
//! - ids seen twice in one run (a record on two pages, twice on one page) count once.

use std::time::SystemTime;

use serde_json::Value;

use crate::backend::{Stmt, Val};
use crate::error::StoreError;
use crate::ids::check_record_id;
use crate::keys::{Binding, Keys};
use crate::record::{now_ms, to_ms};
use crate::records::{Applied, CLEAR, Model, canonical};
use crate::runs::{RunCounts, SyncRun};
use crate::store::Store;

/// A record set aside by a run: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quarantined {
    /// The run's page it was on (1 for the first page of the run).
    pub page: u64,
    /// Its index in that page (from 0).
    pub index: u64,
    /// The rule its id breaks.
    pub reason: String,
    /// The record as the provider sent it (not in the serialized form: it may hold
    /// personal data).
    #[serde(skip)]
    pub data: Value,
}

const QUARANTINE: &str = "INSERT INTO terapi_quarantine (connection_id, model, run_started, page, idx, reason, key_id, data, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (connection_id, model, run_started, page, idx) DO UPDATE SET reason = excluded.reason,
       key_id = excluded.key_id, data = excluded.data, at = excluded.at";
const NOTE: &str = "UPDATE terapi_sync SET run_quarantined = run_quarantined + $3,
       run_skew_ms = CASE WHEN CAST($4 AS BIGINT) IS NULL THEN run_skew_ms
         WHEN run_skew_ms IS NULL OR run_skew_ms > CAST($4 AS BIGINT) THEN CAST($4 AS BIGINT)
         ELSE run_skew_ms END
     WHERE connection_id = $1 AND model = $2";
const LIST: &str = "SELECT page, idx, reason, key_id, data, run_started FROM terapi_quarantine
     WHERE connection_id = $1 AND model = $2 ORDER BY run_started DESC, page, idx LIMIT $3";

fn bound(model: &Model<'_>, run_started_ms: i64, page: u64, index: u64) -> Binding {
    Binding::quarantined(model.connection, model.name, run_started_ms, page, index)
}

impl SyncRun {
    /// Notes the provider's clock: its `Date` header (`server`) on a response received at
    /// `received` (local). A provider behind this host moves the incremental cursor back by
    /// as much (saved with the next page).
    pub fn observe_clock(&mut self, server: SystemTime, received: SystemTime) {
        let skew = to_ms(server).saturating_sub(to_ms(received));
        self.checks.skew_ms = Some(self.checks.skew_ms.map_or(skew, |s| s.min(skew)));
    }

    /// Sets a record aside (its id is missing or refused: `reason`), found at `index` of the
    /// run's page `page`; written and counted with the next [`Store::write_page`].
    pub fn quarantine(&mut self, page: u64, index: usize, reason: String, record: Value) {
        self.checks
            .pending
            .push((page, index as u64, reason, record));
    }

    /// The records whose ids pass [`check_record_id`] (the others are set aside with their
    /// index in `records` on the page being written), and their ids.
    pub(crate) fn checked_records(
        &mut self,
        records: Vec<(String, Value)>,
    ) -> (Vec<(String, Value)>, Vec<String>) {
        let page = self.counts.pages + 1;
        let mut ok = Vec::with_capacity(records.len());
        let mut ids = Vec::with_capacity(records.len());
        for (index, (id, data)) in records.into_iter().enumerate() {
            match check_record_id(&id) {
                Ok(()) => {
                    ids.push(id.clone());
                    ok.push((id, data));
                }
                Err(e) => self.quarantine(page, index, e.to_string(), data),
            }
        }
        (ok, ids)
    }

    /// The page's counts from its outcomes (in the order of `ids`): a record counts once per
    /// run, with its last outcome on the page where it first appears.
    pub(crate) fn count_once(&mut self, ids: &[String], outcomes: Vec<Applied>) -> RunCounts {
        let mut last = std::collections::HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            last.insert(id.as_str(), i);
        }
        let mut page = RunCounts::default();
        for (i, (id, applied)) in ids.iter().zip(outcomes).enumerate() {
            if last.get(id.as_str()) == Some(&i) && self.checks.seen.first(id) {
                page.add(applied);
            }
        }
        page
    }

    /// The statements that write the set-aside records and the clock skew; how many were
    /// set aside.
    pub(crate) fn check_stmts(&mut self, keys: &Keys) -> Result<(Vec<Stmt>, u64), StoreError> {
        let pending = std::mem::take(&mut self.checks.pending);
        let n = pending.len() as u64;
        if n == 0 && self.checks.skew_ms.is_none() {
            return Ok((Vec::new(), 0));
        }
        let model = self.model();
        let now = now_ms();
        let mut stmts = Vec::with_capacity(pending.len() + 1);
        for (page, index, reason, data) in pending {
            let plain = canonical(&data);
            let (key_id, sealed) = if model.personal {
                keys.seal(&bound(&model, self.started_ms, page, index), &plain)?
            } else {
                (CLEAR.to_owned(), plain)
            };
            stmts.push(Stmt {
                sql: QUARANTINE,
                params: vec![
                    Val::text(model.connection),
                    Val::text(model.name),
                    Val::int(self.started_ms),
                    Val::int(page as i64),
                    Val::int(index as i64),
                    Val::text(reason),
                    Val::text(key_id),
                    Val::bytes(sealed),
                    Val::int(now),
                ],
            });
        }
        stmts.push(Stmt {
            sql: NOTE,
            params: vec![
                Val::text(model.connection),
                Val::text(model.name),
                Val::int(n as i64),
                Val::Int(self.checks.skew_ms),
            ],
        });
        Ok((stmts, n))
    }
}

impl Store {
    /// The records the latest run of `model` set aside (at most `limit`), by page and index.
    pub async fn quarantined(
        &self,
        model: Model<'_>,
        limit: usize,
    ) -> Result<Vec<Quarantined>, StoreError> {
        model.check()?;
        let limit = i64::try_from(limit.clamp(1, 10_000)).unwrap_or(10_000);
        let rows = self
            .backend
            .query(
                LIST,
                vec![
                    Val::text(model.connection),
                    Val::text(model.name),
                    Val::int(limit),
                ],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut it = row.into_iter();
            let mut next = || it.next().unwrap_or(Val::Int(None));
            let page = next().as_int().unwrap_or(0).max(0) as u64;
            let index = next().as_int().unwrap_or(0).max(0) as u64;
            let reason = next().into_text().unwrap_or_default();
            let key_id = next().into_text().unwrap_or_default();
            let data = next().into_bytes().unwrap_or_default();
            let run_started = next().as_int().unwrap_or(0);
            let data = if key_id == CLEAR {
                serde_json::from_slice(&data).map_err(StoreError::database)?
            } else {
                let plain =
                    self.keys
                        .open(&bound(&model, run_started, page, index), &key_id, &data)?;
                serde_json::from_slice(&plain).map_err(StoreError::database)?
            };
            out.push(Quarantined {
                page,
                index,
                reason,
                data,
            });
        }
        Ok(out)
    }
}

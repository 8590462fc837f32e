//! One sync run: pages read through the connection within the budget, each stored with the
//! checkpoint after it; finished (deletes of a complete full run) or failed (nothing
//! deleted, the checkpoint kept for the next run).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use terapi_runtime::client::{Connection, ListingOptions, PagePosition};
use terapi_runtime::paginate::value_at;
use terapi_store::{
    DEFAULT_RUN_LEASE, DeleteGuard, Model, Quarantined, RunCounts, RunKind, Store, StoreError,
    SyncRun,
};

use crate::budget::RateBudget;
use crate::error::SyncError;
use terapi_runtime::sync::SyncSpec;

/// Where a run stands, as saved with every page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    /// The listing's next page (of the parent in progress, for a child model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<PagePosition>,
    /// The parent whose listing is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    /// The last parent whose listing is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_parent: Option<String>,
    /// Every page was stored: only the finish is left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    done: bool,
    /// The number of records the listing states (its last page's), for the check at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}

/// What a run reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The model.
    pub model: String,
    /// The run's counts so far (pages included).
    pub counts: RunCounts,
    /// Whether it continues an interrupted run.
    pub resumed: bool,
}

/// A progress callback.
pub type OnProgress = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How to run a sync.
#[derive(Clone)]
pub struct SyncOptions {
    /// Full or incremental (a spec without an incremental filter always runs full).
    pub kind: RunKind,
    /// The model's lease, renewed with every page.
    pub lease: Duration,
    /// The connection's budget (shared by its syncs); `None`: one from the spec.
    pub budget: Option<Arc<RateBudget>>,
    /// Called after every page.
    pub progress: Option<OnProgress>,
    /// A scheduled model whose run failed is due again after this.
    pub retry_in: Duration,
    /// At most this many pages per listing (a server that never ends one). `None` (the
    /// default): [`default_max_pages`] of the model's last complete full run.
    pub max_pages: Option<u64>,
    /// A full run applies its deletions however many (else more than the spec's
    /// `max_delete_percent`, or every record after an empty listing, are held).
    pub allow_mass_delete: bool,
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("kind", &self.kind)
            .field("lease", &self.lease)
            .field("retry_in", &self.retry_in)
            .field("max_pages", &self.max_pages)
            .field("allow_mass_delete", &self.allow_mass_delete)
            .finish_non_exhaustive()
    }
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            kind: RunKind::Incremental,
            lease: DEFAULT_RUN_LEASE,
            budget: None,
            progress: None,
            retry_in: Duration::from_secs(60),
            max_pages: None,
            allow_mass_delete: false,
        }
    }
}

impl SyncOptions {
    /// A full run.
    pub fn full() -> Self {
        SyncOptions {
            kind: RunKind::Full,
            ..SyncOptions::default()
        }
    }

    /// An incremental run (full when there was no complete run yet).
    pub fn incremental() -> Self {
        SyncOptions::default()
    }

    /// With this progress callback.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// With this (shared) budget.
    pub fn budget(mut self, budget: Arc<RateBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// With this lease.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// A full run applies its deletions however many (an operator's explicit choice).
    pub fn allow_mass_delete(mut self, allow: bool) -> Self {
        self.allow_mass_delete = allow;
        self
    }
}

/// The page cap of a listing when [`SyncOptions::max_pages`] sets none: ten times the pages
/// of the model's last complete full run, at least 1,000; 1,000,000 before any.
pub fn default_max_pages(last_full_pages: Option<u64>) -> u64 {
    match last_full_pages {
        Some(pages) => pages.saturating_mul(10).max(1_000),
        None => 1_000_000,
    }
}

/// What a completed run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The model.
    pub model: String,
    /// Whether it was a full run.
    pub full: bool,
    /// Whether it continued an interrupted run.
    pub resumed: bool,
    /// Its counts (an interrupted run's pages included).
    pub counts: RunCounts,
    /// The change feed's cursor after it.
    pub cursor: u64,
    /// The records set aside because of their ids (the first 100; `counts.quarantined`
    /// has them all), each with its page and index.
    pub quarantined: Vec<Quarantined>,
}

/// How many set-aside records a report lists.
const REPORTED_QUARANTINE: usize = 100;

/// Runs a sync of `spec` for the connection `connection_id` (whose client is `conn`),
/// storing into `store`. [`terapi_store::StoreError::Busy`] when another process runs it.
pub async fn sync(
    store: &Store,
    conn: &Connection,
    connection_id: &str,
    spec: &SyncSpec,
    options: SyncOptions,
) -> Result<SyncReport, SyncError> {
    spec.check()?;
    let model = Model {
        connection: connection_id,
        name: &spec.model,
        personal: spec.personal,
    };
    let kind = if spec.incremental.is_none() {
        RunKind::Full
    } else {
        options.kind
    };
    let max_pages = match options.max_pages {
        Some(max) => max,
        None => default_max_pages(
            store
                .sync_status(model)
                .await?
                .and_then(|s| s.last_full_pages),
        ),
    };
    let mut run = store.begin_run(model, kind, options.lease).await?;
    let budget = options
        .budget
        .clone()
        .unwrap_or_else(|| Arc::new(RateBudget::new(spec.budget)));
    let cx = Cx {
        store,
        conn,
        spec,
        budget: &budget,
        options: &options,
        max_pages,
        total: Mutex::new(None),
    };
    match cx.pages(&mut run).await {
        Ok(()) => {
            if let Some(e) = cx.incomplete(&run) {
                // Not complete: nothing deleted, and the next run lists again from the start.
                let _ = store
                    .abandon_run(run, &e.to_string(), options.retry_in)
                    .await;
                return Err(e);
            }
            let full = run.is_full();
            let resumed = run.resumed;
            let guard = DeleteGuard {
                max_percent: spec.max_delete_percent,
                allow_mass_delete: options.allow_mass_delete,
            };
            let counts = store.finish_run_with(run, guard).await?;
            let cursor = store
                .sync_status(model)
                .await?
                .map(|s| s.cursor)
                .unwrap_or(0);
            let quarantined = if counts.quarantined > 0 {
                store.quarantined(model, REPORTED_QUARANTINE).await?
            } else {
                Vec::new()
            };
            Ok(SyncReport {
                model: spec.model.to_string(),
                full,
                resumed,
                counts,
                cursor,
                quarantined,
            })
        }
        Err(e) => {
            // The checkpoint stays; nothing is marked deleted. A lost lease is not ours
            // to end.
            if !matches!(
                e,
                SyncError::Store(terapi_store::StoreError::LeaseLost { .. })
            ) {
                let _ = store.fail_run(run, &e.to_string(), options.retry_in).await;
            }
            Err(e)
        }
    }
}

struct Cx<'a> {
    store: &'a Store,
    conn: &'a Connection,
    spec: &'a SyncSpec,
    budget: &'a RateBudget,
    options: &'a SyncOptions,
    /// The page cap of each listing.
    max_pages: u64,
    /// The number of records the (top-level) listing states, from its last page.
    total: Mutex<Option<u64>>,
}

impl Cx<'_> {
    fn listing(&self, run: &SyncRun) -> ListingOptions {
        let mut listing = ListingOptions::default();
        if let Some(p) = &self.spec.pagination {
            listing = listing.pagination(p.clone());
        }
        if let Some(limit) = self.spec.limit {
            listing = listing.limit(limit);
        }
        listing = listing
            .max_pages(self.max_pages)
            .id_path(self.spec.id_path.as_ref());
        if let Some(path) = &self.spec.total_path {
            listing = listing.total_path(path.as_ref());
        }
        if let Some(path) = &self.spec.total_pages_path {
            listing = listing.total_pages_path(path.as_ref());
        }
        for (k, v) in &self.spec.query {
            listing = listing.query(k.as_ref(), v.as_ref());
        }
        if !run.is_full()
            && let (Some(inc), Some(since)) = (&self.spec.incremental, run.since)
        {
            let from = since
                .checked_sub(inc.overlap)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            listing = listing.query(inc.param.as_ref(), inc.format.write(from));
        }
        listing
    }

    async fn pages(&self, run: &mut SyncRun) -> Result<(), SyncError> {
        let position: Position = match run.position.as_deref() {
            None => Position::default(),
            Some(text) => serde_json::from_str(text).map_err(|e| SyncError::Checkpoint {
                model: self.spec.model.to_string(),
                message: e.to_string(),
            })?,
        };
        if position.total.is_some() {
            self.set_total(position.total);
        }
        if position.done {
            return Ok(());
        }
        let listing = self.listing(run);
        let Some(parent) = &self.spec.parent else {
            return self
                .walk(
                    run,
                    &listing,
                    self.spec.endpoint.to_string(),
                    position.page,
                    None,
                    None,
                )
                .await;
        };
        let mut after = position.after_parent.clone();
        if let Some(current) = position.parent.clone() {
            let endpoint = parent.endpoint.replace("{id}", &encode(&current));
            self.walk(
                run,
                &listing,
                endpoint,
                position.page,
                Some(&current),
                after.as_deref(),
            )
            .await?;
            after = Some(current);
        }
        let connection = run.model().connection.to_owned();
        loop {
            let parents = Model {
                connection: &connection,
                name: &parent.model,
                personal: self.spec.personal,
            };
            let batch = self.store.records(parents, after.as_deref(), 200).await?;
            if batch.is_empty() {
                return Ok(());
            }
            for record in batch {
                let endpoint = parent.endpoint.replace("{id}", &encode(&record.id));
                self.walk(
                    run,
                    &listing,
                    endpoint,
                    None,
                    Some(&record.id),
                    after.as_deref(),
                )
                .await?;
                after = Some(record.id);
            }
        }
    }

    /// Walks one listing from `from`, storing each page with the position after it.
    async fn walk(
        &self,
        run: &mut SyncRun,
        listing: &ListingOptions,
        endpoint: String,
        from: Option<PagePosition>,
        parent: Option<&str>,
        after_parent: Option<&str>,
    ) -> Result<(), SyncError> {
        let mut walk = self.conn.walk(endpoint, listing.clone(), from.as_ref())?;
        loop {
            self.budget.acquire().await;
            let fetched_at = SystemTime::now();
            let page = match walk.next_page().await {
                Ok(Some(page)) => page,
                Ok(None) => return Ok(()),
                // A parent deleted since the parents were synced has no listing; any other
                // 404 fails the run (its children are not deleted).
                Err(e) if parent.is_some() && e.status() == Some(404) => {
                    return self.parent_gone(parent.unwrap_or_default()).await;
                }
                Err(e) => {
                    if e.status() == Some(429) {
                        self.budget.refused(None);
                    }
                    return Err(e.into());
                }
            };
            self.budget.observe(&page.rate);
            // The incremental cursor follows the provider's clock: its `Date`; without a
            // readable one, the newest change the page shows (the provider's clock was at
            // least there); with neither, an incremental run keeps its cursor.
            let received = SystemTime::now();
            match page.date.or_else(|| self.newest_change(&page.records)) {
                Some(provider) => run.observe_clock(provider, received),
                None => {
                    if !run.is_full()
                        && let Some(since) = run.since
                    {
                        run.observe_clock(since, run.started_at());
                    }
                }
            }
            if parent.is_none() && page.total.is_some() {
                self.set_total(page.total);
            }
            let total = if parent.is_none() {
                self.stated_total()
            } else {
                None
            };
            let page_number = run.counts.pages + 1;
            let mut records = Vec::with_capacity(page.records.len());
            for (index, record) in page.records.into_iter().enumerate() {
                // A record whose id is missing or refused is set aside; the rest is stored.
                match terapi_store::record_id(value_at(&record, &self.spec.id_path)) {
                    Ok(id) => records.push((id, record)),
                    Err(e) => {
                        let reason = quarantine_reason(e, &self.spec.id_path);
                        run.quarantine(page_number, index, reason, record);
                    }
                }
            }
            let last = page.next.is_none();
            let next = match (page.next, parent) {
                (Some(p), _) => Position {
                    page: Some(p),
                    parent: parent.map(str::to_owned),
                    after_parent: after_parent.map(str::to_owned),
                    done: false,
                    total,
                },
                (None, Some(pid)) => Position {
                    after_parent: Some(pid.to_owned()),
                    ..Position::default()
                },
                (None, None) => Position {
                    done: true,
                    total,
                    ..Position::default()
                },
            };
            let next = serde_json::to_string(&next).map_err(|e| SyncError::Checkpoint {
                model: self.spec.model.to_string(),
                message: e.to_string(),
            })?;
            self.store
                .write_page(run, records, Some(next), fetched_at)
                .await?;
            if let Some(progress) = &self.options.progress {
                progress(&Progress {
                    model: self.spec.model.to_string(),
                    counts: run.counts,
                    resumed: run.resumed,
                });
            }
            if last {
                return Ok(());
            }
        }
    }
}

impl Cx<'_> {
    /// The newest change time the records state at the spec's `updated_path` (RFC 3339).
    fn newest_change(&self, records: &[Value]) -> Option<SystemTime> {
        let path = self.spec.updated_path.as_deref()?;
        records
            .iter()
            .filter_map(|r| value_at(r, path)?.as_str())
            .filter_map(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .max()
            .map(SystemTime::from)
    }

    fn set_total(&self, total: Option<u64>) {
        if let Ok(mut t) = self.total.lock() {
            *t = total;
        }
    }

    fn stated_total(&self) -> Option<u64> {
        self.total.lock().ok().and_then(|t| *t)
    }

    /// A top-level listing whose record count differs from the total its pages state.
    fn incomplete(&self, run: &SyncRun) -> Option<SyncError> {
        if self.spec.parent.is_some() {
            return None;
        }
        let stated = self.stated_total()?;
        // Records set aside for their ids were listed too.
        let listed =
            run.counts.added + run.counts.updated + run.counts.unchanged + run.counts.quarantined;
        (listed != stated).then(|| SyncError::Incomplete {
            model: self.spec.model.to_string(),
            listed,
            stated,
        })
    }

    /// The listing of `parent`'s children answered 404: `Ok` (its children are gone with
    /// it) only when the parent's own record answers 404 too; else the run fails.
    async fn parent_gone(&self, parent: &str) -> Result<(), SyncError> {
        let template = self.spec.parent.as_ref().and_then(|p| p.fetch_one.as_ref());
        let reason = match template {
            None => "the spec has no endpoint to fetch the parent record and confirm it is gone"
                .to_owned(),
            Some(template) => {
                self.budget.acquire().await;
                let endpoint = template.replace("{id}", &encode(parent));
                match self.conn.get(endpoint).send().await {
                    Err(e) if e.status() == Some(404) => return Ok(()),
                    Ok(response) => format!("its own record answered {}", response.status()),
                    Err(e) => {
                        if e.status() == Some(429) {
                            self.budget.refused(None);
                        }
                        format!("its own record could not be fetched: {e}")
                    }
                }
            }
        };
        Err(SyncError::ParentListing {
            model: self.spec.model.to_string(),
            parent: parent.escape_default().to_string(),
            reason,
        })
    }
}

/// A record's id at `path`: a string, or an integer written in decimal, checked
/// ([`terapi_store::record_id`]: the same normalization as the sync's).
pub(crate) fn record_id(record: &Value, path: &str) -> Option<String> {
    terapi_store::record_id(value_at(record, path)).ok()
}

/// Why a record is set aside: its id at `path` and the rule it breaks.
fn quarantine_reason(e: StoreError, path: &str) -> String {
    match e {
        StoreError::InvalidRecordId { id, rule } if id.is_empty() => {
            format!("the id at `{path}`: {rule}")
        }
        StoreError::InvalidRecordId { id, rule } => format!("the id `{id}` at `{path}`: {rule}"),
        other => other.to_string(),
    }
}

/// An id as a path segment.
pub(crate) fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn record_ids() {
        let v1 = json!({"attributes": {"id": {"value": 42}}});
        assert_eq!(record_id(&v1, "attributes.id.value").as_deref(), Some("42"));
        assert_eq!(
            record_id(&json!({"id": "p-1"}), "id").as_deref(),
            Some("p-1")
        );
        assert_eq!(record_id(&json!({"id": ""}), "id"), None);
        assert_eq!(record_id(&json!({"id": null}), "id"), None);
        assert_eq!(record_id(&json!({"x": 1}), "id"), None);
    }

    #[test]
    fn the_page_cap_follows_the_last_full_run() {
        assert_eq!(default_max_pages(None), 1_000_000);
        assert_eq!(default_max_pages(Some(0)), 1_000);
        assert_eq!(default_max_pages(Some(3)), 1_000);
        assert_eq!(default_max_pages(Some(500)), 5_000);
        assert_eq!(default_max_pages(Some(u64::MAX)), u64::MAX);
        assert_eq!(SyncOptions::default().max_pages, None);
    }

    #[test]
    fn ids_are_path_segments() {
        assert_eq!(encode("12"), "12");
        assert_eq!(encode("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(encode(".."), "..");
    }

    #[test]
    fn positions_round_trip_and_refuse_foreign_ones() {
        let p = Position {
            page: Some(PagePosition {
                url: "https://api.example/x?offset=100".into(),
                offset: 100,
                pages: 1,
            }),
            parent: Some("7".into()),
            after_parent: Some("6".into()),
            done: false,
            total: Some(250),
        };
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Position>(&text).unwrap(), p);
        assert_eq!(
            serde_json::from_str::<Position>("{}").unwrap(),
            Position::default()
        );
        assert!(serde_json::from_str::<Position>(r#"{"cursor": 1}"#).is_err());
    }
}

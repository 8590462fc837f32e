//! Synced records, runs, the schedule and webhook events, the same suite on each database:
//! SQLite in memory, a SQLite file, PostgreSQL (see `support`).

use terapi_test_support::db as support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use support::Kind;
use terapi_store::{
    Applied, ChangeKind, DeleteGuard, EventStatus, Keys, Model, NewEvent, RunKind, Store,
    StoreError, Webhook,
};

const LEASE: Duration = Duration::from_secs(60);

fn keys() -> Keys {
    Keys::new("a", &[7; 32]).unwrap()
}

async fn open(url: &str) -> Store {
    Store::open(url, keys())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

fn person(i: u32, name: &str) -> (String, Value) {
    (
        i.to_string(),
        json!({"id": i, "name": name, "email": format!("p{i}@secret.example")}),
    )
}

fn page(range: std::ops::RangeInclusive<u32>, name: &str) -> Vec<(String, Value)> {
    range.map(|i| person(i, name)).collect()
}

const M: Model<'static> = Model {
    connection: "c1",
    name: "employees",
    personal: true,
};

async fn all_changes(store: &Store, cursor: u64) -> Vec<terapi_store::Change> {
    use futures_util::TryStreamExt as _;
    store
        .changes_since(M, cursor)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
}

/// A full run, its counts, the change feed; a second run of the same data changes nothing;
/// a changed record is updated; one not seen by a complete full run is deleted, and comes
/// back as added.
async fn full_runs_detect_changes_and_deletes(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    assert!(run.is_full() && !run.resumed && run.position.is_none());
    let now = SystemTime::now();
    let c = store
        .write_page(&mut run, page(1..=50, "a"), Some("p2".into()), now)
        .await
        .unwrap();
    assert_eq!((c.added, c.updated, c.unchanged), (50, 0, 0));
    store
        .write_page(&mut run, page(51..=80, "a"), None, now)
        .await
        .unwrap();
    let counts = store.finish_run(run).await.unwrap();
    assert_eq!(
        (
            counts.added,
            counts.updated,
            counts.unchanged,
            counts.deleted,
            counts.pages
        ),
        (80, 0, 0, 0, 2)
    );
    let changes = all_changes(&store, 0).await;
    assert_eq!(changes.len(), 80);
    assert!(changes.iter().all(|c| c.kind == ChangeKind::Added));
    let cursor = changes.last().unwrap().cursor;
    // The cursors increase strictly.
    assert!(changes.windows(2).all(|w| w[0].cursor < w[1].cursor));

    // The same data again: nothing changes, nothing in the feed.
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    let mut data = page(1..=80, "a");
    // Record 7 changed; record 80 is gone.
    data[6] = person(7, "changed");
    data.pop();
    store
        .write_page(&mut run, data, None, SystemTime::now())
        .await
        .unwrap();
    let counts = store.finish_run(run).await.unwrap();
    assert_eq!(
        (
            counts.added,
            counts.updated,
            counts.unchanged,
            counts.deleted
        ),
        (0, 1, 78, 1)
    );
    let changes = all_changes(&store, cursor).await;
    let kinds: Vec<(ChangeKind, &str)> = changes.iter().map(|c| (c.kind, c.id.as_str())).collect();
    assert_eq!(
        kinds,
        [(ChangeKind::Updated, "7"), (ChangeKind::Deleted, "80")]
    );
    assert_eq!(changes[0].data.as_ref().unwrap()["name"], "changed");
    assert_eq!(changes[1].data, None);
    // Each change says when its record was first seen, when it was deleted, and the cursor
    // it was last added at (before the read's cursor: not new to that reader).
    let (updated, deleted) = (&changes[0], &changes[1]);
    assert!(updated.first_seen_ms > 0 && updated.first_seen_ms <= updated.at_ms);
    assert!(updated.added_cursor >= 1 && updated.added_cursor <= cursor);
    assert_eq!(updated.deleted_at_ms, None);
    assert_eq!(deleted.deleted_at_ms, Some(deleted.at_ms));
    assert!(deleted.first_seen_ms <= deleted.at_ms);
    assert_eq!(store.count_records(M).await.unwrap(), 79);
    let gone = store.record(M, "80").await.unwrap().unwrap();
    assert!(gone.deleted_at.is_some());
    let cursor = changes.last().unwrap().cursor;

    // It comes back: added again.
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    store
        .write_page(&mut run, page(1..=80, "a"), None, SystemTime::now())
        .await
        .unwrap();
    let counts = store.finish_run(run).await.unwrap();
    assert_eq!((counts.added, counts.updated, counts.deleted), (1, 1, 0));
    let changes = all_changes(&store, cursor).await;
    let kinds: BTreeSet<(String, &str)> = changes
        .iter()
        .map(|c| (format!("{:?}", c.kind), c.id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([("Updated".to_owned(), "7"), ("Added".to_owned(), "80")])
    );
    let back = changes.iter().find(|c| c.id == "80").unwrap();
    assert!(back.added_cursor > cursor, "added again after the cursor");
    assert_eq!(back.deleted_at_ms, None);
    let first = changes.iter().find(|c| c.id == "7").unwrap();
    assert!(first.added_cursor < cursor);
    assert!(
        store
            .record(M, "80")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_none()
    );
}

/// A failed run deletes nothing, keeps its checkpoint, and the next run resumes it (with its
/// generation): its completion then deletes what neither part saw.
async fn failed_runs_delete_nothing_and_resume(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    store
        .write_page(&mut run, page(1..=100, "a"), None, SystemTime::now())
        .await
        .unwrap();
    store.finish_run(run).await.unwrap();

    // Half a run, then a failure.
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    store
        .write_page(
            &mut run,
            page(1..=40, "a"),
            Some("page-2".into()),
            SystemTime::now(),
        )
        .await
        .unwrap();
    store
        .fail_run(run, "HTTP 500 from the provider", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        store.count_records(M).await.unwrap(),
        100,
        "nothing deleted"
    );
    let status = store.sync_status(M).await.unwrap().unwrap();
    assert_eq!(
        status.last_error.as_deref(),
        Some("HTTP 500 from the provider")
    );
    assert_eq!(status.in_progress, Some((true, 1)));
    assert!(!status.leased);

    // Even an incremental request finishes the interrupted full run first.
    let mut run = store
        .begin_run(M, RunKind::Incremental, LEASE)
        .await
        .unwrap();
    assert!(run.resumed && run.is_full());
    assert_eq!(run.position.as_deref(), Some("page-2"));
    assert_eq!(run.counts.added + run.counts.unchanged, 40);
    // The rest of the listing: 41..=90 (91..=100 are gone at the provider).
    store
        .write_page(&mut run, page(41..=90, "a"), None, SystemTime::now())
        .await
        .unwrap();
    let counts = store.finish_run(run).await.unwrap();
    assert_eq!(counts.deleted, 10);
    assert_eq!(counts.unchanged, 90);
    assert_eq!(store.count_records(M).await.unwrap(), 90);
    let status = store.sync_status(M).await.unwrap().unwrap();
    assert!(status.in_progress.is_none() && status.last_error.is_none());
    assert!(status.since.is_some() && status.last_full_at.is_some());
}

/// Incremental runs: the cursor is the start of the last complete run; they never delete.
async fn incremental_runs_never_delete(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    // No complete run yet: an incremental run is full.
    let run = store
        .begin_run(M, RunKind::Incremental, LEASE)
        .await
        .unwrap();
    assert!(run.is_full());
    let started = run.started_at();
    let mut run = run;
    store
        .write_page(&mut run, page(1..=10, "a"), None, SystemTime::now())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.finish_run(run).await.unwrap();
    let mut run = store
        .begin_run(M, RunKind::Incremental, LEASE)
        .await
        .unwrap();
    assert!(!run.is_full());
    // The cursor is when the previous run started, not when it ended.
    assert_eq!(run.since, Some(started));
    store
        .write_page(&mut run, vec![person(3, "b")], None, SystemTime::now())
        .await
        .unwrap();
    let counts = store.finish_run(run).await.unwrap();
    assert_eq!((counts.updated, counts.deleted), (1, 0));
    assert_eq!(store.count_records(M).await.unwrap(), 10);
}

/// One run per model at a time: a second process is refused while the lease is live; a
/// run whose lease was taken over writes nothing more.
async fn one_run_at_a_time(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let a = open(&db.url).await;
    let b = if matches!(kind, Kind::Memory) {
        a.clone().with_lease(LEASE)
    } else {
        open(&db.url).await
    };
    let mut run = a
        .begin_run(M, RunKind::Full, Duration::from_millis(300))
        .await
        .unwrap();
    if !matches!(kind, Kind::Memory) {
        let e = b.begin_run(M, RunKind::Full, LEASE).await.unwrap_err();
        assert!(matches!(e, StoreError::Busy { .. }), "{e}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        // The lease expired: another process takes over, resuming the run.
        let taken = b.begin_run(M, RunKind::Full, LEASE).await.unwrap();
        assert!(taken.resumed);
        let e = a
            .write_page(&mut run, page(1..=5, "a"), None, SystemTime::now())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::LeaseLost { .. }), "{e}");
        assert_eq!(b.count_records(M).await.unwrap(), 0);
    }
    // Another model is independent.
    let other = Model {
        name: "persons",
        ..M
    };
    b.begin_run(other, RunKind::Full, LEASE).await.unwrap();
}

/// Webhook writes: an older observation never overwrites a newer one; a deletion of a
/// missing record is `Absent`; the same data twice is unchanged.
async fn applied_records_keep_the_newest(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let t0 = SystemTime::now();
    let later = t0 + Duration::from_secs(10);
    let (id, v1) = person(1, "one");
    let (_, v2) = person(1, "two");
    assert_eq!(
        store.apply_record(M, &id, Some(&v2), later).await.unwrap(),
        Applied::Added
    );
    assert_eq!(
        store.apply_record(M, &id, Some(&v1), t0).await.unwrap(),
        Applied::Stale
    );
    assert_eq!(
        store.apply_record(M, &id, Some(&v2), later).await.unwrap(),
        Applied::Unchanged
    );
    assert_eq!(
        store.record(M, &id).await.unwrap().unwrap().data["name"],
        "two"
    );
    assert_eq!(
        store.apply_record(M, "9", None, later).await.unwrap(),
        Applied::Absent
    );
    assert_eq!(
        store.apply_record(M, &id, None, t0).await.unwrap(),
        Applied::Stale
    );
    assert_eq!(
        store
            .apply_record(M, &id, None, later + Duration::from_secs(1))
            .await
            .unwrap(),
        Applied::Deleted
    );
    // A sync page fetched before the deletion was observed does not bring it back.
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    let c = store
        .write_page(&mut run, vec![person(1, "two")], None, t0)
        .await
        .unwrap();
    assert_eq!(c.unchanged, 1);
    assert!(
        store
            .record(M, &id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
}

/// Personal records are sealed: the database holds no record text in clear.
async fn personal_records_are_encrypted(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    if matches!(kind, Kind::Memory) {
        return;
    }
    let store = open(&db.url).await;
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    store
        .write_page(
            &mut run,
            page(1..=3, "Ada Lovelace"),
            None,
            SystemTime::now(),
        )
        .await
        .unwrap();
    store.finish_run(run).await.unwrap();
    let public = Model::public("c1", "offices");
    store
        .apply_record(
            public,
            "o1",
            Some(&json!({"city": "Munich"})),
            SystemTime::now(),
        )
        .await
        .unwrap();
    drop(store);
    let dump = support::dump(&db).await;
    // pg_dump writes BYTEA in hex: search for both forms.
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    for secret in ["Ada Lovelace", "secret.example"] {
        assert!(!support::contains(&dump, secret), "{secret}");
        assert!(!support::contains(&dump, &hex(secret)), "{secret}");
    }
    assert!(
        support::contains(&dump, "Munich") || support::contains(&dump, &hex("Munich")),
        "public models stay readable (the search finds what is there)"
    );
    // Another key cannot read them.
    let other = Store::open(&db.url, Keys::new("a", &[8; 32]).unwrap())
        .await
        .unwrap();
    let e = other.records(M, None, 10).await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
}

/// The schedule: eight workers claim twenty due models at once; each model goes to exactly
/// one of them.
async fn due_models_go_to_one_worker_each(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let first = open(&db.url).await;
    let names: Vec<String> = (0..20).map(|i| format!("model-{i:02}")).collect();
    let past = SystemTime::now() - Duration::from_secs(1);
    for name in &names {
        first
            .schedule(Model::personal("c1", name), Duration::from_secs(3600), past)
            .await
            .unwrap();
    }
    let mut workers = Vec::new();
    for _ in 0..8 {
        let store = if matches!(kind, Kind::Memory) {
            first.clone()
        } else {
            open(&db.url).await
        };
        workers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(due) = store.claim_due(LEASE).await.unwrap() {
                got.push(due.model);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort();
    assert_eq!(all, names, "each due model claimed exactly once");
    // Completing a run schedules the next one an interval later.
    let m = Model::personal("c1", "model-00");
    let run = first.begin_run(m, RunKind::Full, LEASE).await;
    // The claim was another handle's (in a file or PostgreSQL): its lease blocks this one.
    if let Ok(run) = run {
        first.finish_run(run).await.unwrap();
        let status = first.sync_status(m).await.unwrap().unwrap();
        assert!(status.next_due.unwrap() > SystemTime::now() + Duration::from_secs(3000));
    }
}

/// Events: stored once per dedupe key, claimed by one worker, finished, listed.
async fn events_dedupe_and_claim(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let webhook = Webhook {
        id: "wh-1".into(),
        connection: "c1".into(),
        url: "https://example.com/hook".into(),
        events: vec!["person.updated".into()],
        company_id: None,
        created_at_ms: 1,
    };
    store
        .save_webhook(&webhook, "Bearer tok-123")
        .await
        .unwrap();
    assert_eq!(
        store.webhook_for_token("Bearer tok-123").await.unwrap(),
        Some(webhook.clone())
    );
    assert_eq!(
        store.webhook_for_token("Bearer tok-124").await.unwrap(),
        None
    );
    store.pin_webhook_company("wh-1", "42").await.unwrap();
    store.pin_webhook_company("wh-1", "43").await.unwrap();
    assert_eq!(
        store.webhooks(Some("c1")).await.unwrap()[0]
            .company_id
            .as_deref(),
        Some("42")
    );
    let event = |dedupe: &str, at: i64| NewEvent {
        connection: "c1".into(),
        webhook_id: "wh-1".into(),
        dedupe: dedupe.into(),
        event_name: "person.updated".into(),
        occurred_at_ms: at,
        envelope: json!({"payload": {"id": "1"}}),
    };
    let ids = store
        .put_events(&[event("a", 2), event("a", 2), event("b", 1)])
        .await
        .unwrap();
    assert!(ids[0].is_some() && ids[1].is_none() && ids[2].is_some());
    assert_eq!(store.put_event(&event("a", 2)).await.unwrap(), None);
    let claimed = store.claim_events(10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].occurred_at_ms, 1, "oldest first");
    assert!(store.claim_events(10, LEASE).await.unwrap().is_empty());
    store
        .finish_event(claimed[0].id, EventStatus::Applied, None, Duration::ZERO)
        .await
        .unwrap();
    store
        .finish_event(
            claimed[1].id,
            EventStatus::Pending,
            Some("HTTP 503"),
            Duration::ZERO,
        )
        .await
        .unwrap();
    let again = store.claim_events(10, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].error.as_deref(), Some("HTTP 503"));
    let listed = store.events("c1", 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(store.remove_webhook("wh-1").await.unwrap());
    assert_eq!(
        store.webhook_for_token("Bearer tok-123").await.unwrap(),
        None
    );
}

/// Records written under one key and seen again under a new one (the old kept for reading):
/// unchanged, no change in the feed; re-sealed with the new key.
async fn records_survive_a_key_rotation(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    if matches!(kind, Kind::Memory) {
        return;
    }
    let old = open(&db.url).await;
    let mut run = old.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    old.write_page(&mut run, page(1..=20, "a"), None, SystemTime::now())
        .await
        .unwrap();
    old.finish_run(run).await.unwrap();
    let cursor = old.sync_status(M).await.unwrap().unwrap().cursor;
    drop(old);
    let rotated = Keys::new("b", &[9; 32])
        .unwrap()
        .with_older("a", &[7; 32])
        .unwrap();
    let store = Store::open(&db.url, rotated).await.unwrap();
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    let mut data = page(1..=20, "a");
    data[4] = person(5, "changed");
    let c = store
        .write_page(&mut run, data, None, SystemTime::now())
        .await
        .unwrap();
    assert_eq!((c.added, c.updated, c.unchanged), (0, 1, 19));
    store.finish_run(run).await.unwrap();
    let changes = all_changes(&store, cursor).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].id, "5");
    // Re-sealed under the new key: the new key alone reads them.
    drop(store);
    let only_new = Store::open(&db.url, Keys::new("b", &[9; 32]).unwrap())
        .await
        .unwrap();
    assert_eq!(only_new.records(M, None, 100).await.unwrap().len(), 20);
}

/// One full run of `records` (one page), finished with `guard`: its (deleted, held).
async fn full_run_of(
    store: &Store,
    records: Vec<(String, Value)>,
    guard: DeleteGuard,
) -> (u64, u64) {
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    store
        .write_page(&mut run, records, None, SystemTime::now())
        .await
        .unwrap();
    let counts = store.finish_run_with(run, guard).await.unwrap();
    (counts.deleted, counts.held)
}

/// A full run that would delete more than its guard's share (10% by default), or that
/// listed nothing, holds its deletions: the run completes, nothing leaves the store or the
/// change feed; the next complete full run deletes what both missed, whatever the number,
/// and judges what only it misses by its own guard; `allow_mass_delete` applies them all.
async fn mass_deletions_are_held(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let default = DeleteGuard::default();
    assert_eq!(
        full_run_of(&store, page(1..=100, "a"), default).await,
        (0, 0)
    );
    let cursor = store.sync_status(M).await.unwrap().unwrap().cursor;

    // An empty listing: all 100 held, none deleted.
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    store
        .write_page(&mut run, Vec::new(), None, SystemTime::now())
        .await
        .unwrap();
    let counts = store.finish_run(run).await.unwrap();
    assert_eq!((counts.deleted, counts.held), (0, 100));
    assert_eq!(store.count_records(M).await.unwrap(), 100);
    assert!(
        all_changes(&store, cursor).await.is_empty(),
        "no deletion in the feed"
    );
    let status = store.sync_status(M).await.unwrap().unwrap();
    assert_eq!(status.held_deletions, 100);
    assert!(status.in_progress.is_none() && status.last_full_at.is_some());

    // The next full run sees 1..=50: 51..=100 are missing from both, and go.
    assert_eq!(
        full_run_of(&store, page(1..=50, "a"), default).await,
        (50, 0)
    );
    assert_eq!(store.count_records(M).await.unwrap(), 50);
    assert_eq!(
        store.sync_status(M).await.unwrap().unwrap().held_deletions,
        0
    );

    // 6 of 50 (12%) missing: held. The next run lists 47 again: the other 5 are confirmed.
    assert_eq!(
        full_run_of(&store, page(1..=44, "a"), default).await,
        (0, 6)
    );
    let mut again = page(1..=44, "a");
    again.push(person(47, "a"));
    assert_eq!(full_run_of(&store, again, default).await, (5, 0));
    assert!(
        store
            .record(M, "47")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_none(),
        "seen again: kept"
    );
    assert_eq!(store.count_records(M).await.unwrap(), 45);

    // A looser guard, and the operator's explicit choice.
    assert_eq!(
        full_run_of(&store, page(1..=40, "a"), DeleteGuard::max_percent(20)).await,
        (5, 0)
    );
    assert_eq!(
        full_run_of(&store, page(1..=10, "a"), DeleteGuard::allow_mass_delete()).await,
        (30, 0)
    );
    assert_eq!(store.count_records(M).await.unwrap(), 10);
    let status = store.sync_status(M).await.unwrap().unwrap();
    assert_eq!(status.last_full_pages, Some(1));

    // Even a guard of 100% holds an empty listing's deletions; a second consecutive empty
    // listing confirms them.
    let guard = DeleteGuard::max_percent(100);
    assert_eq!(full_run_of(&store, Vec::new(), guard).await, (0, 10));
    assert_eq!(full_run_of(&store, Vec::new(), guard).await, (10, 0));
    assert_eq!(store.count_records(M).await.unwrap(), 0);
}

/// An abandoned run (a listing that cannot be trusted) deletes nothing, records its error,
/// and the next run starts the listing over instead of resuming it.
async fn abandoned_runs_delete_nothing_and_start_over(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    assert_eq!(
        full_run_of(&store, page(1..=100, "a"), DeleteGuard::default()).await,
        (0, 0)
    );
    let mut run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    store
        .write_page(
            &mut run,
            page(1..=95, "a"),
            Some("done".into()),
            SystemTime::now(),
        )
        .await
        .unwrap();
    store
        .abandon_run(run, "95 records listed, 100 stated", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(store.count_records(M).await.unwrap(), 100);
    let status = store.sync_status(M).await.unwrap().unwrap();
    assert!(status.in_progress.is_none() && !status.leased);
    assert_eq!(
        status.last_error.as_deref(),
        Some("95 records listed, 100 stated")
    );
    let run = store.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    assert!(!run.resumed && run.position.is_none() && run.counts.pages == 0);
}

/// Runs `sql` on the database behind `db` (a SQLite file or PostgreSQL), as someone with
/// write access to it and no key would.
async fn tamper(db: &support::Db, sql: &str) {
    match (&db.file, &db.pg_database) {
        (Some((_, path)), _) => {
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute_batch(sql).unwrap();
        }
        (_, Some(_)) => support::pg_execute(&db.url, sql).await,
        _ => unreachable!("an in-memory store is not reachable from outside"),
    }
}

fn hook(id: &str, connection: &str) -> Webhook {
    Webhook {
        id: id.into(),
        connection: connection.into(),
        url: "https://example.com/hook".into(),
        events: vec!["person.updated".into()],
        company_id: None,
        created_at_ms: 1,
    }
}

fn new_event(dedupe: &str, at: i64) -> NewEvent {
    NewEvent {
        connection: "c1".into(),
        webhook_id: "wh-1".into(),
        dedupe: dedupe.into(),
        event_name: "person.updated".into(),
        occurred_at_ms: at,
        envelope: json!({"payload": {"id": "1"}, "secret": "ENVELOPE-77"}),
    }
}

/// Everything sealed, under the old key: a connection, 250 personal records (one deleted),
/// a public model's record, a webhook token and two events. A rotation re-encrypts each
/// kind (and says how many of each), then the new key alone reads everything, and a sync of
/// the same data finds nothing changed.
async fn a_rotation_covers_every_sealed_value(kind: Kind) {
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let old = open(&db.url).await;
    old.save_connection(
        "c1",
        &terapi_store::ConnectionRecord::new("personio", json!({}), json!({"client_secret": "S"})),
    )
    .await
    .unwrap();
    let now = SystemTime::now();
    let mut run = old.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    // A record set aside for its id: sealed like the records (a personal model).
    run.quarantine(
        1,
        150,
        "no id".into(),
        json!({"name": "QUARANTINED-SECRET"}),
    );
    old.write_page(&mut run, page(1..=150, "a"), Some("p2".into()), now)
        .await
        .unwrap();
    old.write_page(&mut run, page(151..=250, "a"), None, now)
        .await
        .unwrap();
    old.finish_run(run).await.unwrap();
    assert_eq!(
        old.apply_record(M, "250", None, now + Duration::from_secs(1))
            .await
            .unwrap(),
        Applied::Deleted
    );
    let public = Model::public("c1", "offices");
    old.apply_record(public, "o1", Some(&json!({"city": "Munich"})), now)
        .await
        .unwrap();
    old.save_webhook(&hook("wh-1", "c1"), "Bearer tok-rot")
        .await
        .unwrap();
    old.put_events(&[new_event("e1", 1), new_event("e2", 2)])
        .await
        .unwrap();
    let cursor = old.sync_status(M).await.unwrap().unwrap().cursor;
    drop(old);

    let ring = Keys::new("b", &[9; 32])
        .unwrap()
        .with_older("a", &[7; 32])
        .unwrap();
    let both = Store::open(&db.url, ring).await.unwrap();
    let done = both.rotate_key().await.unwrap();
    assert_eq!(
        (
            done.connections,
            done.pending,
            done.records,
            done.webhooks,
            done.events,
            done.quarantined,
            done.legacy
        ),
        (1, 0, 250, 1, 2, 1, 0),
        "{done:?}"
    );
    let again = both.rotate_key().await.unwrap();
    assert_eq!(
        again,
        terapi_store::Rotation::default(),
        "nothing left to do"
    );
    drop(both);

    // The old key retired: everything reads.
    let new = Store::open(&db.url, Keys::new("b", &[9; 32]).unwrap())
        .await
        .unwrap();
    assert_eq!(
        new.connection("c1").await.unwrap().record.credentials["client_secret"],
        "S"
    );
    assert_eq!(new.records(M, None, 1000).await.unwrap().len(), 249);
    let set_aside = new.quarantined(M, 10).await.unwrap();
    assert_eq!(set_aside.len(), 1);
    assert_eq!(set_aside[0].data["name"], "QUARANTINED-SECRET");
    assert!(
        new.record(M, "250")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
    assert_eq!(all_changes(&new, 0).await.len(), 250);
    assert_eq!(
        new.records(public, None, 10).await.unwrap()[0].data["city"],
        "Munich"
    );
    assert_eq!(
        new.webhook_for_token("Bearer tok-rot").await.unwrap(),
        Some(hook("wh-1", "c1"))
    );
    let events = new.events("c1", 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].envelope["secret"], "ENVELOPE-77");
    assert_eq!(new.claim_events(10, LEASE).await.unwrap().len(), 2);
    // The hashes were computed again under the new key: the same data is unchanged.
    let mut run = new.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    let c = new
        .write_page(&mut run, page(1..=249, "a"), None, SystemTime::now())
        .await
        .unwrap();
    assert_eq!((c.added, c.updated, c.unchanged), (0, 0, 249));
    new.finish_run(run).await.unwrap();
    assert_eq!(
        new.apply_record(
            public,
            "o1",
            Some(&json!({"city": "Munich"})),
            SystemTime::now()
        )
        .await
        .unwrap(),
        Applied::Unchanged
    );
    assert!(
        all_changes(&new, cursor).await.is_empty(),
        "no change in the feed"
    );
}

/// A rotation that stops half way (here: a record that does not open, in the second batch)
/// keeps the batches it committed; the next one continues.
async fn a_rotation_resumes(kind: Kind) {
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let old = open(&db.url).await;
    let mut run = old.begin_run(M, RunKind::Full, LEASE).await.unwrap();
    old.write_page(&mut run, page(1..=250, "a"), None, SystemTime::now())
        .await
        .unwrap();
    old.finish_run(run).await.unwrap();
    drop(old);
    // "99" is the last id in byte order: in the second batch of 200.
    let garbage = if db.pg_database.is_some() {
        "decode(repeat('00', 64), 'hex')"
    } else {
        "zeroblob(64)"
    };
    tamper(
        &db,
        &format!("UPDATE terapi_records SET data = {garbage} WHERE record_id = '99'"),
    )
    .await;
    let ring = || {
        Keys::new("b", &[9; 32])
            .unwrap()
            .with_older("a", &[7; 32])
            .unwrap()
    };
    let both = Store::open(&db.url, ring()).await.unwrap();
    let e = both.rotate_key().await.unwrap_err();
    assert!(
        matches!(e, StoreError::Crypto { .. }) && e.to_string().contains("`99`"),
        "{e}"
    );
    drop(both);
    // The first batch is under the new key.
    let new = Store::open(&db.url, Keys::new("b", &[9; 32]).unwrap())
        .await
        .unwrap();
    assert_eq!(new.records(M, None, 200).await.unwrap().len(), 200);
    // The broken record written again; the rotation continues with what is left.
    let both = Store::open(&db.url, ring()).await.unwrap();
    let (id, data) = person(99, "a");
    both.apply_record(M, &id, Some(&data), SystemTime::now())
        .await
        .unwrap();
    let done = both.rotate_key().await.unwrap();
    assert_eq!(done.records, 49, "{done:?}");
    assert_eq!(new.records(M, None, 1000).await.unwrap().len(), 250);
}

/// Records, webhook tokens and events are bound to the columns they are read by: moved to
/// another connection (or their event renamed, or retimed), they do not open.
async fn records_tokens_and_events_are_bound(kind: Kind) {
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let store = open(&db.url).await;
    store
        .apply_record(M, "1", Some(&person(1, "a").1), SystemTime::now())
        .await
        .unwrap();
    store
        .save_webhook(&hook("wh-1", "c1"), "Bearer tok-b")
        .await
        .unwrap();
    store.put_events(&[new_event("e1", 1)]).await.unwrap();
    tamper(
        &db,
        "INSERT INTO terapi_sync (connection_id, model, seq, generation, run_pages, run_added, run_updated, run_unchanged) VALUES ('c2', 'employees', 0, 0, 0, 0, 0, 0);
         UPDATE terapi_records SET connection_id = 'c2';
         UPDATE terapi_webhooks SET connection_id = 'c2';
         UPDATE terapi_events SET occurred_at = 5",
    )
    .await;
    let moved = Model::personal("c2", "employees");
    let e = store.records(moved, None, 10).await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
    let e = store.webhook_for_token("Bearer tok-b").await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
    let e = store.events("c1", 10).await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
    tamper(
        &db,
        "UPDATE terapi_events SET occurred_at = 1, event_name = 'person.deleted'",
    )
    .await;
    let e = store.events("c1", 10).await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");

    // A record set aside by a run is bound to its place: moved to another page, it does
    // not open.
    let other = Model::personal("c3", "employees");
    let mut run = store.begin_run(other, RunKind::Full, LEASE).await.unwrap();
    run.quarantine(1, 0, "no id".into(), json!({"name": "Q"}));
    store
        .write_page(&mut run, Vec::new(), None, SystemTime::now())
        .await
        .unwrap();
    assert_eq!(store.quarantined(other, 10).await.unwrap().len(), 1);
    tamper(&db, "UPDATE terapi_quarantine SET page = 2").await;
    let e = store.quarantined(other, 10).await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[tokio::test] async fn $name() { super::$name(super::Kind::Memory).await } )* }
        mod sqlite_file { $( #[tokio::test] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    full_runs_detect_changes_and_deletes,
    failed_runs_delete_nothing_and_resume,
    incremental_runs_never_delete,
    one_run_at_a_time,
    applied_records_keep_the_newest,
    personal_records_are_encrypted,
    due_models_go_to_one_worker_each,
    events_dedupe_and_claim,
    records_survive_a_key_rotation,
    mass_deletions_are_held,
    abandoned_runs_delete_nothing_and_start_over,
    a_rotation_covers_every_sealed_value,
    a_rotation_resumes,
    records_tokens_and_events_are_bound,
);

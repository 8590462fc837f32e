//! Syncs into a `terapi-store` from the fake Personio, on a SQLite file and on PostgreSQL:
//! a full sync of 5,000 employees; a run that fails half way deletes nothing and the next
//! one resumes it; deletes found by the next complete run; incremental runs fetch only what
//! changed; a run killed with SIGKILL at a random page resumes without fetching any page
//! twice but the one in flight; v2 persons and their employments; the shared schedule.
//!
//! The killed process is this test binary run again with `TERAPI_SYNC_WORKER` set: the
//! ignored test `sync_worker` then runs one sync (see `Worker`).

use terapi_test_support as support;
use terapi_test_support::db;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use db::Kind;
use support::fake_personio::FakePersonio;
use support::personio_conn::{v1, v2};
use terapi_providers::integrations::{personio, personio_v2};
use terapi_runtime::client::Connection;
use terapi_store::{ChangeKind, Keys, Model, Store, StoreError};
use terapi_sync::{ConnectionSource, SyncError, SyncOptions, SyncReport, Worker, sync};

const WORKER: &str = "TERAPI_SYNC_WORKER";
const ID: &str = "acme-hr";
const EMPLOYEES: Model<'static> = Model {
    connection: ID,
    name: "employees",
    personal: true,
};

fn keys() -> Keys {
    Keys::new("test", &[5; 32]).unwrap()
}

async fn open(url: &str) -> Store {
    Store::open(url, keys())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// The offsets of the employee pages the fake served, in order.
fn offsets(fake: &FakePersonio) -> Vec<u64> {
    fake.requests()
        .iter()
        .filter(|r| r.path == "/v1/company/employees")
        .filter_map(|r| {
            let q = r.query.as_deref()?;
            support::fake_personio::parse_pairs(q)
                .into_iter()
                .find(|(k, _)| k == "offset")
                .and_then(|(_, v)| v.parse().ok())
        })
        .collect()
}

fn employee_pages(fake: &FakePersonio) -> usize {
    fake.pages_served("/v1/company/employees")
}

async fn full(store: &Store, conn: &Connection) -> Result<SyncReport, SyncError> {
    sync(
        store,
        conn,
        ID,
        &personio::syncs::employees(),
        SyncOptions::full(),
    )
    .await
}

async fn incremental(store: &Store, conn: &Connection) -> Result<SyncReport, SyncError> {
    sync(
        store,
        conn,
        ID,
        &personio::syncs::employees(),
        SyncOptions::incremental(),
    )
    .await
}

fn counts(r: &SyncReport) -> (u64, u64, u64, u64) {
    (
        r.counts.added,
        r.counts.updated,
        r.counts.unchanged,
        r.counts.deleted,
    )
}

/// 5,000 employees: 50 pages of 100, every record stored and encrypted; a second full run
/// rewrites none of them and adds nothing to the change feed.
async fn full_sync_of_5000_employees(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_employees(5000);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    let report = full(&store, &conn).await.unwrap();
    assert_eq!(counts(&report), (5000, 0, 0, 0));
    assert_eq!(report.counts.pages, 50);
    assert!(report.full && !report.resumed);
    assert_eq!(employee_pages(&fake), 50);
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 5000);
    let first = store.changes(EMPLOYEES, 0, 10_000).await.unwrap();
    assert_eq!(first.changes.len(), 5000);
    assert!(first.changes.iter().all(|c| c.kind == ChangeKind::Added));
    assert_eq!(first.cursor, report.cursor);
    let one = store.record(EMPLOYEES, "4321").await.unwrap().unwrap();
    assert_eq!(one.data["attributes"]["first_name"]["value"], "First4321");

    let again = full(&store, &conn).await.unwrap();
    assert_eq!(counts(&again), (0, 0, 5000, 0));
    assert!(
        store
            .changes(EMPLOYEES, first.cursor, 10)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
    drop(store);
    let dump = db::dump(&db).await;
    assert!(
        !db::contains(&dump, "employee4321@example.com"),
        "records are encrypted"
    );
}

/// A run failing at page 5 of 10 deletes nothing though 10 employees are gone; the next run
/// resumes at page 5 (no page before it fetched again) and, complete, deletes the 10.
async fn a_failed_run_deletes_nothing_and_the_next_resumes(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_employees(1010);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    assert_eq!(full(&store, &conn).await.unwrap().counts.added, 1010);
    for id in 1001..=1010 {
        assert!(fake.delete_employee(id));
    }
    let before = employee_pages(&fake);
    fake.fail_after("/v1/company/employees", 4, 500);
    let e = full(&store, &conn).await.unwrap_err();
    assert!(e.to_string().contains("500"), "{e}");
    assert_eq!(employee_pages(&fake) - before, 4);
    assert_eq!(
        store.count_records(EMPLOYEES).await.unwrap(),
        1010,
        "nothing deleted"
    );
    let status = store.sync_status(EMPLOYEES).await.unwrap().unwrap();
    assert_eq!(status.in_progress, Some((true, 4)));
    assert!(status.last_error.unwrap().contains("500"));

    fake.clear_fail_after();
    let served = offsets(&fake).len();
    let report = incremental(&store, &conn).await.unwrap();
    assert!(
        report.resumed && report.full,
        "the interrupted full run is finished"
    );
    // Pages 5..=10 only (400, 500, ... 900).
    let resumed: Vec<u64> = offsets(&fake)[served..].to_vec();
    assert_eq!(resumed, [400, 500, 600, 700, 800, 900]);
    assert_eq!(report.counts.deleted, 10);
    assert_eq!(report.counts.pages, 10);
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 1000);
    let changes = store.changes(EMPLOYEES, 0, 10_000).await.unwrap().changes;
    let deleted: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Deleted)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(deleted.len(), 10);
    assert!(deleted.iter().all(|id| id.parse::<u32>().unwrap() > 1000));
}

/// After a complete run, an incremental one asks `updated_since` and gets only the changed
/// and new employees; a full run then finds a deletion the incremental one cannot see.
async fn incremental_runs_fetch_only_what_changed(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_employees(300);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    let first = incremental(&store, &conn).await.unwrap();
    assert!(first.full, "no complete run yet: the first is full");
    assert_eq!(first.counts.added, 300);
    for id in [3, 150, 299] {
        assert!(fake.update_employee(id, "Renamed"));
    }
    let new = fake.add_employee();
    assert!(fake.delete_employee(42));
    let served = fake.requests().len();
    let report = incremental(&store, &conn).await.unwrap();
    assert!(!report.full);
    assert_eq!(counts(&report), (1, 3, 0, 0));
    let asked: Vec<_> = fake.requests()[served..]
        .iter()
        .filter(|r| r.path == "/v1/company/employees")
        .cloned()
        .collect();
    assert_eq!(asked.len(), 1, "one page of changes");
    assert!(
        asked[0]
            .query
            .as_deref()
            .unwrap()
            .contains("updated_since=")
    );
    let record = store
        .record(EMPLOYEES, &new.to_string())
        .await
        .unwrap()
        .unwrap();
    assert!(record.deleted_at.is_none());
    // The deletion shows only in a complete full run.
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 301);
    let report = full(&store, &conn).await.unwrap();
    assert_eq!(counts(&report), (0, 0, 300, 1));
    assert!(
        store
            .record(EMPLOYEES, "42")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
}

/// Personio v2: persons, then their employments (one listing per person); a deleted person
/// takes its employment with it at the next full runs.
async fn v2_persons_and_employments(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_persons(120);
    let store = open(&db.url).await;
    let conn = v2(&fake.origin());
    let persons = sync(
        &store,
        &conn,
        ID,
        &personio_v2::syncs::persons(),
        SyncOptions::full(),
    )
    .await
    .unwrap();
    assert_eq!(persons.counts.added, 120);
    assert_eq!(persons.counts.pages, 3);
    let employments = sync(
        &store,
        &conn,
        ID,
        &personio_v2::syncs::employments(),
        SyncOptions::full(),
    )
    .await
    .unwrap();
    assert_eq!(employments.counts.added, 120);
    let m = Model::personal(ID, "employments");
    assert_eq!(store.count_records(m).await.unwrap(), 120);
    assert!(fake.delete_person("7"));
    let persons = sync(
        &store,
        &conn,
        ID,
        &personio_v2::syncs::persons(),
        SyncOptions::full(),
    )
    .await
    .unwrap();
    assert_eq!(persons.counts.deleted, 1);
    let employments = sync(
        &store,
        &conn,
        ID,
        &personio_v2::syncs::employments(),
        SyncOptions::full(),
    )
    .await
    .unwrap();
    assert_eq!(
        (employments.counts.deleted, employments.counts.unchanged),
        (1, 119)
    );
    assert!(
        store
            .record(m, "7-e1")
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
}

struct FakeSource(String);

impl ConnectionSource for FakeSource {
    fn connection<'a>(&'a self, _id: &'a str) -> terapi_sync::ConnectionFuture<'a> {
        Box::pin(async move { Ok(v1(&self.0)) })
    }
}

/// Workers of the shared schedule: four of them, the three v1 models due (as
/// integrations.yaml schedules them: `runs: every 1h`); each runs once.
async fn workers_share_the_schedule(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    if matches!(kind, Kind::Memory) {
        return;
    }
    let fake = FakePersonio::start().await;
    fake.set_employees(120);
    // The absence periods' listing fails: that run fails (and is due again later), once.
    fake.fail_after("/v1/company/absence-periods", 0, 400);
    let first = open(&db.url).await;
    let past = std::time::SystemTime::now() - Duration::from_secs(1);
    let scheduled = terapi_sync::schedule_declared(&first, ID, &personio::syncs::all(), past)
        .await
        .unwrap();
    assert_eq!(scheduled, 3);
    let mut handles = Vec::new();
    for _ in 0..4 {
        let store = open(&db.url).await;
        let origin = fake.origin();
        handles.push(tokio::spawn(async move {
            let worker = Worker::new(
                store,
                [personio::syncs::all(), personio_v2::syncs::all()].concat(),
                Arc::new(FakeSource(origin)) as Arc<dyn ConnectionSource>,
            );
            let mut ran = Vec::new();
            while let Some((due, result)) = worker.run_once().await.unwrap() {
                ran.push((due.model, result.is_ok()));
            }
            ran
        }));
    }
    let mut ran = Vec::new();
    for h in handles {
        ran.extend(h.await.unwrap());
    }
    ran.sort();
    assert_eq!(
        ran,
        [
            ("absence-periods".to_owned(), false),
            ("attendances".to_owned(), true),
            ("employees".to_owned(), true)
        ]
    );
    assert_eq!(first.count_records(EMPLOYEES).await.unwrap(), 120);
    let status = first.sync_status(EMPLOYEES).await.unwrap().unwrap();
    assert!(status.next_due.unwrap() > std::time::SystemTime::now() + Duration::from_secs(3000));
}

/// A process syncing 3,000 employees is killed with SIGKILL at a random page; a new run
/// resumes after the last stored page: every record is there, and no page was fetched twice
/// except the one in flight when the process died.
async fn a_killed_run_resumes(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    if matches!(kind, Kind::Memory) {
        return;
    }
    let fake = FakePersonio::start().await;
    fake.set_employees(3000);
    fake.set_delay("/v1/company/employees", Duration::from_millis(40));
    // Let the store exist before the worker opens it.
    drop(open(&db.url).await);
    let kill_at = 3 + (std::process::id() as usize % 20);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sync::sync_worker",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(WORKER, "1")
        .env("W_STORE", &db.url)
        .env("W_ORIGIN", fake.origin())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while employee_pages(&fake) < kill_at {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker made no progress"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the worker ended early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let served_before = offsets(&fake);
    fake.set_delay("/v1/company/employees", Duration::ZERO);
    let store = open(&db.url).await;
    let stored = store.sync_status(EMPLOYEES).await.unwrap().unwrap();
    let (full_run, pages_stored) = stored.in_progress.expect("the run is interrupted");
    assert!(full_run);
    // The dead process's lease (1 s) runs out; then the run is resumed.
    let conn = v1(&fake.origin());
    let report = loop {
        match full(&store, &conn).await {
            Err(SyncError::Store(StoreError::Busy { .. })) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other.unwrap(),
        }
    };
    assert!(report.resumed);
    assert_eq!(report.counts.pages, 30);
    assert_eq!(report.counts.added + report.counts.unchanged, 3000);
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 3000);
    let all = offsets(&fake);
    let mut times: BTreeMap<u64, usize> = BTreeMap::new();
    for o in &all {
        *times.entry(*o).or_default() += 1;
    }
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.len() <= 1, "fetched twice: {twice:?}");
    assert!(times.values().all(|n| *n <= 2));
    assert_eq!(times.len(), 30, "every page fetched");
    assert!(served_before.len() as u64 >= pages_stored);
    let changes = store.changes(EMPLOYEES, 0, 10_000).await.unwrap().changes;
    assert_eq!(changes.len(), 3000);
}

/// The process `a_killed_run_resumes` kills: one full sync, with a 1 s lease.
#[tokio::test]
#[ignore = "run by a_killed_run_resumes as a separate process"]
async fn sync_worker() {
    if std::env::var_os(WORKER).is_none() {
        return;
    }
    let url = std::env::var("W_STORE").unwrap();
    let origin = std::env::var("W_ORIGIN").unwrap();
    let store = open(&url).await;
    let conn = v1(&origin);
    let options = SyncOptions::full().lease(Duration::from_secs(1));
    sync(&store, &conn, ID, &personio::syncs::employees(), options)
        .await
        .unwrap();
}

/// A provider that says its window is spent (`X-RateLimit-Remaining: 0`, reset in 1 s): the
/// sync waits for the reset before each next page instead of provoking 429s.
async fn the_budget_follows_the_rate_limit_headers(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_employees(300);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    let started = std::time::Instant::now();
    assert_eq!(full(&store, &conn).await.unwrap().counts.pages, 3);
    let unhinted = started.elapsed();
    fake.set_rate_headers(Some((0, 1)));
    let started = std::time::Instant::now();
    let report = full(&store, &conn).await.unwrap();
    assert_eq!(report.counts.pages, 3);
    // Two pauses of about a second (before pages 2 and 3).
    assert!(
        started.elapsed() >= Duration::from_millis(1800),
        "{:?} (without the headers: {unhinted:?})",
        started.elapsed()
    );
}

/// Personio v1 attendances (item offset, a required date window) and hourly absence periods
/// (a page-number offset that ends on a short page): full runs store every record; an
/// incremental run after a change fetches what changed.
async fn v1_attendances_and_absence_periods(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_attendances(450);
    fake.set_absence_periods(401);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    let model = |name: &'static str| Model {
        connection: ID,
        name,
        personal: true,
    };

    let report = sync(
        &store,
        &conn,
        ID,
        &personio::syncs::attendances(),
        SyncOptions::full(),
    )
    .await
    .unwrap();
    assert_eq!(counts(&report), (450, 0, 0, 0));
    assert_eq!(
        store.count_records(model("attendances")).await.unwrap(),
        450
    );
    assert_eq!(fake.pages_served("/v1/company/attendances"), 3);

    let report = sync(
        &store,
        &conn,
        ID,
        &personio::syncs::absence_periods(),
        SyncOptions::full(),
    )
    .await
    .unwrap();
    assert_eq!(counts(&report), (401, 0, 0, 0));
    assert_eq!(
        store.count_records(model("absence-periods")).await.unwrap(),
        401
    );
    // Pages 0, 1 and 2 (one record, short): the run ends there.
    let pages: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/company/absence-periods")
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[2].contains("offset=2"), "{pages:?}");

    // A new attendance and a new absence period, through the fake's own endpoints.
    let client = support::http_client().build().unwrap();
    let origin = fake.origin();
    let token = client
        .post(format!("{origin}/v1/auth"))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"client_id": FakePersonio::CLIENT_ID,
                "client_secret": FakePersonio::CLIENT_SECRET})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token: serde_json::Value = serde_json::from_slice(&token).unwrap();
    let auth = format!("Bearer {}", token["data"]["token"].as_str().unwrap());
    let r = client
        .post(format!("{origin}/v1/company/attendances"))
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"attendances": [{"employee": 3, "date": "2027-01-04",
                "start_time": "08:00", "end_time": "12:00", "break": 0}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{origin}/v1/company/absence-periods"))
        .header("authorization", &auth)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("employee_id=3&time_off_type_id=1001&start_date=2027-01-05&end_date=2027-01-06")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    for (spec, name, total) in [
        (personio::syncs::attendances(), "attendances", 451),
        (personio::syncs::absence_periods(), "absence-periods", 402),
    ] {
        let report = sync(&store, &conn, ID, &spec, SyncOptions::incremental())
            .await
            .unwrap();
        assert!(!report.full, "{name}");
        assert_eq!(counts(&report), (1, 0, 0, 0), "{name}");
        assert_eq!(store.count_records(model(name)).await.unwrap(), total);
        let last = fake
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.path == format!("/v1/company/{name}"))
            .unwrap();
        assert!(
            last.query
                .as_deref()
                .unwrap_or_default()
                .contains("updated_from="),
            "{name}: {:?}",
            last.query
        );
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_file { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    full_sync_of_5000_employees,
    a_failed_run_deletes_nothing_and_the_next_resumes,
    incremental_runs_fetch_only_what_changed,
    v2_persons_and_employments,
    workers_share_the_schedule,
    v1_attendances_and_absence_periods,
    a_killed_run_resumes,
    the_budget_follows_the_rate_limit_headers,
);

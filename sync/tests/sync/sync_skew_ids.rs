//! A hostile provider against the sync, on a SQLite file and on PostgreSQL: a clock that runs
//! 5 minutes late (a change made right after an incremental run is found by the next one);
//! odd record ids (a NUL byte, 3 KB, a control character, numbers against strings) set
//! aside with their page and index while the rest of the page is stored; the same id twice
//! in one run counted once; every lease of a store handle (a run's, a refresh's) released in
//! one call.

use terapi_test_support as support;
use terapi_test_support::db;

use std::time::Duration;

use db::Kind;
use serde_json::{Value, json};
use support::fake_personio::FakePersonio;
use support::personio_conn::v2;
use terapi_providers::integrations::personio_v2;
use terapi_store::{Keys, Model, RunKind, Store, StoreError};
use terapi_sync::{SyncOptions, sync};

const ID: &str = "acme-hr";
const PERSONS: Model<'static> = Model {
    connection: ID,
    name: "persons",
    personal: true,
};

async fn open(url: &str) -> Store {
    Store::open(url, Keys::new("test", &[5; 32]).unwrap())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

/// The provider's clock runs 5 minutes behind: its `Date` header and the `updated_at` of
/// every change. A person renamed right after an incremental run is picked up by the next
/// one (the cursor follows the provider's clock; the spec's overlap is only 60 s).
async fn a_late_provider_clock_loses_no_update(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_persons(30);
    fake.set_clock_behind(Duration::from_secs(300));
    let store = open(&db.url).await;
    let conn = v2(&fake.origin());
    let spec = personio_v2::syncs::persons();
    let first = sync(&store, &conn, ID, &spec, SyncOptions::incremental())
        .await
        .unwrap();
    assert!(first.full);
    assert_eq!(first.counts.added, 30);
    let second = sync(&store, &conn, ID, &spec, SyncOptions::incremental())
        .await
        .unwrap();
    assert!(!second.full);
    // Right after the run: stamped 5 minutes earlier by the provider.
    assert!(fake.update_person("7", "Renamed"));
    let third = sync(&store, &conn, ID, &spec, SyncOptions::incremental())
        .await
        .unwrap();
    assert!(!third.full);
    assert_eq!(third.counts.updated, 1, "the rename is found: {third:?}");
    let record = store.record(PERSONS, "7").await.unwrap().unwrap();
    assert_eq!(record.data["first_name"], "Renamed");
    // The cursor is in the provider's clock: at least 5 minutes before now.
    let since = store.sync_status(PERSONS).await.unwrap().unwrap().since;
    let behind = std::time::SystemTime::now()
        .duration_since(since.unwrap())
        .unwrap();
    assert!(behind >= Duration::from_secs(300), "{behind:?}");
    assert!(behind < Duration::from_secs(400), "{behind:?}");
}

/// The same late clock behind an unreadable `Date` header: the newest change a page shows
/// bounds the provider's clock, so the cursor is never only this host's.
async fn a_late_provider_clock_without_a_date_loses_no_update(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_persons(30);
    fake.set_clock_behind(Duration::from_secs(300));
    fake.set_date_unreadable(true);
    let store = open(&db.url).await;
    let conn = v2(&fake.origin());
    let spec = personio_v2::syncs::persons();
    let first = sync(&store, &conn, ID, &spec, SyncOptions::incremental())
        .await
        .unwrap();
    assert_eq!(first.counts.added, 30);
    assert!(fake.update_person("3", "First"));
    let second = sync(&store, &conn, ID, &spec, SyncOptions::incremental())
        .await
        .unwrap();
    assert!(!second.full);
    assert_eq!(second.counts.updated, 1, "{second:?}");
    // Right after the run: stamped 5 minutes earlier by the provider.
    assert!(fake.update_person("7", "Renamed"));
    let third = sync(&store, &conn, ID, &spec, SyncOptions::incremental())
        .await
        .unwrap();
    assert_eq!(third.counts.updated, 1, "the rename is found: {third:?}");
    let record = store.record(PERSONS, "7").await.unwrap().unwrap();
    assert_eq!(record.data["first_name"], "Renamed");
    // The cursor is no later than the newest change the provider showed (its clock).
    let since = store.sync_status(PERSONS).await.unwrap().unwrap().since;
    let behind = std::time::SystemTime::now()
        .duration_since(since.unwrap())
        .unwrap();
    assert!(behind >= Duration::from_secs(300), "{behind:?}");
}

/// The odd records listed after the 120 persons (page 3, from index 20).
fn odd_persons() -> Vec<Value> {
    vec![
        json!({"id": "nul\u{0}byte", "first_name": "A"}),
        json!({"id": "x".repeat(3000), "first_name": "B"}),
        json!({"id": "bell\u{7}", "first_name": "C"}),
        json!({"id": 121, "first_name": "D"}),
        json!({"id": "122", "first_name": "E"}),
        json!({"id": 122.0, "first_name": "E"}),
        json!({"id": 5.5, "first_name": "F"}),
        json!({"first_name": "no id"}),
        json!({"id": "3", "first_name": "Again"}),
    ]
}

/// A page with a NUL-byte id, a 3 KB id, a control character, a fraction and no id at all:
/// those are set aside with their page and index, the rest of the page is stored (number
/// ids normalized as strings: `121`, and `"122"`/`122.0` one record), the same id twice in
/// the run (`3` on pages 1 and 3, `122` twice) counts once; the model's next runs proceed.
async fn odd_record_ids_are_quarantined(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_persons(120);
    fake.set_extra_persons(odd_persons());
    let store = open(&db.url).await;
    let conn = v2(&fake.origin());
    let spec = personio_v2::syncs::persons();
    let report = sync(&store, &conn, ID, &spec, SyncOptions::full())
        .await
        .unwrap_or_else(|e| panic!("the run proceeds: {e}"));
    assert_eq!(report.counts.pages, 3);
    assert_eq!(
        (
            report.counts.added,
            report.counts.updated,
            report.counts.unchanged
        ),
        (122, 0, 0),
        "each id once: {report:?}"
    );
    assert_eq!(report.counts.quarantined, 5);
    let at: Vec<(u64, u64)> = report
        .quarantined
        .iter()
        .map(|q| (q.page, q.index))
        .collect();
    assert_eq!(at, vec![(3, 20), (3, 21), (3, 22), (3, 26), (3, 27)]);
    let reasons: Vec<&str> = report
        .quarantined
        .iter()
        .map(|q| q.reason.as_str())
        .collect();
    assert!(reasons[0].contains("U+0000"), "{reasons:?}");
    assert!(reasons[1].contains("at most 512 bytes"), "{reasons:?}");
    assert!(reasons[2].contains("U+0007"), "{reasons:?}");
    assert!(reasons[3].contains("integer"), "{reasons:?}");
    assert!(reasons[4].contains("has an id"), "{reasons:?}");
    // Kept, sealed like the records, for a look.
    let kept = store.quarantined(PERSONS, 10).await.unwrap();
    assert_eq!(kept.len(), 5);
    assert_eq!(kept[1].data["first_name"], "B");
    // Stored: the 120, then 121 and 122 (numbers as their decimal text); 3 as last seen.
    assert_eq!(store.count_records(PERSONS).await.unwrap(), 122);
    for id in ["121", "122"] {
        assert!(store.record(PERSONS, id).await.unwrap().is_some(), "{id}");
    }
    let three = store.record(PERSONS, "3").await.unwrap().unwrap();
    assert_eq!(three.data["first_name"], "Again");
    // The next runs proceed, and set the same records aside again.
    for options in [SyncOptions::incremental(), SyncOptions::full()] {
        let next = sync(&store, &conn, ID, &spec, options).await.unwrap();
        assert_eq!(next.counts.quarantined, 5, "{next:?}");
    }
    // The store refuses the same ids on both databases, whoever writes them.
    for bad in [
        "a\u{0}b".to_owned(),
        "y".repeat(3000),
        "tab\there".to_owned(),
    ] {
        let e = store
            .apply_record(
                PERSONS,
                &bad,
                Some(&json!({})),
                std::time::SystemTime::now(),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InvalidRecordId { .. }), "{e}");
    }
    // A run written through the store directly: the refused ids are set aside by index.
    let model = Model::personal(ID, "direct");
    let mut run = store
        .begin_run(model, RunKind::Full, Duration::from_secs(60))
        .await
        .unwrap();
    let page = store
        .write_page(
            &mut run,
            vec![
                ("ok".into(), json!({"n": 1})),
                ("a\u{0}b".into(), json!({"n": 2})),
                ("z".repeat(600), json!({"n": 3})),
                ("ok".into(), json!({"n": 4})),
            ],
            None,
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!((page.added, page.unchanged, page.quarantined), (1, 0, 2));
    let counts = store.finish_run(run).await.unwrap();
    assert_eq!((counts.added, counts.quarantined), (1, 2));
    let kept = store.quarantined(model, 10).await.unwrap();
    let at: Vec<(u64, u64)> = kept.iter().map(|q| (q.page, q.index)).collect();
    assert_eq!(at, vec![(1, 1), (1, 2)]);
    assert_eq!(
        store.record(model, "ok").await.unwrap().unwrap().data,
        json!({"n": 4})
    );
}

/// `Store::release_leases` releases what this store handle holds (a run's lease here):
/// another process then begins the model's run at once and resumes it.
async fn leases_are_released_in_one_call(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let one = open(&db.url).await;
    let other = open(&db.url).await;
    let model = Model::personal(ID, "leased");
    let lease = Duration::from_secs(120);
    let mut run = one.begin_run(model, RunKind::Full, lease).await.unwrap();
    one.write_page(
        &mut run,
        vec![("1".into(), json!({"n": 1}))],
        Some("{}".into()),
        std::time::SystemTime::now(),
    )
    .await
    .unwrap();
    let busy = other
        .begin_run(model, RunKind::Full, lease)
        .await
        .unwrap_err();
    assert!(matches!(busy, StoreError::Busy { .. }), "{busy}");
    // Releasing leases another handle holds changes nothing.
    other.release_leases().await.unwrap();
    assert!(matches!(
        other.begin_run(model, RunKind::Full, lease).await,
        Err(StoreError::Busy { .. })
    ));
    one.release_leases().await.unwrap();
    let resumed = other.begin_run(model, RunKind::Full, lease).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.counts.added, 1);
    // The released run writes nothing more.
    let lost = one
        .write_page(&mut run, vec![], None, std::time::SystemTime::now())
        .await
        .unwrap_err();
    assert!(matches!(lost, StoreError::LeaseLost { .. }), "{lost}");
}

/// A refresh in flight when the work stops (its future dropped, as a signal does) holds the
/// connection's refresh lease; `release_leases` frees it: another process refreshes at once
/// instead of waiting out the lease (two minutes here).
async fn a_refresh_lease_is_released_in_one_call(kind: Kind) {
    use std::sync::atomic::Ordering;
    use support::fake_oauth::{CATALOG, CLIENT_ID, CLIENT_SECRET, FakeOAuth};
    use terapi_runtime::client::{Connection, OAuthClient, Settings, TokenSet};
    use terapi_store::{ConnectionRecord, FromStore as _, Specs};

    let Some(db) = db::db(kind).await else { return };
    let fake = FakeOAuth::start().await;
    let lease = Duration::from_secs(120);
    let open = || async {
        open(&db.url)
            .await
            .with_catalog(Specs::from_iter([support::loopback::provider(
                CATALOG, "acme",
            )]))
            .with_lease(lease)
    };
    let one = open().await;
    let (access, refresh) = fake.issue();
    let expired = TokenSet::new(access)
        .with_refresh_token(refresh)
        .with_expires_at(std::time::SystemTime::now() - Duration::from_secs(5))
        .with_metadata("instance_url", "https://eu7.acme.example");
    let record = ConnectionRecord::authorized(
        "acme",
        json!({"tenant": "north"}),
        OAuthClient::new(CLIENT_ID, CLIENT_SECRET),
        expired,
    );
    one.save_connection("oauth", &record).await.unwrap();
    let settings = Settings::new().origin(fake.origin.clone());
    // The provider never answers this refresh.
    fake.fake.hang_refreshes.store(true, Ordering::SeqCst);
    let conn = Connection::from_store(&one, "oauth", settings.clone())
        .await
        .unwrap();
    let task = tokio::spawn(async move { conn.get("/api/me").send().await.map(|r| r.status()) });
    let leased = |store: Store| async move {
        store
            .list()
            .await
            .unwrap()
            .iter()
            .any(|c| c.leased_until.is_some())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !leased(one.clone()).await {
        assert!(std::time::Instant::now() < deadline, "no refresh lease");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    let _ = task.await;
    one.release_leases().await.unwrap();
    assert!(!leased(one.clone()).await, "released");
    fake.fake.hang_refreshes.store(false, Ordering::SeqCst);
    let other = open().await;
    let conn = Connection::from_store(&other, "oauth", settings)
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), conn.get("/api/me").send())
        .await
        .expect("the other process refreshes at once")
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_file { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    a_late_provider_clock_loses_no_update,
    a_late_provider_clock_without_a_date_loses_no_update,
    odd_record_ids_are_quarantined,
    leases_are_released_in_one_call,
    a_refresh_lease_is_released_in_one_call,
);

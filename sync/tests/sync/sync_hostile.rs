//! Syncs against a hostile fake Personio, on a SQLite file and on PostgreSQL: deletions only
//! of what is really gone (issue 18, points 1, 2 and 6).
//!
//! - an empty listing, or more missing records than the spec's share, holds the deletions
//!   (the run completes, nothing leaves the store or the change feed) until a second
//!   consecutive full run finds them missing too, or `allow_mass_delete`;
//! - a listing whose count disagrees with the total Personio states is not complete: nothing
//!   is deleted and the next run lists it again;
//! - a child listing that answers 404 deletes the children only of a parent that answers 404
//!   itself;
//! - a provider that serves the same page again and again stops the run at once (every
//!   pagination kind), instead of a million pages later.

use terapi_test_support as support;
use terapi_test_support::db;

use std::time::Duration;

use db::Kind;
use support::fake_personio::{FakePersonio, Hostile};
use support::personio_conn::{v1, v2};
use terapi_providers::integrations::{personio, personio_v2};
use terapi_runtime::client::Connection;
use terapi_store::{ChangeKind, Keys, Model, Store};
use terapi_sync::{SyncError, SyncOptions, SyncReport, default_max_pages, sync};

const ID: &str = "acme-hr";
const EMPLOYEES: Model<'static> = Model {
    connection: ID,
    name: "employees",
    personal: true,
};
const EMPLOYMENTS: Model<'static> = Model {
    connection: ID,
    name: "employments",
    personal: true,
};
/// How long a run may take here (a run that loops is cut at this and fails the test).
const RUN_LIMIT: Duration = Duration::from_secs(30);

async fn open(url: &str) -> Store {
    Store::open(url, Keys::new("test", &[6; 32]).unwrap())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

async fn employees(
    store: &Store,
    conn: &Connection,
    options: SyncOptions,
) -> Result<SyncReport, SyncError> {
    tokio::time::timeout(
        RUN_LIMIT,
        sync(store, conn, ID, &personio::syncs::employees(), options),
    )
    .await
    .expect("the run ends in time")
}

/// (deleted, held, unchanged) of a report.
fn dhu(r: &SyncReport) -> (u64, u64, u64) {
    (r.counts.deleted, r.counts.held, r.counts.unchanged)
}

/// The deletions in the change feed after `cursor`.
async fn deletions_since(store: &Store, model: Model<'_>, cursor: u64) -> usize {
    let changes = store.changes(model, cursor, 10_000).await.unwrap().changes;
    changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Deleted)
        .count()
}

/// Point 1: 250 employees synced, then one successful empty page: the full run completes and
/// holds 250 deletions; nothing leaves the store or the feed. Back to normal, nothing is
/// held. 30 of 250 gone (12%, over the default 10%) are held, and the second consecutive
/// full run that finds them missing deletes them. `allow_mass_delete` applies them at once.
async fn an_empty_listing_deletes_nothing(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_employees(250);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    let first = employees(&store, &conn, SyncOptions::full()).await.unwrap();
    assert_eq!(first.counts.added, 250);

    fake.set_hostile(Hostile {
        empty_listing: true,
        ..Hostile::default()
    });
    let report = employees(&store, &conn, SyncOptions::full()).await.unwrap();
    assert_eq!(dhu(&report), (0, 250, 0), "{report:?}");
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 250);
    assert_eq!(deletions_since(&store, EMPLOYEES, first.cursor).await, 0);
    let status = store.sync_status(EMPLOYEES).await.unwrap().unwrap();
    assert_eq!(status.held_deletions, 250);
    assert!(status.in_progress.is_none(), "the run completed");

    // The provider is back: nothing is held, nothing deleted.
    fake.set_hostile(Hostile::default());
    let report = employees(&store, &conn, SyncOptions::full()).await.unwrap();
    assert_eq!(dhu(&report), (0, 0, 250));
    let status = store.sync_status(EMPLOYEES).await.unwrap().unwrap();
    assert_eq!(status.held_deletions, 0);

    // 30 really gone: over 10%, held; the next full run finds them missing again.
    for id in 221..=250 {
        assert!(fake.delete_employee(id));
    }
    let report = employees(&store, &conn, SyncOptions::full()).await.unwrap();
    assert_eq!(dhu(&report), (0, 30, 220));
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 250);
    let report = employees(&store, &conn, SyncOptions::full()).await.unwrap();
    assert_eq!(dhu(&report), (30, 0, 220));
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 220);

    // The operator's explicit choice applies an empty listing's deletions at once.
    fake.set_hostile(Hostile {
        empty_listing: true,
        ..Hostile::default()
    });
    let cursor = store.sync_status(EMPLOYEES).await.unwrap().unwrap().cursor;
    let report = employees(&store, &conn, SyncOptions::full().allow_mass_delete(true))
        .await
        .unwrap();
    assert_eq!(dhu(&report), (220, 0, 0));
    assert_eq!(deletions_since(&store, EMPLOYEES, cursor).await, 220);
}

/// Point 1: Personio v1 states `metadata.total_elements`; a run that lists 245 records of a
/// stated 250 is not complete: it deletes nothing (though 5 are missing) and the next run
/// lists from the start; with an honest total the 5 are deleted.
async fn a_count_that_disagrees_with_the_total_deletes_nothing(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_employees(250);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    let first = employees(&store, &conn, SyncOptions::full()).await.unwrap();
    for id in [3, 77, 150, 201, 249] {
        assert!(fake.delete_employee(id));
    }
    fake.set_hostile(Hostile {
        total_skew: 5,
        ..Hostile::default()
    });
    let e = employees(&store, &conn, SyncOptions::full())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SyncError::Incomplete {
                listed: 245,
                stated: 250,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 250);
    assert_eq!(deletions_since(&store, EMPLOYEES, first.cursor).await, 0);
    let status = store.sync_status(EMPLOYEES).await.unwrap().unwrap();
    assert!(status.in_progress.is_none(), "the next run starts over");
    assert!(status.last_error.unwrap().contains("states 250"));

    fake.set_hostile(Hostile::default());
    let report = employees(&store, &conn, SyncOptions::full()).await.unwrap();
    assert!(!report.resumed);
    assert_eq!(dhu(&report), (5, 0, 245));
}

/// Point 2: 60 persons and their employments synced; every employments listing answers 404
/// while the persons exist: the run fails and deletes none of the 60. A person really gone
/// (its own record answers 404) takes its employment with it.
async fn a_child_list_404_deletes_nothing_of_live_parents(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_persons(60);
    let store = open(&db.url).await;
    let conn = v2(&fake.origin());
    let run = |spec| {
        let (store, conn) = (&store, &conn);
        async move {
            tokio::time::timeout(RUN_LIMIT, sync(store, conn, ID, &spec, SyncOptions::full()))
                .await
                .expect("the run ends in time")
        }
    };
    assert_eq!(
        run(personio_v2::syncs::persons())
            .await
            .unwrap()
            .counts
            .added,
        60
    );
    let first = run(personio_v2::syncs::employments()).await.unwrap();
    assert_eq!(first.counts.added, 60);

    fake.set_hostile(Hostile {
        child_list_404: true,
        ..Hostile::default()
    });
    let e = run(personio_v2::syncs::employments()).await.unwrap_err();
    assert!(
        matches!(&e, SyncError::ParentListing { parent, .. } if parent == "1"),
        "{e}"
    );
    assert!(e.to_string().contains("answered 200"), "{e}");
    assert_eq!(store.count_records(EMPLOYMENTS).await.unwrap(), 60);
    assert_eq!(deletions_since(&store, EMPLOYMENTS, first.cursor).await, 0);

    // Person 7 is gone at the provider (the persons not synced since): its listing and its
    // record answer 404, and its employment is deleted; the others stay.
    fake.set_hostile(Hostile::default());
    assert!(fake.delete_person("7"));
    let report = run(personio_v2::syncs::employments()).await.unwrap();
    assert_eq!((report.counts.deleted, report.counts.held), (1, 0));
    let gone = store.record(EMPLOYMENTS, "7-e1").await.unwrap().unwrap();
    assert!(gone.deleted_at.is_some());
    assert_eq!(store.count_records(EMPLOYMENTS).await.unwrap(), 59);
}

/// Point 6: a provider that serves its first page for every offset (v1, claiming a million
/// pages) or every cursor (v2, a `next` link on every page): the run stops at the second
/// page, deletes nothing, and keeps the records.
async fn a_repeated_page_stops_the_run(kind: Kind) {
    let Some(db) = db::db(kind).await else { return };
    let fake = FakePersonio::start().await;
    fake.set_employees(250);
    fake.set_persons(120);
    let store = open(&db.url).await;
    let conn = v1(&fake.origin());
    employees(&store, &conn, SyncOptions::full()).await.unwrap();
    let status = store.sync_status(EMPLOYEES).await.unwrap().unwrap();
    assert_eq!(status.last_full_pages, Some(3));
    assert_eq!(default_max_pages(status.last_full_pages), 1_000);

    fake.set_hostile(Hostile {
        repeat_page: true,
        ..Hostile::default()
    });
    let before = fake.pages_served("/v1/company/employees");
    let e = employees(&store, &conn, SyncOptions::full())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("repeats the page before it"), "{e}");
    assert_eq!(fake.pages_served("/v1/company/employees") - before, 2);
    assert_eq!(store.count_records(EMPLOYEES).await.unwrap(), 250);

    let v2conn = v2(&fake.origin());
    let persons = Model::personal(ID, "persons");
    let e = tokio::time::timeout(
        RUN_LIMIT,
        sync(
            &store,
            &v2conn,
            ID,
            &personio_v2::syncs::persons(),
            SyncOptions::full(),
        ),
    )
    .await
    .expect("the run ends in time")
    .unwrap_err();
    assert!(e.to_string().contains("repeats the page before it"), "{e}");
    assert_eq!(fake.pages_served("/v2/persons"), 2);
    assert_eq!(store.count_records(persons).await.unwrap(), 50);
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_file { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    an_empty_listing_deletes_nothing,
    a_count_that_disagrees_with_the_total_deletes_nothing,
    a_child_list_404_deletes_nothing_of_live_parents,
    a_repeated_page_stops_the_run,
);

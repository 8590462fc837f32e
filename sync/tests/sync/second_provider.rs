//! A second provider, declared only in files: `acme-people` of `fixtures/acme.providers.yaml`
//! (its API served by the fake Personio's v2 routes), its syncs in
//! `fixtures/acme.integrations.yaml`, both loaded at run time with terapi-codegen. The generic
//! sync engine runs them (a parent and a per-parent child, incremental with the declared
//! param, deletions within the declared threshold) with no code written for the provider.

use terapi_test_support as support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::fake_personio::FakePersonio;
use support::personio_conn::settings;
use terapi_runtime::client::Connection;
use terapi_store::{Keys, Model, Store};
use terapi_sync::{SyncOptions, sync};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sync/fixtures")
        .join(name)
}

#[tokio::test]
async fn a_provider_declared_in_files_syncs_through_the_generic_engine() {
    // Leaked: a connection holds its provider's description for as long as it lives.
    let catalog: &'static terapi_codegen::Loaded = Box::leak(Box::new(
        terapi_codegen::load_file(
            &fixture("acme.providers.yaml"),
            &terapi_codegen::Options::default(),
        )
        .unwrap_or_else(|e| panic!("{e}")),
    ));
    let keys: Vec<&str> = catalog.providers.iter().map(|p| p.key.as_ref()).collect();
    let loaded = terapi_codegen::load_integrations_file(
        &fixture("acme.integrations.yaml"),
        Some(&keys),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let people = loaded.integrations.sync("acme-people", "people").unwrap();
    let jobs = loaded.integrations.sync("acme-people", "jobs").unwrap();
    assert_eq!(people.budget.per_minute, 600);
    assert_eq!(people.max_delete_percent, 50);

    let fake = FakePersonio::start().await;
    fake.set_persons(45);
    let store = Store::open("sqlite::memory:", Keys::new("test", &[7; 32]).unwrap())
        .await
        .unwrap();
    let conn = Connection::from_json(
        catalog.get("acme-people").unwrap(),
        &json!({}),
        &json!({"client_id": FakePersonio::CLIENT_ID, "client_secret": FakePersonio::CLIENT_SECRET}),
        settings(&fake.origin()),
    )
    .unwrap();

    let first = sync(&store, &conn, "acme", people, SyncOptions::full())
        .await
        .unwrap();
    assert_eq!(first.counts.added, 45);
    // 20 per page, as declared (`limit: 20`), following the catalog's link pagination.
    assert_eq!(first.counts.pages, 3);
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.path == "/v2/persons")
            .all(|r| r.query.as_deref().is_some_and(|q| q.contains("limit=20"))),
        "every page asks for the declared limit"
    );
    let children = sync(&store, &conn, "acme", jobs, SyncOptions::full())
        .await
        .unwrap();
    assert_eq!(children.counts.added, 45, "one job listed per person");
    assert_eq!(
        store
            .count_records(Model::personal("acme", "jobs"))
            .await
            .unwrap(),
        45
    );

    // Incremental: the declared param with the run's start, minus the declared overlap.
    fake.clear_recorded();
    assert!(fake.update_person("3", "Ada"));
    let next = sync(&store, &conn, "acme", people, SyncOptions::incremental())
        .await
        .unwrap();
    assert_eq!(next.counts.updated, 1, "{next:?}");
    let asked = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2/persons")
        .and_then(|r| r.query)
        .unwrap_or_default();
    assert!(asked.contains("updated_at.gt="), "{asked}");

    // Deletions within the declared threshold (50%) are applied by a complete full run.
    for id in ["1", "2", "5"] {
        assert!(fake.delete_person(id));
    }
    let full = sync(&store, &conn, "acme", people, SyncOptions::full())
        .await
        .unwrap();
    assert_eq!(full.counts.deleted, 3);
    let typed = store
        .records(Model::personal("acme", "people"), None, 100)
        .await
        .unwrap();
    assert_eq!(typed.len(), 42);
}

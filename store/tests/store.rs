//! The store's behaviour, the same suite on each database: SQLite in memory, a SQLite file,
//! PostgreSQL (see `support`).

mod support;

use std::time::{Duration, SystemTime};

use serde_json::json;
use support::Kind;
use terapi_runtime::client::{OAuthClient, TokenSet};
use terapi_store::{ConnectionRecord, Keys, Store, StoreError};

const SECRETS: &[&str] = &[
    "CRED-7f3a9c",
    "ACCESS-51be0d",
    "REFRESH-c0ffee",
    "CLIENTSECRET-9d8e",
    "TENANT-CONFIG-4e2",
];

fn key(byte: u8) -> Vec<u8> {
    vec![byte; 32]
}

fn api_key_record() -> ConnectionRecord {
    ConnectionRecord::new(
        "personio-recruiting",
        json!({ "companyId": "TENANT-CONFIG-4e2" }),
        json!({ "apiKey": "CRED-7f3a9c" }),
    )
}

fn oauth_record() -> ConnectionRecord {
    let tokens = TokenSet::new("ACCESS-51be0d")
        .with_refresh_token("REFRESH-c0ffee")
        .with_expires_at(SystemTime::now() + Duration::from_secs(3600));
    ConnectionRecord::authorized(
        "acme",
        json!({ "tenant": "acme" }),
        OAuthClient::new("client-1", "CLIENTSECRET-9d8e"),
        tokens,
    )
}

async fn open(url: &str, keys: Keys) -> Store {
    Store::open(url, keys)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

async fn round_trip(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url, Keys::new("a", &key(1)).unwrap()).await;
    assert_eq!(store.schema_version().await.unwrap(), Store::SCHEMA_VERSION);
    assert_eq!(
        store
            .save_connection("c1", &api_key_record())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.save_connection("c2", &oauth_record()).await.unwrap(),
        1
    );
    let first = store.connection("c2").await.unwrap();
    assert_eq!(first.info.provider, "acme");
    assert_eq!(first.info.key_id, "a");
    assert!(first.info.token_expires_at.is_some());
    let tokens = first.record.tokens.as_ref().unwrap();
    assert_eq!(tokens.access_token().expose(), "ACCESS-51be0d");
    assert_eq!(tokens.refresh_token().unwrap().expose(), "REFRESH-c0ffee");
    assert_eq!(first.record.client.as_ref().unwrap().id(), "client-1");
    // A second save replaces, keeps the creation time, increments the version.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store.save_connection("c2", &oauth_record()).await.unwrap(),
        2
    );
    let second = store.connection("c2").await.unwrap();
    assert_eq!(second.info.created_at, first.info.created_at);
    assert!(second.info.updated_at > first.info.updated_at);
    let list = store.list().await.unwrap();
    assert_eq!(
        list.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["c1", "c2"]
    );
    // Nothing secret in what is printed of it.
    let shown = format!(
        "{list:?} {second:?} {:?}",
        store.connection("c1").await.unwrap()
    );
    for s in SECRETS {
        assert!(!shown.contains(s), "{s} in {shown}");
    }
    assert!(store.remove("c1").await.unwrap());
    assert!(!store.remove("c1").await.unwrap());
    assert!(matches!(
        store.connection("c1").await,
        Err(StoreError::NotFound { .. })
    ));
    for bad in ["", "a b", "x\u{e9}", &"y".repeat(201)] {
        let e = store
            .save_connection(bad, &api_key_record())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::InvalidId { .. }), "{e}");
    }
}

async fn secrets_at_rest(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url, Keys::parse(&Keys::generate().unwrap()).unwrap()).await;
    store
        .save_connection("c1", &api_key_record())
        .await
        .unwrap();
    store.save_connection("c2", &oauth_record()).await.unwrap();
    let bytes = match (&db.file, &db.pg_database) {
        (Some((_, path)), _) => support::sqlite_bytes(path),
        (_, Some(_)) => support::pg_dump(&db.url),
        _ => return,
    };
    assert!(
        support::contains(&bytes, "c2") && support::contains(&bytes, "acme"),
        "the dump has the rows"
    );
    for s in SECRETS {
        assert!(
            !support::contains(&bytes, s),
            "{s} is in the database in clear"
        );
    }
    // What the store reads back is whole.
    assert_eq!(
        store.connection("c1").await.unwrap().record.credentials["apiKey"],
        "CRED-7f3a9c"
    );
}

async fn keys_refuse(kind: Kind) {
    // Opens the database again: an in-memory store is gone with its handle.
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let store = open(&db.url, Keys::new("a", &key(1)).unwrap()).await;
    store
        .save_connection("c1", &api_key_record())
        .await
        .unwrap();
    drop(store);
    // Without a key: listing works, secrets are neither read nor written.
    let keyless = open(&db.url, Keys::none()).await;
    assert_eq!(keyless.list().await.unwrap().len(), 1);
    assert!(matches!(
        keyless.connection("c1").await,
        Err(StoreError::NoKey)
    ));
    assert!(matches!(
        keyless.save_connection("c2", &api_key_record()).await,
        Err(StoreError::NoKey)
    ));
    // A wrong key under the same id, and another key id.
    let wrong = open(&db.url, Keys::new("a", &key(2)).unwrap()).await;
    let e = wrong.connection("c1").await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
    let other = open(&db.url, Keys::new("b", &key(2)).unwrap()).await;
    let e = other.connection("c1").await.unwrap_err();
    assert!(
        matches!(e, StoreError::UnknownKey { .. }) && e.to_string().contains("`a`"),
        "{e}"
    );
    // Told otherwise: an unencrypted store writes in clear, and an encrypting one refuses
    // to read that.
    let clear = open(&db.url, Keys::unencrypted()).await;
    clear
        .save_connection("c3", &api_key_record())
        .await
        .unwrap();
    assert_eq!(clear.list().await.unwrap()[1].key_id, "plaintext");
    let e = other.connection("c3").await.unwrap_err();
    assert!(matches!(e, StoreError::Plaintext { .. }), "{e}");
}

async fn rotation(kind: Kind) {
    // Opens the database again: an in-memory store is gone with its handle.
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let old = open(&db.url, Keys::new("old", &key(1)).unwrap()).await;
    old.save_connection("c1", &api_key_record()).await.unwrap();
    old.save_connection("c2", &oauth_record()).await.unwrap();
    let ring = Keys::new("new", &key(2))
        .unwrap()
        .with_older("old", &key(1))
        .unwrap();
    let both = open(&db.url, ring).await;
    let before = both.list().await.unwrap();
    let rotated = both.rotate_key().await.unwrap();
    assert_eq!(rotated.connections, 2);
    assert_eq!(
        both.rotate_key().await.unwrap().connections,
        0,
        "a second rotation has nothing to do"
    );
    let after = both.list().await.unwrap();
    assert!(after.iter().all(|i| i.key_id == "new"));
    // A re-encryption changes no version (a refresh under way still commits).
    assert_eq!(
        before.iter().map(|i| i.version).collect::<Vec<_>>(),
        after.iter().map(|i| i.version).collect::<Vec<_>>()
    );
    let new_only = open(&db.url, Keys::new("new", &key(2)).unwrap()).await;
    assert_eq!(
        new_only
            .connection("c2")
            .await
            .unwrap()
            .record
            .tokens
            .unwrap()
            .refresh_token()
            .unwrap()
            .expose(),
        "REFRESH-c0ffee"
    );
    assert!(matches!(
        old.connection("c1").await,
        Err(StoreError::UnknownKey { .. })
    ));
}

async fn schema_versions(kind: Kind) {
    // Opens the database again: an in-memory store is gone with its handle.
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let keys = || Keys::new("a", &key(1)).unwrap();
    drop(open(&db.url, keys()).await);
    // Opening again migrates nothing and keeps the data.
    let store = open(&db.url, keys()).await;
    store
        .save_connection("c1", &api_key_record())
        .await
        .unwrap();
    drop(store);
    let store = open(&db.url, keys()).await;
    assert_eq!(store.schema_version().await.unwrap(), Store::SCHEMA_VERSION);
    assert_eq!(store.list().await.unwrap().len(), 1);
    drop(store);
    // A database of schema 1 (connections only) gets the record tables, and keeps its rows.
    let to_v1 = "DROP TABLE terapi_records; DROP TABLE terapi_sync; DROP TABLE terapi_webhooks; DROP TABLE terapi_events; UPDATE terapi_schema SET version = 1";
    match (&db.file, &db.pg_database) {
        (Some((_, path)), _) => {
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute_batch(to_v1).unwrap();
        }
        (_, Some(_)) => support::pg_execute(&db.url, to_v1).await,
        _ => return,
    }
    let store = open(&db.url, keys()).await;
    assert_eq!(store.schema_version().await.unwrap(), Store::SCHEMA_VERSION);
    assert_eq!(store.list().await.unwrap().len(), 1);
    assert_eq!(
        store
            .count_records(terapi_store::Model::personal("c1", "employees"))
            .await
            .unwrap(),
        0
    );
    drop(store);
    // A database from a newer build is refused, not half-read.
    match (&db.file, &db.pg_database) {
        (Some((_, path)), _) => {
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute("UPDATE terapi_schema SET version = 99", [])
                .unwrap();
        }
        (_, Some(_)) => support::pg_execute(&db.url, "UPDATE terapi_schema SET version = 99").await,
        _ => return,
    }
    let e = Store::open(&db.url, keys()).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::NewerSchema {
                found: 99,
                supported: Store::SCHEMA_VERSION
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("schema version 99"), "{e}");
}

async fn concurrent_opens(kind: Kind) {
    // Each in-memory store is a database of its own.
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    // Eight stores migrating one new database at once: one migration, eight stores.
    let opens = (0..8).map(|_| {
        let url = db.url.clone();
        tokio::spawn(async move { Store::open(&url, Keys::new("a", &[1; 32]).unwrap()).await })
    });
    for o in opens {
        let store = o.await.unwrap().unwrap();
        assert_eq!(store.schema_version().await.unwrap(), Store::SCHEMA_VERSION);
    }
}

async fn bad_urls(_kind: Kind) {
    for url in ["mysql://x", "sqlite:", "nope"] {
        let e = Store::open(url, Keys::none()).await.unwrap_err();
        assert!(matches!(e, StoreError::Url { .. }), "{url}: {e}");
    }
    let e = Store::open("postgres://user:hunter2@127.0.0.1:1/db", Keys::none())
        .await
        .unwrap_err();
    let shown = e.to_string();
    assert!(
        matches!(e, StoreError::Open { .. }) && !shown.contains("hunter2") && shown.contains("***"),
        "{shown}"
    );
    let e = Store::open("sqlite:/nonexistent-dir/x/y.db", Keys::none())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }), "{e}");
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[tokio::test] async fn $name() { super::$name(super::Kind::Memory).await } )* }
        mod sqlite_file { $( #[tokio::test] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    round_trip,
    secrets_at_rest,
    keys_refuse,
    rotation,
    schema_versions,
    concurrent_opens,
    bad_urls
);

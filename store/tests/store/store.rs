//! The store's behaviour, the same suite on each database: SQLite in memory, a SQLite file,
//! PostgreSQL (see `support`).

use terapi_test_support::db as support;

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

/// `bytes` as a blob literal of the database.
fn blob(db: &support::Db, bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    if db.pg_database.is_some() {
        format!("'\\x{hex}'::bytea")
    } else {
        format!("X'{hex}'")
    }
}

/// A value sealed as terapi-store sealed it before bindings (format 1: the row's label as
/// associated data).
fn legacy_seal(key: &[u8], label: &str, plain: &[u8]) -> Vec<u8> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let cipher = chacha20poly1305::XChaCha20Poly1305::new_from_slice(key).unwrap();
    let nonce = [3u8; 24];
    let sealed = cipher
        .encrypt(
            &chacha20poly1305::XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: format!("terapi-store/1/{label}").as_bytes(),
            },
        )
        .unwrap();
    [&[1u8][..], &nonce, &sealed].concat()
}

/// A connection's sealed value is bound to its provider: one `UPDATE` of the provider column
/// and it no longer opens (so nothing is sent to the other provider). Values of the format
/// before bindings are refused with the fix named, re-sealed only when asked, and never
/// accepted again once re-sealed.
async fn sealed_values_are_bound_to_their_columns(kind: Kind) {
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
    tamper(
        &db,
        "UPDATE terapi_connections SET provider = 'personio-v2' WHERE id = 'c1'",
    )
    .await;
    let e = store.connection("c1").await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
    assert!(
        e.to_string().contains("connection `c1`") && e.to_string().contains("provider"),
        "{e}"
    );
    // Put back, it opens again.
    tamper(
        &db,
        "UPDATE terapi_connections SET provider = 'personio-recruiting' WHERE id = 'c1'",
    )
    .await;
    assert_eq!(
        store.connection("c1").await.unwrap().record.credentials["apiKey"],
        "CRED-7f3a9c"
    );
    // Moved to another id: refused too.
    tamper(
        &db,
        "UPDATE terapi_connections SET id = 'c2' WHERE id = 'c1'",
    )
    .await;
    let e = store.connection("c2").await.unwrap_err();
    assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
    tamper(
        &db,
        "UPDATE terapi_connections SET id = 'c1' WHERE id = 'c2'",
    )
    .await;

    // A row as the previous format wrote it: refused, naming the fix.
    let plain =
        br#"{"config":{"companyId":"TENANT-CONFIG-4e2"},"credentials":{"apiKey":"CRED-7f3a9c"}}"#;
    let legacy = legacy_seal(&key(1), "connection `old`", plain);
    tamper(
        &db,
        &format!(
            "INSERT INTO terapi_connections (id, provider, key_id, secrets, version, created_at, updated_at) VALUES ('old', 'personio-recruiting', 'a', {}, 1, 0, 0)",
            blob(&db, &legacy)
        ),
    )
    .await;
    let e = store.connection("old").await.unwrap_err();
    assert!(matches!(e, StoreError::Legacy { .. }), "{e}");
    assert!(e.to_string().contains("rotate-key --legacy"), "{e}");
    // A rotation does not launder it; the explicit one re-seals it.
    let e = store.rotate_key().await.unwrap_err();
    assert!(matches!(e, StoreError::Legacy { .. }), "{e}");
    let done = store.rotate_key_with_legacy().await.unwrap();
    assert_eq!((done.connections, done.legacy), (1, 1), "{done:?}");
    assert_eq!(
        store.connection("old").await.unwrap().record.credentials["apiKey"],
        "CRED-7f3a9c"
    );
    assert_eq!(store.rotate_key_with_legacy().await.unwrap().legacy, 0);
    // A downgrade: the old value put back beside another provider. Refused.
    tamper(
        &db,
        &format!(
            "UPDATE terapi_connections SET provider = 'personio-v2', secrets = {} WHERE id = 'old'",
            blob(&db, &legacy)
        ),
    )
    .await;
    let e = store.connection("old").await.unwrap_err();
    assert!(matches!(e, StoreError::Legacy { .. }), "{e}");
}

/// `password=`, `sslpassword=`, `user:pw@` and key=value strings: the password shows neither
/// in the store's URL nor in an error.
async fn passwords_never_show(kind: Kind) {
    let pw = "hunter2-9f3";
    let mut forms = vec![
        format!("host=127.0.0.1 port=1 password={pw} dbname=x"),
        format!("host=127.0.0.1 password = '{pw} and more' dbname=x"),
        format!("postgres://user@127.0.0.1:1/db?password={pw}"),
        format!("postgres://user@127.0.0.1:1/db?sslmode=disable&sslpassword={pw}"),
        format!("postgres://user:{pw}@127.0.0.1:1,127.0.0.1:2/db"),
        format!("postgresql://user@127.0.0.1:1/db?connect_timeout=2&password={pw}"),
    ];
    // A server that takes any password (trust): opened, and its URL printed.
    if let (Kind::Postgres, Some(db)) = (kind, support::db(kind).await) {
        let mut url = url::Url::parse(&db.url).unwrap();
        url.query_pairs_mut().append_pair("password", pw);
        forms.push(url.to_string());
        let mut url = url::Url::parse(&db.url).unwrap();
        url.set_password(Some(pw)).unwrap();
        forms.push(url.to_string());
    }
    for form in &forms {
        let shown = match Store::open(form, Keys::none()).await {
            Ok(store) => format!("{} {store:?}", store.url()),
            Err(e) => format!("{e} {e:?}"),
        };
        assert!(!shown.contains(pw), "{form}: {shown}");
        assert!(!shown.contains("and more"), "{form}: {shown}");
    }
}

/// A connection is not replaced by a store that could not read it, nor by a create.
async fn ids_are_not_overwritten(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let a = open(&db.url, Keys::new("a", &key(1)).unwrap()).await;
    assert_eq!(
        a.create_connection("c1", &api_key_record()).await.unwrap(),
        1
    );
    let e = a
        .create_connection("c1", &oauth_record())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Exists { .. }), "{e}");
    assert!(e.to_string().contains("`c1`"), "{e}");
    assert_eq!(
        a.connection("c1").await.unwrap().info.provider,
        "personio-recruiting"
    );
    // Replacing, explicitly, with the key that sealed it.
    assert_eq!(a.save_connection("c1", &oauth_record()).await.unwrap(), 2);
    assert_eq!(a.connection("c1").await.unwrap().info.provider, "acme");
    if matches!(kind, Kind::Memory) {
        return;
    }
    // Another key, or another key under the same id: not overwritten.
    for keys in [
        Keys::new("b", &key(2)).unwrap(),
        Keys::new("a", &key(3)).unwrap(),
    ] {
        let other = open(&db.url, keys).await;
        let e = other
            .save_connection("c1", &api_key_record())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotOurs { .. }), "{e}");
        assert!(e.to_string().contains("`a`"), "{e}");
        let stored = a.connection("c1").await.unwrap();
        assert_eq!(
            (stored.info.provider.as_str(), stored.info.version),
            ("acme", 2)
        );
    }
    // A ring with the key among its older ones replaces it (sealed under its primary).
    let ring = Keys::new("b", &key(2))
        .unwrap()
        .with_older("a", &key(1))
        .unwrap();
    let rotated = open(&db.url, ring).await;
    assert_eq!(
        rotated
            .save_connection("c1", &api_key_record())
            .await
            .unwrap(),
        3
    );
    assert_eq!(rotated.connection("c1").await.unwrap().info.key_id, "b");
    // Removed (no key needed), the id is free again.
    let keyless = open(&db.url, Keys::none()).await;
    assert!(keyless.remove("c1").await.unwrap());
    let b = open(&db.url, Keys::new("c", &key(4)).unwrap()).await;
    assert_eq!(
        b.create_connection("c1", &api_key_record()).await.unwrap(),
        1
    );
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
    bad_urls,
    sealed_values_are_bound_to_their_columns,
    passwords_never_show,
    ids_are_not_overwritten,
);

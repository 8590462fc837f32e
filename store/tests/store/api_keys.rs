//! API keys, connect sessions and connection metadata, the same suite on each database:
//! SQLite in memory, a SQLite file, PostgreSQL (see `support`).

use terapi_test_support::db as support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::json;
use support::Kind;
use terapi_store::{
    API_SCOPES, ConnectionMeta, ConnectionQuery, ConnectionRecord, EndUser, Keys, Store, StoreError,
};

fn keys() -> Keys {
    Keys::new("a", &[7; 32]).unwrap()
}

async fn open(url: &str) -> Store {
    Store::open(url, keys())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"))
}

fn scopes(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn user(id: &str) -> EndUser {
    EndUser {
        id: id.to_owned(),
        email: Some(format!("{id}@example.com")),
        display_name: Some("Ada Lovelace".to_owned()),
    }
}

/// Runs one statement on a file or PostgreSQL database (to age a row); false for memory.
async fn execute(db: &support::Db, sql: &str) -> bool {
    match (&db.file, &db.pg_database) {
        (Some((_, path)), _) => {
            let c = rusqlite::Connection::open(path).unwrap();
            c.execute_batch(sql).unwrap();
            true
        }
        (_, Some(_)) => {
            support::pg_execute(&db.url, sql).await;
            true
        }
        _ => false,
    }
}

/// Counts a table's rows in a file or PostgreSQL database; `None` for memory.
async fn count(db: &support::Db, table: &str) -> Option<i64> {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match (&db.file, &db.pg_database) {
        (Some((_, path)), _) => {
            let c = rusqlite::Connection::open(path).unwrap();
            Some(c.query_row(&sql, [], |r| r.get(0)).unwrap())
        }
        (_, Some(_)) => {
            let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            Some(client.query_one(&sql, &[]).await.unwrap().get(0))
        }
        _ => None,
    }
}

/// A key is created with its scopes, found by its secret, not by a wrong one, and not once
/// revoked; listings never carry a secret.
async fn keys_are_created_found_and_revoked(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let (key, secret) = store
        .create_api_key("backend", &scopes(&["connections:read", "proxy", "proxy"]))
        .await
        .unwrap();
    assert_eq!(key.scopes, scopes(&["connections:read", "proxy"]));
    assert_eq!((key.name.as_str(), key.revoked), ("backend", false));
    assert_eq!(key.last_used_at, None);
    // tk_<id>_<43 characters of base64url>
    let rest = secret.strip_prefix("tk_").unwrap();
    let (id, tail) = rest.split_once('_').unwrap();
    assert_eq!(id, key.id);
    assert_eq!(tail.len(), 43, "{secret}");
    assert!(
        tail.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(!format!("{key:?}").contains(tail));

    let found = store.api_key(&secret).await.unwrap().expect("found");
    assert_eq!((found.id.as_str(), &found.scopes), (id, &key.scopes));
    assert!(found.last_used_at.is_some(), "its use is noted");

    // Wrong secrets: one character changed, cut, extended, another key's, a session token,
    // the key's id alone, its hash.
    let mut flipped = secret.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let (_, other) = store
        .create_api_key("other", &scopes(&["admin"]))
        .await
        .unwrap();
    let (_, session) = store
        .create_connect_session(&user("u1"), None, &BTreeMap::new(), Duration::from_secs(60))
        .await
        .unwrap();
    for wrong in [
        flipped.as_str(),
        &secret[..secret.len() - 1],
        &format!("{secret}x"),
        &format!("tk_{id}_"),
        &session,
        "",
        &"x".repeat(10_000),
    ] {
        assert_eq!(store.api_key(wrong).await.unwrap(), None, "{wrong}");
    }
    let other_key = store.api_key(&other).await.unwrap().unwrap();
    assert_ne!(other_key.id, key.id);
    assert_eq!(other_key.scopes, scopes(&["admin"]));

    // The list: both, oldest first, no secret in any form.
    let list = store.api_keys().await.unwrap();
    assert_eq!(
        list.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["backend", "other"]
    );
    let shown = format!("{list:?}");
    assert!(
        !shown.contains(tail) && !shown.contains(&other[10..]),
        "{shown}"
    );

    // Revoked: not found any more, listed as revoked; revoking again is no error.
    assert!(store.revoke_api_key(id).await.unwrap());
    assert_eq!(store.api_key(&secret).await.unwrap(), None);
    assert!(store.revoke_api_key(id).await.unwrap());
    let list = store.api_keys().await.unwrap();
    assert!(list.iter().any(|k| k.id == id && k.revoked));
    assert!(
        store.api_key(&other).await.unwrap().is_some(),
        "the other key works"
    );
    assert!(!store.revoke_api_key("0123456789abcdef").await.unwrap());
    for bad in ["", "a b", "x_y", &"a".repeat(65), "é"] {
        let e = store.revoke_api_key(bad).await.unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }), "{e}");
    }
}

/// Names and scopes are checked; an unknown scope is named with the valid ones.
async fn keys_are_checked(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let e = store
        .create_api_key("k", &scopes(&["proxy", "connections:delete"]))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Invalid { .. }), "{e}");
    assert!(msg.contains("`connections:delete`"), "{msg}");
    for scope in API_SCOPES {
        assert!(msg.contains(scope), "{msg}");
    }
    assert!(store.create_api_key("k", &[]).await.is_err());
    for name in ["", "  ", "a\nb", &"n".repeat(201)] {
        let e = store
            .create_api_key(name, &scopes(&["proxy"]))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }), "{e}");
    }
    assert!(
        store.api_keys().await.unwrap().is_empty(),
        "nothing was stored"
    );
}

/// The first key from an environment variable: its shape checked (the error never shows
/// it), created once, its scopes kept in step, revoked for good.
async fn ensured_keys_are_idempotent(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    for (bad, why) in [
        ("short-secret-123", "at least 32"),
        (
            "tcs_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "connect session",
        ),
        (
            "with space aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "without spaces",
        ),
        (
            "trailing-newline-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
            "without spaces",
        ),
    ] {
        let e = store
            .ensure_api_key("env", bad, &scopes(&["admin"]))
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(why), "{msg}");
        assert!(!msg.contains(bad.trim()), "the secret is not shown: {msg}");
    }
    let secret = "0123456789abcdef0123456789abcdef0123456789abcdef";
    let a = store
        .ensure_api_key("env", secret, &scopes(&["admin"]))
        .await
        .unwrap();
    let b = store
        .ensure_api_key("env", secret, &scopes(&["admin"]))
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(store.api_keys().await.unwrap().len(), 1);
    assert_eq!(store.api_key(secret).await.unwrap().unwrap().id, a.id);
    // Another store handle (another replica) agrees.
    if !matches!(kind, Kind::Memory) {
        let other = open(&db.url).await;
        let c = other
            .ensure_api_key("env", secret, &scopes(&["admin"]))
            .await
            .unwrap();
        assert_eq!(c.id, a.id);
    }
    // New scopes given: the key follows them.
    let c = store
        .ensure_api_key("env key", secret, &scopes(&["proxy"]))
        .await
        .unwrap();
    assert_eq!((c.id.as_str(), c.name.as_str()), (a.id.as_str(), "env key"));
    assert_eq!(
        store.api_key(secret).await.unwrap().unwrap().scopes,
        ["proxy"]
    );
    // Revoked stays revoked.
    assert!(store.revoke_api_key(&a.id).await.unwrap());
    let d = store
        .ensure_api_key("env key", secret, &scopes(&["proxy"]))
        .await
        .unwrap();
    assert!(d.revoked);
    assert_eq!(store.api_key(secret).await.unwrap(), None);
    // A `tk_<id>_` secret keeps its id; another secret with the same id is refused.
    let shaped = "tk_ops1_abcdefghijklmnopqrstuvwxyz0123456789ABCD";
    let e = store
        .ensure_api_key("ops", shaped, &scopes(&["records"]))
        .await
        .unwrap();
    assert_eq!(e.id, "ops1");
    let clash = "tk_ops1_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd";
    let err = store
        .ensure_api_key("ops", clash, &scopes(&["records"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another key has this id"), "{err}");
    assert!(!err.to_string().contains("ABCDEFGH"), "{err}");
    assert_eq!(store.api_key(clash).await.unwrap(), None);
    assert_eq!(store.api_key(shaped).await.unwrap().unwrap().id, "ops1");
}

/// A key's last use is written when older than a minute, not at every request.
async fn last_use_is_written_once_a_minute(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let (key, secret) = store
        .create_api_key("k", &scopes(&["proxy"]))
        .await
        .unwrap();
    let first = store.api_key(&secret).await.unwrap().unwrap().last_used_at;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = store.api_key(&secret).await.unwrap().unwrap().last_used_at;
    assert_eq!(first, second, "not written again within a minute");
    let listed = store.api_keys().await.unwrap()[0].last_used_at;
    assert_eq!(listed, first);
    // Two minutes ago: written again.
    let aged = format!(
        "UPDATE terapi_api_keys SET last_used_at = last_used_at - 120000 WHERE id = '{}'",
        key.id
    );
    if !execute(&db, &aged).await {
        return;
    }
    let third = store.api_key(&secret).await.unwrap().unwrap().last_used_at;
    assert!(third.unwrap() >= first.unwrap(), "written again");
    assert_eq!(store.api_keys().await.unwrap()[0].last_used_at, third);
}

/// Sessions carry their end user, integrations and tags; expire; are purged; and the token of
/// one is nothing else's.
async fn sessions_expire(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let tags = BTreeMap::from([
        ("team".to_owned(), "hr".to_owned()),
        ("plan".to_owned(), String::new()),
    ]);
    let allowed = scopes(&["personio", "personio-recruiting"]);
    let before = SystemTime::now();
    let (session, token) = store
        .create_connect_session(
            &user("u1"),
            Some(&allowed),
            &tags,
            Duration::from_secs(1800),
        )
        .await
        .unwrap();
    let rest = token.strip_prefix("tcs_").unwrap();
    assert_eq!(rest.len(), 43);
    assert!(!format!("{session:?}").contains(rest));
    let expires = session.expires_at.duration_since(before).unwrap();
    assert!(expires >= Duration::from_secs(1799) && expires <= Duration::from_secs(1801));
    let found = store.connect_session(&token).await.unwrap().unwrap();
    assert_eq!(found, session);
    assert_eq!(found.end_user, user("u1"));
    assert_eq!(found.allowed_integrations.as_deref(), Some(&allowed[..]));
    assert_eq!(found.tags, tags);

    // A session without integrations allows any; another end user's token is another session.
    let (open_session, open_token) = store
        .create_connect_session(
            &EndUser {
                id: "u2".to_owned(),
                email: None,
                display_name: None,
            },
            None,
            &BTreeMap::new(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let found = store.connect_session(&open_token).await.unwrap().unwrap();
    assert_eq!(found.id, open_session.id);
    assert_eq!(found.allowed_integrations, None);
    assert_ne!(open_session.id, session.id);

    // Wrong tokens: one character changed, an API key, the session id.
    let mut flipped = token.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let (_, secret) = store
        .create_api_key("k", &scopes(&["admin"]))
        .await
        .unwrap();
    for wrong in [
        String::from_utf8(flipped).unwrap(),
        secret.clone(),
        session.id.clone(),
        format!("tcs_{}", session.id),
        String::new(),
    ] {
        assert_eq!(
            store.connect_session(&wrong).await.unwrap(),
            None,
            "{wrong}"
        );
    }
    assert_eq!(store.api_key(&token).await.unwrap(), None, "not a key");

    // Expiry: a short session is gone after its time, and purged by the next creation.
    let (_, short) = store
        .create_connect_session(
            &user("u3"),
            None,
            &BTreeMap::new(),
            Duration::from_millis(150),
        )
        .await
        .unwrap();
    assert!(store.connect_session(&short).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.connect_session(&short).await.unwrap(), None);
    let rows_before = count(&db, "terapi_connect_sessions").await;
    store
        .create_connect_session(&user("u4"), None, &BTreeMap::new(), Duration::from_secs(60))
        .await
        .unwrap();
    if let Some(before) = rows_before {
        assert_eq!(before, 3);
        assert_eq!(
            count(&db, "terapi_connect_sessions").await,
            Some(3),
            "the expired session was purged (2 live + 1 new)"
        );
    }
    assert!(
        store.connect_session(&token).await.unwrap().is_some(),
        "the live one stays"
    );
}

/// Session inputs are checked: lifetime, end user, tags, integrations.
async fn sessions_are_checked(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    let none = BTreeMap::new();
    let ok = Duration::from_secs(60);
    let bad_ttls = [Duration::ZERO, Duration::from_secs(8 * 24 * 3600)];
    for ttl in bad_ttls {
        assert!(
            store
                .create_connect_session(&user("u"), None, &none, ttl)
                .await
                .is_err()
        );
    }
    for id in ["", "a\u{0}b", &"u".repeat(256)] {
        let e = store
            .create_connect_session(&user(id), None, &none, ok)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }), "{e}");
    }
    let bad_tags = BTreeMap::from([("a=b".to_owned(), "x".to_owned())]);
    assert!(
        store
            .create_connect_session(&user("u"), None, &bad_tags, ok)
            .await
            .is_err()
    );
    let bad_list = scopes(&["personio", "has space"]);
    assert!(
        store
            .create_connect_session(&user("u"), Some(&bad_list), &none, ok)
            .await
            .is_err()
    );
    assert_eq!(count(&db, "terapi_connect_sessions").await.unwrap_or(0), 0);
}

/// Secrets at rest: neither a key nor a session token is in the database in clear; their
/// SHA-256 is, and differs from them.
async fn secrets_are_hashed_at_rest(kind: Kind) {
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let store = open(&db.url).await;
    let (_, secret) = store
        .create_api_key("at-rest-key", &scopes(&["proxy"]))
        .await
        .unwrap();
    let env_secret = "env-secret-0123456789abcdef0123456789abcdef";
    store
        .ensure_api_key("env", env_secret, &scopes(&["admin"]))
        .await
        .unwrap();
    let (_, token) = store
        .create_connect_session(
            &user("rest-user"),
            None,
            &BTreeMap::new(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    drop(store);
    let bytes = support::dump(&db).await;
    assert!(
        support::contains(&bytes, "at-rest-key") && support::contains(&bytes, "rest-user"),
        "the dump has the rows"
    );
    let hex = |s: &str| {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    };
    for s in [secret.as_str(), env_secret, token.as_str()] {
        let tail = &s[s.len() - 30..];
        assert!(
            !support::contains(&bytes, tail),
            "{s} is in the database in clear"
        );
        assert_ne!(hex(s), s);
        assert!(support::contains(&bytes, &hex(s)), "its hash is stored");
    }
}

fn record(provider: &str) -> ConnectionRecord {
    ConnectionRecord::new(
        provider,
        json!({"companyId": "1"}),
        json!({"apiKey": "CRED-9d2"}),
    )
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Metadata is empty until set, replaced whole, checked, and only for a connection that
/// exists.
async fn connection_meta_is_set_and_read(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    store
        .save_connection("c1", &record("personio"))
        .await
        .unwrap();
    assert_eq!(
        store.connection_meta("c1").await.unwrap(),
        ConnectionMeta::default()
    );
    for missing in [
        store.connection_meta("nope").await.unwrap_err(),
        store
            .set_connection_meta("nope", &ConnectionMeta::default())
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    }
    let e = store.connection_meta("a b").await.unwrap_err();
    assert!(matches!(e, StoreError::InvalidId { .. }), "{e}");
    let meta = ConnectionMeta {
        end_user: Some(user("u1")),
        tags: tags(&[("team", "hr"), ("region", "eu")]),
        metadata: json!({"plan": "gold", "seats": 12, "nested": {"a": [1, 2]}})
            .as_object()
            .unwrap()
            .clone(),
    };
    store.set_connection_meta("c1", &meta).await.unwrap();
    assert_eq!(store.connection_meta("c1").await.unwrap(), meta);
    // Replaced whole: the old tag no longer matches.
    let replaced = ConnectionMeta {
        end_user: None,
        tags: tags(&[("team", "it")]),
        metadata: serde_json::Map::new(),
    };
    store.set_connection_meta("c1", &replaced).await.unwrap();
    assert_eq!(store.connection_meta("c1").await.unwrap(), replaced);
    let by_old_tag = ConnectionQuery {
        tag: Some(("team".to_owned(), "hr".to_owned())),
        ..ConnectionQuery::default()
    };
    assert!(
        store
            .list_connections(&by_old_tag)
            .await
            .unwrap()
            .is_empty()
    );
    let by_old_user = ConnectionQuery {
        end_user_id: Some("u1".to_owned()),
        ..ConnectionQuery::default()
    };
    assert!(
        store
            .list_connections(&by_old_user)
            .await
            .unwrap()
            .is_empty()
    );
    // Refused: too large, bad tags, a bad end user; nothing changes.
    let big = ConnectionMeta {
        metadata: json!({"blob": "x".repeat(70_000)})
            .as_object()
            .unwrap()
            .clone(),
        ..ConnectionMeta::default()
    };
    let bad_tag = ConnectionMeta {
        tags: tags(&[("a b", "x")]),
        ..ConnectionMeta::default()
    };
    let bad_user = ConnectionMeta {
        end_user: Some(user("")),
        ..ConnectionMeta::default()
    };
    for bad in [big, bad_tag, bad_user] {
        let e = store.set_connection_meta("c1", &bad).await.unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }), "{e}");
    }
    assert_eq!(store.connection_meta("c1").await.unwrap(), replaced);
    // Metadata is not secret: in clear at rest, unlike the credentials.
    if !matches!(kind, Kind::Memory) {
        store.set_connection_meta("c1", &meta).await.unwrap();
        let bytes = support::dump(&db).await;
        assert!(support::contains(&bytes, "gold"));
        assert!(!support::contains(&bytes, "CRED-9d2"));
    }
}

/// Every page of every filter: by id, after the last id, across filters; removed connections
/// take their metadata and tags with them.
async fn connections_are_listed_by_filter_and_page(kind: Kind) {
    let Some(db) = support::db(kind).await else {
        return;
    };
    let store = open(&db.url).await;
    // c00..c24: personio for even, github for odd; u1 for multiples of 2, u2 else; team=hr
    // for multiples of 3, team=it else; c24 has no metadata.
    let ids: Vec<String> = (0..25).map(|i| format!("c{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let provider = if i % 2 == 0 { "personio" } else { "github" };
        store.save_connection(id, &record(provider)).await.unwrap();
        if i == 24 {
            continue;
        }
        let meta = ConnectionMeta {
            end_user: Some(user(if i % 4 == 0 { "u1" } else { "u2" })),
            tags: tags(&[
                ("team", if i % 3 == 0 { "hr" } else { "it" }),
                ("n", &i.to_string()),
            ]),
            metadata: serde_json::Map::new(),
        };
        store.set_connection_meta(id, &meta).await.unwrap();
    }
    let expect = |f: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..25).filter(|i| f(*i)).map(|i| ids[i].clone()).collect()
    };
    let pages = |query: ConnectionQuery| {
        let store = store.clone();
        async move {
            let mut all = Vec::new();
            let mut query = query;
            for _ in 0..100 {
                let page = store.list_connections(&query).await.unwrap();
                assert!(page.len() <= query.limit.max(1));
                let Some((last, _)) = page.last() else { break };
                query.after = Some(last.id.clone());
                all.extend(page);
            }
            all
        }
    };
    let q = |user: Option<&str>, provider: Option<&str>, tag: Option<(&str, &str)>, limit| {
        ConnectionQuery {
            end_user_id: user.map(str::to_owned),
            provider: provider.map(str::to_owned),
            tag: tag.map(|(k, v)| (k.to_owned(), v.to_owned())),
            after: None,
            limit,
        }
    };
    let names = |all: &[(terapi_store::ConnectionInfo, ConnectionMeta)]| -> Vec<String> {
        all.iter().map(|(c, _)| c.id.clone()).collect()
    };
    let all = pages(q(None, None, None, 10)).await;
    assert_eq!(names(&all), ids);
    assert_eq!(all[24].1, ConnectionMeta::default());
    assert_eq!(all[4].1.end_user.as_ref().unwrap().id, "u1");
    assert_eq!(all[3].1.tags["n"], "3");
    assert_eq!(all[3].0.provider, "github");
    let cases: Vec<(ConnectionQuery, Vec<String>)> = vec![
        (
            q(Some("u1"), None, None, 2),
            expect(&|i| i % 4 == 0 && i != 24),
        ),
        (q(Some("u2"), None, None, 3), expect(&|i| i % 4 != 0)),
        (q(None, Some("github"), None, 4), expect(&|i| i % 2 == 1)),
        (
            q(None, None, Some(("team", "hr")), 2),
            expect(&|i| i % 3 == 0 && i != 24),
        ),
        (q(None, None, Some(("n", "7")), 2), expect(&|i| i == 7)),
        (q(None, None, Some(("team", "none")), 2), vec![]),
        (
            q(Some("u2"), Some("personio"), Some(("team", "hr")), 1),
            expect(&|i| i % 4 != 0 && i % 2 == 0 && i % 3 == 0),
        ),
        (
            q(None, Some("personio"), Some(("team", "it")), 2),
            expect(&|i| i % 2 == 0 && i % 3 != 0 && i != 24),
        ),
        (q(Some("u1"), Some("github"), None, 5), vec![]),
        (q(Some("nobody"), None, None, 5), vec![]),
    ];
    for (query, expected) in cases {
        let got = names(&pages(query.clone()).await);
        assert_eq!(got, expected, "{query:?}");
    }
    // Paging starts after `after` (which need not exist), and the limit is clamped.
    let mut after = q(None, None, None, 3);
    after.after = Some("c10x".to_owned());
    assert_eq!(
        names(&store.list_connections(&after).await.unwrap()),
        ["c11", "c12", "c13"]
    );
    assert_eq!(
        store
            .list_connections(&q(None, None, None, 0))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_connections(&q(None, None, None, usize::MAX))
            .await
            .unwrap()
            .len(),
        25
    );
    // Bad filters are refused.
    for bad in [
        ConnectionQuery {
            after: Some("a b".to_owned()),
            ..ConnectionQuery::default()
        },
        q(None, None, Some(("a=b", "x")), 5),
        q(Some(""), None, None, 5),
        q(None, Some("x\ny"), None, 5),
    ] {
        assert!(store.list_connections(&bad).await.is_err(), "{bad:?}");
    }

    // A removed connection: gone from every listing, its metadata and tags with it; a new
    // connection under its id starts without them.
    assert!(store.remove("c06").await.unwrap());
    assert!(!store.remove("c06").await.unwrap());
    let hr = names(&pages(q(None, None, Some(("team", "hr")), 2)).await);
    assert!(
        !hr.contains(&"c06".to_owned()) && hr.contains(&"c03".to_owned()),
        "{hr:?}"
    );
    assert!(!names(&pages(q(Some("u2"), None, None, 7)).await).contains(&"c06".to_owned()));
    assert_eq!(pages(q(None, None, None, 10)).await.len(), 24);
    let e = store.connection_meta("c06").await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    if let Some(n) = count(&db, "terapi_connection_tags WHERE connection_id = 'c06'").await {
        assert_eq!(n, 0);
        assert_eq!(
            count(&db, "terapi_connection_meta WHERE connection_id = 'c06'").await,
            Some(0)
        );
    }
    store
        .save_connection("c06", &record("personio"))
        .await
        .unwrap();
    assert_eq!(
        store.connection_meta("c06").await.unwrap(),
        ConnectionMeta::default()
    );
    assert!(!names(&pages(q(None, None, Some(("n", "6")), 2)).await).contains(&"c06".to_owned()));
}

/// Metadata written while the connection is removed, from two store handles (two replicas):
/// every write either lands before the removal (and goes with it) or finds no connection;
/// nothing is left behind.
async fn a_removal_racing_metadata_writes_leaves_nothing(kind: Kind) {
    let Some(db) = support::db(kind)
        .await
        .filter(|_| !matches!(kind, Kind::Memory))
    else {
        return;
    };
    let a = open(&db.url).await;
    let b = open(&db.url).await;
    for round in 0..5 {
        let id = format!("race{round}");
        a.save_connection(&id, &record("personio")).await.unwrap();
        let mut writes = Vec::new();
        for i in 0..12 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = id.clone();
            writes.push(tokio::spawn(async move {
                let meta = ConnectionMeta {
                    end_user: Some(user("racer")),
                    tags: tags(&[("i", &i.to_string()), ("team", "hr")]),
                    metadata: serde_json::Map::new(),
                };
                match store.set_connection_meta(&id, &meta).await {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(round * 3)).await;
        assert!(b.remove(&id).await.unwrap());
        for w in writes {
            w.await.unwrap();
        }
        let left = format!("terapi_connection_meta WHERE connection_id = '{id}'");
        assert_eq!(count(&db, &left).await, Some(0), "round {round}");
        let left = format!("terapi_connection_tags WHERE connection_id = '{id}'");
        assert_eq!(count(&db, &left).await, Some(0), "round {round}");
        // The id reused: a new connection without the old metadata.
        a.save_connection(&id, &record("personio")).await.unwrap();
        assert_eq!(
            a.connection_meta(&id).await.unwrap(),
            ConnectionMeta::default()
        );
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[tokio::test] async fn $name() { super::$name(super::Kind::Memory).await } )* }
        mod sqlite_file { $( #[tokio::test] async fn $name() { super::$name(super::Kind::File).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::Kind::Postgres).await } )* }
    };
}

suite!(
    keys_are_created_found_and_revoked,
    keys_are_checked,
    ensured_keys_are_idempotent,
    last_use_is_written_once_a_minute,
    sessions_expire,
    sessions_are_checked,
    secrets_are_hashed_at_rest,
    connection_meta_is_set_and_read,
    connections_are_listed_by_filter_and_page,
    a_removal_racing_metadata_writes_leaves_nothing,
);

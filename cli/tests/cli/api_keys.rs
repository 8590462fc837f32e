//! `terapi keys` as an operator runs it: create (the secret on stdout once, the id on
//! stderr), list (never a secret), revoke; scopes checked before the store is opened; no store
//! key needed; the secret not in the database file. The store's own `terapi key generate`
//! stays what it was.

use terapi_test_support::{cli as env, fake_personio};

use crate::BIN;
use env::{Env, Out, output};
use fake_personio::FakePersonio;
use terapi_store::{Keys, Store};

/// `terapi ARGS` without TERAPI_STORE_KEY.
async fn run_keyless(env: &Env, args: &[&str]) -> Out {
    let mut cmd = env.command(args);
    cmd.env_remove("TERAPI_STORE_KEY");
    output(cmd).await
}

/// Every byte of the store file and its journal.
fn file_bytes(env: &Env) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(bytes) = std::fs::read(format!("{}{suffix}", env.db.display())) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_listed_and_revoked() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);

    let empty = run_keyless(&env, &["keys", "list"]).await;
    assert!(empty.ok().stdout.is_empty(), "{empty:?}");
    assert!(empty.stderr.contains("no API keys"), "{empty:?}");

    let created = run_keyless(
        &env,
        &[
            "keys",
            "create",
            "--name",
            "backend",
            "--scopes",
            "connections:read,proxy",
        ],
    )
    .await;
    created.ok();
    // One line on stdout: the secret, tk_<id>_<43 characters>.
    let lines: Vec<&str> = created.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{created:?}");
    let secret = lines[0].to_owned();
    let (id, tail) = secret
        .strip_prefix("tk_")
        .and_then(|r| r.split_once('_'))
        .expect("tk_<id>_<secret>");
    assert_eq!(tail.len(), 43, "{secret}");
    assert!(created.stderr.contains(id), "the id on stderr: {created:?}");
    assert!(
        created.stderr.contains("connections:read,proxy"),
        "{created:?}"
    );
    assert!(
        !created.stderr.contains(tail),
        "the secret once: {created:?}"
    );

    let second = env
        .run(&["keys", "create", "--name", "ops tool", "--scopes", "admin"])
        .await;
    let other = second.ok().stdout.trim().to_owned();
    assert_ne!(other, secret);

    // The list: both keys, never a secret.
    let listed = run_keyless(&env, &["keys", "list"]).await;
    listed.ok();
    let rows: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{listed:?}");
    for column in ["ID", "NAME", "SCOPES", "CREATED", "LAST USED", "REVOKED"] {
        assert!(rows[0].contains(column), "{listed:?}");
    }
    let row = rows.iter().find(|r| r.starts_with(id)).expect("listed");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (cells[1], cells[2], cells[4], cells[5]),
        ("backend", "connections:read,proxy", "-", "no"),
        "{row}"
    );
    assert!(rows.iter().any(|r| r.contains("ops tool")), "{listed:?}");
    let shown = listed.all();
    assert!(
        !shown.contains(tail) && !shown.contains(&other[10..]),
        "{shown}"
    );

    // At rest: the hash, not the secret.
    let bytes = file_bytes(&env);
    assert!(contains(&bytes, "backend"), "the rows are there");
    assert!(!contains(&bytes, tail) && !contains(&bytes, &other[10..]));

    // The secret is the one the server looks up.
    let store = Store::open(&env.store, Keys::none()).await.unwrap();
    let found = store.api_key(&secret).await.unwrap().expect("found");
    assert_eq!((found.id.as_str(), found.scopes.len()), (id, 2));
    drop(store);
    let used = run_keyless(&env, &["keys", "list"]).await;
    let row = used
        .ok()
        .stdout
        .lines()
        .find(|r| r.starts_with(id))
        .unwrap()
        .to_owned();
    assert!(
        row.split_whitespace().nth(4).unwrap().ends_with('Z'),
        "last used: {row}"
    );

    // Revoked: not found by the server, listed as revoked; the other key stays.
    let revoked = run_keyless(&env, &["keys", "revoke", id]).await;
    assert!(revoked.ok().stderr.contains(id), "{revoked:?}");
    let store = Store::open(&env.store, Keys::none()).await.unwrap();
    assert_eq!(store.api_key(&secret).await.unwrap(), None);
    assert!(store.api_key(&other).await.unwrap().is_some());
    drop(store);
    let listed = run_keyless(&env, &["keys", "list"]).await;
    let row = listed
        .ok()
        .stdout
        .lines()
        .find(|r| r.starts_with(id))
        .unwrap()
        .to_owned();
    assert!(row.trim_end().ends_with("yes"), "{row}");

    let unknown = run_keyless(&env, &["keys", "revoke", "0123456789abcdef"]).await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown
            .error_line()
            .contains("no API key `0123456789abcdef`")
    );
    let malformed = run_keyless(&env, &["keys", "revoke", "a_b"]).await;
    assert_eq!(malformed.code, 1, "{malformed:?}");
    assert!(
        malformed.error_line().contains("API key id"),
        "{malformed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_scopes_are_usage_errors() {
    let fake = FakePersonio::start().await;
    let env = Env::new(BIN, &fake);
    let out = run_keyless(
        &env,
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--scopes",
            "proxy,connections:delete",
        ],
    )
    .await;
    assert_eq!(out.code, 2, "{out:?}");
    let line = out.error_line();
    assert!(line.contains("`connections:delete`"), "{line}");
    for scope in terapi_store::API_SCOPES {
        assert!(line.contains(scope), "{line}");
    }
    assert!(!env.db.exists(), "checked before the store is opened");

    let missing = run_keyless(&env, &["keys", "create", "--name", "x"]).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    let bad_name = run_keyless(&env, &["keys", "create", "--name", "", "--scopes", "proxy"]).await;
    assert_eq!(bad_name.code, 1, "{bad_name:?}");
    assert!(
        bad_name.error_line().contains("API key name"),
        "{bad_name:?}"
    );
    let listed = run_keyless(&env, &["keys", "list"]).await;
    assert!(
        listed.ok().stdout.is_empty(),
        "nothing was created: {listed:?}"
    );

    // The store's key command is another one.
    let generated = run_keyless(&env, &["key", "generate"]).await;
    let key = generated.ok().stdout.trim().to_owned();
    assert!(Keys::parse(&key).is_ok(), "{generated:?}");
}

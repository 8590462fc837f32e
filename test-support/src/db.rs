//! The databases the store's tests run against: SQLite in memory, a SQLite file, and
//! PostgreSQL when `TERAPI_TEST_POSTGRES_URL` names a server (`.ci/postgres.sh start` makes
//! one). In CI (`CI` or `TERAPI_REQUIRE_POSTGRES` set) a missing server fails the PostgreSQL tests; elsewhere they skip
//! with a printed reason.

use std::path::PathBuf;

/// One database for one test.
pub struct Db {
    pub url: String,
    /// The SQLite file (and its directory, removed on drop).
    pub file: Option<(tempfile::TempDir, PathBuf)>,
    /// The PostgreSQL database's name.
    pub pg_database: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Memory,
    File,
    Postgres,
}

/// A fresh database of `kind`, or `None` (a printed skip) when PostgreSQL is not available
/// outside CI.
pub async fn db(kind: Kind) -> Option<Db> {
    match kind {
        Kind::Memory => Some(Db {
            url: "sqlite::memory:".to_owned(),
            file: None,
            pg_database: None,
        }),
        Kind::File => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("store.db");
            Some(Db {
                url: format!("sqlite:{}", path.display()),
                file: Some((dir, path)),
                pg_database: None,
            })
        }
        Kind::Postgres => {
            let (admin, name) = postgres_database().await?;
            let url = with_database(&admin, &name);
            Some(Db {
                url,
                file: None,
                pg_database: Some(name),
            })
        }
    }
}

/// The server's URL from the environment, or `None` with a printed reason (a panic in CI).
pub fn postgres_url() -> Option<String> {
    match std::env::var("TERAPI_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some()
            || std::env::var_os("TERAPI_REQUIRE_POSTGRES").is_some() =>
        {
            panic!(
                "TERAPI_TEST_POSTGRES_URL is not set in CI (or with TERAPI_REQUIRE_POSTGRES): `.ci/run` starts PostgreSQL for these tests"
            )
        }
        _ => {
            eprintln!(
                "skipped: TERAPI_TEST_POSTGRES_URL is not set (`eval \"$(.ci/postgres.sh start)\"` starts a server)"
            );
            None
        }
    }
}

/// Creates a database of its own for a test; the admin URL and its name.
pub async fn postgres_database() -> Option<(String, String)> {
    let admin = postgres_url()?;
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL: {e}"));
    tokio::spawn(conn);
    let mut n = [0u8; 6];
    getrandom::fill(&mut n).unwrap();
    let name = format!("terapi_t_{}", hex::encode(n));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    Some((admin, name))
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// A database's full dump (`pg_dump`), for searching for secrets.
pub fn pg_dump(url: &str) -> Vec<u8> {
    let bin = std::env::var("PG_TEST_BIN")
        .map(|b| format!("{b}/pg_dump"))
        .unwrap_or_else(|_| "pg_dump".to_owned());
    let out = std::process::Command::new(&bin)
        .arg("--dbname")
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs one SQL statement on `url` (to tamper with a database).
pub async fn pg_execute(url: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every byte of a SQLite store: the file, its WAL and its shared memory.
pub fn sqlite_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(bytes) = std::fs::read(&p) {
            all.extend(bytes);
        }
    }
    all
}

/// Every byte the database holds: the SQLite files, or a PostgreSQL dump.
pub async fn dump(db: &Db) -> Vec<u8> {
    match (&db.file, &db.pg_database) {
        (Some((_, path)), _) => sqlite_bytes(path),
        (_, Some(_)) => pg_dump(&db.url),
        _ => Vec::new(),
    }
}

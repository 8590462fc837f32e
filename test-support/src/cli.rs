//! The `terapi` binary run as a user runs it, against the fake Personio (through
//! `--origin`): a temporary SQLite store, a key in the environment and nothing else of the
//! test's. The CLI's tests pass the binary's path (`env!("CARGO_BIN_EXE_terapi")`, which
//! cargo sets for that crate's tests only).

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use crate::fake_personio::FakePersonio;

/// How long any one run of the binary may take.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A store file, a key, and the fake's origin.
pub struct Env {
    /// The `terapi` binary.
    pub bin: &'static str,
    pub dir: tempfile::TempDir,
    pub db: std::path::PathBuf,
    pub store: String,
    pub key: String,
    pub origin: String,
}

#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> &Out {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    /// The one `error: ` line on stderr (and nothing on stdout).
    pub fn error_line(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:?}");
        assert!(lines[0].starts_with("error: "), "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        lines[0]
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// stdout's lines, each JSON.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

pub type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStderr>>;

impl Env {
    /// A new store for the `terapi` binary `bin` against `fake`.
    pub fn new(bin: &'static str, fake: &FakePersonio) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        Env {
            bin,
            store: format!("sqlite:{}", db.display()),
            db,
            key: terapi_store::Keys::generate().unwrap(),
            origin: fake.origin(),
            dir,
        }
    }

    /// `terapi --store … --origin … ARGS` with `key` in TERAPI_STORE_KEY and nothing else of
    /// the test's environment.
    pub fn command_with_key(&self, key: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.env_clear()
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("TERAPI_STORE_KEY", key)
            .args(["--store", &self.store, "--origin", &self.origin])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// `terapi` with this store's key.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with_key(&self.key, args)
    }

    pub async fn run(&self, args: &[&str]) -> Out {
        output(self.command_with_key(&self.key, args)).await
    }

    pub async fn run_with_key(&self, key: &str, args: &[&str]) -> Out {
        output(self.command_with_key(key, args)).await
    }

    /// Connects `id` to `provider` (personio or personio-v2) with the fake's credentials,
    /// read from the environment.
    pub async fn connect(&self, id: &str, provider: &str) {
        let key = self.key.clone();
        self.connect_with(&key, id, provider, &[]).await.ok();
    }

    /// `connect ID PROVIDER [EXTRA…]` with `key` and the fake's credentials from the
    /// environment.
    pub async fn connect_with(&self, key: &str, id: &str, provider: &str, extra: &[&str]) -> Out {
        let mut args = vec![
            "connect",
            id,
            provider,
            "--credential",
            "client_id",
            "--credential",
            "client_secret",
        ];
        args.extend_from_slice(extra);
        let mut cmd = self.command_with_key(key, &args);
        cmd.env("TERAPI_CREDENTIAL_CLIENT_ID", FakePersonio::CLIENT_ID)
            .env(
                "TERAPI_CREDENTIAL_CLIENT_SECRET",
                FakePersonio::CLIENT_SECRET,
            );
        output(cmd).await
    }

    /// Runs `sql` on the store file, as someone with write access and no key would.
    pub fn tamper(&self, sql: &str) {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        c.execute_batch(sql).unwrap();
    }

    /// `webhooks serve` on 127.0.0.1:0 with `key`: the process, its URL, and its stderr
    /// after the first two lines.
    pub async fn serve(&self, key: &str) -> (tokio::process::Child, String, Lines) {
        let mut child = self
            .command_with_key(key, &["webhooks", "serve", "--listen", "127.0.0.1:0"])
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = next(&mut stderr).await;
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{first}"))
            .to_owned();
        let warning = next(&mut stderr).await;
        assert!(warning.starts_with("warning: "), "{warning}");
        (child, url, stderr)
    }
}

pub async fn output(mut cmd: Command) -> Out {
    let out = tokio::time::timeout(RUN_LIMIT, cmd.output())
        .await
        .expect("terapi finishes in time")
        .unwrap();
    Out {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The next stderr line of a running `serve`.
pub async fn next(stderr: &mut Lines) -> String {
    tokio::time::timeout(RUN_LIMIT, stderr.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("a line")
}

/// Stops a `serve` as Ctrl-C does, and waits for it.
pub async fn stop(mut child: tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

//! The `terapi` binary as a user runs it: a temporary SQLite store, a key in the environment,
//! and the fake OAuth 2.0 provider of terapi-test-support (through `--catalog` and `--origin`):
//! browser authorization with the loopback listener and with a pasted callback, requests that
//! refresh through the store in a new process, invalid params, listings that never show a
//! secret, a store file that holds none in clear, and the exit codes.

use terapi_test_support::{fake_oauth, loopback};

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use fake_oauth::{CATALOG, CC_CATALOG, CLIENT_ID, CLIENT_SECRET, FakeOAuth};
use terapi_store::{Keys, Store};

use crate::BIN;
/// How long any one run of the binary may take.
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// A redirect URI nobody serves: the pasted-callback flow never reaches it.
const PASTED_REDIRECT: &str = "http://127.0.0.1:9/callback";

/// An API key provider on the fake, with a secret config param, to connect without a browser.
const KEY_PROVIDER: &str = r#"
acme-key:
    display_name: Acme API key
    auth_mode: API_KEY
    proxy:
        base_url: https://${connectionConfig.region}.api.acme.example
        headers:
            authorization: Bearer ${apiKey}
            x-signing: ${connectionConfig.signing}
        verification:
            method: GET
            endpoints:
                - /api/me
    connection_config:
        region:
            type: string
            title: Region
            description: The region of the account
            pattern: '^[a-z]+$'
        signing:
            type: string
            title: Signing secret
            description: A secret of the config
            secret: true
    credentials:
        apiKey:
            type: string
            title: API key
            description: The API key
            secret: true
    docs: https://example.com/acme-key
"#;

/// The config secret given to `acme-key` connections.
const SIGNING_SECRET: &str = "signing-secret-7d1f0a";

/// A store, a catalog file, a key, and the fake's origin.
struct Env {
    dir: tempfile::TempDir,
    store: String,
    db: PathBuf,
    catalog: PathBuf,
    key: String,
    origin: String,
}

/// What a run printed and its exit code.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    /// The one `error: ` line on stderr (and nothing on stdout).
    fn error_line(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:?}");
        assert!(lines[0].starts_with("error: "), "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert!(!self.stderr.contains("panicked"), "{self:?}");
        lines[0]
    }

    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Env {
    async fn new(fake: &FakeOAuth) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join("catalog.yaml");
        std::fs::write(&catalog, format!("{CATALOG}{KEY_PROVIDER}")).unwrap();
        let db = dir.path().join("store.db");
        let mut env = Env {
            store: format!("sqlite:{}", db.display()),
            db,
            catalog,
            key: String::new(),
            origin: fake.origin.clone(),
            dir,
        };
        let generated = env.run(&["key", "generate"]).await;
        assert_eq!(generated.code, 0, "{generated:?}");
        env.key = generated.stdout.trim().to_owned();
        assert_eq!(env.key.len(), 44, "32 bytes in base64");
        env
    }

    /// `terapi --store … --catalog … --origin … ARGS` with the key in the environment and
    /// nothing else of the test's environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("TERAPI_STORE_KEY", &self.key)
            .args([
                "--store",
                &self.store,
                "--origin",
                &self.origin,
                "--catalog",
            ])
            .arg(&self.catalog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Out {
        output(self.command(args)).await
    }

    async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        output(cmd).await
    }

    /// The store, opened with the key.
    async fn store(&self) -> Store {
        Store::open(&self.store, Keys::parse(&self.key).unwrap())
            .await
            .unwrap()
    }

    /// The access and refresh tokens stored for `id`.
    async fn tokens(&self, id: &str) -> (String, String) {
        let stored = self.store().await.connection(id).await.unwrap();
        let tokens = stored.record.tokens.unwrap();
        (
            tokens.access_token().expose().to_owned(),
            tokens.refresh_token().unwrap().expose().to_owned(),
        )
    }

    /// Marks the stored access token of `id` as expired two minutes ago.
    async fn expire(&self, id: &str) {
        let store = self.store().await;
        let mut record = store.connection(id).await.unwrap().record;
        let past = SystemTime::now() - Duration::from_secs(120);
        record.tokens = Some(record.tokens.unwrap().with_expires_at(past));
        store.save_connection(id, &record).await.unwrap();
    }

    /// Authorizes `id` (acme, tenant north) with a pasted callback.
    async fn authorize_pasted(&self, id: &str) {
        let started = self.start_pasted(id).await;
        let location = loopback::follow(&started).await;
        let done = self.run(&["callback", &location]).await;
        assert_eq!(done.code, 0, "{done:?}");
    }

    /// `authorize north acme --listen 127.0.0.1:0` running: the process (waiting for its
    /// callback) and the authorization URL it printed.
    async fn authorize_listening(&self) -> (tokio::process::Child, String) {
        let mut child = self
            .command(&[
                "authorize",
                "north",
                "acme",
                "--client-id",
                CLIENT_ID,
                "--config",
                "tenant=north",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("TERAPI_CLIENT_SECRET", CLIENT_SECRET)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(RUN_LIMIT, stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the authorization URL");
        (child, url)
    }

    /// `authorize` without a listener: the authorization URL.
    async fn start_pasted(&self, id: &str) -> String {
        let out = self
            .run_with(
                &[
                    "authorize",
                    id,
                    "acme",
                    "--client-id",
                    CLIENT_ID,
                    "--config",
                    "tenant=north",
                    "--redirect-uri",
                    PASTED_REDIRECT,
                ],
                &[("TERAPI_CLIENT_SECRET", CLIENT_SECRET)],
            )
            .await;
        assert_eq!(out.code, 0, "{out:?}");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "the URL alone on stdout: {out:?}");
        assert!(lines[0].starts_with(&self.origin), "{out:?}");
        lines[0].to_owned()
    }

    /// Connects `cc` to `acme-cc` (client credentials, from `CC_CATALOG`, which becomes the
    /// catalog): its check obtains one token.
    async fn connect_cc(&mut self) -> Out {
        self.catalog = self.dir.path().join("cc.yaml");
        std::fs::write(&self.catalog, CC_CATALOG).unwrap();
        let connected = self
            .run_with(
                &[
                    "connect",
                    "cc",
                    "acme-cc",
                    "--credential",
                    "client_id",
                    "--credential",
                    "client_secret",
                ],
                &[
                    ("TERAPI_CREDENTIAL_CLIENT_ID", CLIENT_ID),
                    ("TERAPI_CREDENTIAL_CLIENT_SECRET", CLIENT_SECRET),
                ],
            )
            .await;
        assert_eq!(connected.code, 0, "{connected:?}");
        connected
    }

    /// Connects `id` to `acme-key` with an API key the fake accepts (from the environment).
    async fn connect_key(&self, id: &str, api_key: &str) -> Out {
        self.run_with(
            &[
                "connect",
                id,
                "acme-key",
                "--config",
                "region=north",
                &format!("signing={SIGNING_SECRET}"),
                "--credential",
                "apiKey",
            ],
            &[("TERAPI_CREDENTIAL_API_KEY", api_key)],
        )
        .await
    }

    /// The bytes of the SQLite database and its journal files.
    fn store_bytes(&self) -> Vec<u8> {
        let name = self.db.file_name().unwrap().to_str().unwrap().to_owned();
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_str().unwrap().starts_with(&name) {
                bytes.extend(std::fs::read(entry.path()).unwrap());
            }
        }
        assert!(!bytes.is_empty());
        bytes
    }
}

async fn output(mut cmd: Command) -> Out {
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

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(!text.contains(secret), "a secret shows: {text}");
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn me(out: &Out) {
    assert_eq!(out.code, 0, "{out:?}");
    let body: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(body["id"], "user-1");
    assert!(out.stdout.contains("\n  \"id\""), "pretty-printed: {out:?}");
    assert_eq!(out.stderr.trim(), "HTTP 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_with_the_listener_then_requests_refresh_through_the_store() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    let (mut child, url) = env.authorize_listening().await;
    assert!(url.starts_with(&format!("{}/oauth/authorize?", fake.origin)));
    let redirect = param(&url, "redirect_uri").unwrap();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"));
    assert!(!redirect.ends_with(":0/callback"), "the port bound");
    // Another path, or a callback with another state, is answered and ignored.
    let other = reqwest::get(format!(
        "{}/favicon.ico",
        redirect.trim_end_matches("/callback")
    ))
    .await
    .unwrap();
    assert_eq!(other.status(), 404);
    let forged = reqwest::get(format!("{redirect}?code=forged&state=not-the-state"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    // The browser: the fake redirects to the CLI's listener, which answers with a page.
    let location = loopback::follow(&url).await;
    assert!(location.starts_with(&redirect));
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Authorized") && page.contains("north"),
        "{page}"
    );
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains(&format!("redirect URI: {redirect}")),
        "port 0: the redirect URI on stderr: {stderr}"
    );
    assert!(
        stderr.contains("saved connection `north` (acme)"),
        "{stderr}"
    );
    assert_no_secret(&stderr, &[CLIENT_SECRET]);
    assert_eq!(fake.fake.exchanges.load(Ordering::SeqCst), 1);

    // Another process: the stored tokens and the base URL from the token response.
    me(&env.run(&["request", "north", "GET", "/api/me"]).await);
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 0);

    // The stored access token expires: the next process refreshes once, through the store.
    let (old_access, _) = env.tokens("north").await;
    env.expire("north").await;
    let token_requests = fake.fake.token_bodies.lock().unwrap().len();
    me(&env.run(&["request", "north", "GET", "/api/me"]).await);
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        fake.fake.token_bodies.lock().unwrap().len(),
        token_requests + 1,
        "one token request"
    );
    assert_eq!(
        fake.fake.exchanges.load(Ordering::SeqCst),
        1,
        "no new authorization"
    );
    let (new_access, _) = env.tokens("north").await;
    assert_ne!(new_access, old_access, "the refreshed tokens were stored");
    // And the next process uses them as they are.
    me(&env.run(&["request", "north", "GET", "/api/me"]).await);
    assert_eq!(fake.fake.refreshes.load(Ordering::SeqCst), 1);

    // A status other than 2xx: exit 1, the status in the one error line.
    let missing = env.run(&["request", "north", "GET", "/nowhere"]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.error_line().contains("HTTP 404"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_then_a_pasted_callback_finishes_it() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    let url = env.start_pasted("pasted").await;
    assert_eq!(
        param(&url, "redirect_uri").as_deref(),
        Some(PASTED_REDIRECT)
    );
    assert_eq!(param(&url, "scope").as_deref(), Some("read,offline_access"));
    let location = loopback::follow(&url).await;
    let done = env.run(&["callback", &location]).await;
    assert_eq!(done.code, 0, "{done:?}");
    assert!(
        done.stderr.contains("saved connection `pasted` (acme)"),
        "{done:?}"
    );
    me(&env.run(&["request", "pasted", "GET", "/api/me"]).await);

    // Authorizing an existing id again needs --replace.
    let twice = env
        .run_with(
            &[
                "authorize",
                "pasted",
                "acme",
                "--client-id",
                CLIENT_ID,
                "--config",
                "tenant=north",
                "--redirect-uri",
                PASTED_REDIRECT,
            ],
            &[("TERAPI_CLIENT_SECRET", CLIENT_SECRET)],
        )
        .await;
    assert_eq!(twice.code, 1, "{twice:?}");
    assert!(
        twice.error_line().contains("exists already") && twice.error_line().contains("--replace"),
        "{twice:?}"
    );
    assert!(twice.stdout.is_empty(), "no authorization URL: {twice:?}");
    let replacing = env
        .run_with(
            &[
                "authorize",
                "pasted",
                "acme",
                "--client-id",
                CLIENT_ID,
                "--config",
                "tenant=north",
                "--redirect-uri",
                PASTED_REDIRECT,
                "--replace",
            ],
            &[("TERAPI_CLIENT_SECRET", CLIENT_SECRET)],
        )
        .await;
    assert_eq!(replacing.code, 0, "{replacing:?}");
    assert!(replacing.stdout.starts_with(&env.origin), "{replacing:?}");

    // A callback is used once.
    let again = env.run(&["callback", &location]).await;
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.error_line().contains("no pending authorization"),
        "{again:?}"
    );

    // A refusal: exit 1, one line.
    let url = env.start_pasted("refused").await;
    let state = param(&url, "state").unwrap();
    let refused = env
        .run(&[
            "callback",
            &format!("{PASTED_REDIRECT}?error=access_denied&state={state}"),
        ])
        .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.error_line().contains("refused"), "{refused:?}");

    // Scopes given replace the catalog's.
    let scoped = env
        .run_with(
            &[
                "authorize",
                "scoped",
                "acme",
                "--client-id",
                CLIENT_ID,
                "--config",
                "tenant=north",
                "--redirect-uri",
                PASTED_REDIRECT,
                "--scope",
                "write",
                "--scope",
                "admin",
            ],
            &[("TERAPI_CLIENT_SECRET", CLIENT_SECRET)],
        )
        .await;
    assert_eq!(scoped.code, 0, "{scoped:?}");
    assert_eq!(
        param(scoped.stdout.trim(), "scope").as_deref(),
        Some("write,admin")
    );

    // `callback -` reads the URL from stdin (off the command line).
    let location = loopback::follow(scoped.stdout.trim()).await;
    let mut cmd = env.command(&["callback", "-"]);
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, format!("{location}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let done = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status.code(), Some(0), "{done:?}");
    me(&env.run(&["request", "scoped", "GET", "/api/me"]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_store_is_in_the_users_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", &data)
        .args(["connections", "list"])
        .stdin(Stdio::null());
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let db = data.join("terapi").join("connections.db");
    assert!(db.is_file(), "{out:?}");
    assert!(
        out.stderr.contains(&format!("sqlite:{}", db.display())),
        "{out:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("terapi"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "only the user enters it: {mode:o}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_reports_every_invalid_param_on_one_line() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    let out = env
        .run(&["connect", "k", "acme-key", "--config", "region=North!"])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    let line = out.error_line();
    assert!(line.contains("3 problems"), "{line}");
    for param in ["`region`", "`signing`", "`apiKey`"] {
        assert!(line.contains(param), "{param}: {line}");
    }
    // The built-in catalog's provider too, and a secret value never shows.
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("TERAPI_STORE_KEY", &env.key)
        .args(["--store", &env.store])
        .args([
            "connect",
            "p",
            "personio-recruiting",
            "--config",
            "companyId=abc",
            "company=-bad-",
            "--credential",
            "apiKey=very-secret-api-key",
        ])
        .stdin(Stdio::null());
    let builtin = output(cmd).await;
    assert_eq!(builtin.code, 1, "{builtin:?}");
    let line = builtin.error_line();
    assert!(
        line.contains("2 problems") && line.contains("`companyId`") && line.contains("`company`"),
        "{line}"
    );
    assert_no_secret(&builtin.all(), &["very-secret-api-key"]);
    // Nothing was saved.
    let list = env.run(&["connections", "list"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.is_empty(), "{list:?}");
    // An unknown provider: exit 1, with the closest key.
    let unknown = env.run(&["connect", "k", "acme-kye"]).await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(unknown.error_line().contains("acme-key"), "{unknown:?}");
    // A credential without a value, an unset variable and no terminal: exit 2, naming it.
    let unasked = env
        .run(&[
            "connect",
            "k",
            "acme-key",
            "--config",
            "region=north",
            "--credential",
            "apiKey",
        ])
        .await;
    assert_eq!(unasked.code, 2, "{unasked:?}");
    assert!(
        unasked.error_line().contains("TERAPI_CREDENTIAL_API_KEY"),
        "{unasked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_list_show_and_remove_never_print_a_secret() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    env.authorize_pasted("oauth").await;
    let (api_key, _) = fake.issue();
    let connected = env.connect_key("keyed", &api_key).await;
    assert_eq!(connected.code, 0, "{connected:?}");
    assert!(
        connected.stderr.contains("checked at /api/me"),
        "verified: {connected:?}"
    );
    let (access, refresh) = env.tokens("oauth").await;
    let secrets = [
        CLIENT_SECRET,
        SIGNING_SECRET,
        api_key.as_str(),
        access.as_str(),
        refresh.as_str(),
    ];
    let mut printed = connected.all();

    let list = env.run(&["connections", "list"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two connections: {list:?}");
    assert!(lines[1].starts_with("keyed ") && lines[1].contains("acme-key"));
    assert!(lines[2].starts_with("oauth ") && lines[2].contains("acme"));
    printed += &list.all();

    let show = env.run(&["connections", "show", "oauth"]).await;
    assert_eq!(show.code, 0, "{show:?}");
    for expected in [
        "provider:",
        "acme (Acme, OAUTH2)",
        "version:",
        "created:",
        "updated:",
        "token expires:",
        "key id:",
        "reauthorize:",
        &format!("client id:     {CLIENT_ID}"),
        "tenant = north",
    ] {
        assert!(show.stdout.contains(expected), "{expected}: {show:?}");
    }
    printed += &show.all();

    let show = env.run(&["connections", "show", "keyed"]).await;
    assert_eq!(show.code, 0, "{show:?}");
    for expected in [
        "credentials:",
        "apiKey",
        "region = north",
        "signing = ********",
    ] {
        assert!(show.stdout.contains(expected), "{expected}: {show:?}");
    }
    assert!(!show.stdout.contains("client id"), "{show:?}");
    printed += &show.all();

    let missing = env.run(&["connections", "show", "missing"]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.error_line().contains("no connection `missing`"));

    let removed = env.run(&["connections", "remove", "keyed"]).await;
    assert_eq!(removed.code, 0, "{removed:?}");
    printed += &removed.all();
    let list = env.run(&["connections", "list"]).await;
    assert!(!list.stdout.contains("keyed") && list.stdout.contains("oauth"));
    let again = env.run(&["connections", "remove", "keyed"]).await;
    assert_eq!(again.code, 1, "{again:?}");
    again.error_line();
    printed += &list.all();
    printed += &again.all();
    printed += &missing.all();

    assert_no_secret(&printed, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_lists_the_catalog_with_auth_modes() {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().arg("providers").stdin(Stdio::null());
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert_eq!(lines[0][..2], ["personio", "OAUTH2_CC"]);
    assert_eq!(lines[1][..2], ["personio-recruiting", "API_KEY"]);
    assert_eq!(lines[2][..2], ["personio-v2", "OAUTH2_CC"]);
    assert!(out.stdout.contains("Personio Recruiting"));

    // clap's usage errors exit 2.
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .args(["request", "only-an-id"])
        .stdin(Stdio::null());
    assert_eq!(output(cmd).await.code, 2);

    // A catalog file, loaded at run time.
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    let out = env.run(&["providers"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let keys: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(keys, ["acme", "acme-key", "acme-mcp", "acme-mcp-generic"]);
    assert!(out.stdout.contains("OAUTH2 ") && out.stdout.contains("MCP_OAUTH2_GENERIC"));

    // A provider with errors is left out, its errors located on stderr; the rest is usable.
    let partly = env.dir.path().join("partly.yaml");
    std::fs::write(&partly, "acme:\n    auth_mode: NOT_A_MODE\n").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .arg("--catalog")
        .arg(&partly)
        .arg("providers")
        .stdin(Stdio::null());
    let out = output(cmd).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains(&format!(
            "{}:1:1: warning[provider-skipped]",
            partly.display()
        )) && out.stderr.contains("2:16: error[unknown-auth-mode]"),
        "{out:?}"
    );
    // A file that is not a catalog: its located diagnostics, exit 1 (as the generator's); a
    // missing one: one line, exit 2 (an I/O error).
    let broken = env.dir.path().join("broken.yaml");
    std::fs::write(&broken, "acme:\n    auth_mode: [OAUTH2\n").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .arg("--catalog")
        .arg(&broken)
        .arg("providers")
        .stdin(Stdio::null());
    let out = output(cmd).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains(&format!("{}:", broken.display())) && out.stderr.contains("error"),
        "{out:?}"
    );
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .arg("--catalog")
        .arg(Path::new("/nonexistent/catalog.yaml"))
        .arg("providers")
        .stdin(Stdio::null());
    let out = output(cmd).await;
    assert_eq!(out.code, 2, "{out:?}");
    out.error_line();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_list_works_and_secrets_are_refused() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    env.authorize_pasted("oauth").await;
    let keyless = |args: &[&str]| {
        let mut cmd = env.command(args);
        cmd.env_remove("TERAPI_STORE_KEY");
        output(cmd)
    };
    let list = keyless(&["connections", "list"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    assert!(list.stdout.contains("oauth"), "{list:?}");
    let no_key = "error: store: no encryption key: secrets are neither read nor written (give a key, e.g. with --key-env)";
    for args in [
        &["request", "oauth", "GET", "/api/me"][..],
        &["connections", "show", "oauth"],
        &["connections", "rotate-key"],
        &[
            "connect",
            "k",
            "acme-key",
            "--config",
            "region=north",
            "signing=x",
            "--credential",
            "apiKey=x",
        ],
    ] {
        let out = keyless(args).await;
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(out.error_line(), no_key, "{args:?}");
    }
    // Another variable, named with --key-env.
    let mut cmd = env.command(&[
        "--key-env",
        "OTHER_KEY",
        "request",
        "oauth",
        "GET",
        "/api/me",
    ]);
    cmd.env_remove("TERAPI_STORE_KEY")
        .env("OTHER_KEY", &env.key);
    me(&output(cmd).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_refuses_addresses_other_than_loopback() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:8080", "localhost:8080"] {
        let out = env
            .run_with(
                &[
                    "authorize",
                    "x",
                    "acme",
                    "--client-id",
                    CLIENT_ID,
                    "--config",
                    "tenant=north",
                    "--listen",
                    addr,
                ],
                &[("TERAPI_CLIENT_SECRET", CLIENT_SECRET)],
            )
            .await;
        assert_eq!(out.code, 2, "{addr}: {out:?}");
        out.error_line();
    }
    let out = env
        .run(&[
            "authorize",
            "x",
            "acme",
            "--client-id",
            CLIENT_ID,
            "--listen",
            "0.0.0.0:0",
        ])
        .await;
    assert!(out.error_line().contains("loopback"), "{out:?}");
    assert_eq!(fake.fake.token_bodies.lock().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_file_holds_no_secret_and_keys_rotate() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    // A pending authorization holds the client secret and the PKCE verifier: sealed.
    let url = env.start_pasted("oauth").await;
    let state = param(&url, "state").unwrap();
    let bytes = env.store_bytes();
    assert!(!contains(&bytes, CLIENT_SECRET) && !contains(&bytes, &state));
    let location = loopback::follow(&url).await;
    let code = param(&location, "code").unwrap();
    let done = env.run(&["callback", &location]).await;
    assert_eq!(done.code, 0, "{done:?}");
    let (api_key, _) = fake.issue();
    let connected = env.connect_key("keyed", &api_key).await;
    assert_eq!(connected.code, 0, "{connected:?}");
    let (access, refresh) = env.tokens("oauth").await;
    let bytes = env.store_bytes();
    assert!(
        contains(&bytes, "oauth") && contains(&bytes, "acme-key"),
        "the ids are there"
    );
    for secret in [
        CLIENT_SECRET,
        SIGNING_SECRET,
        &api_key,
        &access,
        &refresh,
        &code,
        &state,
        &env.key,
    ] {
        assert!(!contains(&bytes, secret), "{secret} in the store file");
    }

    // A new key first, the old one after: every row re-encrypted, then the new key alone
    // reads them.
    let new_key = env.run(&["key", "generate"]).await.stdout.trim().to_owned();
    let ring = format!("new:{new_key},{}", env.key);
    let rotated = env
        .run_with(
            &["connections", "rotate-key"],
            &[("TERAPI_STORE_KEY", &ring)],
        )
        .await;
    assert_eq!(rotated.code, 0, "{rotated:?}");
    assert!(
        rotated.stdout.contains("re-encrypted 2 connection(s)"),
        "{rotated:?}"
    );
    let out = env
        .run_with(
            &["request", "oauth", "GET", "/api/me"],
            &[("TERAPI_STORE_KEY", &format!("new:{new_key}"))],
        )
        .await;
    me(&out);
    let list = env.run(&["connections", "list"]).await;
    assert!(
        list.stdout.lines().skip(1).all(|l| l.contains(" new ")),
        "{list:?}"
    );
    // The old key alone no longer opens them: a store error, exit 2.
    let old = env.run(&["request", "oauth", "GET", "/api/me"]).await;
    assert_eq!(old.code, 2, "{old:?}");
    old.error_line();
}

/// `connect` obtains a token from the client credentials to check them; it is kept, sealed,
/// with the connection, and the next processes (`request`, twice) reuse it: one token request
/// at the provider for the three commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_then_two_requests_make_one_client_credentials_token_request() {
    let fake = FakeOAuth::start().await;
    let mut env = Env::new(&fake).await;
    let connected = env.connect_cc().await;
    assert_eq!(fake.fake.client_credentials.load(Ordering::SeqCst), 1);
    let mut printed = connected.all();
    for _ in 0..2 {
        let out = env.run(&["request", "cc", "GET", "/api/me"]).await;
        me(&out);
        printed += &out.all();
    }
    assert_eq!(
        fake.fake.client_credentials.load(Ordering::SeqCst),
        1,
        "one token request for connect and two requests"
    );
    let stored = env.store().await.connection("cc").await.unwrap();
    let token = stored.record.tokens.expect("the token is kept");
    let bytes = env.store_bytes();
    assert!(!contains(&bytes, token.access_token().expose()), "sealed");
    assert!(!contains(&bytes, CLIENT_SECRET), "sealed");
    // The provider revokes it: the next process gets a 401, and one new token.
    fake.revoke_access_tokens();
    let out = env.run(&["request", "cc", "GET", "/api/me"]).await;
    me(&out);
    printed += &out.all();
    assert_eq!(fake.fake.client_credentials.load(Ordering::SeqCst), 2);
    me(&env.run(&["request", "cc", "GET", "/api/me"]).await);
    assert_eq!(fake.fake.client_credentials.load(Ordering::SeqCst), 2);
    assert_no_secret(&printed, &[CLIENT_SECRET, token.access_token().expose()]);
}

/// Ctrl-C or SIGTERM while a command holds a lease (here `request`, renewing a revoked
/// client-credentials token under the connection's lease, at a token endpoint that takes its
/// time) releases it before the process exits: the next process obtains its token at once
/// instead of waiting out the lease (30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_releases_the_lease_a_request_holds() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let fake = FakeOAuth::start().await;
        let mut env = Env::new(&fake).await;
        env.connect_cc().await;
        fake.revoke_access_tokens();
        fake.fake
            .client_credentials_delay_ms
            .store(60_000, Ordering::SeqCst);
        let mut cmd = env.command(&["request", "cc", "GET", "/api/me"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        // The renewal has started: the lease is held while the token endpoint answers.
        let asked = tokio::time::timeout(RUN_LIMIT, async {
            while fake.fake.client_credentials_asked.load(Ordering::SeqCst) < 2 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(asked.is_ok(), "the request renews its token");
        let pid = child.id().expect("running").to_string();
        let killed = Command::new("kill")
            .args([signal, &pid])
            .status()
            .await
            .unwrap();
        assert!(killed.success());
        let stopped = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
            .await
            .expect("it stops")
            .unwrap();
        let stderr = String::from_utf8_lossy(&stopped.stderr);
        assert_eq!(stopped.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("its leases are released"), "{stderr}");
        fake.fake
            .client_credentials_delay_ms
            .store(0, Ordering::SeqCst);
        let started = std::time::Instant::now();
        let out = env.run(&["request", "cc", "GET", "/api/me"]).await;
        me(&out);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the next process waited {:?} for the lease",
            started.elapsed()
        );
        assert_eq!(fake.fake.client_credentials_asked.load(Ordering::SeqCst), 3);
    }
}

/// While `authorize --listen` waits, a callback pasted to `terapi callback` with the right
/// `state` but another port is refused with the redirect URI it must go to (its port
/// included), and the flow stays pending: the real callback then reaches the listener and
/// finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_callback_to_another_port_leaves_the_flow_to_the_listener() {
    let fake = FakeOAuth::start().await;
    let env = Env::new(&fake).await;
    let (mut child, url) = env.authorize_listening().await;
    let redirect = param(&url, "redirect_uri").unwrap();
    let location = loopback::follow(&url).await;
    assert!(location.starts_with(&redirect));
    let port = url::Url::parse(&redirect).unwrap().port().unwrap();
    let other_port = if port == 65535 { port - 1 } else { port + 1 };
    let pasted = location.replacen(&format!(":{port}/"), &format!(":{other_port}/"), 1);
    assert_ne!(pasted, location);
    let refused = env.run(&["callback", &pasted]).await;
    assert_eq!(refused.code, 1, "{refused:?}");
    let line = refused.error_line();
    assert!(line.contains(&format!("`{redirect}`")), "{refused:?}");
    assert!(
        !line.contains(&param(&location, "code").unwrap()),
        "{refused:?}"
    );
    assert_eq!(fake.fake.exchanges.load(Ordering::SeqCst), 0);
    // The real callback: the listener finishes the flow.
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Authorized"));
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(fake.fake.exchanges.load(Ordering::SeqCst), 1);
    me(&env.run(&["request", "north", "GET", "/api/me"]).await);
}

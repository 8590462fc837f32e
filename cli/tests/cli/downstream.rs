//! Downstream use of terapi-codegen, proven on real crates outside this workspace.
//!
//! Each test writes a crate into a temporary directory (with its own `[workspace]` table),
//! depending on this workspace's `codegen` and `runtime` by path, and runs cargo on it:
//!
//! - build.rs mode: first build, a no-op build that does not rerun the build script, a
//!   catalog edit whose new param is used by the crate, a catalog error that fails the build
//!   with located diagnostics (no panic), and a catalog warning shown as a cargo warning;
//! - every `Builder` option at once (`inputs`, `providers`, `module_per_file`, `derive`,
//!   `docs(false)`, `runtime_path` with a renamed runtime dependency), with the crate's own
//!   `cargo test`;
//! - static-crate mode (`generate --crate` / `check --crate`): the generated crate builds
//!   and tests with `-D warnings`, and `check` finds changed and deleted files;
//! - the CLI's `--help` output and usage errors.
//!
//! The tests that build crates are the slow tier (they compile the dependencies once, in
//! target directories under `CARGO_TARGET_TMPDIR` kept between runs), `#[ignore]`d and run by
//! `scripts/test-slow`; `cargo test -p terapi-cli --test cli downstream:: -- --ignored
//! --nocapture` prints the build times.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

use terapi_test_support::dev_null;

/// `text` without whitespace: the Builder writes `OUT_DIR` unformatted (the tokens as they
/// print), so searches must not depend on spacing.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

// ---------------------------------------------------------------------------------------
// Paths and cargo runs.
// ---------------------------------------------------------------------------------------

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize()
        .unwrap_or_else(|e| panic!("canonicalize {}: {e}", p.display()))
}

/// This workspace's `codegen` crate.
fn codegen_dir() -> PathBuf {
    canonical(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../codegen"))
}

/// This workspace's `runtime` crate.
fn runtime_dir() -> PathBuf {
    canonical(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime"))
}

fn workspace_file(rel: &str) -> PathBuf {
    canonical(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel))
}

/// The real catalog's text.
fn catalog() -> String {
    std::fs::read_to_string(workspace_file("providers.yaml")).expect("read providers.yaml")
}

/// The target directory every downstream crate builds in, so the dependencies compile once
/// (and, kept between runs, not again).
fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("downstream-target")
}

/// The target directory of the `RUSTFLAGS=-D warnings` builds: other flags rebuild every
/// dependency, so they get their own directory instead of invalidating the shared one.
fn strict_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("downstream-target-strict")
}

/// One cargo at a time: the tests share a target directory, and a build that waits for
/// another's lock (or shares the two cores with it) would report a wrong time.
fn cargo_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a cargo run printed, and how long it took.
struct Run {
    output: Output,
    time: Duration,
}

impl Run {
    fn ok(&self) -> bool {
        self.output.status.success()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Runs `cargo ARGS --offline` in `dir` with `target` as the target directory; `rustflags`
/// replaces any inherited flags (none by default, so the shared directory stays valid).
fn cargo(dir: &Path, target: &Path, args: &[&str], rustflags: Option<&str>) -> Run {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args)
        .arg("--offline")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS");
    if let Some(flags) = rustflags {
        cmd.env("RUSTFLAGS", flags);
    }
    let _guard = cargo_lock();
    dev_null::empty_if_regular_file();
    let start = Instant::now();
    let output = cmd.output().expect("run cargo");
    Run {
        output,
        time: start.elapsed(),
    }
}

/// [`cargo`], asserting success.
fn cargo_ok(dir: &Path, target: &Path, args: &[&str], rustflags: Option<&str>, what: &str) -> Run {
    let run = cargo(dir, target, args, rustflags);
    assert!(
        run.ok(),
        "{what}: `cargo {}` failed:\n{}\n{}",
        args.join(" "),
        run.stdout(),
        run.stderr()
    );
    run
}

/// Whether a `cargo build -v` ran the build script of package `pkg`.
fn ran_build_script(stderr: &str, pkg: &str) -> bool {
    stderr.lines().any(|l| {
        l.trim_start().starts_with("Running")
            && l.contains(&format!("{pkg}-"))
            && l.contains("build-script-build`")
    })
}

/// The build script's output directory of the newest build of `pkg` in `target`.
fn out_dir(target: &Path, pkg: &str) -> PathBuf {
    let build = target.join("debug/build");
    std::fs::read_dir(&build)
        .expect("read target/debug/build")
        .filter_map(|e| {
            let dir = e.ok()?.path();
            let name = dir.file_name()?.to_str()?;
            let hash = name.strip_prefix(pkg)?.strip_prefix('-')?;
            let out = dir.join("out");
            (!hash.contains('-') && out.join("providers.rs").exists()).then_some(out)
        })
        .max_by_key(|out| mtime(&out.join("providers.rs")))
        .unwrap_or_else(|| panic!("no build script output of {pkg} in {}", build.display()))
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .expect("mtime")
}

/// Writes `text` to `path` and dates it 2 s ahead, so cargo sees it as changed even on a
/// file system with coarse timestamps.
fn edit(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    std::fs::File::options()
        .append(true)
        .open(path)
        .expect("open")
        .set_modified(SystemTime::now() + Duration::from_secs(2))
        .expect("set mtime");
}

fn toml_path(p: &Path) -> String {
    format!("{:?}", p.to_str().expect("UTF-8 path"))
}

/// 1-based line of the first line equal to `line`.
fn line_of(text: &str, line: &str) -> usize {
    text.lines()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("no line `{line}`"))
        + 1
}

// ---------------------------------------------------------------------------------------
// Downstream crates.
// ---------------------------------------------------------------------------------------

/// A crate in a temporary directory outside the workspace.
struct Crate {
    _dir: TempDir,
    root: PathBuf,
    name: &'static str,
}

impl Crate {
    /// A crate named `name` with these files; `dependencies` is the body of its
    /// `[dependencies]` table. `terapi-codegen` is its build-dependency.
    fn new(name: &'static str, dependencies: &str, files: &[(&str, &str)]) -> Crate {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = canonical(dir.path());
        assert!(
            !root.starts_with(canonical(&codegen_dir().join(".."))),
            "the crate must be outside the workspace"
        );
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\n{dependencies}\n\n\
             [build-dependencies]\nterapi-codegen = {{ path = {} }}\n\n\
             # Not a member of any enclosing workspace.\n[workspace]\n",
            toml_path(&codegen_dir())
        );
        std::fs::write(root.join("Cargo.toml"), manifest).expect("write Cargo.toml");
        // The workspace's lock file: the same dependency versions, all available offline.
        std::fs::copy(workspace_file("Cargo.lock"), root.join("Cargo.lock")).expect("copy lock");
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        Crate {
            _dir: dir,
            root,
            name,
        }
    }

    /// The build.rs-mode crate of the README: three-line build.rs, the real catalog.
    fn build_rs(name: &'static str) -> Crate {
        Crate::new(
            name,
            &format!(
                "terapi-runtime = {{ path = {} }}",
                toml_path(&runtime_dir())
            ),
            &[
                ("build.rs", BUILD_RS),
                ("src/lib.rs", LIB_RS),
                ("providers.yaml", &catalog()),
            ],
        )
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn cargo(&self, args: &[&str]) -> Run {
        cargo(&self.root, &shared_target(), args, None)
    }

    fn cargo_ok(&self, args: &[&str], what: &str) -> Run {
        cargo_ok(&self.root, &shared_target(), args, None, what)
    }

    fn out_dir(&self) -> PathBuf {
        out_dir(&shared_target(), self.name)
    }
}

const BUILD_RS: &str = r#"fn main() -> Result<(), terapi_codegen::Error> {
    terapi_codegen::Builder::new().input("providers.yaml").generate().map(drop)
}
"#;

const LIB_RS: &str = r#"::terapi_runtime::include_providers!();

pub fn company(c: &personio_recruiting::ConnectionConfig) -> &str {
    &c.company_id
}
"#;

/// Builds the dependencies once (in a crate of their own), so that the first build of a
/// test's crate measures that crate only.
fn dependencies_built() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let warm = Crate::build_rs("downstream-warm-up");
        let run = warm.cargo_ok(&["build"], "warm-up build");
        eprintln!(
            "downstream: dependencies and a warm-up crate built in {:.2}s",
            run.time.as_secs_f64()
        );
    });
}

// ---------------------------------------------------------------------------------------
// 1. build.rs mode.
// ---------------------------------------------------------------------------------------

/// What a build script compiles is the generator and the provider model: no clap (only the
/// `terapi` binary parses arguments), no HTTP client, no async runtime, no TLS and no signing
/// code, whether or not the crate itself takes the client.
#[test]
fn a_build_scripts_tree_has_no_cli_client_tls_or_signing() {
    for (name, runtime) in [
        ("downstream-typed-tree", "default-features = false"),
        (
            "downstream-client-tree",
            "features = [\"client\", \"signing\"]",
        ),
    ] {
        let krate = Crate::new(
            name,
            &format!(
                "terapi-runtime = {{ path = {}, {runtime} }}",
                toml_path(&runtime_dir())
            ),
            &[
                ("build.rs", BUILD_RS),
                ("src/lib.rs", LIB_RS),
                ("providers.yaml", &catalog()),
            ],
        );
        let run = krate.cargo_ok(
            &[
                "tree",
                "-p",
                "terapi-codegen",
                "--edges",
                "normal,build",
                "--prefix",
                "none",
            ],
            "cargo tree",
        );
        let tree = run.stdout();
        assert!(
            tree.lines().any(|l| l.starts_with("terapi-codegen ")),
            "the tree lists the build-dependency:\n{tree}"
        );
        assert!(
            tree.lines().any(|l| l.starts_with("terapi-model ")),
            "{tree}"
        );
        for heavy in [
            "clap",
            "reqwest",
            "tokio",
            "rustls",
            "rsa",
            "p256",
            "p384",
            "jsonwebtoken",
            "ed25519-dalek",
            "terapi-runtime",
        ] {
            let found: Vec<&str> = tree
                .lines()
                .filter(|l| l.starts_with(&format!("{heavy} ")))
                .collect();
            assert!(
                found.is_empty(),
                "{name}: {heavy} is in the build script's tree: {found:?}\n{tree}"
            );
        }
    }
}

#[test]
#[ignore = "slow tier: cargo builds of a downstream crate, rebuild behaviour"]
fn build_rs_mode_rebuilds_exactly_when_the_catalog_changes() {
    dependencies_built();
    let pkg = "downstream-build-rs";
    let krate = Crate::build_rs(pkg);
    let yaml = krate.path("providers.yaml");

    // (a) First build of the crate.
    let clean = krate.cargo_ok(&["build", "-v"], "first build");
    assert!(ran_build_script(&clean.stderr(), pkg), "{}", clean.stderr());
    let generated = krate.out_dir().join("providers.rs");
    let text = squash(&std::fs::read_to_string(&generated).expect("read generated"));
    assert!(text.contains("pubmodpersonio_v2"), "{text}");

    // (b) No-op build: fresh, the build script not run, the output untouched.
    let before = mtime(&generated);
    let noop = krate.cargo_ok(&["build", "-v"], "no-op build");
    let stderr = noop.stderr();
    assert!(
        stderr.contains(&format!("Fresh {pkg} v0.1.0")),
        "no-op build was not fresh:\n{stderr}"
    );
    assert!(
        !ran_build_script(&stderr, pkg),
        "no-op build ran the build script:\n{stderr}"
    );
    assert_eq!(mtime(&generated), before, "no-op build rewrote the output");

    // (c) A new connection param, sent as a header and used by the crate.
    let original = catalog();
    let edited = original
        .replacen(
            "            x-company-id: ${connectionConfig.companyId}\n",
            "            x-company-id: ${connectionConfig.companyId}\n            x-department: ${connectionConfig.departmentId}\n",
            1,
        )
        .replacen(
            "    connection_config:\n        companyId:\n",
            "    connection_config:\n        departmentId:\n            type: string\n            title: Department\n            description: A new param.\n        companyId:\n",
            1,
        );
    assert_ne!(edited, original, "the test's edit did not apply");
    edit(&yaml, &edited);
    let lib = format!(
        "{LIB_RS}\npub fn department(c: &personio_recruiting::ConnectionConfig) -> &str {{\n    &c.department_id\n}}\n"
    );
    edit(&krate.path("src/lib.rs"), &lib);
    let edit_run = krate.cargo_ok(&["build", "-v"], "build after the edit");
    let stderr = edit_run.stderr();
    assert!(
        ran_build_script(&stderr, pkg),
        "editing providers.yaml did not rerun the build script:\n{stderr}"
    );
    let text =
        squash(&std::fs::read_to_string(krate.out_dir().join("providers.rs")).expect("read"));
    assert!(
        text.contains("pubdepartment_id:::std::string::String"),
        "new field missing"
    );
    // The header is in the embedded description (JSON inside a string literal).
    assert!(
        text.contains(r#"\"name\":\"x-department\""#),
        "new header missing"
    );

    // (d) A catalog error fails the build with a located diagnostic, not a panic.
    let broken = edited.replacen(
        "    connection_config:\n        departmentId:",
        "    conection_config:\n        departmentId:",
        1,
    );
    assert_ne!(broken, edited);
    edit(&yaml, &broken);
    let run = krate.cargo(&["build", "-v"]);
    let stderr = run.stderr();
    assert!(!run.ok(), "a broken catalog built:\n{stderr}");
    assert_unknown_key_reported(&stderr, &yaml, &broken);
    assert!(
        stderr.contains("did you mean `connection_config`?"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "the build script panicked:\n{stderr}"
    );

    // (e) A catalog warning is a cargo warning, and the build succeeds.
    let warned = format!(
        "{edited}\nbasic-demo:\n    display_name: Basic Demo\n    categories:\n        - other\n    auth_mode: BASIC\n    proxy:\n        base_url: https://api.basic-demo.example\n    docs: https://basic-demo.example/docs\n    credentials:\n        username:\n            type: string\n            title: User\n            description: The user name.\n"
    );
    edit(&yaml, &warned);
    let run = krate.cargo_ok(&["build", "-v"], "build with a catalog warning");
    let stderr = run.stderr();
    assert!(ran_build_script(&stderr, pkg), "{stderr}");
    let line = line_of(&warned, "        username:");
    let expected = format!(
        "warning: {pkg}@0.1.0: {}:{line}:9: warning[usual-credential]: auth mode BASIC usually has a `credentials.password` param",
        yaml.display()
    );
    assert!(
        stderr.contains(&expected),
        "missing `{expected}` in:\n{stderr}"
    );

    eprintln!(
        "downstream build.rs: clean {:.2}s, edit {:.2}s, no-op {:.2}s",
        clean.time.as_secs_f64(),
        edit_run.time.as_secs_f64(),
        noop.time.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------
// 2. Builder options.
// ---------------------------------------------------------------------------------------

const OPTIONS_BUILD_RS: &str = r#"fn main() -> Result<(), Box<dyn std::error::Error>> {
    terapi_codegen::Builder::new()
        .inputs(["providers.yaml", "custom.yaml"])
        .providers(["personio", "personio-recruiting", "acme-custom"])
        .module_per_file(true)
        .derive("::core::hash::Hash")
        .docs(false)
        .runtime_path("::rt")
        .generate()?;
    Ok(())
}
"#;

const CUSTOM_YAML: &str = r#"# Custom providers, generated together with the platform's catalog.
acme-custom:
    display_name: Acme Custom
    categories:
        - crm
    auth_mode: API_KEY
    proxy:
        base_url: https://api.acme.example/v1
        headers:
            x-api-key: ${apiKey}
            x-tenant: ${connectionConfig.tenant}
    docs: https://acme.example/docs
    connection_config:
        tenant:
            type: string
            title: Tenant
            description: The tenant, in lowercase letters.
            pattern: '^[a-z]+$'
    credentials:
        apiKey:
            type: string
            title: API Key
            description: The key.
            secret: true
"#;

const OPTIONS_LIB_RS: &str = r#"::rt::include_providers!();

use std::collections::HashSet;

/// How many distinct configs there are (`ConnectionConfig: Hash` by the Builder's derive).
pub fn distinct(configs: impl IntoIterator<Item = personio_recruiting::ConnectionConfig>) -> usize {
    configs.into_iter().collect::<HashSet<_>>().len()
}

pub fn tenant(c: &acme_custom::ConnectionConfig) -> &str {
    &c.tenant
}

pub fn company(c: &personio_recruiting::ConnectionConfig) -> &str {
    &c.company_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::rt::serde_json::json;
    use ::rt::{Params as _, TypedProvider as _};

    #[test]
    fn generated_types_from_both_catalogs() {
        let a = personio_recruiting::ConnectionConfig::from_json(
            &json!({ "companyId": "33434", "company": "company-b" }),
        )
        .unwrap();
        assert_eq!(company(&a), "33434");
        let b = personio_recruiting::ConnectionConfig::from_json(
            &json!({ "companyId": "1", "company": "company-c" }),
        )
        .unwrap();
        assert_eq!(distinct([a.clone(), a, b]), 2);

        let c = acme_custom::ConnectionConfig::from_json(&json!({ "tenant": "acme" })).unwrap();
        assert_eq!(tenant(&c), "acme");
        let err = acme_custom::ConnectionConfig::from_json(&json!({ "tenant": "ACME" })).unwrap_err();
        assert!(err.to_string().contains("tenant"), "{err}");
        let creds = acme_custom::Credentials::from_json(&json!({ "apiKey": "k3y" })).unwrap();
        let headers = acme_custom::Marker::proxy_headers(&c, &creds).unwrap();
        assert_eq!(headers.get("x-tenant"), Some("acme"));
        assert_eq!(headers.get("x-api-key"), Some("k3y"));

        assert_eq!(Provider::KEYS, ["acme-custom", "personio", "personio-recruiting"]);
        assert_eq!("acme-custom".parse::<Provider>().unwrap(), Provider::AcmeCustom);
        assert!("personio-v2".parse::<Provider>().is_err());
    }
}
"#;

/// Code generated for another format than the runtime reads does not compile, and says why:
/// a generator and a runtime of different versions fail at build time, not at first use.
#[test]
#[ignore = "slow tier: cargo builds a downstream crate"]
fn a_generator_runtime_format_mismatch_is_a_compile_error() {
    dependencies_built();
    let krate = Crate::new(
        "downstream-format",
        &format!(
            "terapi-runtime = {{ path = {} }}",
            toml_path(&runtime_dir())
        ),
        &[
            ("build.rs", "fn main() {}\n"),
            (
                "src/lib.rs",
                "//! Code of a generator one format ahead.\n::terapi_runtime::expect_format!(999);\n",
            ),
        ],
    );
    let run = krate.cargo(&["build"]);
    let stderr = run.stderr();
    assert!(!run.ok(), "a foreign format compiled:\n{stderr}");
    assert!(
        stderr.contains("generated by a terapi-codegen of format 999")
            && stderr.contains("use terapi-codegen and terapi-runtime of the same version"),
        "{stderr}"
    );
    // The current format compiles.
    std::fs::write(
        krate.path("src/lib.rs"),
        format!(
            "//! Code of this generator.\n::terapi_runtime::expect_format!({});\n",
            terapi_runtime::FORMAT
        ),
    )
    .expect("write lib.rs");
    krate.cargo_ok(&["build"], "cargo build of the current format");
}

#[test]
#[ignore = "slow tier: cargo builds and tests a downstream crate"]
fn builder_options_in_one_crate() {
    dependencies_built();
    let pkg = "downstream-options";
    let krate = Crate::new(
        pkg,
        &format!(
            "rt = {{ package = \"terapi-runtime\", path = {} }}",
            toml_path(&runtime_dir())
        ),
        &[
            ("build.rs", OPTIONS_BUILD_RS),
            ("src/lib.rs", OPTIONS_LIB_RS),
            ("providers.yaml", &catalog()),
            ("custom.yaml", CUSTOM_YAML),
        ],
    );
    krate.cargo_ok(&["build"], "build with every Builder option");

    let out = krate.out_dir();
    let main =
        squash(&std::fs::read_to_string(out.join("providers.rs")).expect("read providers.rs"));
    // module_per_file: the main file includes one file per provider.
    for module in ["personio", "personio_recruiting", "acme_custom"] {
        assert!(
            main.contains(&format!("pubmod{module}")),
            "`{module}` missing:\n{main}"
        );
        assert!(
            out.join(format!("providers/{module}.rs")).is_file(),
            "no providers/{module}.rs in {}",
            out.display()
        );
    }
    // providers(): personio-v2 is not generated.
    assert!(!main.contains("pubmodpersonio_v2"), "{main}");
    assert!(!out.join("providers/personio_v2.rs").exists());
    let recruiting = squash(
        &std::fs::read_to_string(out.join("providers/personio_recruiting.rs")).expect("read"),
    );
    let all = format!("{main}\n{recruiting}");
    // derive(), runtime_path(), docs(false).
    assert!(recruiting.contains("::core::hash::Hash"), "{recruiting}");
    assert!(all.contains("::rt::"), "runtime path not used");
    assert!(
        !all.contains("::terapi_runtime"),
        "default runtime path still used"
    );
    // docs(false): no doc comment carries the catalog's text (which still travels in the
    // embedded description, one string literal, for forms at run time).
    let raw = [
        out.join("providers.rs"),
        out.join("providers/personio_recruiting.rs"),
    ]
    .iter()
    .map(|p| std::fs::read_to_string(p).expect("read"))
    .collect::<Vec<_>>()
    .join("\n");
    for line in raw.lines().filter(|l| l.contains("Sent as a bearer token")) {
        let line = line.trim_start();
        assert!(
            !line.starts_with("//") && !line.contains("#[doc") && !line.contains("#![doc"),
            "catalog descriptions emitted as docs with docs(false): {line}"
        );
    }

    let run = krate.cargo_ok(&["test"], "the crate's own tests");
    let stdout = run.stdout();
    assert!(
        stdout.contains("test tests::generated_types_from_both_catalogs ... ok"),
        "{stdout}"
    );

    // Diagnostics of the second catalog name that catalog, at its own lines.
    let custom = krate.path("custom.yaml");
    let query = CUSTOM_YAML.replacen(
        "    docs: https://acme.example/docs\n",
        "        query:\n            api_key: ${apiKey}\n    docs: https://acme.example/docs\n",
        1,
    );
    assert_ne!(query, CUSTOM_YAML);
    edit(&custom, &query);
    let run = krate.cargo_ok(&["build", "-v"], "build with a secret in a query param");
    let stderr = run.stderr();
    let line = line_of(&query, "            api_key: ${apiKey}");
    let expected = format!(
        "warning: {pkg}@0.1.0: {}:{line}:22: warning[secret-in-query]: query param `api_key` carries a secret",
        custom.display()
    );
    assert!(
        stderr.contains(&expected),
        "missing `{expected}` in:\n{stderr}"
    );

    let broken = query.replacen("    connection_config:\n", "    conection_config:\n", 1);
    assert_ne!(broken, query);
    edit(&custom, &broken);
    let run = krate.cargo(&["build", "-v"]);
    let stderr = run.stderr();
    assert!(!run.ok(), "a broken second catalog built:\n{stderr}");
    assert_unknown_key_reported(&stderr, &custom, &broken);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// 3. Static-crate mode.
// ---------------------------------------------------------------------------------------

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_terapi"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run terapi")
}

fn show(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const SMOKE_TEST: &str = r#"use downstream_static::{personio_recruiting, Provider};
use terapi_runtime::serde_json::json;
use terapi_runtime::{Params as _, TypedProvider as _};

#[test]
fn generated_crate_validates() {
    let config = personio_recruiting::ConnectionConfig::from_json(
        &json!({ "companyId": "33434", "company": "company-b", "partnerId": "ACME" }),
    )
    .unwrap();
    let creds = personio_recruiting::Credentials::from_json(&json!({ "apiKey": "s3cret" })).unwrap();
    let headers = personio_recruiting::Marker::proxy_headers(&config, &creds).unwrap();
    assert_eq!(headers.get("x-company-id"), Some("33434"));
    assert_eq!(headers.get("x-personio-app-id"), None);
    assert!(!format!("{creds:?}").contains("s3cret"));
    assert!(personio_recruiting::ConnectionConfig::from_json(&json!({ "companyId": "x" })).is_err());
    assert!(Provider::KEYS.contains(&"personio-recruiting"));
}
"#;

/// The static crate's integrations file: a sync and an action of `personio` (the provider the
/// test keeps), with inline models.
const INTEGRATIONS: &str = r#"integrations:
  personio:
    syncs:
      staff:
        endpoint: GET /company/employees
        output: Staff
        id: attributes.id.value
        limit: 50
        runs: every 2h
    actions:
      set-status:
        endpoint: PATCH /company/employees/{id}
        input: StatusChange
        idempotent: true
models:
  Staff:
    type: string
    attributes: any
  StatusChange:
    id: integer
    status: "'active' | 'inactive'"
"#;

const INTEGRATIONS_TEST: &str = r#"use downstream_static::integrations::{integrations, models, personio};
use terapi_runtime::serde_json::json;

#[test]
fn generated_integrations_are_typed() {
    let staff = personio::syncs::staff();
    assert_eq!(staff.endpoint, "/company/employees");
    assert_eq!(staff.schedule, Some(std::time::Duration::from_secs(7200)));
    assert_eq!(personio::syncs::all().len(), 1);
    let change = models::StatusChange::from_json(&json!({"id": 7, "status": "active"})).unwrap();
    assert_eq!(change.status, models::StatusChangeStatus::Active);
    let e = models::StatusChange::from_json(&json!({"id": "x", "status": "gone"})).unwrap_err();
    assert_eq!(e.problems.len(), 2, "{e}");
    assert!(integrations().unwrap().action("personio", "set-status").is_some());
}

/// The action's typed function, as an application calls it (compiled, not run: no server).
#[allow(dead_code)]
async fn set_inactive(
    conn: &terapi_runtime::client::Connection,
) -> Result<terapi_runtime::serde_json::Value, terapi_runtime::client::action::ActionError> {
    let input = models::StatusChange { id: 1, status: models::StatusChangeStatus::Inactive };
    personio::actions::set_status(conn, &input).await
}
"#;

const USER_FILE: &str = "// My notes, not generated: terapi-codegen leaves this file alone.\n";

#[test]
#[ignore = "slow tier: cargo builds and tests a generated crate"]
fn static_crate_mode_generates_a_crate_and_checks_its_drift() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = canonical(dir.path());
    let yaml = root.join("providers.yaml");
    let krate = root.join("downstream-static");
    std::fs::write(&yaml, catalog()).expect("write catalog");
    let integrations = root.join("integrations.yaml");
    std::fs::write(&integrations, INTEGRATIONS).expect("write integrations");
    let dependency = format!("{{ path = {} }}", toml_path(&runtime_dir()));
    let args = |cmd: &'static str| -> Vec<String> {
        [
            cmd,
            "--input",
            yaml.to_str().expect("UTF-8"),
            "--integrations",
            integrations.to_str().expect("UTF-8"),
            "--crate",
            krate.to_str().expect("UTF-8"),
            "--crate-name",
            "downstream-static",
            "--runtime-dependency",
            dependency.as_str(),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run = |cmd: &'static str| {
        let a = args(cmd);
        cli(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let out = run("generate");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "src/personio.rs",
        "src/personio_v2.rs",
        "src/personio_recruiting.rs",
        "src/integrations.rs",
    ] {
        assert!(krate.join(f).is_file(), "generate did not write {f}");
    }
    std::fs::create_dir_all(krate.join("tests")).expect("mkdir tests");
    std::fs::write(krate.join("tests/integrations.rs"), INTEGRATIONS_TEST)
        .expect("write integrations test");
    std::fs::write(krate.join("src/extra.rs"), USER_FILE).expect("write user file");
    std::fs::create_dir_all(krate.join("tests")).expect("mkdir tests");
    std::fs::write(krate.join("tests/smoke.rs"), SMOKE_TEST).expect("write test");
    let lock = krate.join("Cargo.lock");
    std::fs::copy(workspace_file("Cargo.lock"), &lock).expect("copy lock");

    let strict = |args: &[&str], what: &str| {
        let run = cargo_ok(&krate, &strict_target(), args, Some("-D warnings"), what);
        let stderr = run.stderr();
        assert!(
            !stderr
                .lines()
                .any(|l| l.trim_start().starts_with("warning")),
            "{what}: warnings in:\n{stderr}"
        );
        run
    };
    strict(&["build"], "build of the generated crate");
    let test = strict(&["test"], "tests of the generated crate");
    for name in [
        "generated_crate_validates",
        "generated_integrations_are_typed",
    ] {
        assert!(
            test.stdout().contains(&format!("test {name} ... ok")),
            "{}",
            test.stdout()
        );
    }

    let out = run("check");
    assert_eq!(out.status.code(), Some(0), "fresh crate: {}", show(&out));

    // A new param in personio-recruiting, and personio-v2 removed.
    let original = catalog();
    let start = original
        .find("\npersonio-v2:\n")
        .expect("personio-v2 entry")
        + 1;
    let end = original
        .find("\npersonio-recruiting:\n")
        .expect("personio-recruiting entry")
        + 1;
    let edited = format!("{}{}", &original[..start], &original[end..])
        .replacen(
            "            x-company-id: ${connectionConfig.companyId}\n",
            "            x-company-id: ${connectionConfig.companyId}\n            x-department: ${connectionConfig.departmentId}\n",
            1,
        )
        .replacen(
            "    connection_config:\n        companyId:\n",
            "    connection_config:\n        departmentId:\n            type: string\n            title: Department\n            description: A new param.\n        companyId:\n",
            1,
        );
    assert!(!edited.contains("personio-v2:") && edited.contains("departmentId:"));
    std::fs::write(&yaml, &edited).expect("write catalog");

    let out = run("check");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "stale crate: {}", show(&out));
    for expected in [
        "--- a/src/personio_recruiting.rs\n+++ b/src/personio_recruiting.rs\n",
        "+    pub department_id: ::std::string::String,",
        "--- a/src/lib.rs\n+++ b/src/lib.rs\n",
        "--- a/src/personio_v2.rs\n+++ /dev/null\n",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in the diff: {}",
            show(&out)
        );
    }
    assert!(
        !stdout.contains("extra.rs"),
        "user file in the diff: {stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is stale"),
        "{}",
        show(&out)
    );

    let out = run("generate");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        !krate.join("src/personio_v2.rs").exists(),
        "generate left the removed provider's file"
    );
    assert_eq!(
        std::fs::read_to_string(krate.join("src/extra.rs")).expect("user file kept"),
        USER_FILE
    );
    let out = run("check");
    assert_eq!(out.status.code(), Some(0), "regenerated: {}", show(&out));
    strict(&["build"], "build of the regenerated crate");
}

// ---------------------------------------------------------------------------------------
// 4. The CLI's help and usage errors.
// ---------------------------------------------------------------------------------------

#[test]
fn help_names_every_subcommand_and_flag() {
    let out = cli(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    for word in ["generate", "check", "lint", "schema", "Exit codes"] {
        assert!(text.contains(word), "`--help` lacks `{word}`:\n{text}");
    }
    let flags: [(&str, &[&str]); 4] = [
        (
            "generate",
            &[
                "--crate",
                "--crate-name",
                "--runtime-dependency",
                "--allow",
                "--warn",
                "--deny",
                "--invalid-providers",
                "--quiet",
            ],
        ),
        (
            "check",
            &["--crate", "--deny", "--invalid-providers", "--quiet"],
        ),
        (
            "lint",
            &[
                "--allow",
                "--warn",
                "--deny",
                "--invalid-providers",
                "--explain",
                "--rules",
                "--providers",
                "--quiet",
            ],
        ),
        ("schema", &["JSON Schema"]),
    ];
    for (cmd, words) in flags {
        let out = cli(&[cmd, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{cmd} --help: {}", show(&out));
        for word in words {
            assert!(
                text.contains(word),
                "`{cmd} --help` lacks `{word}`:\n{text}"
            );
        }
    }
    for args in [
        &["--bogus"][..],
        &["generate", "--bogus"],
        &["check", "--crate-name", "x"],
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
    }
}

/// The build's stderr names the `conection_config` typo of `broken` (written to `path`) at
/// its line and column.
fn assert_unknown_key_reported(stderr: &str, path: &Path, broken: &str) {
    let line = line_of(broken, "    conection_config:");
    let expected = format!(
        "{}:{line}:5: error[unknown-key]: unknown key `conection_config`",
        path.display()
    );
    assert!(
        stderr.contains(&expected),
        "missing `{expected}` in:\n{stderr}"
    );
}

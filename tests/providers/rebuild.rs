//! Cargo's rebuild behaviour with the Builder, proven on a copy of this workspace:
//! a no-op build does not run the build script; touching the catalog reruns it without
//! rewriting an unchanged output; an edit regenerates (a new param becomes a new field); a
//! broken catalog fails the build with located diagnostics, not a panic.
//!
//! Slow tier (it builds the workspace once in its own target directory): `#[ignore]`d, run by
//! `scripts/test-slow` (or `cargo test --test providers rebuild:: -- --ignored`). It prints the
//! build times it sees.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

use terapi_test_support::dev_null;

const WORKSPACE_FILES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    "providers.yaml",
    "integrations.yaml",
];
const WORKSPACE_DIRS: &[&str] = &[
    "src",
    // The OpenAPI types the generated integrations include.
    "generated",
    "codegen",
    "model",
    "runtime",
    "store",
    "sync",
    "server",
    "cli",
    "test-support",
    "tests/hostile-crate",
    "examples",
    "benches",
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

struct Workspace {
    _dir: tempfile::TempDir,
    root: PathBuf,
    target: PathBuf,
}

impl Workspace {
    fn copy() -> Workspace {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        for f in WORKSPACE_FILES {
            std::fs::copy(src.join(f), root.join(f)).unwrap();
        }
        for d in WORKSPACE_DIRS {
            copy_dir(&src.join(d), &root.join(d));
        }
        // A target directory kept between runs of this test: later runs skip compiling
        // the dependencies, and no lock is shared with the `cargo test` running us.
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rebuild-target");
        Workspace {
            _dir: dir,
            root,
            target,
        }
    }

    fn build(&self) -> (Output, Duration) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        dev_null::empty_if_regular_file();
        let start = Instant::now();
        let out = Command::new(cargo)
            .args(["build", "-v", "--offline", "-p", "terapi-providers"])
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("RUSTC_WRAPPER")
            .env("CARGO_TERM_COLOR", "never")
            .output()
            .unwrap();
        (out, start.elapsed())
    }

    fn build_ok(&self, what: &str) -> (String, Duration) {
        let (out, time) = self.build();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{what}: build failed:\n{stderr}");
        eprintln!("{what}: {:.2} s", time.as_secs_f64());
        (stderr, time)
    }

    /// The build script output of the *current* build (the newest `out/providers.rs`).
    fn generated(&self) -> PathBuf {
        let build = self.target.join("debug/build");
        std::fs::read_dir(&build)
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path().join("out/providers.rs");
                let name = p.parent()?.parent()?.file_name()?.to_str()?.to_owned();
                (name.starts_with("terapi-providers-") && p.exists()).then_some(p)
            })
            .max_by_key(|p| mtime(p))
            .expect("build script output exists")
    }

    fn yaml(&self) -> PathBuf {
        self.root.join("providers.yaml")
    }
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn ran_build_script(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        l.contains("Running") && l.contains("terapi-providers-") && l.contains("build-script-build")
    })
}

fn bump_mtime(p: &Path) {
    let later = SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options()
        .append(true)
        .open(p)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

#[test]
#[ignore = "slow tier: builds a copy of the workspace, rebuild behaviour"]
fn rebuilds_exactly_when_the_catalog_changes() {
    let ws = Workspace::copy();
    ws.build_ok("first build");
    let generated = ws.generated();
    let first_mtime = mtime(&generated);

    let (stderr, _) = ws.build_ok("no-op build");
    assert!(
        stderr.contains("Fresh terapi-providers"),
        "no-op build was not fresh:\n{stderr}"
    );
    assert!(
        !ran_build_script(&stderr),
        "no-op build ran the build script:\n{stderr}"
    );

    bump_mtime(&ws.yaml());
    let (stderr, _) = ws.build_ok("touched catalog");
    assert!(
        ran_build_script(&stderr),
        "touching providers.yaml did not rerun the build script:\n{stderr}"
    );
    assert_eq!(
        mtime(&generated),
        first_mtime,
        "unchanged output was rewritten"
    );

    // The integrations file is an input too: touching it reruns the build script, and an
    // unchanged output is not rewritten.
    let integrations = generated.with_file_name("integrations.rs");
    let integrations_mtime = mtime(&integrations);
    bump_mtime(&ws.root.join("integrations.yaml"));
    let (stderr, _) = ws.build_ok("touched integrations file");
    assert!(
        ran_build_script(&stderr),
        "touching integrations.yaml did not rerun the build script:\n{stderr}"
    );
    assert_eq!(
        mtime(&integrations),
        integrations_mtime,
        "unchanged output was rewritten"
    );

    let yaml = std::fs::read_to_string(ws.yaml()).unwrap();
    let edited = yaml
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
    assert_ne!(edited, yaml, "the test's edit did not apply");
    std::fs::write(ws.yaml(), &edited).unwrap();
    bump_mtime(&ws.yaml());
    // Use the new field from the crate itself, so the build proves it is a real field.
    let lib = ws.root.join("src/lib.rs");
    let mut code = std::fs::read_to_string(&lib).unwrap();
    code.push_str("\n/// Uses the new field.\npub fn department(c: &personio_recruiting::ConnectionConfig) -> &str {\n    &c.department_id\n}\n");
    std::fs::write(&lib, code).unwrap();
    let (stderr, _) = ws.build_ok("edited catalog");
    assert!(ran_build_script(&stderr));
    let text = std::fs::read_to_string(ws.generated()).unwrap();
    assert!(
        text.contains("pub department_id: ::std::string::String"),
        "new field missing"
    );
    // The header is in the embedded description (JSON inside a string literal).
    assert!(
        text.contains(r#"\"name\":\"x-department\""#),
        "new header missing"
    );

    let broken = edited.replacen(
        "    connection_config:\n        departmentId:",
        "    conection_config:\n        departmentId:",
        1,
    );
    std::fs::write(ws.yaml(), &broken).unwrap();
    bump_mtime(&ws.yaml());
    let (out, _) = ws.build();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a broken catalog built");
    let line = broken
        .lines()
        .position(|l| l == "    conection_config:")
        .unwrap()
        + 1;
    let expected = format!(
        "providers.yaml:{line}:5: error[unknown-key]: unknown key `conection_config` in a provider entry"
    );
    assert!(
        stderr.contains(&expected),
        "missing `{expected}` in:\n{stderr}"
    );
    assert!(
        stderr.contains("did you mean `connection_config`?"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "the build script panicked:\n{stderr}"
    );
}

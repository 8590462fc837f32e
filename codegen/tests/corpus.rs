//! The real catalog, `../shared/corpus/providers-2026-08-21.yaml` (981 providers): it lints
//! with only real findings (each a fault of that data file, listed below), and everything
//! else generates code that `cargo check` accepts with `-D warnings`.
//!
//! Slow (it type-checks about 260 000 generated lines), so it is its own test target:
//! `cargo test -p terapi-codegen --test corpus`. The corpus is read from `../shared/`, never
//! copied into the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use terapi_codegen::{Options, PatternPolicy, Severity};

fn corpus_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/providers-2026-08-21.yaml")
}

fn corpus() -> String {
    let path = corpus_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the real catalog is expected at {} (../shared beside the repository): {e}",
            path.display()
        )
    })
}

/// Faults of the data file (errors under the default options), by line:column.
const REAL_ERRORS: &[&str] = &[
    // certn-partner (OAUTH2_CC) sends `Bearer ${apiKey}`, but declares no `apiKey` and has none.
    "4522:35: error: `${apiKey}` uses a credential that `credentials` does not declare",
    // freshteam: `\\-+` is a range from `\` to `+`, out of order in ECMAScript too.
    "8898:22: error: the `pattern` of param `apiKey` is not a valid regex: invalid character class range, the start must be <= the end",
    // Declared connection params that no template uses (the platform's own CI rule).
    "9715:9: error: connection_config param `actAs` is declared but no template uses it",
    "16024:9: error: connection_config param `oauth_scopes` is declared but no template uses it",
    "16822:9: error: connection_config param `tenantId` is declared but no template uses it",
    "16859:9: error: connection_config param `tenantId` is declared but no template uses it",
    "20429:9: error: connection_config param `companyUUID` is declared but no template uses it",
    "20434:9: error: connection_config param `companyRequestToken` is declared but no template uses it",
];

/// Valid ECMAScript the Rust regex engine cannot run: errors by default, warnings with
/// `PatternPolicy::Skip` (then that one check is dropped).
const LOOKAROUND_LINES: &[u32] = &[20079, 20110, 20209];

/// The providers with real errors, left out of generation.
const FAULTY: &[&str] = &[
    "certn-partner",
    "glean",
    "okta-cc",
    "paycor",
    "paycor-sandbox",
    "sap-concur",
];

fn headline(d: &terapi_codegen::Diagnostic) -> String {
    format!(
        "{}:{}: {}: {}",
        d.loc.line, d.loc.col, d.severity, d.message
    )
}

#[test]
fn lints_with_only_real_findings() {
    let source = corpus();
    let diagnostics = terapi_codegen::lint(&source);
    let errors: Vec<String> = diagnostics
        .sorted()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(headline)
        .collect();
    let (lookaround, other): (Vec<&String>, Vec<&String>) =
        errors.iter().partition(|e| e.contains("lookaround"));
    assert_eq!(other, REAL_ERRORS, "the corpus's errors changed");
    let lines: Vec<u32> = lookaround
        .iter()
        .map(|e| e.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, LOOKAROUND_LINES);

    let skip = Options {
        patterns: PatternPolicy::Skip,
        ..Options::default()
    };
    let with_skip = terapi_codegen::lint_with(&source, &skip);
    let errors: Vec<String> = with_skip
        .sorted()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(headline)
        .collect();
    let without_pattern_error: Vec<&str> = REAL_ERRORS
        .iter()
        .copied()
        .filter(|e| !e.contains("pattern"))
        .collect();
    assert_eq!(errors, without_pattern_error);
}

#[test]
fn generates_and_type_checks_with_deny_warnings() {
    let source = corpus();
    let options = Options {
        patterns: PatternPolicy::Skip,
        exclude: FAULTY.iter().map(|s| s.to_string()).collect(),
        ..Options::default()
    };
    let generated = terapi_codegen::generate(&corpus_path(), &source, &options)
        .unwrap_or_else(|e| panic!("the corpus does not generate:\n{e}"));
    assert!(
        generated
            .warnings
            .iter()
            .all(|w| w.severity == Severity::Warning)
    );
    let modules = generated.code.matches("\npub mod ").count();
    assert_eq!(
        modules,
        981 - FAULTY.len(),
        "one module per provider, less the faulty ones"
    );

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-crate");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime")
        .canonicalize()
        .unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"corpus-check\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nterapi-runtime = {{ path = {:?} }}\n\n[workspace]\n",
            runtime.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        "//! Every provider of the real catalog.\n#![forbid(unsafe_code)]\ninclude!(\"providers.rs\");\n",
    )
    .unwrap();
    terapi_codegen::write_if_changed(&dir.join("src/providers.rs"), &generated.code).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["check", "--offline", "--quiet"])
        .current_dir(&dir)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-target"),
        )
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the generated corpus does not type-check:\n{}",
        &stderr[..stderr.len().min(20_000)]
    );
}

//! The real catalogs of `../shared/corpus/`, one of each format era: each lints with only
//! real findings (each a fault of that file under the platform's own semantics, listed
//! below with why), each generates with `--invalid-providers skip`, and the output of each
//! type-checks with `-D warnings`. A built program then proves that no credential value of
//! any provider appears in any `Debug` output or error.
//!
//! Slow tier (it type-checks about 300 000 generated lines): every test here is `#[ignore]`d,
//! run by `scripts/test-slow` (or `cargo test -p terapi-codegen --test corpus -- --ignored`).
//! The corpora are read from `../shared/`, never copied into the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use terapi_codegen::{Diagnostic, InvalidProviders, Options, Severity};
use terapi_runtime::spec::ProviderSpec;

fn corpus_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../shared/corpus/{name}"))
}

fn corpus(name: &str) -> String {
    let path = corpus_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the real catalog is expected at {} (../shared beside the repository): {e}",
            path.display()
        )
    })
}

const CURRENT: &str = "providers-2026-08-21.yaml";
const TRANSITIONAL: &str = "providers-2025-04-30.yaml";
const OLDER: &str = "providers-2024-05-31.yaml";

/// The errors of each corpus under the default options: `LINE:COL: error[code]: message`.
fn real_errors(name: &str) -> &'static [&'static str] {
    match name {
        CURRENT => &[
            // certn-partner is OAUTH2_CC without a `token_url`: no connection can get a token.
            "4515:1: error[missing-token-url]: provider `certn-partner` (auth mode OAUTH2_CC) has no `token_url`",
            // ... and it sends `Bearer ${apiKey}`, but an OAUTH2_CC connection has no `apiKey`:
            // the platform leaves the placeholder in the header.
            "4522:35: error[undeclared-credential]: `${apiKey}` uses a credential that `credentials` does not declare",
            // freshteam: `\\-+` is a range from `\` to `+`, out of order: `new RegExp` throws.
            "8898:22: error[invalid-pattern]: the `pattern` of param `apiKey` is not a valid ECMAScript regex: invalid character class range, the start must be <= the end",
        ],
        TRANSITIONAL => &[
            "1928:1: error[missing-token-url]: provider `certn-partner` (auth mode OAUTH2_CC) has no `token_url`",
            "1935:35: error[undeclared-credential]: `${apiKey}` uses a credential that `credentials` does not declare",
            "3931:22: error[invalid-pattern]: the `pattern` of param `apiKey` is not a valid ECMAScript regex: invalid character class range, the start must be <= the end",
        ],
        OLDER => &[
            // snowflake: `https://{connectionConfig.snowflake_account_url}` lacks the `$`, so the
            // platform sends the braces as the host.
            "2074:27: error[missing-dollar]: this looks like a placeholder without its `$`: it is sent as it is",
        ],
        _ => unreachable!(),
    }
}

/// The providers `--invalid-providers skip` leaves out.
fn skipped(name: &str) -> &'static [&'static str] {
    match name {
        CURRENT | TRANSITIONAL => &["certn-partner", "freshteam"],
        OLDER => &["snowflake"],
        _ => unreachable!(),
    }
}

fn headline(d: &Diagnostic) -> String {
    format!(
        "{}:{}: {}[{}]: {}",
        d.loc.line, d.loc.col, d.severity, d.rule, d.message
    )
}

fn lints_with_only_real_findings(name: &str) {
    let source = corpus(name);
    let diagnostics = terapi_codegen::lint(&source);
    let errors: Vec<String> = diagnostics
        .sorted()
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(headline)
        .collect();
    assert_eq!(errors, real_errors(name), "the errors of {name} changed");
}

#[test]
#[ignore = "slow tier: reads the real corpora in ../shared/corpus"]
fn current_corpus_lints_with_only_real_findings() {
    lints_with_only_real_findings(CURRENT);
}

#[test]
#[ignore = "slow tier: reads the real corpora in ../shared/corpus"]
fn transitional_corpus_lints_with_only_real_findings() {
    lints_with_only_real_findings(TRANSITIONAL);
}

#[test]
#[ignore = "slow tier: reads the real corpora in ../shared/corpus"]
fn older_corpus_lints_with_only_real_findings() {
    lints_with_only_real_findings(OLDER);
    // One note per entry that it uses the older format, not one error per placeholder.
    let diagnostics = terapi_codegen::lint(&corpus(OLDER));
    let notes = diagnostics
        .sorted()
        .into_iter()
        .filter(|d| d.rule == terapi_codegen::Rule::OlderFormat)
        .count();
    let entries = corpus(OLDER)
        .lines()
        .filter(|l| l.ends_with(':') && !l.starts_with([' ', '#']))
        .count();
    let aliases = corpus(OLDER).matches("\n    alias: ").count();
    assert_eq!(notes, entries - aliases);
}

/// Generates `name` with `--invalid-providers skip` into a crate of its own; returns the
/// crate's directory and the generated module names.
fn generate_crate(name: &str) -> (PathBuf, Vec<String>) {
    let source = corpus(name);
    let options = Options {
        invalid_providers: InvalidProviders::Skip,
        ..Options::default()
    };
    let generated = terapi_codegen::generate(&corpus_path(name), &source, &options)
        .unwrap_or_else(|e| panic!("{name} does not generate:\n{e}"));
    let mut left_out: Vec<String> = generated
        .warnings
        .iter()
        .filter(|w| w.rule == terapi_codegen::Rule::ProviderSkipped)
        .filter_map(|w| w.provider.clone())
        .collect();
    left_out.sort();
    assert_eq!(
        left_out,
        skipped(name),
        "{name}: the providers left out changed"
    );
    assert!(
        generated
            .warnings
            .iter()
            .all(|w| w.severity != Severity::Error)
    );
    let modules: Vec<String> = generated
        .code
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(" {").to_owned())
        .collect();
    let stem = name.trim_end_matches(".yaml").replace('-', "_");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("corpus-{stem}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime")
        .canonicalize()
        .unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"corpus-{}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\nterapi-runtime = {{ path = {:?} }}\nserde_json = \"1\"\n\n[workspace]\n",
            stem.replace('_', "-"),
            runtime.display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        "//! Every provider of a real catalog.\n#![forbid(unsafe_code)]\ninclude!(\"providers.rs\");\n",
    )
    .unwrap();
    terapi_codegen::write_if_changed(&dir.join("src/providers.rs"), &generated.code).unwrap();
    (dir, modules)
}

/// The last 20,000 bytes of `text` (cut at a character boundary).
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(20_000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The corpus crates share a target directory; one cargo at a time keeps the peak memory of
/// three large debug builds (and their link) down.
#[path = "common/dev_null.rs"]
mod dev_null;

static CARGO: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let _one_at_a_time = CARGO
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    dev_null::empty_if_regular_file();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-target"),
        )
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .unwrap()
}

/// Generates `name` and builds it into a program that gives every credential of every
/// provider a marker value and prints the `Debug` of what `from_json` returns (the
/// credentials, or the validation errors with their `Display`): it fails when a marker shows,
/// or when a credential is not secret. Building it type-checks the output with `-D warnings`.
fn builds_and_no_credential_value_appears_in_debug_output(name: &str) {
    let (dir, modules) = generate_crate(name);
    assert!(modules.len() > 200, "{name}: {} modules", modules.len());
    let loaded = load(name);
    assert_eq!(
        loaded.providers.len(),
        modules.len(),
        "{name}: loaded and generated"
    );
    let stem = name.trim_end_matches(".yaml").replace('-', "_");
    let krate = format!("corpus_{stem}");
    let checks: String = modules
        .iter()
        .map(|m| format!("    check(\"{m}\", {krate}::{m}::Credentials::params(), |v| format!(\"{{:?}}\", {krate}::{m}::Credentials::from_json(v).map_err(|e| format!(\"{{e}} {{e:?}}\"))));\n"))
        .collect();
    // Each provider's model as generated code holds it (`Marker::spec()`), as JSON, one line
    // each, to compare with the model loaded at run time.
    let models: String = modules
        .iter()
        .map(|m| {
            format!(
                "    println!(\"MODEL {{}}\", serde_json::to_string({krate}::{m}::Marker::spec()).unwrap());\n"
            )
        })
        .collect();
    let main = format!(
        "//! Prints nothing and exits 0 unless a credential value shows in some output.\n\
         #![forbid(unsafe_code)]\n\
         use terapi_runtime::{{Params as _, TypedProvider as _}};\n\
         fn check(module: &str, params: &[terapi_runtime::ParamSpec], show: impl Fn(&serde_json::Value) -> String) {{\n\
         \x20   let mut object = serde_json::Map::new();\n\
         \x20   for (i, p) in params.iter().enumerate() {{\n\
         \x20       object.insert(p.key.to_string(), serde_json::Value::String(format!(\"MARKER{{i}}zq7\")));\n\
         \x20   }}\n\
         \x20   let shown = show(&serde_json::Value::Object(object));\n\
         \x20   for (i, p) in params.iter().enumerate() {{\n\
         \x20       if p.secret && shown.contains(&format!(\"MARKER{{i}}zq7\")) {{\n\
         \x20           println!(\"{{module}}: credential `{{}}` shows in: {{shown}}\", p.key);\n\
         \x20           std::process::exit(1);\n\
         \x20       }}\n\
         \x20   }}\n\
         \x20   if let Some(p) = params.iter().find(|p| !p.secret) {{ println!(\"{{module}}: credential `{{}}` is not secret\", p.key); std::process::exit(1); }}\n\
         }}\n\
         fn main() {{\n{checks}{models}}}\n"
    );
    terapi_codegen::write_if_changed(&dir.join("src/main.rs"), &main).unwrap();
    let bin = format!("corpus-{}", stem.replace('_', "-"));
    let out = cargo(&dir, &["run", "--offline", "--bin", &bin]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: a credential value shows, or the generated code does not build ({}):\n{stdout}\n{}",
        out.status,
        tail(&stderr)
    );
    let printed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("MODEL "))
        .collect();
    assert_eq!(
        printed.len(),
        loaded.providers.len(),
        "{name}: one model line per provider"
    );
    for (generated, loaded) in printed.iter().zip(&loaded.providers) {
        let generated: ProviderSpec = serde_json::from_str(generated)
            .unwrap_or_else(|e| panic!("{name}: a model line does not read: {e}"));
        assert_eq!(
            &generated, loaded,
            "{name}: the generated model of `{}` and the loaded one differ",
            loaded.key
        );
    }
}

/// The catalog loaded at run time with the options of `generate_crate`.
fn load(name: &str) -> terapi_codegen::Loaded {
    let options = Options {
        invalid_providers: InvalidProviders::Skip,
        ..Options::default()
    };
    terapi_codegen::load(&corpus_path(name), &corpus(name), &options)
        .unwrap_or_else(|e| panic!("{name} does not load:\n{e}"))
}

#[test]
#[ignore = "slow tier: runs cargo on the generated code of a real corpus"]
fn older_corpus_generates_builds_and_hides_every_credential() {
    builds_and_no_credential_value_appears_in_debug_output(OLDER);
}

#[test]
#[ignore = "slow tier: runs cargo on the generated code of a real corpus"]
fn transitional_corpus_generates_builds_and_hides_every_credential() {
    builds_and_no_credential_value_appears_in_debug_output(TRANSITIONAL);
}

#[test]
#[ignore = "slow tier: runs cargo on the generated code of a real corpus"]
fn current_corpus_generates_builds_and_hides_every_credential() {
    builds_and_no_credential_value_appears_in_debug_output(CURRENT);
}

//! The README's build-script recipe, built exactly as written.
//!
//! The README marks its recipe with HTML comments: `<!-- recipe: Cargo.toml -->`,
//! `<!-- recipe: build.rs -->` and `<!-- recipe: src/main.rs -->` each before the fenced block
//! of that file, and `<!-- recipe: output -->` before the block of what `cargo run` prints.
//! This test writes the three files into `<tmp>/my-app`, makes `<tmp>/terapi-providers` a
//! symbolic link to this repository (so the README's `../terapi-providers/...` paths resolve as
//! they would for a user with the clone beside their crate), runs `cargo run` there and compares
//! its standard output with the README's output block, byte for byte.
//!
//! Slow tier: it compiles the recipe's dependency tree in a target directory of its own
//! (`target/tmp/readme-recipe-target`, kept between runs). Offline, with this repository's
//! Cargo.lock copied into the crate, so the versions are the ones the workspace already built.
//!
//! `cargo test -p terapi-codegen --test readme_recipe -- --ignored`
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/dev_null.rs"]
mod dev_null;

/// The repository root.
fn repository() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize()
        .unwrap_or_else(|e| panic!("canonicalize {}: {e}", root.display()))
}

/// The body of the fenced block that follows the line `<!-- recipe: NAME -->` in `readme`.
fn recipe_block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- recipe: {name} -->");
    let mut lines = readme.lines();
    let found = lines.by_ref().any(|line| line.trim() == marker);
    assert!(found, "README.md has no line `{marker}`");
    let fence = lines
        .by_ref()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_else(|| panic!("README.md ends after `{marker}`"));
    assert!(
        fence.starts_with("```"),
        "`{marker}` must be followed by a fenced code block, found: {fence}"
    );
    let mut body = String::new();
    for line in lines {
        if line.starts_with("```") {
            return body;
        }
        body.push_str(line);
        body.push('\n');
    }
    panic!("the code block after `{marker}` is not closed");
}

#[test]
fn every_recipe_block_is_marked_once() {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("read README.md");
    for name in ["Cargo.toml", "build.rs", "src/main.rs", "output"] {
        let marker = format!("<!-- recipe: {name} -->");
        assert_eq!(
            readme.lines().filter(|l| l.trim() == marker).count(),
            1,
            "README.md must have the line `{marker}` exactly once"
        );
        assert!(!recipe_block(&readme, name).trim().is_empty(), "{name}");
    }
}

#[test]
#[ignore = "slow tier: builds the README's recipe with cargo"]
fn the_readme_recipe_builds_and_prints_what_the_readme_shows() {
    let repository = repository();
    let readme = std::fs::read_to_string(repository.join("README.md")).expect("read README.md");

    let dir = tempfile::tempdir().expect("temp dir");
    let base = dir.path().canonicalize().expect("canonicalize temp dir");
    assert!(
        !base.starts_with(&repository),
        "the crate must be outside the repository's workspace"
    );
    std::os::unix::fs::symlink(&repository, base.join("terapi-providers"))
        .expect("link terapi-providers to the repository");
    let app = base.join("my-app");
    for (name, path) in [
        ("Cargo.toml", "Cargo.toml"),
        ("build.rs", "build.rs"),
        ("src/main.rs", "src/main.rs"),
    ] {
        let path = app.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, recipe_block(&readme, name)).expect("write a recipe file");
    }
    // The workspace's lock file: the same dependency versions, all available offline.
    std::fs::copy(repository.join("Cargo.lock"), app.join("Cargo.lock")).expect("copy Cargo.lock");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    dev_null::empty_if_regular_file();
    let output = Command::new(cargo)
        .args(["run", "--offline"])
        .current_dir(&app)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-recipe-target"),
        )
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .output()
        .expect("run cargo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the README's recipe failed to build or run (`cargo run` in my-app):\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout,
        recipe_block(&readme, "output"),
        "the recipe's output differs from the README's output block"
    );
}

//! The committed `generated/providers.rs` must equal what build.rs generates from
//! `providers.yaml` (rust-analyzer's `ensure_file_contents`): when it is stale, this test
//! rewrites it and fails, so `cargo test` catches drift and leaves the fix to commit.

use std::path::Path;

/// What build.rs wrote into OUT_DIR for this very build.
const BUILD_OUTPUT: &str = include_str!(concat!(env!("OUT_DIR"), "/providers.rs"));

fn ensure_file_contents(path: &Path, contents: &str) {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    if old == contents {
        return;
    }
    std::fs::write(path, contents).unwrap();
    panic!(
        "{} was stale and has been regenerated from providers.yaml; review and commit it \
         (or run `cargo run -p terapi-cli -- generate`)",
        path.display()
    );
}

#[test]
fn committed_copy_equals_build_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = terapi_codegen::generate_file(&root.join("providers.yaml"), &Default::default())
        .unwrap_or_else(|e| panic!("providers.yaml does not generate:\n{e}"))
        .code;
    assert_eq!(fresh, BUILD_OUTPUT, "build.rs and the library disagree");
    ensure_file_contents(&root.join("generated/providers.rs"), &fresh);
}

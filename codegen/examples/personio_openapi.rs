//! Writes the Rust types of the `$ref` models of the repository's `integrations.yaml`
//! (`openapi.output`: `generated/personio_openapi.rs`) from the OpenAPI documents it names
//! (`openapi.documents`: `../shared/reference/personio-openapi`), or the directory named by
//! `TERAPI_OPENAPI_DIR`. `codegen/tests/openapi.rs` checks the committed file against the
//! same documents.
//!
//! `cargo run -p terapi-codegen --features openapi --example personio_openapi`

use std::path::{Path, PathBuf};

use terapi_codegen::openapi::{generate, paths_of, refs_of};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations.yaml");
    let loaded = terapi_codegen::load_integrations_file(&file, None, &Default::default())?;
    let documents = std::env::var_os("TERAPI_OPENAPI_DIR").map(PathBuf::from);
    let paths = paths_of(&file, &loaded, documents.as_deref())
        .ok_or("integrations.yaml names no `openapi: {documents, output}`")?;
    let code = generate(&paths.documents, &refs_of(&loaded))?;
    std::fs::write(&paths.output, code)?;
    println!("wrote {}", paths.output.display());
    Ok(())
}

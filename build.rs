//! Generates the provider code from `providers.yaml`, and the workflows from
//! `integrations.yaml`, into `OUT_DIR`.
//! `generated/providers.rs` is the committed copy of the same output (the same whatever the
//! features: generated code adapts to terapi-runtime's), so this build formats it as the CLI does.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    terapi_codegen::Builder::new()
        .input("providers.yaml")
        // Syncs, actions and models (committed copy: `generated/integrations.rs`).
        .integrations("integrations.yaml")
        // The committed copy (`generated/`) is the same text, laid out for review.
        .formatted(true)
        .generate()?;
    Ok(())
}

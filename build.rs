//! Generates the provider code from `providers.yaml` into `OUT_DIR`.
//! `generated/providers.rs` is the committed copy of the same output (with the `client`
//! feature, the default), so this build formats it as the CLI does.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    terapi_codegen::Builder::new()
        .input("providers.yaml")
        .client(std::env::var_os("CARGO_FEATURE_CLIENT").is_some())
        // The committed copy (`generated/`) is the same text, laid out for review.
        .formatted(true)
        .generate()?;
    Ok(())
}

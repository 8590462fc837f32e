//! Generates the provider code from `providers.yaml` into `OUT_DIR`.
//! `generated/providers.rs` is the committed copy of the same output.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    terapi_codegen::Builder::new()
        .input("providers.yaml")
        .generate()?;
    Ok(())
}

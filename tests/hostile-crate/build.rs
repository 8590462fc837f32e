//! Generates from the hostile catalog.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    terapi_codegen::Builder::new()
        .input("hostile.yaml")
        .file_name("hostile.rs")
        .generate()?;
    Ok(())
}

//! Writes `generated/personio_openapi.rs` from Personio's OpenAPI documents: the directory
//! named by `TERAPI_OPENAPI_DIR`, or `../shared/reference/personio-openapi` beside the
//! repository. `codegen/tests/openapi.rs` checks the committed file against the same
//! documents (the list of models below is the same as the test's).
//!
//! `cargo run -p terapi-codegen --features openapi --example personio_openapi`

use std::path::{Path, PathBuf};

use terapi_codegen::openapi::{OpenApiRef, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("TERAPI_OPENAPI_DIR").map_or_else(
        || repository.join("../shared/reference/personio-openapi"),
        PathBuf::from,
    );
    let r = |name: &str, document: &str, pointer: &str| OpenApiRef {
        name: name.to_owned(),
        document: document.to_owned(),
        pointer: pointer.to_owned(),
    };
    let personnel = "personio-personnel-data-api-oa3.yaml";
    let recruiting = "personio-recruiting-api.yaml";
    let refs = [
        r("Employee", personnel, "/components/schemas/Employee"),
        r(
            "Attendance",
            personnel,
            "/components/schemas/AttendancePeriodsResponse/allOf/1/properties/data/items",
        ),
        r(
            "AbsencePeriod",
            personnel,
            "/components/schemas/HourlyAbsencePeriodsResponse/allOf/1/properties/data/items",
        ),
        r(
            "Application",
            recruiting,
            "/components/schemas/submit_application",
        ),
        r(
            "UploadedDocument",
            recruiting,
            "/components/schemas/uploaded_document",
        ),
        r(
            "CustomAttribute",
            "common-components-v2.json",
            "/components/schemas/CustomAttribute",
        ),
    ];
    let code = generate(&dir, &refs)?;
    let out = repository.join("generated/personio_openapi.rs");
    std::fs::write(&out, code)?;
    println!("wrote {}", out.display());
    Ok(())
}

//! `terapi_codegen::openapi` (feature `openapi`): the committed `generated/personio_openapi.rs`
//! against Personio's OpenAPI documents.
//!
//! The documents are read from `TERAPI_OPENAPI_DIR`, or `../shared/reference/personio-openapi`
//! beside the repository. They are never copied into the repository: the tests that need them
//! are skipped with a note when they are absent, and fail when they are absent in CI (`CI`
//! set). `TERAPI_OPENAPI_BLESS=1` writes the generated file instead of comparing with it.
//!
//! This file also compiles the committed file (`include!`, warnings denied) and reads the
//! documents' own examples into its types.
#![cfg(feature = "openapi")]

use std::path::{Path, PathBuf};

use terapi_codegen::openapi::{OpenApiRef, generate};

#[deny(warnings)]
mod personio {
    include!("../../generated/personio_openapi.rs");
}

const PERSONNEL: &str = "personio-personnel-data-api-oa3.yaml";

/// The models of the committed file: the `$ref` models of the repository's
/// integrations.yaml, the file that `terapi_codegen::openapi::refs_of` reads them from.
fn personio_refs() -> Vec<OpenApiRef> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations.yaml");
    let loaded = terapi_codegen::load_integrations_file(&path, None, &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    terapi_codegen::openapi::refs_of(&loaded)
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed_path() -> PathBuf {
    repository().join("generated/personio_openapi.rs")
}

/// The documents directory, if it is there (see the file's documentation).
fn documents() -> Option<PathBuf> {
    let dir = std::env::var_os("TERAPI_OPENAPI_DIR").map_or_else(
        || repository().join("../shared/reference/personio-openapi"),
        PathBuf::from,
    );
    if dir.join(PERSONNEL).is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "Personio's OpenAPI documents are not in {} in CI: the drift check of \
         generated/personio_openapi.rs needs them (set TERAPI_OPENAPI_DIR, or put \
         ../shared/reference/personio-openapi beside the repository)",
        dir.display()
    );
    eprintln!(
        "skipped: Personio's OpenAPI documents are not in {} (set TERAPI_OPENAPI_DIR to check \
         generated/personio_openapi.rs against them)",
        dir.display()
    );
    None
}

fn document(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("the document");
    serde_saphyr::from_str(&text).expect("the document parses")
}

/// An example of a document, by JSON pointer.
fn example(doc: &serde_json::Value, pointer: &str) -> serde_json::Value {
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("no example at {pointer}"))
        .clone()
}

#[test]
fn committed_file_matches_the_documents() {
    let Some(dir) = documents() else { return };
    let code = generate(&dir, &personio_refs()).unwrap_or_else(|e| panic!("{e}"));
    let path = committed_path();
    if std::env::var_os("TERAPI_OPENAPI_BLESS").is_some() {
        std::fs::write(&path, &code).expect("write the generated file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == code,
        "{} is out of date with the OpenAPI documents in {}: regenerate it with \
         `TERAPI_OPENAPI_BLESS=1 cargo test -p terapi-codegen --features openapi --test openapi`\n{}",
        path.display(),
        dir.display(),
        first_difference(&committed, &code)
    );
}

fn first_difference(a: &str, b: &str) -> String {
    let line = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()));
    format!(
        "first difference at line {}: committed {:?}, generated {:?}",
        line + 1,
        a.lines().nth(line),
        b.lines().nth(line)
    )
}

#[test]
fn generation_is_deterministic_and_shaped_for_include() {
    let Some(dir) = documents() else { return };
    let first = generate(&dir, &personio_refs()).unwrap_or_else(|e| panic!("{e}"));
    let second = generate(&dir, &personio_refs()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, second, "two runs differ");
    assert!(first.starts_with("// @generated"));
    assert!(
        !first.contains("//!"),
        "no inner doc comments in an include!d file"
    );
    assert!(
        !first.contains("#!["),
        "no inner attributes in an include!d file"
    );
    for alias in [
        "pub type Employee = personio_personnel_data_api_oa3::Employee;",
        "pub type Attendance = personio_personnel_data_api_oa3::AttendancePeriodsResponseDataItem;",
        "pub type AbsencePeriod = personio_personnel_data_api_oa3::HourlyAbsencePeriodsResponseDataItem;",
        "pub type Application = personio_recruiting_api::SubmitApplication;",
        "pub type UploadedDocument = personio_recruiting_api::UploadedDocument;",
        "pub type CustomAttribute = common_components_v2::CustomAttribute;",
    ] {
        assert!(first.contains(alias), "missing `{alias}`");
    }
    // The references in another order give the same file.
    let mut reversed = personio_refs();
    reversed.reverse();
    let third = generate(&dir, &reversed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        third.lines().filter(|l| l.starts_with("pub mod")).count(),
        3,
        "one module per document"
    );
}

/// The documents' own example of `GET /company/employees`, read into `Employee`.
#[test]
fn employee_example_reads_into_the_types() {
    let Some(dir) = documents() else { return };
    let doc = document(&dir, PERSONNEL);
    let json = example(
        &doc,
        "/paths/~1company~1employees/get/responses/200/content/application~1json/examples/response/value/data/0/attributes",
    );
    let employee: personio::Employee = serde_json::from_value(json.clone()).expect("Employee");
    let first = employee.first_name.as_ref().expect("first_name");
    assert_eq!(first.label, "First name");
    assert_eq!(first.value, serde_json::json!("Alexander"));
    assert_eq!(first.universal_id.as_deref(), Some("first_name"));
    assert!(matches!(
        first.type_,
        Some(personio::personio_personnel_data_api_oa3::TypeEnum::Standard)
    ));
    assert_eq!(
        employee.id.as_ref().map(|a| a.value.clone()),
        Some(serde_json::json!(1))
    );
    assert_eq!(
        employee.contract_end_date.as_ref().map(|a| a.value.clone()),
        Some(serde_json::Value::Null)
    );
    let department = employee.department.as_ref().expect("department");
    let value = department.value.as_ref().expect("department value");
    let attributes = value.attributes.as_ref().expect("department attributes");
    assert_eq!(attributes.id, 281521);
    assert_eq!(attributes.name, "Customer Support");
    let salary = employee.fix_salary.as_ref().expect("fix_salary");
    assert_eq!(salary.currency.as_deref(), Some("EUR"));
    // Attributes the schema does not list (`vacation_day_balance`) are kept.
    assert!(employee.extra.contains_key("vacation_day_balance"));
    // A round trip keeps everything, including a field added to the JSON.
    let mut with_unknown = json;
    with_unknown["x_new_attribute"] = serde_json::json!({"label": "New", "value": [1, 2]});
    let employee: personio::Employee =
        serde_json::from_value(with_unknown.clone()).expect("Employee with an unknown field");
    assert_eq!(
        employee.extra["x_new_attribute"],
        serde_json::json!({"label": "New", "value": [1, 2]})
    );
    // `type: number` fields (`cost_centers[].attributes.id`) are `f64`: 82957 comes back as
    // 82957.0, the same number.
    assert_eq!(
        as_floats(serde_json::to_value(&employee).expect("serialize")),
        as_floats(with_unknown)
    );
}

/// `value` with every number as an `f64`, to compare numbers by value.
fn as_floats(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) => serde_json::json!(n.as_f64()),
        Value::Array(list) => Value::Array(list.into_iter().map(as_floats).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, as_floats(v))).collect())
        }
        other => other,
    }
}

#[test]
fn attendance_example_reads_into_the_types() {
    let Some(dir) = documents() else { return };
    let doc = document(&dir, PERSONNEL);
    let data = "/paths/~1company~1attendances/get/responses/200/content/application~1json/examples/response/value/data";
    // The first record's `is_on_time_off: false,` is a string in the document (a typo of its
    // YAML), which a boolean rejects; the second record is well formed.
    let first = example(&doc, &format!("{data}/0"));
    assert_eq!(first["attributes"]["is_on_time_off"], "false,");
    assert!(serde_json::from_value::<personio::Attendance>(first).is_err());
    let mut json = example(&doc, &format!("{data}/1"));
    let attendance: personio::Attendance =
        serde_json::from_value(json.clone()).expect("Attendance");
    assert_eq!(attendance.id, 1235);
    let attributes = &attendance.attributes;
    assert_eq!(attributes.employee, Some(325660));
    assert_eq!(attributes.end_time.as_deref(), Some("18:30"));
    assert_eq!(
        attributes.updated_at.as_deref(),
        Some("2017-01-18T16:41:08+01:00")
    );
    assert_eq!(attributes.project, None);
    assert_eq!(attributes.is_on_time_off, Some(true));
    json["attributes"]["x_unknown"] = serde_json::json!({"kept": true});
    json["x_top"] = serde_json::json!(7);
    let attendance: personio::Attendance =
        serde_json::from_value(json.clone()).expect("Attendance");
    // An optional field that is null (`project: null`) is written back as absent.
    json["attributes"]
        .as_object_mut()
        .expect("attributes")
        .remove("project");
    assert_eq!(serde_json::to_value(&attendance).expect("serialize"), json);
}

#[test]
fn absence_period_example_reads_into_the_types() {
    let Some(dir) = documents() else { return };
    let doc = document(&dir, PERSONNEL);
    let mut json = example(
        &doc,
        "/paths/~1company~1absence-periods/get/responses/200/content/application~1json/examples/response/value/data/0",
    );
    let period: personio::AbsencePeriod =
        serde_json::from_value(json.clone()).expect("AbsencePeriod");
    let attributes = &period.attributes;
    assert_eq!(
        attributes.id.as_deref(),
        Some("9bba303f-0fbc-4514-9958-0befa21923fb")
    );
    assert_eq!(attributes.effective_duration, Some(960));
    assert_eq!(attributes.end.as_deref(), Some("2022-06-02T22:00:00.0Z"));
    assert_eq!(attributes.breakdowns.len(), 2);
    assert_eq!(attributes.breakdowns[0].effective_duration, 480);
    let employee = attributes.employee.as_ref().expect("employee");
    let id = employee
        .attributes
        .as_ref()
        .and_then(|a| a.id.as_ref())
        .expect("employee id");
    assert_eq!(id.value, serde_json::json!(2367));
    json["attributes"]["x_unknown"] = serde_json::json!("kept");
    let period: personio::AbsencePeriod =
        serde_json::from_value(json.clone()).expect("AbsencePeriod");
    assert_eq!(serde_json::to_value(&period).expect("serialize"), json);
}

/// The recruiting document has no example of an application; this one follows its schema.
#[test]
fn application_reads_and_keeps_unknown_fields() {
    let json = serde_json::json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "job_position_id": 42,
        "phase": {"type": "custom", "id": 7},
        "tags": ["referral"],
        "files": [{"uuid": "6ec1a4a0-0000-4000-8000-000000000001", "original_filename": "cv.pdf", "category": "cv"}],
        "attributes": [{"id": "birthday", "value": "1815-12-10"}],
        "x_unknown": {"kept": [1, 2]}
    });
    let application: personio::Application =
        serde_json::from_value(json.clone()).expect("Application");
    assert_eq!(application.first_name, "Ada");
    assert_eq!(application.job_position_id, 42);
    assert_eq!(application.files[0].original_filename, "cv.pdf");
    assert_eq!(serde_json::to_value(&application).expect("serialize"), json);
    // The schema's required fields stay required.
    let missing =
        serde_json::json!({"first_name": "Ada", "last_name": "Lovelace", "email": "a@b.c"});
    let e = serde_json::from_value::<personio::Application>(missing).unwrap_err();
    assert!(e.to_string().contains("job_position_id"), "{e}");

    let document: personio::UploadedDocument = serde_json::from_value(serde_json::json!({
        "uuid": "6ec1a4a0-0000-4000-8000-000000000001", "size": 12, "mimetype": "application/pdf",
        "original_filename": "cv.pdf", "extension": "pdf"
    }))
    .expect("UploadedDocument");
    assert_eq!(document.size, 12);

    let attribute: personio::CustomAttribute = serde_json::from_value(serde_json::json!({
        "id": "a1", "type": "STRING_LIST", "label": "Languages", "value": ["de", "en"]
    }))
    .expect("CustomAttribute");
    assert_eq!(attribute.label.as_deref(), Some("Languages"));
}

// ---------------------------------------------------------------------------------------
// Errors, on small documents of the tests' own.
// ---------------------------------------------------------------------------------------

fn one(name: &str, document: &str, pointer: &str) -> Vec<OpenApiRef> {
    vec![OpenApiRef {
        name: name.to_owned(),
        document: document.to_owned(),
        pointer: pointer.to_owned(),
    }]
}

fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "good.yaml",
        "openapi: 3.0.0\ncomponents:\n  schemas:\n    Thing:\n      type: object\n      properties:\n        a: {type: string, nullable: true}\n        other: {$ref: 'other.json#/components/schemas/Other'}\n",
    );
    write(
        "other.json",
        r#"{"components": {"schemas": {"Other": {"type": "object", "properties": {"b": {"type": "integer"}}}}}}"#,
    );
    write("broken.yaml", "components: [unclosed\n");
    write("broken.json", "{\"components\": ");
    write(
        "dangling.yaml",
        "components:\n  schemas:\n    Thing:\n      properties:\n        x: {$ref: 'absent.json#/components/schemas/X'}\n        y: {$ref: '#/components/schemas/Nowhere'}\n",
    );
    write(
        "rejected.yaml",
        "components:\n  schemas:\n    Thing:\n      type: object\n      properties:\n        x: {$ref: '#/components/schemas/Kind'}\n    Kind:\n      type: string\n      enum: [a, 1, {x: 1}]\n    NotASchema:\n      type: 12\n    BadDefault:\n      type: object\n      properties:\n        a: {type: string, default: 5}\n",
    );
    dir
}

fn error(dir: &Path, refs: &[OpenApiRef]) -> String {
    match generate(dir, refs) {
        Ok(_) => panic!("expected an error for {refs:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_reference_to_another_document_is_resolved() {
    let dir = fixtures();
    let code = generate(
        dir.path(),
        &one("Thing", "good.yaml", "/components/schemas/Thing"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(code.contains("pub type Thing = good::Thing;"), "{code}");
    assert!(code.contains("pub struct OtherOther"), "{code}");
    assert!(
        code.contains("pub a: ::std::option::Option<::std::string::String>"),
        "{code}"
    );
}

#[test]
fn each_error_names_the_document_and_the_pointer() {
    let dir = fixtures();
    let missing_dir = dir.path().join("absent-dir");
    let e = error(
        &missing_dir,
        &one("T", "good.yaml", "/components/schemas/Thing"),
    );
    assert!(
        e.contains("absent-dir") && e.contains("does not exist") && e.contains("OpenAPI documents"),
        "{e}"
    );
    let e = error(
        dir.path(),
        &one("T", "absent.yaml", "/components/schemas/Thing"),
    );
    assert!(
        e.contains("expected the OpenAPI document `absent.yaml`")
            && e.contains("/components/schemas/Thing"),
        "{e}"
    );
    let e = error(
        dir.path(),
        &one("T", "broken.yaml", "/components/schemas/Thing"),
    );
    assert!(e.starts_with("broken.yaml: not a valid YAML or JSON document (needed for `/components/schemas/Thing`)"), "{e}");
    let e = error(
        dir.path(),
        &one("T", "broken.json", "/components/schemas/Thing"),
    );
    assert!(
        e.starts_with("broken.json: not a valid YAML or JSON document"),
        "{e}"
    );
    let e = error(
        dir.path(),
        &one("T", "good.yaml", "/components/schemas/Nothing"),
    );
    assert_eq!(
        e,
        "good.yaml: the pointer `/components/schemas/Nothing` resolves to nothing"
    );
    let e = error(
        dir.path(),
        &one("T", "dangling.yaml", "/components/schemas/Thing"),
    );
    assert!(
        e.starts_with("dangling.yaml: `$ref: \"absent.json#/components/schemas/X\"` in `/components/schemas/Thing` cannot be resolved: another document that cannot be read: absent.json: expected the OpenAPI document `absent.json`"),
        "{e}"
    );
    let e = error(
        dir.path(),
        &one(
            "T",
            "dangling.yaml",
            "/components/schemas/Thing/properties/y",
        ),
    );
    assert!(
        e.contains("`$ref: \"#/components/schemas/Nowhere\"`")
            && e.contains("resolves to nothing in `dangling.yaml`"),
        "{e}"
    );
    // The schema at fault is named, not only the reference that reached it.
    let e = error(
        dir.path(),
        &one("T", "rejected.yaml", "/components/schemas/Thing"),
    );
    assert_eq!(
        e,
        "rejected.yaml: typify rejected the schema `/components/schemas/Kind`: unexpected value type"
    );
    let e = error(
        dir.path(),
        &one("T", "rejected.yaml", "/components/schemas/NotASchema"),
    );
    assert!(
        e.starts_with("rejected.yaml: typify rejected the schema `/components/schemas/NotASchema`: not a JSON schema"),
        "{e}"
    );
    // typify panics on a default that does not fit its type; that is an error too.
    let e = error(
        dir.path(),
        &one("T", "rejected.yaml", "/components/schemas/BadDefault"),
    );
    assert!(
        e.starts_with("rejected.yaml: typify rejected the schema `/components/schemas/BadDefault`: typify panicked: The default value could not be rendered"),
        "{e}"
    );
    let e = error(
        dir.path(),
        &one("not a name", "good.yaml", "/components/schemas/Thing"),
    );
    assert!(e.contains("`not a name` is not a Rust identifier"), "{e}");
}

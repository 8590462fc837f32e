//! Personio's five declared syncs against the fake Personio, then the store's records of each
//! model read as its generated type (`Store::typed_records`): the v1 records typed from
//! Personio's OpenAPI documents, the v2 ones from the integrations file's models; fields the
//! models do not declare are kept.

use terapi_test_support as support;

use support::fake_personio::FakePersonio;
use support::personio_conn::{v1, v2};
use terapi_providers::integrations::{models, personio, personio_v2};
use terapi_store::{Keys, Model, Store};
use terapi_sync::{SyncOptions, sync};

async fn store() -> Store {
    Store::open("sqlite::memory:", Keys::new("test", &[9; 32]).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn every_declared_sync_runs_and_its_records_read_as_the_generated_models() {
    let fake = FakePersonio::start().await;
    fake.set_employees(130);
    fake.set_attendances(250);
    fake.set_absence_periods(45);
    fake.set_persons(12);
    let store = store().await;
    let (hr, hr2) = (v1(&fake.origin()), v2(&fake.origin()));
    let mut counts = Vec::new();
    for spec in personio::syncs::all() {
        let report = sync(&store, &hr, "acme", &spec, SyncOptions::full())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", spec.model));
        counts.push((spec.model.to_string(), report.counts.added));
    }
    for spec in personio_v2::syncs::all() {
        let report = sync(&store, &hr2, "acme", &spec, SyncOptions::full())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", spec.model));
        counts.push((spec.model.to_string(), report.counts.added));
    }
    let added = |m: &str| counts.iter().find(|(n, _)| n == m).unwrap().1;
    assert_eq!(added("employees"), 130);
    assert_eq!(added("attendances"), fake.attendances().len() as u64);
    assert_eq!(
        added("absence-periods"),
        fake.absence_periods().len() as u64
    );
    assert_eq!(added("persons"), 12);
    assert_eq!(added("employments"), 12);

    let m = |name| Model::personal("acme", name);
    let employees = store
        .typed_records::<models::EmployeeRecord>(m("employees"), None, 1000)
        .await
        .unwrap();
    assert_eq!(employees.len(), 130);
    let first = &employees[0].record;
    assert_eq!(first.type_, "Employee");
    assert!(first.attributes.first_name.is_some());
    let id = first.attributes.id.as_ref().map(|a| a.value.clone());
    assert_eq!(
        id,
        Some(serde_json::json!(employees[0].id.parse::<u64>().unwrap()))
    );

    let attendances = store
        .typed_records::<models::Attendance>(m("attendances"), None, 1000)
        .await
        .unwrap();
    assert_eq!(attendances.len() as u64, added("attendances"));
    let a = &attendances[0].record;
    assert_eq!(a.id.to_string(), attendances[0].id);
    assert!(
        a.attributes.updated_at.is_some(),
        "the adjusted `updated_at`"
    );

    let absences = store
        .typed_records::<models::AbsencePeriod>(m("absence-periods"), None, 1000)
        .await
        .unwrap();
    assert_eq!(absences.len() as u64, added("absence-periods"));

    let persons = store
        .typed_records::<models::Person>(m("persons"), None, 100)
        .await
        .unwrap();
    assert_eq!(persons.len(), 12);
    assert!(persons.iter().all(|p| p.record.id == p.id));
    assert!(persons[0].record.first_name.is_some());
    let employments = store
        .typed_records::<models::Employment>(m("employments"), None, 100)
        .await
        .unwrap();
    assert_eq!(employments.len(), 12);
    assert!(
        employments
            .iter()
            .all(|e| e.record.person.as_ref().is_some_and(|p| !p.id.is_empty()))
    );

    // A field no model declares (Personio adds one) is kept, not lost.
    let record = store
        .record(m("persons"), &persons[0].id)
        .await
        .unwrap()
        .unwrap();
    let mut data = record.data.clone();
    data["favourite_colour"] = serde_json::json!("teal");
    let typed: models::Person = terapi_runtime::integration::read_as(data.clone()).unwrap();
    assert_eq!(typed.extra["favourite_colour"], "teal");
    assert_eq!(
        serde_json::to_value(&typed).unwrap()["favourite_colour"],
        "teal"
    );

    // A record that does not read names itself and the place, never its content.
    let e = terapi_runtime::integration::read_as::<models::Person>(
        serde_json::json!({"id": 7, "first_name": "Secret Name"}),
    )
    .unwrap_err();
    assert_eq!(e.path, "id");
    assert!(!e.to_string().contains("Secret"), "{e}");
}

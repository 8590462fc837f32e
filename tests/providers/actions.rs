//! Personio's declared actions (integrations.yaml), through their generated typed functions,
//! against the fake Personio: valid input, invalid input reported field by field (nothing
//! sent), the provider's 4xx as a typed error, an idempotent action retried after a 5xx, a
//! non-idempotent one never retried after a 5xx; and the synced records read as the
//! generated models.

use terapi_test_support as support;

use serde_json::{Value, json};
use support::fake_personio::FakePersonio;
use support::personio_conn::{settings, v1, v2};
use terapi_providers::client::Connection;
use terapi_providers::client::action::ActionError;
use terapi_providers::integrations::{models, personio, personio_recruiting, personio_v2};
use terapi_providers::{Params as _, personio_recruiting as recruiting};

/// A `personio-recruiting` connection (API key, company id) to the fake.
fn recruiting(fake: &FakePersonio) -> Connection {
    let config = recruiting::ConnectionConfig::from_json(
        &json!({"companyId": FakePersonio::COMPANY_ID, "company": "company-b"}),
    )
    .unwrap();
    let credentials =
        recruiting::Credentials::from_json(&json!({"apiKey": FakePersonio::API_KEY})).unwrap();
    let typed =
        recruiting::Connection::with_settings(config, credentials, settings(&fake.origin()))
            .unwrap();
    (*typed).clone()
}

/// The requests the fake received with `method` on exactly `path`.
fn sent(fake: &FakePersonio, method: &str, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

fn problems(e: &ActionError) -> Vec<(String, String)> {
    match e {
        ActionError::Input(errors) => errors
            .problems
            .iter()
            .map(|p| (p.field.clone(), p.message.clone()))
            .collect(),
        other => panic!("expected an input error, got {other}"),
    }
}

fn provider_status(e: &ActionError) -> (u16, String) {
    match e {
        ActionError::Provider(p) => (p.status, p.message.clone().unwrap_or_default()),
        other => panic!("expected the provider's error, got {other}"),
    }
}

fn attendance(employee: i64, date: &str) -> models::NewAttendance {
    models::NewAttendance {
        employee,
        date: date.to_owned(),
        start_time: "09:00".to_owned(),
        end_time: Some(Some("17:00".to_owned())),
        break_: 30,
        comment: Some(Some("typed".to_owned())),
        project_id: None,
    }
}

fn first_employee(fake: &FakePersonio) -> i64 {
    fake.employee_ids()[0] as i64
}

#[tokio::test]
async fn create_attendances_valid_invalid_rejected_and_not_retried() {
    let fake = FakePersonio::start().await;
    let conn = v1(&fake.origin());
    let employee = first_employee(&fake);
    let before = fake.attendances().len();

    // Valid: one POST, the new id in the typed output, the record at the provider.
    let input = models::CreateAttendances {
        attendances: vec![attendance(employee, "2026-11-02")],
        skip_approval: Some(true),
    };
    let created = personio::actions::create_attendances(&conn, &input)
        .await
        .unwrap();
    assert!(created.success);
    assert_eq!(created.data.id.len(), 1);
    assert_eq!(fake.attendances().len(), before + 1);
    assert_eq!(sent(&fake, "POST", "/v1/company/attendances"), 1);
    let body: Value = serde_json::from_slice(
        &fake
            .requests()
            .into_iter()
            .rfind(|r| r.method == "POST")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(
        body["attendances"][0]["break"], 30,
        "the wire name of `break_`"
    );

    // Invalid, field by field, and nothing sent: from JSON, and through the typed struct.
    let e = models::CreateAttendances::from_json(&json!({
        "attendances": [{"employee": "seven", "date": "2026-02-30", "start_time": "9:00"}],
        "skip_aproval": true,
    }))
    .unwrap_err();
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "attendances[0].employee",
            "attendances[0].date",
            "attendances[0].start_time",
            "attendances[0].break",
            "skip_aproval"
        ],
        "{e}"
    );
    assert!(
        e.to_string().contains("did you mean `skip_approval`"),
        "{e}"
    );
    let mut bad = attendance(employee, "02.11.2026");
    bad.start_time = "late".to_owned();
    let e = personio::actions::create_attendances(
        &conn,
        &models::CreateAttendances {
            attendances: vec![bad],
            skip_approval: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        problems(&e),
        [
            (
                "attendances[0].date".to_owned(),
                "is not a date written YYYY-MM-DD (e.g. `2026-12-01`)".to_owned()
            ),
            (
                "attendances[0].start_time".to_owned(),
                "is not a time of day written HH:MM (e.g. `09:30`)".to_owned()
            ),
        ]
    );
    assert_eq!(
        sent(&fake, "POST", "/v1/company/attendances"),
        1,
        "nothing sent"
    );

    // The provider's 4xx: an employee Personio does not have.
    let e = personio::actions::create_attendances(
        &conn,
        &models::CreateAttendances {
            attendances: vec![attendance(999_999, "2026-11-03")],
            skip_approval: None,
        },
    )
    .await
    .unwrap_err();
    let (status, message) = provider_status(&e);
    assert_eq!(status, 400, "{e}");
    assert!(!message.is_empty(), "{e}");
    assert!(e.to_string().contains("400"), "{e}");
    // The provider's error, typed as its documented shape.
    #[derive(serde::Deserialize)]
    struct V1Error {
        success: bool,
        error: V1ErrorDetail,
    }
    #[derive(serde::Deserialize)]
    struct V1ErrorDetail {
        code: u16,
        message: String,
    }
    let ActionError::Provider(refused) = &e else {
        unreachable!()
    };
    let typed: V1Error = refused.body_as().unwrap();
    assert!(!typed.success);
    assert_eq!(typed.error.code, 400);
    assert_eq!(
        Some(typed.error.message.as_str()),
        refused.message.as_deref()
    );

    // Not idempotent: a 500 is the answer, never a second POST (which could create twice).
    fake.clear_recorded();
    fake.fail_next("/v1/company/attendances", vec![(500, None)]);
    let e = personio::actions::create_attendances(
        &conn,
        &models::CreateAttendances {
            attendances: vec![attendance(employee, "2026-11-04")],
            skip_approval: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(provider_status(&e).0, 500);
    assert_eq!(sent(&fake, "POST", "/v1/company/attendances"), 1);
    assert_eq!(fake.attendances().len(), before + 1, "nothing created");
}

#[tokio::test]
async fn update_and_delete_attendance_are_idempotent_and_retried() {
    let fake = FakePersonio::start().await;
    let conn = v1(&fake.origin());
    let employee = first_employee(&fake);
    let created = personio::actions::create_attendances(
        &conn,
        &models::CreateAttendances {
            attendances: vec![attendance(employee, "2026-11-05")],
            skip_approval: None,
        },
    )
    .await
    .unwrap();
    let id = created.data.id[0];
    let path = format!("/v1/company/attendances/{id}");

    // An idempotent PATCH answered 503 once: sent again, and it succeeds.
    fake.clear_recorded();
    fake.fail_next(&path, vec![(503, None)]);
    let input = models::UpdateAttendance {
        id,
        date: None,
        start_time: None,
        end_time: Some(Some("18:30".to_owned())),
        break_: Some(45),
        comment: Some(None),
        project_id: None,
        skip_approval: None,
    };
    let answer = personio::actions::update_attendance(&conn, &input)
        .await
        .unwrap();
    assert!(answer.success);
    assert_eq!(sent(&fake, "PATCH", &path), 2, "retried once after the 503");
    let body: Value = serde_json::from_slice(&fake.requests().last().unwrap().body).unwrap();
    // Left out, a value, and null (which clears the comment) are three things on the wire.
    assert_eq!(
        body,
        json!({"end_time": "18:30", "break": 45, "comment": null})
    );
    let record = fake
        .attendances()
        .into_iter()
        .find(|a| a["id"] == id)
        .unwrap();
    assert_eq!(record["attributes"]["end_time"], "18:30");
    assert_eq!(record["attributes"]["comment"], "", "cleared");

    // Invalid: the path param's type, and an unknown field, before anything is sent.
    let e = models::UpdateAttendance::from_json(&json!({"id": "x", "brake": 3})).unwrap_err();
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["id", "brake"]);

    // Delete, with `skip_approval` in the query; a second delete is the provider's 404.
    let input = models::AttendanceId {
        id,
        skip_approval: Some(false),
    };
    personio::actions::delete_attendance(&conn, &input)
        .await
        .unwrap();
    let delete = fake
        .requests()
        .into_iter()
        .rfind(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(delete.query.as_deref(), Some("skip_approval=false"));
    assert!(delete.body.is_empty());
    let e = personio::actions::delete_attendance(&conn, &input)
        .await
        .unwrap_err();
    assert_eq!(provider_status(&e).0, 404, "{e}");
}

#[tokio::test]
async fn create_absence_period() {
    let fake = FakePersonio::start().await;
    let conn = v1(&fake.origin());
    let employee = first_employee(&fake);
    let before = fake.absence_periods().len();
    let input = models::CreateAbsencePeriod {
        employee_id: employee,
        time_off_type_id: 1001,
        start_date: "2026-12-07".to_owned(),
        end_date: "2026-12-07".to_owned(),
        start_time: Some("09:00".to_owned()),
        end_time: Some("13:00".to_owned()),
        half_day_start: None,
        half_day_end: None,
        comment: Some("dentist".to_owned()),
        skip_approval: Some(true),
    };
    let answer = personio::actions::create_absence_period(&conn, &input)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(answer.is_object(), "{answer}");
    assert_eq!(fake.absence_periods().len(), before + 1);

    let e = models::CreateAbsencePeriod::from_json(
        &json!({"employee_id": employee, "start_date": "2026-12-07", "end_date": "7.12.2026"}),
    )
    .unwrap_err();
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["time_off_type_id", "end_date"], "{e}");

    // The provider refuses an employee it does not have.
    let mut unknown = input.clone();
    unknown.employee_id = 999_999;
    let e = personio::actions::create_absence_period(&conn, &unknown)
        .await
        .unwrap_err();
    assert!(matches!(provider_status(&e).0, 400..=499), "{e}");
    assert_eq!(fake.absence_periods().len(), before + 1);
}

#[tokio::test]
async fn v2_create_person_and_update_employment() {
    let fake = FakePersonio::start().await;
    fake.set_persons(3);
    let conn = v2(&fake.origin());

    let input = models::CreatePerson::from_json(&json!({
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "gender": "FEMALE",
    }))
    .unwrap();
    assert_eq!(input.gender, Some(models::CreatePersonGender::Female));
    let created = personio_v2::actions::create_person(&conn, &input)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(fake.person(&created.id).is_some());
    // The same email again: the provider's conflict, its message from `errors[0]`.
    let e = personio_v2::actions::create_person(&conn, &input)
        .await
        .unwrap_err();
    let (status, message) = provider_status(&e);
    assert!(matches!(status, 409 | 422), "{e}");
    assert!(!message.is_empty());

    let person = fake.person_ids()[0].clone();
    let employment = fake.person(&person).unwrap()["employments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v2/persons/{person}/employments/{employment}");
    fake.clear_recorded();
    fake.fail_next(&path, vec![(502, None)]);
    let input = models::UpdateEmployment::from_json(&json!({
        "person_id": person,
        "id": employment,
        "position": "Engineer",
        "status": "LEAVE",
        "weekly_working_hours": 32,
    }))
    .unwrap();
    let updated = personio_v2::actions::update_employment(&conn, &input)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sent(&fake, "PATCH", &path),
        2,
        "an idempotent PATCH retried after a 502"
    );
    assert_eq!(
        updated.position.and_then(|p| p.title).flatten().as_deref(),
        Some("Engineer")
    );
    assert_eq!(updated.status.flatten().as_deref(), Some("LEAVE"));

    let e = models::UpdateEmployment::from_json(
        &json!({"person_id": person, "id": employment, "status": "ON_HOLIDAY"}),
    )
    .unwrap_err();
    assert_eq!(e.problems[0].field, "status");
    assert_eq!(
        e.problems[0].message,
        "must be one of 'ACTIVE' | 'INACTIVE' | 'ONBOARDING' | 'LEAVE'"
    );
    let missing = models::UpdateEmployment {
        person_id: person.clone(),
        id: "no-such-employment".to_owned(),
        position: Some("x".to_owned()),
        status: None,
        type_: None,
        weekly_working_hours: None,
        start_date: None,
        supervisor: None,
    };
    let e = personio_v2::actions::update_employment(&conn, &missing)
        .await
        .unwrap_err();
    assert_eq!(provider_status(&e).0, 404, "{e}");
}

#[tokio::test]
async fn recruiting_document_upload_then_application() {
    let fake = FakePersonio::start().await;
    let conn = recruiting(&fake);
    let input = models::ApplicationDocument {
        file: terapi_providers::FileUpload {
            filename: "cv \"final\".pdf".to_owned(),
            content_type: Some("application/pdf".to_owned()),
            bytes: b"%PDF-1.4 a CV\r\n--boundary-like\r\n".to_vec(),
        },
    };
    let uploaded = personio_recruiting::actions::upload_application_document(&conn, &input)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fake.uploaded_document_bytes(&uploaded.uuid).as_deref(),
        Some(&b"%PDF-1.4 a CV\r\n--boundary-like\r\n"[..])
    );

    let application: models::Application = serde_json::from_value(json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "job_position_id": 1,
        "files": [{"uuid": uploaded.uuid, "original_filename": "cv.pdf", "category": "cv"}],
    }))
    .unwrap();
    let answer = personio_recruiting::actions::create_application(&conn, &application)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = answer;
    assert_eq!(fake.applications().len(), 1);
    assert_eq!(
        fake.applications()[0]["files"][0]["uuid"],
        json!(uploaded.uuid)
    );

    // Not idempotent: a 503 is the answer, and one POST only.
    fake.clear_recorded();
    fake.fail_next("/v1/recruiting/applications", vec![(503, None)]);
    let e = personio_recruiting::actions::create_application(&conn, &application)
        .await
        .unwrap_err();
    assert_eq!(provider_status(&e).0, 503);
    assert_eq!(sent(&fake, "POST", "/v1/recruiting/applications"), 1);
    assert!(
        fake.applications().is_empty(),
        "nothing created (the log was cleared before)"
    );

    // A document the provider refuses (an empty file) is its 4xx.
    let empty = models::ApplicationDocument {
        file: terapi_providers::FileUpload {
            filename: "empty.exe".to_owned(),
            content_type: None,
            bytes: Vec::new(),
        },
    };
    let e = personio_recruiting::actions::upload_application_document(&conn, &empty)
        .await
        .unwrap_err();
    assert!(matches!(provider_status(&e).0, 400..=499), "{e}");
}

#[tokio::test]
async fn an_action_of_another_provider_is_refused_before_sending() {
    let fake = FakePersonio::start().await;
    let conn = v2(&fake.origin());
    let e = personio::actions::delete_attendance(
        &conn,
        &models::AttendanceId {
            id: 1,
            skip_approval: None,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ActionError::WrongProvider { .. }), "{e}");
    assert!(fake.requests().iter().all(|r| r.method != "DELETE"));
}

//! `terapi action`, `records --typed` and `--integrations FILE` as a user runs them, against
//! the fake Personio.

use terapi_test_support::{cli as env, fake_personio};

use serde_json::{Value, json};

use env::Env;
use fake_personio::FakePersonio;

fn posts(fake: &FakePersonio, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_from_the_command_line() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr", "personio").await;
    let employee = fake.employee_ids()[0];

    let input = json!({"attendances": [{"employee": employee, "date": "2026-11-02",
        "start_time": "09:00", "end_time": "17:00", "break": 30}]})
    .to_string();
    let out = env
        .run(&["action", "hr", "create-attendances", "--input", &input])
        .await;
    out.ok();
    assert_eq!(out.stderr, "HTTP 200\n", "{out:?}");
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(answer["success"], true);
    assert_eq!(answer["data"]["id"].as_array().unwrap().len(), 1);
    assert_eq!(posts(&fake, "/v1/company/attendances"), 1);

    // Every problem at once, each field named; nothing sent.
    let bad = json!({"attendances": [{"employee": "x", "date": "2026-13-01", "start_time": "9"}],
        "skip_aproval": true})
    .to_string();
    let out = env
        .run(&["action", "hr", "create-attendances", "--input", &bad])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    for field in [
        "`attendances[0].employee`",
        "`attendances[0].date`",
        "`attendances[0].start_time`",
        "`attendances[0].break`",
        "`skip_aproval`",
    ] {
        assert!(out.stderr.contains(field), "{field}: {out:?}");
    }
    assert!(
        out.stderr
            .contains("5 problems with the input `CreateAttendances`"),
        "{out:?}"
    );
    assert_eq!(posts(&fake, "/v1/company/attendances"), 1, "nothing sent");

    // The provider's refusal: exit 1 with its status and message.
    let unknown = json!({"attendances": [{"employee": 999999, "date": "2026-11-03",
        "start_time": "09:00", "break": 0}]})
    .to_string();
    let out = env
        .run(&["action", "hr", "create-attendances", "--input", &unknown])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.error_line().contains("HTTP 400"), "{out:?}");

    // An unknown action, with the closest name; input that is not JSON.
    let out = env.run(&["action", "hr", "create-attendance"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.error_line()
            .contains("did you mean `create-attendances`?"),
        "{out:?}"
    );
    let out = env
        .run(&["action", "hr", "create-attendances", "--input", "{oops"])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.error_line().contains("not JSON"), "{out:?}");

    // Input from a file.
    let path = env.dir.path().join("delete.json");
    let id = answer["data"]["id"][0].clone();
    std::fs::write(&path, json!({"id": id}).to_string()).unwrap();
    let out = env
        .run(&[
            "action",
            "hr",
            "delete-attendance",
            "--input",
            &format!("@{}", path.display()),
        ])
        .await;
    out.ok();
    assert!(out.stdout.contains("deleted"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_upload_reads_the_file_given_by_path() {
    let fake = FakePersonio::start().await;
    let env = Env::new(crate::BIN, &fake);
    let mut cmd = env.command(&[
        "connect",
        "jobs",
        "personio-recruiting",
        "--config",
        &format!("companyId={}", FakePersonio::COMPANY_ID),
        "--config",
        "company=company-b",
        "--credential",
        "apiKey",
    ]);
    cmd.env("TERAPI_CREDENTIAL_API_KEY", FakePersonio::API_KEY);
    env::output(cmd).await.ok();
    let cv = env.dir.path().join("cv.pdf");
    std::fs::write(&cv, b"%PDF-1.4 a CV").unwrap();
    let input =
        json!({"file": {"path": cv.display().to_string(), "content_type": "application/pdf"}})
            .to_string();
    let out = env
        .run(&[
            "action",
            "jobs",
            "upload-application-document",
            "--input",
            &input,
        ])
        .await;
    out.ok();
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    let uuid = answer["uuid"].as_str().unwrap();
    assert_eq!(
        fake.uploaded_document_bytes(uuid).as_deref(),
        Some(&b"%PDF-1.4 a CV"[..])
    );
    assert!(!out.all().contains(FakePersonio::API_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_records_and_an_integrations_file_of_ones_own() {
    let fake = FakePersonio::start().await;
    fake.set_persons(4);
    let env = Env::new(crate::BIN, &fake);
    env.connect("hr2", "personio-v2").await;
    env.run(&["sync", "hr2", "persons"]).await.ok();
    let out = env.run(&["records", "hr2", "persons", "--typed"]).await;
    out.ok();
    let lines = out.json_lines();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["data"]["id"] == l["id"]), "{out:?}");

    // A file of one's own: another sync of the same endpoint, under another model name.
    let file = env.dir.path().join("mine.yaml");
    std::fs::write(
        &file,
        "integrations:\n  personio-v2:\n    syncs:\n      people:\n        endpoint: GET /persons\n        id: id\n        limit: 2\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let out = env
        .run(&["--integrations", &file, "sync", "hr2", "people"])
        .await;
    out.ok();
    assert!(out.stdout.starts_with("people: 4 added,"), "{out:?}");
    let out = env
        .run(&["--integrations", &file, "sync", "hr2", "persons"])
        .await;
    assert_eq!(out.code, 1);
    assert!(out.error_line().contains("its syncs are people"), "{out:?}");
    let out = env
        .run(&[
            "--integrations",
            &file,
            "records",
            "hr2",
            "people",
            "--typed",
        ])
        .await;
    assert_eq!(out.code, 2, "{out:?}");

    // A broken file: every problem located, nothing run.
    let broken = env.dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "integrations:\n  personio-v3:\n    syncs: {}\n  personio-v2:\n    syncs:\n      people:\n        endpoint: GET /persons/{id}\n",
    )
    .unwrap();
    let out = env
        .run(&[
            "--integrations",
            &broken.display().to_string(),
            "sync",
            "hr2",
            "people",
        ])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("broken.yaml:2:3: error[unknown-provider]"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("broken.yaml:7:19: error[unbound-path-param]"),
        "{out:?}"
    );
}

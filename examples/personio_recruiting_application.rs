//! Posts an application to Personio's Recruiting API and prints the created application as
//! JSON.
//!
//! ```text
//! PERSONIO_RECRUITING_API_KEY=... PERSONIO_COMPANY_ID=33434 PERSONIO_COMPANY=company-b \
//!     cargo run --example personio_recruiting_application -- Ada Lovelace ada@example.com 1234
//! ```
//!
//! Arguments: first name, last name, email, job position id. `PERSONIO_PARTNER_ID` and
//! `PERSONIO_APP_ID` are sent when set. `PERSONIO_ORIGIN` (optional, e.g.
//! `http://127.0.0.1:8080`) replaces the scheme, host and port of the catalog's URLs for a
//! local test server; anything but loopback must be https. With `--verify` first, the
//! credentials are checked against the company's public job feed before posting.
//!
//! Exit status: 0 on success, 1 when talking to Personio failed, 2 for a missing or invalid
//! variable or argument. Errors are one line on stderr and never show the API key.

use std::process::ExitCode;
#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};

use serde_json::{Value, json};
use terapi_providers::client::{Settings, Step};
use terapi_providers::personio_recruiting;

const NAME: &str = "personio_recruiting_application";
const USAGE: &str =
    "usage: personio_recruiting_application [--verify] FIRST_NAME LAST_NAME EMAIL JOB_POSITION_ID";

enum Failure {
    Usage(String),
    Api(String),
}

fn var(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::Usage(format!("{name} is not valid UTF-8")))
        }
    }
}

fn required(name: &str) -> Result<String, Failure> {
    var(name)?.ok_or_else(|| Failure::Usage(format!("{name} is not set")))
}

async fn run() -> Result<(), Failure> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let verify = args.first().is_some_and(|a| a == "--verify");
    if verify {
        args.remove(0);
    }
    let [first_name, last_name, email, job_position_id] =
        <[String; 4]>::try_from(args).map_err(|_| Failure::Usage(USAGE.to_owned()))?;
    let job_position_id: u64 = job_position_id.parse().map_err(|_| {
        Failure::Usage(format!(
            "JOB_POSITION_ID `{job_position_id}` is not a number"
        ))
    })?;

    let mut config = json!({
        "companyId": required("PERSONIO_COMPANY_ID")?,
        "company": required("PERSONIO_COMPANY")?,
    });
    for (param, name) in [
        ("partnerId", "PERSONIO_PARTNER_ID"),
        ("appId", "PERSONIO_APP_ID"),
    ] {
        if let Some(v) = var(name)? {
            config[param] = Value::String(v);
        }
    }
    let credentials = json!({ "apiKey": required("PERSONIO_RECRUITING_API_KEY")? });
    let (config, credentials) = terapi_providers::client::validated(
        personio_recruiting::ConnectionConfig::from_json(&config),
        personio_recruiting::Credentials::from_json(&credentials),
    )
    .map_err(|errors| {
        let problems: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        Failure::Usage(problems.join("; "))
    })?;
    let mut settings = Settings::new();
    if let Some(origin) = var("PERSONIO_ORIGIN")? {
        settings = settings.origin(origin);
    }
    let conn = personio_recruiting::Connection::with_settings(config, credentials, settings)
        .map_err(|e| match e.step() {
            Step::Connect => Failure::Usage(e.to_string()),
            _ => Failure::Api(e.to_string()),
        })?;
    if verify {
        conn.verify()
            .await
            .map_err(|e| Failure::Api(e.to_string()))?;
    }
    let response = conn
        .post("/recruiting/applications")
        .json(&json!({
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "job_position_id": job_position_id,
        }))
        .send()
        .await
        .map_err(|e| Failure::Api(e.to_string()))?;
    let created: Value = response.json().map_err(|e| Failure::Api(e.to_string()))?;
    println!("{created}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("{NAME}: error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Api(message)) => {
            eprintln!("{NAME}: error: {message}");
            ExitCode::from(1)
        }
    }
}

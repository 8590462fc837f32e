//! Lists every employee of a Personio account (Personnel Data API v1) as one JSON object per
//! line.
//!
//! ```text
//! PERSONIO_CLIENT_ID=... PERSONIO_CLIENT_SECRET=... \
//! PERSONIO_PARTNER_ID=ACME PERSONIO_APP_ID=MY_APPLICATION \
//!     cargo run --example personio_employees > employees.jsonl
//! ```
//!
//! `PERSONIO_ORIGIN` (optional, e.g. `http://127.0.0.1:8080`) replaces the scheme, host and
//! port of the catalog's token URL and base URL, keeping their paths: for a local test server.
//! Anything but a loopback address must be https.
//!
//! Exit status: 0 on success, 1 when talking to Personio failed, 2 for a missing or invalid
//! variable. Errors are one line on stderr and never show a secret.

use std::io::Write as _;
use std::process::ExitCode;
#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};

use futures_util::TryStreamExt as _;
use serde_json::{Value, json};
use terapi_providers::client::Settings;
use terapi_providers::personio;

const NAME: &str = "personio_employees";

enum Failure {
    /// A missing or invalid variable.
    Usage(String),
    /// Talking to Personio failed.
    Api(String),
}

fn var(name: &str) -> Result<String, Failure> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            Err(Failure::Usage(format!("{name} is not set")))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::Usage(format!("{name} is not valid UTF-8")))
        }
    }
}

fn optional_var(name: &str) -> Result<Option<String>, Failure> {
    match var(name) {
        Ok(v) => Ok(Some(v)),
        Err(Failure::Usage(_)) if std::env::var_os(name).is_none_or(|v| v.is_empty()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Validation problems as one line, naming the environment variable of each param.
fn invalid(errors: &terapi_providers::ValidationErrors) -> Failure {
    let names = [
        ("partnerId", "PERSONIO_PARTNER_ID"),
        ("appId", "PERSONIO_APP_ID"),
        ("client_id", "PERSONIO_CLIENT_ID"),
        ("client_secret", "PERSONIO_CLIENT_SECRET"),
    ];
    let problems: Vec<String> = errors
        .iter()
        .map(|e| {
            let var = names
                .iter()
                .find(|(param, _)| *param == e.param())
                .map_or(e.param(), |(_, var)| var);
            format!("{var}: {e}")
        })
        .collect();
    Failure::Usage(problems.join("; "))
}

async fn run() -> Result<(), Failure> {
    let client_id = var("PERSONIO_CLIENT_ID")?;
    let client_secret = var("PERSONIO_CLIENT_SECRET")?;
    let partner_id = var("PERSONIO_PARTNER_ID")?;
    let app_id = var("PERSONIO_APP_ID")?;
    let origin = optional_var("PERSONIO_ORIGIN")?;

    let config =
        personio::ConnectionConfig::from_json(&json!({ "partnerId": partner_id, "appId": app_id }));
    let credentials = personio::Credentials::from_json(
        &json!({ "client_id": client_id, "client_secret": client_secret }),
    );
    let (config, credentials) =
        terapi_providers::client::validated(config, credentials).map_err(|e| invalid(&e))?;
    let mut settings = Settings::new();
    if let Some(origin) = origin {
        settings = settings.origin(origin);
    }
    let conn =
        personio::Connection::with_settings(config, credentials, settings).map_err(|e| match e
            .step()
        {
            terapi_providers::client::Step::Connect => {
                Failure::Usage(format!("PERSONIO_ORIGIN: {e}"))
            }
            _ => Failure::Api(e.to_string()),
        })?;

    let mut employees = conn.paginate::<Value>("/company/employees").limit(100);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while let Some(employee) = employees
        .try_next()
        .await
        .map_err(|e| Failure::Api(e.to_string()))?
    {
        let line = serde_json::to_string(&employee).map_err(|e| Failure::Api(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| Failure::Api(format!("writing to stdout: {e}")))?;
    }
    out.flush()
        .map_err(|e| Failure::Api(format!("writing to stdout: {e}")))?;
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

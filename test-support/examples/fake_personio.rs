//! The fake Personio the tests run against, served on loopback for trying `terapi` without a
//! Personio account:
//!
//! ```text
//! cargo run -p terapi-test-support --example fake-personio [-- --port PORT]
//! ```
//!
//! It serves the v1 HR API with its token endpoint (`POST /v1/auth`; employees, attendances,
//! absence periods), v2 (`POST /v2/auth/token`, persons, employments, webhooks) and
//! recruiting (`POST /v1/recruiting/applications` and `.../applications/documents`) on
//! `127.0.0.1` (port 0 or absent: a free one), prints its
//! URLs, the demo credentials and the `terapi` commands that use it, and runs until Ctrl-C.
//! It only ever listens on loopback, and forgets the requests it recorded every minute.

#![forbid(unsafe_code)]

use std::time::Duration;

use terapi_test_support::fake_personio::FakePersonio;

/// The connection config the demo commands pass (the fake accepts any partner and app id).
const PARTNER_ID: &str = "ACME";
const APP_ID: &str = "MY_APPLICATION";

fn port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = 0;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--port" => args.next().ok_or("--port needs a value")?,
            s if s.starts_with("--port=") => s["--port=".len()..].to_owned(),
            "-h" | "--help" => {
                println!(
                    "fake-personio [--port PORT]: serves the fake Personio on 127.0.0.1:PORT (0: a free port) until Ctrl-C"
                );
                std::process::exit(0);
            }
            other => {
                return Err(format!(
                    "unexpected argument {other:?} (usage: [--port PORT])"
                ));
            }
        };
        port = value
            .parse()
            .map_err(|e| format!("--port {value:?}: {e}"))?;
    }
    Ok(port)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let port = match port() {
        Ok(port) => port,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // Ctrl-C is caught from before the first line is printed: a SIGINT sent as soon as a
    // script or test reads that line stops the fake cleanly, never by the default action.
    #[cfg(unix)]
    let mut interrupt =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
            Ok(signal) => signal,
            Err(e) => {
                eprintln!("error: cannot wait for Ctrl-C: {e}");
                std::process::exit(1);
            }
        };
    let fake = FakePersonio::start_on_port(port).await;
    let origin = fake.origin();
    println!(
        "\
fake Personio listening on {origin} (loopback only; Ctrl-C stops it)

base URLs
  v1 HR API      {origin}/v1   (token: POST {origin}/v1/auth)
  v2             {origin}/v2   (token: POST {origin}/v2/auth/token)
  recruiting     {origin}/v1/recruiting/applications
  job feed       {origin}/xml?language=en

demo credentials
  client id      {client_id}
  client secret  {client_secret}
  partner id     {PARTNER_ID}   app id  {APP_ID}   (any values are accepted)
  recruiting     API key {api_key}, company id {company_id}

point terapi at it with --origin (every request of the built-in Personio providers goes there):
  export TERAPI_STORE_KEY=\"$(terapi key generate)\"
  export TERAPI_CREDENTIAL_CLIENT_ID={client_id}
  export TERAPI_CREDENTIAL_CLIENT_SECRET={client_secret}
  T=\"terapi --store sqlite:fake-personio.db --origin {origin}\"
  $T connect demo personio --config partnerId={PARTNER_ID} appId={APP_ID} --credential client_id --credential client_secret
  $T request demo GET /company/employees
  $T sync demo employees
  $T connect demo2 personio-v2 --credential client_id --credential client_secret
  $T sync demo2 persons
  TERAPI_CREDENTIAL_API_KEY={api_key} $T connect jobs personio-recruiting \\
      --config companyId={company_id} company=demo partnerId={PARTNER_ID} appId={APP_ID} --credential apiKey
  $T request jobs POST /recruiting/applications \\
      --json '{{\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"email\":\"ada@example.com\",\"job_position_id\":1234}}'",
        client_id = FakePersonio::CLIENT_ID,
        client_secret = FakePersonio::CLIENT_SECRET,
        api_key = FakePersonio::API_KEY,
        company_id = FakePersonio::COMPANY_ID,
    );
    let mut forget = tokio::time::interval(Duration::from_secs(60));
    loop {
        #[cfg(unix)]
        let stop = interrupt.recv();
        #[cfg(not(unix))]
        let stop = async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                eprintln!("error: cannot wait for Ctrl-C: {e}");
                std::process::exit(1);
            }
        };
        tokio::select! {
            _ = stop => break,
            _ = forget.tick() => fake.clear_recorded(),
        }
    }
    println!("stopped");
    // Out at once: the runtime's shutdown would wait for whatever the fake's connections are
    // still doing (a client that keeps one open), and a stopped fake must not linger.
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

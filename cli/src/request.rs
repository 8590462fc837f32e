//! `terapi request`: one request through a stored connection.

use std::io::IsTerminal as _;

use terapi_runtime::client::{Connection, Method};
use terapi_store::FromStore as _;

use crate::args::RequestArgs;
use crate::context::Context;
use crate::escape;
use crate::fail::{self, Failure};
use crate::params;

/// Sends the request; the body to stdout (JSON pretty-printed), the status to stderr. A
/// status other than 2xx is an error (exit 1) with the provider's message.
pub async fn run(context: &Context, args: RequestArgs) -> Result<(), Failure> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
        Failure::usage(format!(
            "`{}` is not an HTTP method",
            args.method.escape_default()
        ))
    })?;
    let query = params::pairs(&args.query, "query")?;
    let body = args
        .json
        .as_deref()
        .map(|text| {
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| Failure::usage(format!("--json is not JSON: {e}")))
        })
        .transpose()?;
    let opened = context.open_store().await?;
    let conn = Connection::from_store(&opened.store, &args.id, context.settings.clone()).await?;
    let mut request = conn.request(method, args.path).query(&query);
    if let Some(body) = &body {
        request = request.json(body);
    }
    let response = request.send().await?;
    eprintln!("HTTP {}", response.status());
    match serde_json::from_slice::<serde_json::Value>(response.bytes()) {
        Ok(json) => {
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| Failure::usage(format!("cannot print the JSON body: {e}")))?;
            fail::print_line(&escape::json(&text))
        }
        // Another body as it is into a pipe or a file; on a terminal, its control characters
        // escaped (line breaks kept).
        Err(_) if std::io::stdout().is_terminal() => {
            let text = String::from_utf8_lossy(response.bytes());
            let lines: Vec<String> = text
                .split('\n')
                .map(|l| escape::shown(l).into_owned())
                .collect();
            fail::print_bytes(lines.join("\n").as_bytes())
        }
        Err(_) => fail::print_bytes(response.bytes()),
    }
}

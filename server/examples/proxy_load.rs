//! A load generator for `server/benches/report_memory.sh`: sends `N` requests at once (each
//! on its own connection) to a running `terapi serve`, and prints how many got each status.
//!
//! ```text
//! cargo run --release -p terapi-server --example proxy_load -- SERVER_URL PATH CONNECTION_ID N
//! ```
//!
//! The secret key is read from `TERAPI_API_KEY`. Prints `load.sent=N`, `load.ok=N` (200s),
//! `load.status.CODE=N` for other statuses, `load.errors=N` (no answer) and
//! `load.seconds=S`; exits 1 unless every request answered 200.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, path, connection, n] = args.as_slice() else {
        eprintln!("usage: proxy_load SERVER_URL PATH CONNECTION_ID N (key in TERAPI_API_KEY)");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N: a number");
    let key = std::env::var("TERAPI_API_KEY").expect("TERAPI_API_KEY");
    let url = format!(
        "{}/proxy/{}",
        server.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    terapi_runtime::client::install_tls_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    // All requests start together behind a barrier, so the server holds N at once.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let request = client
                .get(&url)
                .bearer_auth(&key)
                .header("Connection-Id", connection.as_str());
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        // The body read whole, as a caller would.
                        match response.bytes().await {
                            Ok(_) => Ok(status),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                }
            })
        })
        .collect();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(status) => *statuses.entry(status).or_default() += 1,
            Err(e) => *errors.entry(e).or_default() += 1,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let ok = statuses.get(&200).copied().unwrap_or(0);
    println!("load.sent={n}");
    println!("load.ok={ok}");
    for (status, count) in &statuses {
        if *status != 200 {
            println!("load.status.{status}={count}");
        }
    }
    println!("load.errors={}", errors.values().sum::<usize>());
    println!("load.seconds={seconds:.3}");
    for (error, count) in &errors {
        eprintln!("{count} × {error}");
    }
    if ok != n {
        std::process::exit(1);
    }
}

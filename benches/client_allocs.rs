//! Heap allocations of validation, header rendering, connecting and one request, counted
//! with dhat (its global allocator, in this binary of its own so that it slows no timing of
//! `benches/client.rs`).
//!
//! Prints one `key=value` line per figure, `allocs.<what>.blocks=` (heap allocations) and
//! `allocs.<what>.bytes=` (bytes allocated), for:
//!
//! - `config_from_json_first`: the first `personio_recruiting::ConnectionConfig::from_json`
//!   of the process (its patterns compile on first use), then `config_from_json` (a later
//!   call) and `config_validate_json`; `credentials_from_json`, `credentials_validate_json`;
//! - `proxy_headers` (a fresh `RenderContext`: the time and a random UUID),
//!   `proxy_headers_with_context` (a prepared one) and `render_context_new` alone;
//! - `connection_from_json`: the crate-level `Connection::from_json("personio-recruiting",
//!   ..)`, connect only;
//! - `request.<case>`: one GET of the `client_request` cases of `benches/client.rs` against
//!   the same local server, averaged over many requests after a warm-up. These counts
//!   include the server's own allocations (same process); the difference between a client
//!   case and `plain_reqwest` is the client's.
//!
//! Every figure but `config_from_json_first` is taken after a warm-up call and averaged over
//! `REPEAT` calls (requests: `REQUESTS`), so one-time initialisation is not counted. dhat runs
//! in testing mode and writes no `dhat-heap.json`.
#![forbid(unsafe_code)]

#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};
#[path = "support/client_cases.rs"]
mod cases;

use std::hint::black_box;

use terapi_providers::personio_recruiting;
use terapi_runtime::RenderContext;

use cases::{Case, Cases};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Calls of each function counted (after one warm-up call).
const REPEAT: u64 = 100;
/// Requests of each case counted (after the setup check warmed the connections).
const REQUESTS: u64 = 500;

/// Heap blocks and bytes allocated so far.
fn totals() -> (u64, u64) {
    let stats = dhat::HeapStats::get();
    (stats.total_blocks, stats.total_bytes)
}

/// Prints the blocks and bytes allocated per call, over `calls` calls made by `run`.
fn print(what: &str, calls: u64, before: (u64, u64), after: (u64, u64)) {
    let blocks = (after.0 - before.0) as f64 / calls as f64;
    let bytes = (after.1 - before.1) as f64 / calls as f64;
    if calls == 1 {
        println!("allocs.{what}.blocks={blocks:.0}");
        println!("allocs.{what}.bytes={bytes:.0}");
    } else {
        println!("allocs.{what}.blocks={blocks:.1}");
        println!("allocs.{what}.bytes={bytes:.1}");
    }
}

/// Counts `f` after one warm-up call, averaged over `REPEAT` calls.
fn count<T>(what: &str, f: impl Fn() -> T) {
    drop(black_box(f()));
    let before = totals();
    for _ in 0..REPEAT {
        drop(black_box(f()));
    }
    print(what, REPEAT, before, totals());
}

fn main() {
    let config_json = cases::recruiting_config_json();
    let credentials_json = cases::recruiting_credentials_json();
    let _profiler = dhat::Profiler::builder().testing().build();

    let before = totals();
    let first = personio_recruiting::ConnectionConfig::from_json(black_box(&config_json));
    print("config_from_json_first", 1, before, totals());
    let config = first.expect("valid config");
    count("config_from_json", || {
        personio_recruiting::ConnectionConfig::from_json(black_box(&config_json))
    });
    count("config_validate_json", || {
        personio_recruiting::ConnectionConfig::validate_json(black_box(&config_json))
    });
    let credentials =
        personio_recruiting::Credentials::from_json(&credentials_json).expect("valid credentials");
    count("credentials_from_json", || {
        personio_recruiting::Credentials::from_json(black_box(&credentials_json))
    });
    count("credentials_validate_json", || {
        personio_recruiting::Credentials::validate_json(black_box(&credentials_json))
    });
    count("proxy_headers", || {
        personio_recruiting::Marker::proxy_headers(black_box(&config), black_box(&credentials))
    });
    let cx = RenderContext::new();
    count("proxy_headers_with_context", || {
        personio_recruiting::Marker::proxy_headers_with(
            black_box(&config),
            black_box(&credentials),
            black_box(&cx),
        )
    });
    count("render_context_new", RenderContext::new);
    count("connection_from_json", || {
        terapi_providers::Connection::from_json(
            "personio-recruiting",
            black_box(&config_json),
            black_box(&credentials_json),
        )
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (addr, body) = cases::start_server(&runtime);
    let cases = Cases::new(addr);
    runtime.block_on(cases.check(&body, false));
    for case in Case::ALL {
        runtime.block_on(async {
            // One more warm-up request, then the counted ones.
            assert_eq!(cases.send(case).await, Some(body.len()), "{}", case.name());
            let before = totals();
            for _ in 0..REQUESTS {
                black_box(cases.send(case).await);
            }
            print(
                &format!("request.{}", case.name()),
                REQUESTS,
                before,
                totals(),
            );
        });
    }
    assert_eq!(cases.token_requests(), 1, "the OAuth token stayed cached");
}

//! Criterion benchmarks of the HTTP client's per-request overhead over plain `reqwest`, and of
//! config validation and header rendering.
//!
//! Group `client_request`: one GET of `/v1/company/employees` (a fixed JSON body of about
//! 1 KiB) from a minimal axum server on `127.0.0.1:0`, read whole, over a kept-alive
//! connection (one client per case, reused):
//!
//! - `plain_reqwest`: a `reqwest::Client` set up as the runtime sets up its own (redirects
//!   off, 10 s connect timeout, the runtime's `User-Agent`), a 30 s per-request timeout as
//!   the runtime sets, the four provider headers (`authorization`, `x-company-id`,
//!   `x-personio-partner-id`, `x-personio-app-id`) written by hand, the URL given as text;
//! - `plain_reqwest_bare`: the same GET from a client with redirects off only, without the
//!   per-request timeout or `User-Agent` (for reference: what a minimal caller writes);
//! - `client_api_key`: `personio_recruiting::Connection`, `conn.get("/company/employees")
//!   .send()` (API key; the provider's headers rendered for each request);
//! - `client_oauth_cached`: `personio::Connection` (OAuth 2.0 client credentials) after a
//!   warm-up request, so the token comes from the cache.
//!
//! The server and the requests share one multi-thread tokio runtime (one worker per core);
//! each criterion sample runs its iterations in one `block_on` on the bench thread. Before
//! measuring, every case is checked to get the body, and the header names each sends are
//! printed (stderr).
//!
//! Group `client_request_current_thread`: `plain_reqwest`, `client_api_key` and
//! `client_oauth_cached` again, with server and client on one current-thread runtime. No
//! request waits for a wake-up on another thread there, so the time is CPU work: it shows
//! what the client itself costs, apart from the scheduling of a multi-thread runtime.
//!
//! Group `client_render`: `personio_recruiting::ConnectionConfig::from_json` and
//! `validate_json`, `Credentials::from_json` and `validate_json`, `proxy_headers`
//! (`proxy_headers_with` a prepared `RenderContext`, and `RenderContext::new` alone, split
//! its cost), and the crate-level `Connection::from_json("personio-recruiting", ..)`
//! (connect only, no request).
//!
//! With `TERAPI_BENCH_INTERLEAVED=1` the binary runs no criterion group but an interleaved
//! comparison of the request cases on both runtimes: 40 rounds (after a warm-up round) of
//! one 250-request batch per case, in an order that rotates each round, every request timed
//! on its own. It prints `interleaved.<case>.<stat>=<value>` lines
//! (`interleaved_current_thread.` for the current-thread runtime): percentiles of single
//! requests in ns, the overhead over `plain_reqwest` at p50 and per round in %, and the CPU
//! time of the whole process (server included) per request, from Linux's per-thread
//! `schedstat`. Being interleaved, it is less exposed than criterion's one-case-after-another
//! runs to load that comes and goes on a shared machine.
//!
//! With `TERAPI_BENCH_PROFILE=<case>` (or `current_thread/<case>`) it sends 50,000 requests
//! of that case alone and prints their mean time and CPU time: for `perf record`.
//!
//! Allocation counts are the other bench target, `benches/client_allocs.rs` (dhat's global
//! allocator would slow every timing here). `benches/report_client.sh` runs all of it and
//! prints the tables of `BENCHMARKS.md`.
#![forbid(unsafe_code)]

#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};
#[path = "support/client_cases.rs"]
mod cases;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use terapi_providers::personio_recruiting;
use terapi_runtime::RenderContext;

use cases::{Case, Cases};

/// The tokio runtime that the server and the requests share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    /// A multi-thread runtime (one worker per core): the configuration the target is about.
    MultiThread,
    /// A current-thread runtime: server and client on one thread, no cross-thread wake-ups,
    /// so the time is CPU work alone (a diagnostic).
    CurrentThread,
}

impl Flavor {
    /// The criterion group name (also the prefix of the interleaved figures).
    fn group(self) -> &'static str {
        match self {
            Flavor::MultiThread => "client_request",
            Flavor::CurrentThread => "client_request_current_thread",
        }
    }

    /// The cases run on this flavor.
    fn cases(self) -> &'static [Case] {
        match self {
            Flavor::MultiThread => &Case::ALL,
            Flavor::CurrentThread => &[
                Case::PlainReqwest,
                Case::ClientApiKey,
                Case::ClientOauthCached,
            ],
        }
    }

    fn runtime(self) -> tokio::runtime::Runtime {
        match self {
            Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        }
        .enable_all()
        .build()
        .expect("tokio runtime")
    }
}

/// Starts a runtime and the server, and checks every case once.
fn setup(flavor: Flavor, verbose: bool) -> (tokio::runtime::Runtime, Cases) {
    let runtime = flavor.runtime();
    let (addr, body) = cases::start_server(&runtime);
    let cases = Cases::new(addr);
    runtime.block_on(cases.check(&body, verbose));
    (runtime, cases)
}

fn request_benches(c: &mut Criterion, flavor: Flavor) {
    let (runtime, cases) = setup(flavor, flavor == Flavor::MultiThread);
    let mut group = c.benchmark_group(flavor.group());
    group
        .sample_size(200)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    for &case in flavor.cases() {
        group.bench_function(case.name(), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(cases.send(case).await);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
    assert_eq!(
        cases.token_requests(),
        1,
        "client_oauth_cached used the cached token throughout"
    );
}

fn render_benches(c: &mut Criterion) {
    let config_json = cases::recruiting_config_json();
    let credentials_json = cases::recruiting_credentials_json();
    let config =
        personio_recruiting::ConnectionConfig::from_json(&config_json).expect("valid config");
    let credentials =
        personio_recruiting::Credentials::from_json(&credentials_json).expect("valid credentials");
    let cx = RenderContext::new();

    let mut group = c.benchmark_group("client_render");
    group
        .sample_size(100)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("config_from_json", |b| {
        b.iter(|| personio_recruiting::ConnectionConfig::from_json(black_box(&config_json)))
    });
    group.bench_function("config_validate_json", |b| {
        b.iter(|| personio_recruiting::ConnectionConfig::validate_json(black_box(&config_json)))
    });
    group.bench_function("credentials_from_json", |b| {
        b.iter(|| personio_recruiting::Credentials::from_json(black_box(&credentials_json)))
    });
    group.bench_function("credentials_validate_json", |b| {
        b.iter(|| personio_recruiting::Credentials::validate_json(black_box(&credentials_json)))
    });
    group.bench_function("proxy_headers", |b| {
        b.iter(|| {
            personio_recruiting::Marker::proxy_headers(black_box(&config), black_box(&credentials))
        })
    });
    group.bench_function("proxy_headers_with_context", |b| {
        b.iter(|| {
            personio_recruiting::Marker::proxy_headers_with(
                black_box(&config),
                black_box(&credentials),
                black_box(&cx),
            )
        })
    });
    group.bench_function("render_context_new", |b| b.iter(RenderContext::new));
    group.bench_function("connection_from_json", |b| {
        b.iter(|| {
            terapi_providers::Connection::from_json(
                "personio-recruiting",
                black_box(&config_json),
                black_box(&credentials_json),
            )
        })
    });
    group.finish();
}

/// Rounds of the interleaved comparison (after one warm-up round), and requests per batch.
const ROUNDS: usize = 40;
const BATCH: usize = 250;

/// CPU time used so far by all threads of this process (client, server and runtime), from
/// Linux's `/proc/self/task/*/schedstat`; `None` elsewhere.
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The value at quantile `q` of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}

/// The interleaved comparison on `flavor`'s runtime; prints `<prefix>.<case>.<stat>=` lines.
fn interleaved(flavor: Flavor) {
    let prefix = match flavor {
        Flavor::MultiThread => "interleaved",
        Flavor::CurrentThread => "interleaved_current_thread",
    };
    let all = flavor.cases();
    let (runtime, cases) = setup(flavor, false);
    // Per case: every request's latency (ns), each round's batch mean (ns), and the CPU time
    // of the whole process during its batches (ns), if known.
    let mut latencies: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS * BATCH); all.len()];
    let mut means: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); all.len()];
    let mut cpu: Vec<Option<u64>> = vec![Some(0); all.len()];
    let mut failures = 0usize;
    runtime.block_on(async {
        for round in 0..=ROUNDS {
            for k in 0..all.len() {
                let index = (round + k) % all.len();
                let case = all[index];
                let cpu_start = process_cpu_ns();
                let batch_start = Instant::now();
                for _ in 0..BATCH {
                    let start = Instant::now();
                    let sent = cases.send(case).await;
                    let elapsed = start.elapsed();
                    failures += usize::from(sent.is_none());
                    if round > 0 {
                        latencies[index].push(elapsed.as_nanos() as f64);
                    }
                }
                let batch_mean = batch_start.elapsed().as_nanos() as f64 / BATCH as f64;
                let cpu_used = cpu_start
                    .zip(process_cpu_ns())
                    .map(|(a, b)| b.saturating_sub(a));
                if round > 0 {
                    cpu[index] = cpu[index].zip(cpu_used).map(|(a, b)| a + b);
                    means[index].push(batch_mean);
                }
            }
        }
    });
    assert_eq!(failures, 0, "requests failed during the interleaved run");
    assert_eq!(cases.token_requests(), 1, "the OAuth token stayed cached");
    println!("{prefix}.rounds={ROUNDS}");
    println!("{prefix}.batch={BATCH}");
    for l in &mut latencies {
        l.sort_by(f64::total_cmp);
    }
    let base = 0; // Case::PlainReqwest
    let base_p50 = quantile(&latencies[base], 0.5);
    for (index, case) in all.iter().enumerate() {
        let name = case.name();
        let l = &latencies[index];
        let mean = l.iter().sum::<f64>() / l.len() as f64;
        for (stat, q) in [("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            println!("{prefix}.{name}.{stat}_ns={:.0}", quantile(l, q));
        }
        println!("{prefix}.{name}.mean_ns={mean:.0}");
        if let Some(cpu) = cpu[index] {
            let per_request = cpu as f64 / l.len() as f64;
            println!("{prefix}.{name}.process_cpu_ns_per_request={per_request:.0}");
        }
        if index != base {
            let p50 = quantile(l, 0.5);
            let overhead = (p50 / base_p50 - 1.0) * 100.0;
            println!("{prefix}.{name}.overhead_p50_pct={overhead:.2}");
            // Each round's batch mean over plain_reqwest's in the same round.
            let mut ratios: Vec<f64> = means[index]
                .iter()
                .zip(&means[base])
                .map(|(m, b)| (m / b - 1.0) * 100.0)
                .collect();
            ratios.sort_by(f64::total_cmp);
            for (stat, q) in [("p10", 0.1), ("median", 0.5), ("p90", 0.9)] {
                let value = quantile(&ratios, q);
                println!("{prefix}.{name}.overhead_round_{stat}_pct={value:.2}");
            }
        }
    }
}

/// Sends `count` requests of the case `name` (`current_thread/<case>` for the
/// current-thread runtime), for a profiler (`perf record`, `perf stat`).
fn profile(name: &str, count: usize) {
    let (flavor, case_name) = match name.strip_prefix("current_thread/") {
        Some(rest) => (Flavor::CurrentThread, rest),
        None => (Flavor::MultiThread, name),
    };
    let case = Case::ALL
        .into_iter()
        .find(|c| c.name() == case_name)
        .unwrap_or_else(|| panic!("no request case `{case_name}`"));
    let (runtime, cases) = setup(flavor, false);
    let start = Instant::now();
    let cpu_start = process_cpu_ns();
    runtime.block_on(async {
        for _ in 0..count {
            black_box(cases.send(case).await);
        }
    });
    let elapsed = start.elapsed().as_nanos() as f64 / count as f64;
    println!("profile.{name}.requests={count}");
    println!("profile.{name}.mean_ns={elapsed:.0}");
    if let Some((a, b)) = cpu_start.zip(process_cpu_ns()) {
        let cpu = b.saturating_sub(a) as f64 / count as f64;
        println!("profile.{name}.process_cpu_ns_per_request={cpu:.0}");
    }
}

fn main() {
    if let Some(name) = std::env::var_os("TERAPI_BENCH_PROFILE") {
        profile(&name.to_string_lossy(), 50_000);
        return;
    }
    if std::env::var_os("TERAPI_BENCH_INTERLEAVED").is_some_and(|v| v == "1") {
        interleaved(Flavor::MultiThread);
        interleaved(Flavor::CurrentThread);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    request_benches(&mut c, Flavor::MultiThread);
    request_benches(&mut c, Flavor::CurrentThread);
    render_benches(&mut c);
    c.final_summary();
}

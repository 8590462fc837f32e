//! Peak heap of the code generator on the real catalog, measured with dhat.
//!
//! Runs the whole pipeline once on `../../shared/corpus/providers-2026-08-21.yaml` (parse,
//! read, check, emit and format, emitting the providers that pass the checks, every stage's
//! result kept alive until the end as `generate` does), then a plain
//! `serde_yaml::from_str::<serde_yaml::Value>` of the same text as a reference. For each it
//! prints one `key=value` line per figure: the peak heap bytes, the file's size and their
//! ratio (`peak_heap_bytes=`, `file_bytes=`, `ratio=` for the pipeline; the same keys
//! prefixed `serde_yaml_value.` for the reference); for the pipeline also the live heap
//! after each stage and the peak up to its end. The catalog text itself is
//! read before profiling starts, so it is not counted.
//!
//! dhat runs in testing mode, which writes no `dhat-heap.json`. When the corpus is missing
//! the bench says so and exits 0.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use terapi_codegen::emit::{self, EmitOptions};
use terapi_codegen::model::ProviderEntry;
use terapi_codegen::read_catalog;
use terapi_codegen::{check, yaml};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The corpus, relative to this crate's manifest directory.
const CORPUS: &str = "../../shared/corpus/providers-2026-08-21.yaml";

/// Prints the peak of the running profiler against the file's size, each line prefixed.
fn report(prefix: &str, file_bytes: usize) {
    let stats = dhat::HeapStats::get();
    println!("{prefix}peak_heap_bytes={}", stats.max_bytes);
    println!("{prefix}file_bytes={file_bytes}");
    println!(
        "{prefix}ratio={:.2}",
        stats.max_bytes as f64 / file_bytes as f64
    );
    println!("{prefix}total_allocations={}", stats.total_blocks);
}

/// Prints the live heap after a stage of the pipeline, and the peak so far.
fn live(prefix: &str, stage: &str) {
    let stats = dhat::HeapStats::get();
    println!("{prefix}live_bytes_after_{stage}={}", stats.curr_bytes);
    println!("{prefix}peak_bytes_through_{stage}={}", stats.max_bytes);
}

fn pipeline(source: &str) {
    let p = "";
    let _profiler = dhat::Profiler::builder().testing().build();
    let options = EmitOptions::new("providers.yaml");
    let root = yaml::parse(source).expect("the corpus is valid YAML");
    live(p, "parse");
    let read = read_catalog(&root, &terapi_codegen::LintLevels::default());
    live(p, "read");
    let entries: Vec<&ProviderEntry> = read.catalog.providers.values().collect();
    let (plan, diagnostics) = check::check(source, &entries, read.levels);
    live(p, "check");
    // As `generate` does it: each module emitted and formatted on its own, in parallel.
    let code = emit::emit(&plan, &options).expect("the emitted code parses");
    live(p, "emit_and_format");
    println!("{p}providers={}", read.catalog.providers.len());
    println!("{p}providers_passing_check={}", plan.providers.len());
    println!("{p}check_diagnostics={}", diagnostics.len());
    println!("{p}rust_bytes={}", code.len());
    report(p, source.len());
}

fn serde_yaml_value(source: &str) {
    let _profiler = dhat::Profiler::builder().testing().build();
    let value: serde_yaml::Value = serde_yaml::from_str(source).expect("the corpus is valid YAML");
    std::hint::black_box(&value);
    report("serde_yaml_value.", source.len());
}

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let source = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            println!(
                "memory bench skipped: the corpus {} cannot be read ({e}); \
                 put the catalog there to run it",
                path.display()
            );
            return;
        }
    };
    pipeline(&source);
    serde_yaml_value(&source);
}

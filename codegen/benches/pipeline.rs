//! Time of each stage of the code generator on the real catalog, and of the whole pipeline.
//!
//! Reads `../../shared/corpus/providers-2026-08-21.yaml` (relative to this crate) at run time;
//! when it is missing the bench says so and exits 0. For the full corpus and for catalogs of
//! its first 10% and 50% providers (the text cut at top-level keys), the group
//! `pipeline_<N>pct` has these functions:
//!
//! - `floor/serde_yaml_value`: `serde_yaml::from_str::<serde_yaml::Value>`, a plain YAML parse
//!   with no locations, the floor the pipeline is compared with;
//! - `parse`: [`terapi_codegen::yaml::parse`] (serde-saphyr into located nodes);
//! - `read`: [`terapi_codegen::read_catalog`] (aliases merged, entries typed);
//! - `check`: [`terapi_codegen::check::check`] on every read entry;
//! - `emit_tokens`: [`terapi_codegen::emit::tokens`] on the plan of the providers that pass
//!   the checks (the catalog has providers with errors, which a real run would refuse);
//! - `format`: [`terapi_codegen::emit::format`] (syn parse and prettyplease) of those tokens;
//! - `pipeline`: parse, read, check, emit and format in one, on the providers that pass.
//!
//! The throughput of each group is its number of providers, so criterion's
//! `benchmark.json` tells the report script how many providers a group has.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput};
use terapi_codegen::emit::{self, EmitOptions};
use terapi_codegen::model::ProviderEntry;
use terapi_codegen::read_catalog;
use terapi_codegen::{check, yaml};

/// The corpus, relative to this crate's manifest directory.
const CORPUS: &str = "../../shared/corpus/providers-2026-08-21.yaml";

/// The sizes benchmarked, in percent of the corpus's providers.
const SIZES: [usize; 3] = [10, 50, 100];

fn emit_options() -> EmitOptions {
    EmitOptions::new("providers.yaml")
}

/// Byte offsets of the top-level keys: lines that start with neither a space nor `#`.
fn top_level_keys(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '#')
        {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
}

/// The text of the first `percent`% of the catalog's providers (whole entries) and their
/// number. Alias entries may lose their target; that is fine for timing.
fn sub_catalog(text: &str, percent: usize) -> (&str, usize) {
    let keys = top_level_keys(text);
    let n = keys.len() * percent / 100;
    match keys.get(n) {
        Some(&end) => (&text[..end], n),
        _ => (text, keys.len()),
    }
}

/// Everything the pipeline does, as `generate` does it but emitting the providers that pass.
fn pipeline(source: &str, options: &EmitOptions) -> String {
    let root = yaml::parse(source).expect("the corpus is valid YAML");
    let read = read_catalog(&root, &terapi_codegen::LintLevels::default());
    let entries: Vec<&ProviderEntry> = read.catalog.providers.values().collect();
    let (plan, _diagnostics) = check::check(source, &entries, read.levels);
    emit::emit(&plan, options).expect("the emitted code parses")
}

fn bench_size(c: &mut Criterion, text: &str, percent: usize) {
    let options = emit_options();
    let (source, providers) = sub_catalog(text, percent);

    // The inputs of each stage, computed once.
    let root = yaml::parse(source).expect("the corpus is valid YAML");
    let read = read_catalog(&root, &terapi_codegen::LintLevels::default());
    let entries: Vec<&ProviderEntry> = read.catalog.providers.values().collect();
    let (plan, diagnostics) = check::check(source, &entries, read.levels);
    let tokens = emit::tokens(&plan, &options).expect("valid options");
    let code = emit::emit(&plan, &options).expect("the code parses");
    let group_name = format!("pipeline_{percent}pct");
    eprintln!(
        "{group_name}: providers={providers} read={} pass_check={} check_diagnostics={} \
         yaml_bytes={} rust_bytes={}",
        read.catalog.providers.len(),
        plan.providers.len(),
        diagnostics.len(),
        source.len(),
        code.len(),
    );

    let mut group = c.benchmark_group(&group_name);
    group
        .throughput(Throughput::Elements(providers as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(if percent == 100 { 4 } else { 2 }));

    group.bench_function("floor/serde_yaml_value", |b| {
        b.iter(|| serde_yaml::from_str::<serde_yaml::Value>(black_box(source)).expect("valid"))
    });
    group.bench_function("parse", |b| {
        b.iter(|| yaml::parse(black_box(source)).expect("valid"))
    });
    group.bench_function("read", |b| {
        b.iter(|| read_catalog(black_box(&root), &terapi_codegen::LintLevels::default()))
    });
    group.bench_function("check", |b| {
        b.iter(|| check::check(black_box(source), black_box(&entries), read.levels))
    });
    group.bench_function("emit_tokens", |b| {
        b.iter(|| emit::tokens(black_box(&plan), &options))
    });
    group.bench_function("emit_and_format", |b| {
        b.iter(|| emit::emit(black_box(&plan), &options).expect("the code parses"))
    });
    group.bench_function("format", |b| {
        b.iter_batched(
            || tokens.clone(),
            |tokens| emit::format(tokens, &options.source_name).expect("the code parses"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("pipeline", |b| {
        b.iter(|| pipeline(black_box(source), &options))
    });
    // For `OUT_DIR` (the Builder's default): the same code, not laid out.
    let out_dir_options = EmitOptions {
        formatted: false,
        ..emit_options()
    };
    group.bench_function("pipeline_out_dir", |b| {
        b.iter(|| pipeline(black_box(source), &out_dir_options))
    });
    // The catalog loaded at run time as the runtime's data model (the same reading and
    // checks; the providers with errors left out).
    let load_options = terapi_codegen::Options {
        invalid_providers: terapi_codegen::InvalidProviders::Skip,
        ..terapi_codegen::Options::default()
    };
    group.bench_function("load", |b| {
        b.iter(|| {
            terapi_codegen::load(
                std::path::Path::new("corpus.yaml"),
                black_box(source),
                &load_options,
            )
            .expect("loads")
        })
    });
    group.finish();
}

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            println!(
                "pipeline bench skipped: the corpus {} cannot be read ({e}); \
                 put the catalog there to run it",
                path.display()
            );
            return;
        }
    };
    let mut c = Criterion::default().configure_from_args();
    for percent in SIZES {
        bench_size(&mut c, &text, percent);
    }
    c.final_summary();
}

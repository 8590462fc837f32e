//! Generates typed Rust from a terapi `providers.yaml` catalog.
//!
//! The pipeline: [`yaml`] reads the text into a located tree, [`model`] reads that into the
//! catalog format's types (resolving `alias` entries), [`check`] finds every problem and
//! plans names and templates, [`emit`] writes Rust with quote and prettyplease.
//!
//! Use it from a build script through [`Builder`], at run time through [`load`], or through
//! the `terapi` CLI (`terapi generate`, `check`, `lint`, `schema`).
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     terapi_codegen::Builder::new().input("providers.yaml").generate()?;
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]

mod builder;
// The pipeline's stages, public for the benchmarks and fuzz targets that time or drive one
// stage alone; not a stable API.
#[doc(hidden)]
pub mod check;
mod client;
mod describe;
mod diagnostic;
mod doc;
#[doc(hidden)]
pub mod emit;
mod implied;
pub mod integrations;
mod loc;
mod lower;
pub mod model;
#[doc(hidden)]
pub mod names;
#[cfg(feature = "openapi")]
pub mod openapi;
mod package;
mod parsed;
mod pattern;
mod plan;
mod rules;
mod suggest;
mod template;
#[doc(hidden)]
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use builder::{Builder, write_if_changed};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use integrations::{
    LoadedIntegrations, SchemaRef, generate_integrations, lint_integrations, load_integrations,
    load_integrations_file,
};
pub use package::{CrateSpec, Drift, crate_files, crate_files_with, drift, write_crate};
pub use rules::{Era, Level, LintLevels, Rule};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only these provider keys (`None`: all of them).
    pub providers: Option<Vec<String>>,
    /// Leave out these provider keys (applied after `providers`).
    pub exclude: Vec<String>,
    /// The runtime crate's path in generated code.
    pub runtime_path: String,
    /// Whether to emit doc comments.
    pub docs: bool,
    /// The rules' levels (`-A/-W/-D RULE`).
    pub lint_levels: LintLevels,
    /// What to do with providers that have errors.
    pub invalid_providers: InvalidProviders,
    /// Extra derives for every `ConnectionConfig`, as paths (`::core::hash::Hash`,
    /// `::schemars::JsonSchema`).
    pub derives: Vec<String>,
    /// Whether to lay the code out for reading (prettyplease): on for the CLI and static
    /// crates; the `Builder` turns it off for `OUT_DIR`, where nobody reads the layout.
    pub formatted: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            providers: None,
            exclude: Vec::new(),
            runtime_path: "::terapi_runtime".to_owned(),
            docs: true,
            lint_levels: LintLevels::default(),
            invalid_providers: InvalidProviders::Error,
            derives: Vec::new(),
            formatted: true,
        }
    }
}

/// What to do with providers that have errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidProviders {
    /// Fail the run (the default).
    #[default]
    Error,
    /// Leave them (and their aliases) out, each named in one warning with its first error.
    Skip,
}

/// Generated code and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The Rust source, formatted, with an `@generated` header.
    pub code: String,
    /// Warnings (errors make generation fail instead).
    pub warnings: Vec<Diagnostic>,
}

/// Why generation failed.
#[derive(thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The catalog has errors.
    #[error("{}", render_report(path, source_text, diagnostics))]
    Catalog {
        /// The catalog's path, as given.
        path: PathBuf,
        /// The catalog's text, to show the offending lines.
        source_text: String,
        /// Every finding (errors and warnings).
        diagnostics: Diagnostics,
    },
    /// A selected provider key is not in the catalog.
    #[error("{}: {}", path.display(), unknown_selection(unknown))]
    UnknownProviders {
        /// The catalog's path.
        path: PathBuf,
        /// Each unknown key with the closest known key.
        unknown: Vec<(String, Option<String>)>,
    },
    /// An option is invalid.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A bug of the generator, reported instead of a panic.
    #[error("internal error of terapi-codegen (please report it): {0}")]
    Internal(String),
}

/// Prints like `Display`, so that `fn main() -> Result<(), Box<dyn Error>>` in a build script
/// shows the located diagnostics rather than a struct dump.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn unknown_selection(unknown: &[(String, Option<String>)]) -> String {
    let items: Vec<String> = unknown
        .iter()
        .map(|(k, s)| match s {
            Some(s) => format!("`{k}` (did you mean `{s}`?)"),
            None => format!("`{k}`"),
        })
        .collect();
    format!(
        "selected providers not in the catalog: {}",
        items.join(", ")
    )
}

/// Renders diagnostics with their snippets and a summary line.
pub fn render_report(path: &Path, source: &str, diagnostics: &Diagnostics) -> String {
    render_report_colored(path, source, diagnostics, false)
}

/// [`render_report`], optionally with terminal colors.
pub fn render_report_colored(
    path: &Path,
    source: &str,
    diagnostics: &Diagnostics,
    color: bool,
) -> String {
    let mut out = String::new();
    for d in diagnostics.sorted() {
        out.push_str(&d.render(path, source, color));
        out.push('\n');
    }
    let (errors, warnings) = diagnostics.counts();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "{}: {}, {}",
        path.display(),
        plural(errors, "error"),
        plural(warnings, "warning")
    ));
    let notes = diagnostics.notes();
    if notes > 0 {
        out.push_str(&format!(", {}", plural(notes, "note")));
    }
    out
}

/// Reads and checks a catalog: every finding of the selected providers (all when `None`)
/// and of the file itself, and the plan for what passes.
fn analyze<'a>(
    path: &Path,
    source: &'a str,
    read: &'a model::Read,
    options: &Options,
) -> Result<(check::Plan<'a>, Diagnostics), Error> {
    let selection = options.providers.as_deref();
    let mut diagnostics = Diagnostics::default();
    diagnostics.extend(read.global.iter().cloned());
    let known = |k: &String| read.per_provider.contains_key(k);
    let unknown: Vec<(String, Option<String>)> = selection
        .into_iter()
        .flatten()
        .chain(&options.exclude)
        .filter(|k| !known(k))
        .map(|k| {
            (
                k.clone(),
                lower::closest(k, read.per_provider.keys().map(String::as_str)).map(str::to_owned),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownProviders {
            path: path.to_owned(),
            unknown,
        });
    }
    let mut keys: Vec<&String> = match selection {
        None => read.per_provider.keys().collect(),
        Some(selected) => {
            let mut keys: Vec<&String> = selected.iter().collect();
            keys.sort();
            keys.dedup();
            keys
        }
    };
    keys.retain(|k| !options.exclude.contains(k));
    let mut found = Vec::new();
    for k in &keys {
        found.extend(read.per_provider[*k].iter().cloned().map(|mut d| {
            d.provider = Some((*k).clone());
            d
        }));
    }
    let entries: Vec<&model::ProviderEntry> = keys
        .iter()
        .filter_map(|k| read.catalog.providers.get(*k))
        .collect();
    let (mut plan, checked) = check::check(source, &entries, read.levels);
    found.extend(checked);
    note_aliases(read, &mut found);
    if options.invalid_providers == InvalidProviders::Skip {
        found = skip_invalid(read, &mut plan, found);
    }
    diagnostics.extend(found);
    diagnostics.normalize();
    Ok((plan, diagnostics))
}

/// Findings of an alias entry that stand in its target's text (read or checked there) name
/// the alias, with a note at its `alias:` line.
fn note_aliases(read: &model::Read, found: &mut [Diagnostic]) {
    for d in found {
        let Some(entry) = d
            .provider
            .as_ref()
            .and_then(|k| read.catalog.providers.get(k))
        else {
            continue;
        };
        let Some(alias) = &entry.alias_of else {
            continue;
        };
        if entry.span.contains(&d.loc.offset) {
            continue;
        }
        d.message = format!(
            "{} (in `{}`, an alias of `{}`)",
            d.message, entry.key, alias.value
        );
        d.notes.push((
            alias.loc,
            format!("`{}` inherits this from `{}`", entry.key, alias.value),
        ));
    }
}

/// Leaves out the providers with errors and the aliases of them: their findings become one
/// warning each, naming the first error.
fn skip_invalid(
    read: &model::Read,
    plan: &mut check::Plan<'_>,
    found: Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    let mut first_error: std::collections::BTreeMap<String, Diagnostic> =
        std::collections::BTreeMap::new();
    for d in &found {
        if let (Severity::Error, Some(key)) = (d.severity, &d.provider) {
            let slot = first_error.entry(key.clone()).or_insert_with(|| d.clone());
            if (d.loc.offset, &d.message) < (slot.loc.offset, &slot.message) {
                *slot = d.clone();
            }
        }
    }
    let alias_target = |key: &str| {
        read.catalog
            .providers
            .get(key)
            .and_then(|e| e.alias_of.as_ref())
            .map(|a| a.value.clone())
    };
    let skipped_alias: Vec<(String, String)> = read
        .catalog
        .providers
        .keys()
        .filter(|k| !first_error.contains_key(*k))
        .filter_map(|k| alias_target(k).map(|t| (k.clone(), t)))
        .filter(|(_, t)| first_error.contains_key(t))
        .collect();
    let key_loc = |key: &str| {
        read.catalog
            .providers
            .get(key)
            .map_or_else(yaml::Loc::default, |e| e.key_loc)
    };
    let mut out: Vec<Diagnostic> = found
        .into_iter()
        .filter(|d| {
            d.provider.as_ref().is_none_or(|k| {
                !first_error.contains_key(k) && !skipped_alias.iter().any(|(a, _)| a == k)
            })
        })
        .collect();
    for (key, first) in &first_error {
        let mut d = Diagnostic::new(
            rules::Rule::ProviderSkipped,
            key_loc(key),
            format!(
                "provider `{key}` is left out: {}:{}: error[{}]: {}",
                first.loc.line, first.loc.col, first.rule, first.message
            ),
        );
        d.provider = Some(key.clone());
        out.extend(d.leveled(&read.levels));
    }
    for (alias, target) in &skipped_alias {
        let mut d = Diagnostic::new(
            rules::Rule::ProviderSkipped,
            key_loc(alias),
            format!(
                "provider `{alias}` is left out: it is an alias of `{target}`, which is left out"
            ),
        );
        d.provider = Some(alias.clone());
        out.extend(d.leveled(&read.levels));
    }
    plan.providers.retain(|p| {
        !first_error.contains_key(p.key) && !skipped_alias.iter().any(|(a, _)| a == p.key)
    });
    out
}

/// Every finding in a catalog's text (all providers, default options).
pub fn lint(source: &str) -> Diagnostics {
    lint_with(source, &Options::default())
}

/// Every finding in a catalog's text, with `options` (provider selection, pattern policy).
/// An unknown selected provider is reported as an error without a location.
pub fn lint_with(source: &str, options: &Options) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(d) => {
            diagnostics.push(d);
            return diagnostics;
        }
    };
    let read = read_catalog(&root, &options.lint_levels);
    match analyze(Path::new(""), source, &read, options) {
        Ok((_, found)) => found,
        Err(e) => {
            diagnostics.push(Diagnostic::new(
                rules::Rule::UnknownSelection,
                yaml::Loc {
                    line: 1,
                    col: 1,
                    offset: 0,
                    len: 0,
                },
                e.to_string(),
            ));
            diagnostics
        }
    }
}

// The pipeline, stage by stage: the public functions below call these in order.

/// The options as the emitter takes them, checked once: the runtime path and the derives
/// must be Rust paths; the header comment names the inputs by file name only, so output
/// does not depend on the machine.
fn resolve(inputs: &[(&Path, &str)], options: &Options) -> Result<emit::EmitOptions, Error> {
    let parse_path = |what: &str, text: &str| {
        syn::parse_str::<syn::Path>(text)
            .map(drop)
            .map_err(|e| Error::InvalidOption(format!("{what} `{text}` is not a Rust path: {e}")))
    };
    parse_path("runtime path", &options.runtime_path)?;
    for d in &options.derives {
        parse_path("derive", d)?;
    }
    let source_name = inputs
        .iter()
        .map(|(path, _)| {
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Ok(emit::EmitOptions {
        runtime: options.runtime_path.clone(),
        docs: options.docs,
        source_name,
        config_derives: options.derives.clone(),
        formatted: options.formatted,
    })
}

fn catalog_error(path: &Path, source: &str, diagnostics: Diagnostics) -> Error {
    Error::Catalog {
        path: path.to_owned(),
        source_text: source.to_owned(),
        diagnostics,
    }
}

/// Read: each catalog parsed and read by the rules of its era.
fn read_all(inputs: &[(&Path, &str)], options: &Options) -> Result<Vec<model::Read>, Error> {
    inputs
        .iter()
        .map(|(path, source)| {
            let root = yaml::parse(source).map_err(|d| {
                let mut ds = Diagnostics::default();
                ds.push(d);
                catalog_error(path, source, ds)
            })?;
            Ok(read_catalog(&root, &options.lint_levels))
        })
        .collect()
}

/// Check and plan: the selection checked against every catalog's keys, each catalog checked
/// (any error stops the run with every diagnostic of that catalog), and the plans merged,
/// sorted by key. With several catalogs, a provider key may stand in one of them only, and
/// warnings carry their file.
fn plan_all<'a>(
    inputs: &[(&'a Path, &'a str)],
    reads: &'a [model::Read],
    options: &Options,
) -> Result<(check::Plan<'a>, Vec<Diagnostic>), Error> {
    // A selection names keys of any of the catalogs.
    let all_keys: Vec<&String> = reads.iter().flat_map(|r| r.per_provider.keys()).collect();
    let unknown: Vec<(String, Option<String>)> = options
        .providers
        .iter()
        .flatten()
        .chain(&options.exclude)
        .filter(|k| !all_keys.contains(k))
        .map(|k| {
            (
                k.clone(),
                lower::closest(k, all_keys.iter().map(|s| s.as_str())).map(str::to_owned),
            )
        })
        .collect();
    if !unknown.is_empty() {
        let path = inputs
            .first()
            .map_or_else(PathBuf::new, |(p, _)| p.to_path_buf());
        return Err(Error::UnknownProviders { path, unknown });
    }
    let mut providers = Vec::new();
    let mut warnings = Vec::new();
    let mut seen: std::collections::BTreeMap<String, (PathBuf, u32)> =
        std::collections::BTreeMap::new();
    for ((path, source), read) in inputs.iter().zip(reads) {
        let here = |k: &String| read.per_provider.contains_key(k);
        let file_options = Options {
            providers: options
                .providers
                .as_ref()
                .map(|p| p.iter().filter(|k| here(k)).cloned().collect()),
            exclude: options
                .exclude
                .iter()
                .filter(|k| here(k))
                .cloned()
                .collect(),
            ..options.clone()
        };
        let (plan, diagnostics) = analyze(path, source, read, &file_options)?;
        if diagnostics.has_errors() {
            return Err(catalog_error(path, source, diagnostics));
        }
        for p in &plan.providers {
            let line = p.entry.key_loc.line;
            if let Some((other, other_line)) =
                seen.insert(p.module.clone(), (path.to_path_buf(), line))
            {
                return Err(Error::InvalidOption(format!(
                    "provider `{}` ({}:{line}) and a provider of {}:{other_line} map to the same module `{}`: \
                     a key may stand in one catalog only",
                    p.key,
                    path.display(),
                    other.display(),
                    p.module
                )));
            }
        }
        let multi = inputs.len() > 1;
        warnings.extend(diagnostics.into_iter().map(|mut d| {
            if multi {
                d.file = Some(path.to_path_buf());
            }
            d
        }));
        providers.extend(plan.providers);
    }
    providers.sort_by(|a, b| a.key.cmp(b.key));
    Ok((check::Plan { providers }, warnings))
}

/// Generates Rust from several catalogs' texts as one: `(path, text)` each. A provider key
/// may stand in one catalog only.
pub fn generate_many(inputs: &[(&Path, &str)], options: &Options) -> Result<Generated, Error> {
    let emit_options = resolve(inputs, options)?;
    let reads = read_all(inputs, options)?;
    let (plan, warnings) = plan_all(inputs, &reads, options)?;
    let code = emit::emit(&plan, &emit_options).map_err(Error::Internal)?;
    Ok(Generated { code, warnings })
}

/// Generates Rust from a catalog's text. `path` names the catalog in messages and in the
/// header comment (its file name only, so output does not depend on the machine).
pub fn generate(path: &Path, source: &str, options: &Options) -> Result<Generated, Error> {
    generate_many(&[(path, source)], options)
}

/// Generated files by relative path, and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct GeneratedFiles {
    /// Relative path → content.
    pub files: std::collections::BTreeMap<String, String>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
}

/// Generates one main file (`main_name`: `Provider` and the module declarations, after
/// `prelude`) and one file per provider module, laid out as `layout` says.
pub fn generate_files(
    path: &Path,
    source: &str,
    options: &Options,
    main_name: &str,
    layout: &emit::ModuleFiles,
    prelude: proc_macro2::TokenStream,
) -> Result<GeneratedFiles, Error> {
    generate_files_many(&[(path, source)], options, main_name, layout, prelude)
}

/// [`generate_files`] for several catalogs at once.
pub fn generate_files_many(
    inputs: &[(&Path, &str)],
    options: &Options,
    main_name: &str,
    layout: &emit::ModuleFiles,
    prelude: proc_macro2::TokenStream,
) -> Result<GeneratedFiles, Error> {
    let emit_options = resolve(inputs, options)?;
    let reads = read_all(inputs, options)?;
    let (plan, warnings) = plan_all(inputs, &reads, options)?;
    let files =
        emit::files(&plan, &emit_options, main_name, layout, prelude).map_err(Error::Internal)?;
    Ok(GeneratedFiles { files, warnings })
}

/// Reads a catalog file and generates Rust from it.
pub fn generate_file(path: &Path, options: &Options) -> Result<Generated, Error> {
    let source = read_catalog_file(path)?;
    generate(path, &source, options)
}

/// A catalog loaded at run time: each provider that checks as the runtime's data model, and
/// the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The providers, sorted by key.
    pub providers: Vec<terapi_model::spec::ProviderSpec>,
    /// Warnings (and notes) of the rules in force.
    pub warnings: Vec<Diagnostic>,
}

impl Loaded {
    /// The provider `key`.
    pub fn get(&self, key: &str) -> Option<&terapi_model::spec::ProviderSpec> {
        self.providers
            .binary_search_by(|p| p.key.as_ref().cmp(key))
            .ok()
            .map(|i| &self.providers[i])
    }

    /// The provider `key`, or an error naming the closest key.
    pub fn provider(
        &self,
        key: &str,
    ) -> Result<&terapi_model::spec::ProviderSpec, terapi_model::UnknownProvider> {
        self.get(key).ok_or_else(|| {
            let keys: Vec<&str> = self.providers.iter().map(|p| p.key.as_ref()).collect();
            terapi_model::UnknownProvider::new(key, &keys)
        })
    }
}

/// Loads a catalog's text at run time as the runtime's data model: the same reader, checks,
/// lint levels, selection and `InvalidProviders` policy as generation, so a loaded provider
/// equals the one generated code describes. `path` names the catalog in messages.
pub fn load(path: &Path, source: &str, options: &Options) -> Result<Loaded, Error> {
    let inputs = [(path, source)];
    let reads = read_all(&inputs, options)?;
    let (plan, warnings) = plan_all(&inputs, &reads, options)?;
    let providers = plan.providers.iter().map(describe::provider).collect();
    Ok(Loaded {
        providers,
        warnings,
    })
}

/// Reads a catalog file and loads it ([`load`]).
pub fn load_file(path: &Path, options: &Options) -> Result<Loaded, Error> {
    let source = read_catalog_file(path)?;
    load(path, &source, options)
}

/// Reads a parsed catalog by the rules of its era: its entries (aliases merged, older
/// spellings read, templates parsed once), then the params each has without declaring them.
pub fn read_catalog(root: &yaml::Node, levels: &LintLevels) -> model::Read {
    let mut read = model::read_entries(root, levels);
    implied::infer(&mut read);
    read
}

/// Reads a catalog file as text: a file that is not UTF-8 is a located catalog error
/// (`invalid-utf8`, naming the byte offset and the line), not an I/O error.
pub fn read_catalog_file(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.into_bytes();
        let mut diagnostics = Diagnostics::default();
        diagnostics.extend(yaml::utf8_error(&bytes));
        Error::Catalog {
            path: path.to_owned(),
            source_text: String::from_utf8_lossy(&bytes).into_owned(),
            diagnostics,
        }
    })
}

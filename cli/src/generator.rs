//! The generator's commands of `terapi`: `generate`, `check` (drift), `lint` and `schema`, over
//! the `terapi-codegen` library.
//!
//! Exit codes: 0 success; 1 findings (catalog errors, lint errors) or drift; 2 usage or I/O
//! errors. Diagnostics are colored only when stderr is a terminal (and `NO_COLOR` is unset).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand};

use terapi_codegen::{
    CrateSpec, Diagnostic, Error, Options, crate_files_with, drift, generate_file,
    render_report_colored, write_crate, write_if_changed,
};

/// How much the generator's commands print.
#[derive(Debug, Clone, Copy, Args)]
pub struct OutputArgs {
    /// Print errors only (no warnings, no progress).
    #[arg(long, short, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print what was read and written, with timings.
    #[arg(long, short)]
    pub verbose: bool,
}

/// The generator's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate Rust from the catalog: one file (`--out`), or a whole crate (`--crate DIR`).
    /// Files are written only when their content changed.
    Generate(GenerateArgs),
    /// Exit 1 with a unified diff if the output (file or crate) differs from fresh output:
    /// the CI drift check.
    Check(GenerateArgs),
    /// Report every problem in a catalog as FILE:LINE:COL diagnostics; exit 1 on errors.
    Lint(LintArgs),
    /// Print the JSON Schema of the providers.yaml format, for editors: save it and add
    /// `# yaml-language-server: $schema=providers.schema.json` to the catalog.
    Schema,
}

/// What to generate from: shared by `generate`, `check` and `lint`.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Only these provider keys (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Leave out these provider keys (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Allow RULE: do not report it (repeatable; `terapi lint --rules` lists them).
    #[arg(short = 'A', long = "allow", value_name = "RULE")]
    pub allow: Vec<String>,
    /// Report RULE as a warning (repeatable).
    #[arg(short = 'W', long = "warn", value_name = "RULE")]
    pub warn: Vec<String>,
    /// Report RULE as an error (repeatable). `-D warnings` makes every warning an error; a
    /// rule named on its own wins over `warnings`.
    #[arg(short = 'D', long = "deny", value_name = "RULE")]
    pub deny: Vec<String>,
    /// What to do with providers that have errors: `error` fails the run; `skip` leaves
    /// them (and their aliases) out, each named in one warning with its first error.
    #[arg(long, value_enum, default_value_t = InvalidProvidersArg::Error)]
    pub invalid_providers: InvalidProvidersArg,
}

/// Arguments of `generate` and `check`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How much to print.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The catalog.
    #[arg(long, default_value = "providers.yaml")]
    pub input: PathBuf,
    /// The generated file.
    #[arg(
        long,
        default_value = "generated/providers.rs",
        conflicts_with = "crate_dir"
    )]
    pub out: PathBuf,
    /// Generate a complete crate in this directory (Cargo.toml, src/lib.rs, one file per
    /// provider) instead of one file.
    #[arg(long = "crate", value_name = "DIR")]
    pub crate_dir: Option<PathBuf>,
    /// The crate's package name (default: the directory's name).
    #[arg(long, requires = "crate_dir")]
    pub crate_name: Option<String>,
    /// The crate's `terapi-runtime` dependency as a TOML value, e.g. `'{ path = "../runtime" }'`
    /// (default: this version from crates.io).
    #[arg(long, requires = "crate_dir")]
    pub runtime_dependency: Option<String>,
    /// Which providers and how strictly.
    #[command(flatten)]
    pub select: SelectArgs,
    /// The runtime crate's path in generated code.
    #[arg(long, default_value = "::terapi_runtime")]
    pub runtime_path: String,
    /// An extra derive for every `ConnectionConfig`, as a path (repeatable), e.g.
    /// `::core::hash::Hash`.
    #[arg(long = "derive", value_name = "PATH")]
    pub derives: Vec<String>,
    /// Leave out doc comments.
    #[arg(long)]
    pub no_docs: bool,
    /// The integrations file (syncs, actions and models per provider of the catalog),
    /// generated beside the catalog's code [default: integrations.yaml, when it exists].
    #[arg(long, value_name = "FILE")]
    pub integrations: Option<PathBuf>,
    /// The integrations' generated file.
    #[arg(
        long,
        default_value = "generated/integrations.rs",
        conflicts_with = "crate_dir"
    )]
    pub integrations_out: PathBuf,
    /// Also the Rust types of the integrations' `$ref` models (their `openapi.output`), from
    /// the OpenAPI documents of their `openapi.documents`. Needs the `openapi` feature.
    #[arg(long)]
    pub openapi: bool,
    /// The OpenAPI documents' directory, instead of the integrations file's
    /// `openapi.documents`.
    #[arg(long, value_name = "DIR", requires = "openapi")]
    pub openapi_documents: Option<PathBuf>,
}

/// The OpenAPI types of the integrations file `path` (text `text`): where they go and their
/// code. `dir`: the documents (empty: the file's `openapi.documents`).
#[cfg(feature = "openapi")]
fn openapi_file(
    path: &Path,
    text: &str,
    documents: Option<&Path>,
) -> Result<(PathBuf, String), Error> {
    use terapi_codegen::openapi::{generate, paths_of, refs_of};
    let loaded = terapi_codegen::load_integrations(path, text, None, &Default::default())?;
    let paths = paths_of(path, &loaded, documents).ok_or_else(|| {
        Error::InvalidOption(format!(
            "--openapi: {} has no `openapi: {{documents, output}}`",
            path.display()
        ))
    })?;
    let code = generate(&paths.documents, &refs_of(&loaded))
        .map_err(|e| Error::InvalidOption(format!("--openapi: {e}")))?;
    Ok((paths.output, code))
}

#[cfg(not(feature = "openapi"))]
fn openapi_file(_: &Path, _: &str, _: Option<&Path>) -> Result<(PathBuf, String), Error> {
    Err(Error::InvalidOption(
        "--openapi: this terapi is built without the `openapi` feature (cargo install --path cli --features openapi)".into(),
    ))
}

/// `--invalid-providers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InvalidProvidersArg {
    /// Fail the run.
    Error,
    /// Leave them out, with one warning each.
    Skip,
}

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// How much to print.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The catalog.
    #[arg(default_value = "providers.yaml")]
    pub file: PathBuf,
    /// Explain a rule: what it finds, why, its basis and default level.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// List every rule as a Markdown table.
    #[arg(long, conflicts_with = "explain")]
    pub rules: bool,
    /// Which providers and how strictly.
    #[command(flatten)]
    pub select: SelectArgs,
}

impl SelectArgs {
    fn options(&self) -> Result<Options, Error> {
        let mut levels = terapi_codegen::LintLevels::default();
        for (codes, level) in [
            (&self.allow, terapi_codegen::Level::Allow),
            (&self.warn, terapi_codegen::Level::Warn),
            (&self.deny, terapi_codegen::Level::Deny),
        ] {
            for code in codes {
                levels.set_code(code, level).map_err(Error::InvalidOption)?;
            }
        }
        Ok(Options {
            providers: (!self.providers.is_empty()).then(|| self.providers.clone()),
            exclude: self.exclude.clone(),
            lint_levels: levels,
            invalid_providers: match self.invalid_providers {
                InvalidProvidersArg::Error => terapi_codegen::InvalidProviders::Error,
                InvalidProvidersArg::Skip => terapi_codegen::InvalidProviders::Skip,
            },
            ..Options::default()
        })
    }

    fn flags(&self) -> String {
        let mut out = String::new();
        if !self.providers.is_empty() {
            out.push_str(&format!(" --providers {}", self.providers.join(",")));
        }
        if !self.exclude.is_empty() {
            out.push_str(&format!(" --exclude {}", self.exclude.join(",")));
        }
        for (flag, codes) in [("-A", &self.allow), ("-W", &self.warn), ("-D", &self.deny)] {
            for code in codes {
                out.push_str(&format!(" {flag} {code}"));
            }
        }
        if self.invalid_providers == InvalidProvidersArg::Skip {
            out.push_str(" --invalid-providers skip");
        }
        out
    }
}

impl GenerateArgs {
    fn options(&self) -> Result<Options, Error> {
        Ok(Options {
            runtime_path: self.runtime_path.clone(),
            docs: !self.no_docs,
            derives: self.derives.clone(),
            ..self.select.options()?
        })
    }

    /// The command that regenerates the output with these arguments.
    fn fix_command(&self) -> String {
        let mut cmd = "terapi generate".to_owned();
        if self.input != Path::new("providers.yaml") {
            cmd.push_str(&format!(" --input {}", self.input.display()));
        }
        match &self.crate_dir {
            Some(dir) => {
                cmd.push_str(&format!(" --crate {}", dir.display()));
                if let Some(name) = &self.crate_name {
                    cmd.push_str(&format!(" --crate-name {name}"));
                }
                if let Some(dep) = &self.runtime_dependency {
                    cmd.push_str(&format!(" --runtime-dependency '{dep}'"));
                }
            }
            None if self.out != Path::new("generated/providers.rs") => {
                cmd.push_str(&format!(" --out {}", self.out.display()));
            }
            None => {}
        }
        cmd.push_str(&self.select.flags());
        if self.runtime_path != "::terapi_runtime" {
            cmd.push_str(&format!(" --runtime-path {}", self.runtime_path));
        }
        for d in &self.derives {
            cmd.push_str(&format!(" --derive {d}"));
        }
        if self.no_docs {
            cmd.push_str(" --no-docs");
        }
        if let Some(path) = &self.integrations {
            cmd.push_str(&format!(" --integrations {}", path.display()));
        }
        if self.openapi {
            cmd.push_str(" --openapi");
        }
        if let Some(dir) = &self.openapi_documents {
            cmd.push_str(&format!(" --openapi-documents {}", dir.display()));
        }
        if self.integrations_out != Path::new("generated/integrations.rs") {
            cmd.push_str(&format!(
                " --integrations-out {}",
                self.integrations_out.display()
            ));
        }
        cmd
    }

    fn crate_spec(&self, dir: &Path) -> CrateSpec {
        let mut spec = CrateSpec::for_dir(dir);
        if let Some(name) = &self.crate_name {
            spec.name = name.clone();
        }
        if let Some(dep) = &self.runtime_dependency {
            spec.runtime_dependency = dep.clone();
        }
        spec
    }

    /// Fresh output: one file keyed by `--out`, or a crate's files keyed by relative path.
    fn fresh(&self) -> Result<(BTreeMap<String, String>, Vec<Diagnostic>), Error> {
        match &self.crate_dir {
            Some(dir) => {
                let source = terapi_codegen::read_catalog_file(&self.input)?;
                let integrations = match &self.integrations {
                    Some(path) => Some((path, terapi_codegen::read_catalog_file(path)?)),
                    None => None,
                };
                let generated = crate_files_with(
                    &self.input,
                    &source,
                    &self.options()?,
                    &self.crate_spec(dir),
                    integrations
                        .as_ref()
                        .map(|(p, t)| (p.as_path(), t.as_str())),
                )?;
                Ok((generated.files, generated.warnings))
            }
            None => {
                let options = self.options()?;
                let generated = generate_file(&self.input, &options)?;
                let mut files = BTreeMap::from([(self.out.display().to_string(), generated.code)]);
                let mut warnings = generated.warnings;
                if let Some(path) = self.integrations_file() {
                    let source = terapi_codegen::read_catalog_file(&self.input)?;
                    let catalog = terapi_codegen::load(&self.input, &source, &options)?;
                    let keys: Vec<&str> =
                        catalog.providers.iter().map(|p| p.key.as_ref()).collect();
                    let text = terapi_codegen::read_catalog_file(&path)?;
                    let integrations = terapi_codegen::generate_integrations(
                        &path,
                        &text,
                        Some(&keys),
                        &options.lint_levels,
                        true,
                    )?;
                    warnings.extend(integrations.warnings);
                    files.insert(
                        self.integrations_out.display().to_string(),
                        integrations.code,
                    );
                    if self.openapi {
                        let (path, code) =
                            openapi_file(&path, &text, self.openapi_documents.as_deref())?;
                        files.insert(path.display().to_string(), code);
                    }
                } else if self.openapi {
                    return Err(Error::InvalidOption(
                        "--openapi: no integrations file (integrations.yaml, or --integrations FILE)".into(),
                    ));
                }
                Ok((files, warnings))
            }
        }
    }

    /// What the files are generated from, for messages.
    fn sources(&self) -> String {
        match self.integrations_file() {
            Some(path) if self.crate_dir.is_none() => {
                format!("{} and {}", self.input.display(), path.display())
            }
            _ => self.input.display().to_string(),
        }
    }

    /// The integrations file to generate: the one given, else `integrations.yaml` if it
    /// exists.
    fn integrations_file(&self) -> Option<PathBuf> {
        match &self.integrations {
            Some(path) => Some(path.clone()),
            None => {
                let default = PathBuf::from("integrations.yaml");
                default.exists().then_some(default)
            }
        }
    }
}

/// Output settings.
struct Out {
    quiet: bool,
    verbose: bool,
}

impl Out {
    fn color() -> bool {
        std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    }

    /// Prints an error the way its kind calls for; returns the exit code.
    fn error(&self, e: &Error) -> ExitCode {
        match e {
            Error::Catalog {
                path,
                source_text,
                diagnostics,
            } => {
                let mut diagnostics = diagnostics.clone();
                if self.quiet {
                    diagnostics.retain_errors();
                }
                eprintln!(
                    "{}",
                    render_report_colored(path, source_text, &diagnostics, Self::color())
                );
                ExitCode::from(1)
            }
            Error::UnknownProviders { .. } => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
            _ => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    }

    fn warnings(&self, path: &Path, warnings: &[Diagnostic]) {
        if !self.quiet {
            for w in warnings {
                eprintln!("{}", w.headline(path));
            }
        }
    }

    fn info(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    fn detail(&self, text: impl std::fmt::Display) {
        if self.verbose {
            eprintln!("{text}");
        }
    }
}

/// Runs the CLI with already parsed arguments.
pub fn run(command: Command) -> ExitCode {
    let output = match &command {
        Command::Generate(args) | Command::Check(args) => args.output,
        Command::Lint(args) => args.output,
        Command::Schema => OutputArgs {
            quiet: false,
            verbose: false,
        },
    };
    let out = Out {
        quiet: output.quiet,
        verbose: output.verbose,
    };
    let start = Instant::now();
    let code = match command {
        Command::Generate(args) => generate(&out, &args),
        Command::Check(args) => check(&out, &args),
        Command::Lint(args) => lint(&out, &args),
        Command::Schema => {
            match serde_json::to_string_pretty(&terapi_codegen::model::catalog_schema()) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => out.error(&Error::Internal(e.to_string())),
            }
        }
    };
    out.detail(format_args!(
        "done in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    ));
    code
}

fn generate(out: &Out, args: &GenerateArgs) -> ExitCode {
    let (files, warnings) = match args.fresh() {
        Ok(x) => x,
        Err(e) => return out.error(&e),
    };
    out.warnings(&args.input, &warnings);
    out.detail(format_args!(
        "{} generated {} file(s)",
        args.input.display(),
        files.len()
    ));
    let result = match &args.crate_dir {
        Some(dir) => write_crate(dir, &files).map(|(written, removed)| {
            for p in &written {
                out.detail(format_args!("wrote {}", p.display()));
            }
            for p in &removed {
                out.info(format_args!("removed {}", p.display()));
            }
            let summary = if written.is_empty() && removed.is_empty() {
                "is up to date"
            } else {
                "updated"
            };
            out.info(format_args!("crate {} {summary}", dir.display()));
        }),
        None => files.iter().try_for_each(|(path, code)| {
            let path = Path::new(path);
            write_if_changed(path, code).map(|wrote| {
                out.info(if wrote {
                    format!("wrote {}", path.display())
                } else {
                    format!("{} is up to date", path.display())
                });
            })
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => out.error(&e),
    }
}

fn check(out: &Out, args: &GenerateArgs) -> ExitCode {
    let (files, _) = match args.fresh() {
        Ok(x) => x,
        Err(e) => return out.error(&e),
    };
    let (target, diff) = match &args.crate_dir {
        Some(dir) => match drift(dir, &files) {
            Ok(d) if d.is_empty() => (dir.display().to_string(), None),
            Ok(d) => (dir.display().to_string(), Some(d.unified_diff())),
            Err(e) => return out.error(&e),
        },
        None => {
            let mut diffs = String::new();
            let mut stale = Vec::new();
            for (path, fresh) in &files {
                let path = Path::new(path);
                let committed = match std::fs::read_to_string(path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(source) => {
                        return out.error(&Error::Io {
                            path: path.to_path_buf(),
                            source,
                        });
                    }
                };
                if committed != *fresh {
                    stale.push(path.display().to_string());
                    let old = format!("{} (committed)", path.display());
                    let new = format!("{} (generated)", path.display());
                    diffs.push_str(
                        &similar::TextDiff::from_lines(&committed, fresh.as_str())
                            .unified_diff()
                            .context_radius(3)
                            .header(&old, &new)
                            .to_string(),
                    );
                }
            }
            let target = if stale.is_empty() {
                files.keys().cloned().collect::<Vec<_>>().join(", ")
            } else {
                stale.join(", ")
            };
            (target, (!diffs.is_empty()).then_some(diffs))
        }
    };
    match diff {
        None => {
            out.info(format_args!("{target}: up to date with {}", args.sources()));
            ExitCode::SUCCESS
        }
        Some(diff) => {
            print!("{diff}");
            let (is, verb) = match (target.contains(", "), args.sources().contains(" and ")) {
                (false, false) => ("is", "generates"),
                (false, true) => ("is", "generate"),
                (true, false) => ("are", "generates"),
                (true, true) => ("are", "generate"),
            };
            eprintln!(
                "error: {target} {is} stale: {} differ{} from what {} {verb}.\nfix: {}",
                if is == "is" { "it" } else { "they" },
                if is == "is" { "s" } else { "" },
                args.sources(),
                args.fix_command()
            );
            ExitCode::from(1)
        }
    }
}

fn lint(out: &Out, args: &LintArgs) -> ExitCode {
    if args.rules {
        print!("{}", terapi_codegen::Rule::markdown_table());
        return ExitCode::SUCCESS;
    }
    if let Some(code) = &args.explain {
        return match code.parse::<terapi_codegen::Rule>() {
            Ok(rule) => {
                println!("{}", rule.explain());
                ExitCode::SUCCESS
            }
            Err(e) => out.error(&Error::InvalidOption(e.to_string())),
        };
    }
    let source = match terapi_codegen::read_catalog_file(&args.file) {
        Ok(s) => s,
        Err(e) => return out.error(&e),
    };
    let options = match args.select.options() {
        Ok(o) => o,
        Err(e) => return out.error(&e),
    };
    let mut diagnostics = terapi_codegen::lint_with(&source, &options);
    if out.quiet {
        diagnostics.retain_errors();
    }
    eprintln!(
        "{}",
        render_report_colored(&args.file, &source, &diagnostics, Out::color())
    );
    if diagnostics.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

//! The `terapi-codegen` command line: `generate`, `check` (drift) and `lint`.
//!
//! Exit codes: 0 success; 1 findings (lint errors, catalog errors) or drift; 2 usage or
//! I/O errors.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{Error, Options, generate_file, render_report_colored, write_if_changed};

/// Generates typed Rust from a terapi providers.yaml catalog.
#[derive(Debug, Parser)]
#[command(name = "terapi-codegen", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate Rust from the catalog and write it to the output file (if it changed).
    Generate(GenerateArgs),
    /// Exit 1 with a unified diff if the output file differs from fresh output (CI drift check).
    Check(GenerateArgs),
    /// Report every problem in a catalog as FILE:LINE:COL diagnostics; exit 1 on errors.
    Lint(LintArgs),
    /// Print the JSON Schema of the providers.yaml format (for yaml-language-server:
    /// `# yaml-language-server: $schema=providers.schema.json`).
    Schema,
}

/// Arguments of `generate` and `check`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The catalog.
    #[arg(long, default_value = "providers.yaml")]
    pub input: PathBuf,
    /// The generated file.
    #[arg(long, default_value = "generated/providers.rs")]
    pub out: PathBuf,
    /// Only these provider keys (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Leave out these provider keys (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// The runtime crate's path in generated code.
    #[arg(long, default_value = "::terapi_runtime")]
    pub runtime_path: String,
    /// Leave out doc comments.
    #[arg(long)]
    pub no_docs: bool,
    /// What to do with a `pattern` the regex engine cannot run (lookaround) or that is
    /// invalid: `error` fails the run, `skip` warns and drops that one check.
    #[arg(long, value_enum, default_value_t = Patterns::Error)]
    pub patterns: Patterns,
}

/// `--patterns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Patterns {
    /// Fail the run.
    Error,
    /// Warn and skip that check.
    Skip,
}

impl From<Patterns> for crate::check::PatternPolicy {
    fn from(p: Patterns) -> Self {
        match p {
            Patterns::Error => crate::check::PatternPolicy::Error,
            Patterns::Skip => crate::check::PatternPolicy::Skip,
        }
    }
}

/// Arguments of `lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// The catalog.
    #[arg(default_value = "providers.yaml")]
    pub file: PathBuf,
    /// Only these provider keys (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Leave out these provider keys (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// What to do with a `pattern` the regex engine cannot run or that is invalid.
    #[arg(long, value_enum, default_value_t = Patterns::Error)]
    pub patterns: Patterns,
}

impl GenerateArgs {
    fn options(&self) -> Options {
        Options {
            providers: (!self.providers.is_empty()).then(|| self.providers.clone()),
            exclude: self.exclude.clone(),
            runtime_path: self.runtime_path.clone(),
            docs: !self.no_docs,
            patterns: self.patterns.into(),
        }
    }

    /// The command that regenerates the output with these arguments.
    fn fix_command(&self) -> String {
        let mut cmd = "cargo run -p terapi-codegen -- generate".to_owned();
        if self.input != Path::new("providers.yaml") {
            cmd.push_str(&format!(" --input {}", self.input.display()));
        }
        if self.out != Path::new("generated/providers.rs") {
            cmd.push_str(&format!(" --out {}", self.out.display()));
        }
        if !self.providers.is_empty() {
            cmd.push_str(&format!(" --providers {}", self.providers.join(",")));
        }
        if !self.exclude.is_empty() {
            cmd.push_str(&format!(" --exclude {}", self.exclude.join(",")));
        }
        if self.runtime_path != "::terapi_runtime" {
            cmd.push_str(&format!(" --runtime-path {}", self.runtime_path));
        }
        if self.no_docs {
            cmd.push_str(" --no-docs");
        }
        if self.patterns == Patterns::Skip {
            cmd.push_str(" --patterns skip");
        }
        cmd
    }
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints an error the way its kind calls for; returns the exit code.
fn report(e: &Error) -> ExitCode {
    match e {
        Error::Catalog {
            path,
            source_text,
            diagnostics,
        } => {
            eprintln!(
                "{}",
                render_report_colored(path, source_text, diagnostics, color())
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

fn print_warnings(path: &Path, warnings: &[crate::Diagnostic]) {
    for w in warnings {
        eprintln!("{}", w.headline(path));
    }
}

/// Runs the CLI with already parsed arguments.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Generate(args) => match generate_file(&args.input, &args.options()) {
            Err(e) => report(&e),
            Ok(generated) => {
                print_warnings(&args.input, &generated.warnings);
                match write_if_changed(&args.out, &generated.code) {
                    Ok(true) => {
                        eprintln!("wrote {}", args.out.display());
                        ExitCode::SUCCESS
                    }
                    Ok(false) => {
                        eprintln!("{} is up to date", args.out.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => report(&e),
                }
            }
        },
        Command::Check(args) => match generate_file(&args.input, &args.options()) {
            Err(e) => report(&e),
            Ok(generated) => {
                let committed = match std::fs::read_to_string(&args.out) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(source) => {
                        return report(&Error::Io {
                            path: args.out.clone(),
                            source,
                        });
                    }
                };
                if committed == generated.code {
                    eprintln!(
                        "{} is up to date with {}",
                        args.out.display(),
                        args.input.display()
                    );
                    return ExitCode::SUCCESS;
                }
                let diff = similar::TextDiff::from_lines(&committed, &generated.code);
                let old = format!("{} (committed)", args.out.display());
                let new = format!(
                    "{} (generated from {})",
                    args.out.display(),
                    args.input.display()
                );
                print!(
                    "{}",
                    diff.unified_diff().context_radius(3).header(&old, &new)
                );
                eprintln!(
                    "error: {} is stale: it differs from what {} generates.\nfix: {}",
                    args.out.display(),
                    args.input.display(),
                    args.fix_command()
                );
                ExitCode::from(1)
            }
        },
        Command::Schema => {
            let schema = crate::model::catalog_schema();
            match serde_json::to_string_pretty(&schema) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => report(&Error::Internal(e.to_string())),
            }
        }
        Command::Lint(args) => {
            let source = match std::fs::read_to_string(&args.file) {
                Ok(s) => s,
                Err(source) => {
                    return report(&Error::Io {
                        path: args.file.clone(),
                        source,
                    });
                }
            };
            let options = Options {
                providers: (!args.providers.is_empty()).then(|| args.providers.clone()),
                exclude: args.exclude.clone(),
                patterns: args.patterns.into(),
                ..Options::default()
            };
            let diagnostics = crate::lint_with(&source, &options);
            eprintln!(
                "{}",
                render_report_colored(&args.file, &source, &diagnostics, color())
            );
            if diagnostics.has_errors() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

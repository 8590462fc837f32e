//! The `terapi-codegen` binary; see [`terapi_codegen::cli`].
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    terapi_codegen::cli::run(terapi_codegen::cli::Cli::parse())
}

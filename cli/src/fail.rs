//! Failures: what is printed (one `error: …` line, or a catalog's diagnostics as the codegen
//! CLI prints them) and the exit code.
//!
//! The messages come from the store, the runtime and the codegen, whose errors carry no
//! secret, and from this crate, which names params and environment variables, never values.

use std::io::Write as _;
use std::process::ExitCode;

use terapi_runtime::client::{ConnectError, Error};
use terapi_store::StoreError;
use terapi_sync::SyncError;

/// The operation failed on its input or at the provider.
pub const FAILED: u8 = 1;
/// Usage, I/O or store errors.
pub const USAGE: u8 = 2;
/// A full sync completed but held its deletions (too many, or an empty listing).
pub const HELD: u8 = 3;

/// Why a command failed, and its exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    text: Text,
}

#[derive(Debug)]
enum Text {
    /// Printed as `error: LINE`.
    Line(String),
    /// Printed as it is: a catalog's rendered diagnostics.
    Report(String),
}

impl Failure {
    /// Exit 1: the input or the provider.
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: FAILED,
            text: Text::Line(one_line(&message.into())),
        }
    }

    /// Exit 2: usage, I/O, store.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: USAGE,
            text: Text::Line(one_line(&message.into())),
        }
    }

    /// Exit 3: a full sync held its deletions.
    pub fn held(message: impl Into<String>) -> Failure {
        Failure {
            code: HELD,
            text: Text::Line(one_line(&message.into())),
        }
    }

    /// Exit 1 with a catalog's diagnostics (as the generator exits on catalog errors).
    pub fn report(report: String) -> Failure {
        Failure {
            code: FAILED,
            text: Text::Report(report),
        }
    }

    /// The same exit code with another message (one line).
    pub fn with_message(self, message: impl Into<String>) -> Failure {
        Failure {
            code: self.code,
            text: Text::Line(one_line(&message.into())),
        }
    }

    /// The same message with the exit code `code` (a command stopped by a signal: 130,
    /// 143).
    pub fn with_code(self, code: u8) -> Failure {
        Failure { code, ..self }
    }

    /// The exit code.
    #[cfg(test)]
    pub fn code(&self) -> u8 {
        self.code
    }

    /// What is printed (without `error: `).
    pub fn message(&self) -> &str {
        match &self.text {
            Text::Line(line) | Text::Report(line) => line,
        }
    }

    /// Prints the failure on stderr; the exit code.
    pub fn print(&self) -> ExitCode {
        match &self.text {
            // Messages carry ids and providers' words: never a control character.
            Text::Line(line) => eprintln!("error: {}", crate::escape::shown(line)),
            Text::Report(report) => eprintln!("{report}"),
        }
        ExitCode::from(self.code)
    }
}

/// `text` on one line: each further line joined with `; ` (a list's `- ` dropped), or with
/// a space after a line that ends in `:` (`2 problems: a; b`).
pub fn one_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.strip_prefix("- ").unwrap_or(line);
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

/// The exit code of a client error.
fn client_code(e: &Error) -> u8 {
    match e {
        // The store under a connection's tokens.
        Error::TokenStore { .. } | Error::TokenSink { .. } => USAGE,
        _ => FAILED,
    }
}

fn connect_code(e: &ConnectError) -> u8 {
    match e {
        ConnectError::Connect(e) => client_code(e),
        _ => FAILED,
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        let code = match &e {
            StoreError::NotFound { .. }
            // Another process syncs the model (its lease): try again later.
            | StoreError::Busy { .. }
            | StoreError::LeaseLost { .. }
            | StoreError::InvalidId { .. }
            | StoreError::Invalid { .. }
            | StoreError::Exists { .. }
            | StoreError::UnknownProvider { .. }
            | StoreError::NoPendingAuthorization
            | StoreError::NoState => FAILED,
            StoreError::Connect(e) => connect_code(e),
            StoreError::Client(e) => client_code(e),
            _ => USAGE,
        };
        Failure {
            code,
            text: Text::Line(one_line(&e.to_string())),
        }
    }
}

impl From<ConnectError> for Failure {
    fn from(e: ConnectError) -> Failure {
        Failure {
            code: connect_code(&e),
            text: Text::Line(one_line(&e.to_string())),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            code: client_code(&e),
            text: Text::Line(one_line(&e.to_string())),
        }
    }
}

impl From<SyncError> for Failure {
    fn from(e: SyncError) -> Failure {
        match e {
            SyncError::Store(e) => e.into(),
            SyncError::Client(e) => e.into(),
            // A spec, a record without an id, a checkpoint, a model, the provider's answer.
            other => Failure::failed(other.to_string()),
        }
    }
}

/// Writes `line` and a newline to stdout (a closed stdout is an I/O error, not a panic).
pub fn print_line(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Writes `bytes` to stdout as they are.
pub fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

fn stdout_error(e: std::io::Error) -> Failure {
    Failure::usage(format!("cannot write to stdout: {e}"))
}

/// Prints `rows` as a table on stdout ([`table`]).
pub fn print_table<const N: usize>(rows: &[[String; N]]) -> Result<(), Failure> {
    print_bytes(table(rows).as_bytes())
}

/// `rows` as a table: each column as wide as its widest cell, two spaces between columns,
/// no trailing spaces.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_one_line() {
        assert_eq!(
            one_line("3 problems:\n- a: b\n- c\n- d"),
            "3 problems: a: b; c; d"
        );
        assert_eq!(one_line("one"), "one");
        assert_eq!(one_line("a\n\n  b  \n"), "a; b");
    }

    #[test]
    fn store_errors_have_their_exit_codes() {
        assert_eq!(Failure::from(StoreError::NoKey).code(), USAGE);
        assert_eq!(
            Failure::from(StoreError::NotFound { id: "x".into() }).code(),
            FAILED
        );
        assert_eq!(
            Failure::from(StoreError::NoPendingAuthorization).code(),
            FAILED
        );
        let busy = StoreError::Busy {
            connection: "hr".into(),
            model: "employees".into(),
        };
        assert_eq!(Failure::from(SyncError::Store(busy)).code(), FAILED);
        let store = SyncError::Store(StoreError::NoKey);
        assert_eq!(Failure::from(store).code(), USAGE);
    }
}

//! `terapi sync`: one sync run of a declared model (the integrations' syncs: the built-in
//! Personio ones, or `--integrations FILE`) for a stored connection. The counts go to stdout (one line, or the report as JSON); on a
//! terminal a spinner on stderr shows the pages and counts as they are stored. Ctrl-C
//! (SIGINT) or SIGTERM stops the run: the pages stored stay, every lease the process holds is
//! released (an immediate re-run proceeds and resumes it), and it exits 130 / 143.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use terapi_store::{RunCounts, Store, StoreError};
use terapi_sync::{Progress, SyncError, SyncOptions, SyncReport};

use crate::args::SyncArgs;
use crate::context::Context;
use crate::fail::{self, Failure};
use crate::signals::{Signal, Signals};

pub async fn run(context: &Context, args: SyncArgs) -> Result<(), Failure> {
    // Before anything is leased: a signal then stops the run and its leases are released.
    let mut signals = Signals::install()?;
    let opened = context.open_store().await?;
    let conn = opened
        .store
        .connect(&args.id, context.settings.clone())
        .await?;
    let spec = context
        .workflows
        .sync(&args.id, conn.provider(), &args.model)?;
    let options = if args.full {
        SyncOptions::full()
    } else {
        SyncOptions::incremental()
    };
    let options = options.allow_mass_delete(args.allow_mass_delete);
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| spinner(&spec.model));
    let options = match &bar {
        Some(bar) => {
            let bar = bar.clone();
            options.on_progress(move |p: &Progress| bar.set_message(progress_text(p)))
        }
        None => options,
    };
    let outcome = tokio::select! {
        outcome = terapi_sync::sync(&opened.store, &conn, &args.id, &spec, options) => Ok(outcome),
        signal = signals.wait() => Err(signal),
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(signal) => return Err(stopped(&opened.store, &spec.model, signal).await),
    };
    let report = outcome.map_err(|e| failed_run(&spec.model, e))?;
    if args.json {
        let text = serde_json::to_string(&report)
            .map_err(|e| Failure::usage(format!("cannot print the report: {e}")))?;
        fail::print_line(&crate::escape::json(&text))?;
    } else {
        fail::print_line(&report_line(&report))?;
    }
    held(&args.id, &report)
}

/// A run that held deletions: exit 3, with what applies them.
fn held(id: &str, report: &SyncReport) -> Result<(), Failure> {
    let n = report.counts.held;
    if n == 0 {
        return Ok(());
    }
    Err(Failure::held(format!(
        "held {n} deletion{} of `{model}`: more than the model's share of its records would go, or the listing was empty, so nothing was deleted; `terapi sync {id} {model} --full --allow-mass-delete` applies them, and so does the next full run that finds the same records missing",
        if n == 1 { "" } else { "s" },
        model = crate::escape::shown(&report.model),
        id = crate::escape::shown(id),
    )))
}

/// How long releasing the leases may take once a signal came.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

/// A run stopped by `signal` (the run's future is dropped: its transaction rolled back, the
/// pages stored before it kept): every lease of this process is released, so the next
/// `terapi sync` proceeds at once and resumes the run.
async fn stopped(store: &Store, model: &str, signal: Signal) -> Failure {
    let released = tokio::time::timeout(RELEASE_TIMEOUT, store.release_leases()).await;
    let leases = match released {
        Ok(Ok(())) => "its leases are released".to_owned(),
        Ok(Err(e)) => format!("its leases could not be released ({e}): they expire on their own"),
        Err(_) => "its leases could not be released in time: they expire on their own".to_owned(),
    };
    Failure::failed(format!(
        "sync of `{model}` stopped by {}: {leases}; the store keeps its checkpoint: the next `terapi sync` resumes it",
        signal.name()
    ))
    .with_code(signal.exit_code())
}

/// A spinner on stderr, redrawn ten times a second.
fn spinner(model: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(format!("{model}: starting"));
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// `employees: page 3, 250 added, 0 updated, 0 unchanged (resumed)`.
fn progress_text(p: &Progress) -> String {
    let c = &p.counts;
    format!(
        "{}: page {}, {} added, {} updated, {} unchanged{}",
        p.model,
        c.pages,
        c.added,
        c.updated,
        c.unchanged,
        if p.resumed { " (resumed)" } else { "" }
    )
}

/// `employees: 250 added, 0 updated, 0 unchanged, 0 deleted (full run, 3 pages, cursor 250)`.
pub fn report_line(report: &SyncReport) -> String {
    let RunCounts {
        added,
        updated,
        unchanged,
        deleted,
        pages,
        quarantined,
        held,
    } = report.counts;
    // Records set aside for their ids show only when there are some.
    let quarantined = if quarantined > 0 {
        format!(", {quarantined} quarantined (bad ids)")
    } else {
        String::new()
    };
    let held = match held {
        0 => String::new(),
        1 => ", held 1 deletion".to_owned(),
        n => format!(", held {n} deletions"),
    };
    format!(
        "{}: {added} added, {updated} updated, {unchanged} unchanged, {deleted} deleted{held}{quarantined} ({} run{}, {pages} page{}, cursor {})",
        report.model,
        if report.full { "full" } else { "incremental" },
        if report.resumed { ", resumed" } else { "" },
        if pages == 1 { "" } else { "s" },
        report.cursor
    )
}

/// A run that failed: the error, and for one that stored its checkpoint, that the next run
/// resumes it.
fn failed_run(model: &str, e: SyncError) -> Failure {
    let resumes = !matches!(
        &e,
        SyncError::Store(
            StoreError::Busy { .. }
                | StoreError::LeaseLost { .. }
                | StoreError::NoKey
                | StoreError::InvalidModel { .. },
        ) | SyncError::Spec { .. }
            | SyncError::Incomplete { .. }
            | SyncError::Checkpoint { .. }
            | SyncError::UnknownModel { .. }
    );
    let failure = Failure::from(e);
    if !resumes {
        return failure;
    }
    let message = format!(
        "sync of `{model}` failed: {}; the store keeps its checkpoint: the next `terapi sync` resumes it",
        failure.message()
    );
    failure.with_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_models_list_the_known_ones() {
        let workflows = crate::workflows::Workflows::built_in().unwrap();
        assert!(workflows.sync("hr", "personio", "employees").is_ok());
        let failure = workflows.sync("hr", "personio", "persons").unwrap_err();
        assert_eq!(failure.code(), fail::FAILED);
        assert!(
            failure
                .message()
                .contains("its syncs are employees, attendances, absence-periods"),
            "{}",
            failure.message()
        );
        let failure = workflows.sync("crm", "acme", "contacts").unwrap_err();
        assert!(
            failure
                .message()
                .contains("no syncs in the built-in integrations")
                && failure.message().contains("personio, personio-v2"),
            "{}",
            failure.message()
        );
    }

    #[test]
    fn report_lines() {
        let report = SyncReport {
            model: "employees".into(),
            full: true,
            resumed: false,
            counts: RunCounts {
                added: 250,
                pages: 3,
                ..RunCounts::default()
            },
            cursor: 250,
            quarantined: Vec::new(),
        };
        assert_eq!(
            report_line(&report),
            "employees: 250 added, 0 updated, 0 unchanged, 0 deleted (full run, 3 pages, cursor 250)"
        );
        let report = SyncReport {
            full: false,
            resumed: true,
            counts: RunCounts {
                unchanged: 1,
                pages: 1,
                ..RunCounts::default()
            },
            ..report
        };
        assert_eq!(
            report_line(&report),
            "employees: 0 added, 0 updated, 1 unchanged, 0 deleted (incremental run, resumed, 1 page, cursor 250)"
        );
        let report = SyncReport {
            full: true,
            resumed: false,
            counts: RunCounts {
                held: 250,
                pages: 1,
                ..RunCounts::default()
            },
            ..report
        };
        assert_eq!(
            report_line(&report),
            "employees: 0 added, 0 updated, 0 unchanged, 0 deleted, held 250 deletions (full run, 1 page, cursor 250)"
        );
        let failure = held("hr", &report).unwrap_err();
        assert_eq!(failure.code(), fail::HELD);
        assert!(
            failure
                .message()
                .starts_with("held 250 deletions of `employees`")
                && failure.message().contains("--allow-mass-delete"),
            "{}",
            failure.message()
        );
        assert!(
            held(
                "hr",
                &SyncReport {
                    counts: RunCounts::default(),
                    ..report
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn failed_runs_say_whether_the_next_resumes() {
        let busy = SyncError::Store(StoreError::Busy {
            connection: "hr".into(),
            model: "employees".into(),
        });
        let failure = failed_run("employees", busy);
        assert_eq!(failure.code(), fail::FAILED);
        assert!(failure.message().contains("another process is syncing it"));
        assert!(!failure.message().contains("resumes"));
        let failure = failed_run(
            "employees",
            SyncError::RecordId {
                model: "employees".into(),
                page: 2,
                index: 0,
                path: "id".into(),
            },
        );
        assert_eq!(failure.code(), fail::FAILED);
        assert!(
            failure
                .message()
                .starts_with("sync of `employees` failed: ")
                && failure
                    .message()
                    .ends_with("the next `terapi sync` resumes it"),
            "{}",
            failure.message()
        );
    }
}

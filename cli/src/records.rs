//! `terapi records`: a synced model's current records, or its change feed after a cursor,
//! as JSON lines on stdout. Both are read in batches of [`BATCH`]: memory stays bounded
//! whatever the model's size.

use serde_json::json;
use terapi_store::{Model, Store};

use crate::args::RecordsArgs;
use crate::context::Context;
use crate::escape::{self, shown};
use crate::fail::{self, Failure};

/// Records or changes read at a time.
const BATCH: usize = 500;

pub async fn run(context: &Context, args: RecordsArgs) -> Result<(), Failure> {
    let since = args
        .changes_since
        .as_deref()
        .map(parse_cursor)
        .transpose()?;
    let opened = context.open_store().await?;
    let stored = opened.store.connection(&args.id).await?;
    let spec = context
        .workflows
        .sync(&args.id, &stored.info.provider, &args.model)?;
    let model = Model {
        connection: &args.id,
        name: &spec.model,
        personal: spec.personal,
    };
    let status = opened.store.sync_status(model).await?;
    let synced = status.is_some();
    let latest = status.map_or(0, |s| s.cursor);
    if let Some(cursor) = since
        && cursor > latest
    {
        return Err(Failure::usage(format!(
            "--changes-since {cursor}: past the end of the change feed of `{}` (its latest cursor is {latest}): a cursor of another model or store?",
            spec.model
        )));
    }
    if !synced {
        eprintln!(
            "note: `{}` of connection `{id}` was never synced: `terapi sync {id} {}` stores its records",
            spec.model,
            spec.model,
            id = shown(&args.id)
        );
    }
    match since {
        None if args.typed => {
            let Some(output) = spec.output.as_deref() else {
                return Err(Failure::usage(format!(
                    "--typed: the sync `{}` declares no output model",
                    spec.model
                )));
            };
            typed(context, &opened.store, model, output).await
        }
        None => records(&opened.store, model).await,
        Some(cursor) => changes(&opened.store, model, cursor).await,
    }
}

/// `{"id":…,"data":…}` per current record, `data` read as the model `output`'s generated
/// type and written back. A record that does not read fails, naming it and where.
async fn typed(
    context: &Context,
    store: &Store,
    model: Model<'_>,
    output: &str,
) -> Result<(), Failure> {
    let mut after: Option<String> = None;
    loop {
        let batch = store.records(model, after.as_deref(), BATCH).await?;
        let mut out = String::new();
        for record in &batch {
            let data = context
                .workflows
                .typed_view(output, record.data.clone())?
                .map_err(|e| {
                    Failure::failed(format!(
                        "record `{}` of `{}`: {e}",
                        shown(&record.id),
                        model.name
                    ))
                })?;
            let line = json!({ "id": record.id, "data": data }).to_string();
            out.push_str(&escape::json(&line));
            out.push('\n');
        }
        fail::print_bytes(out.as_bytes())?;
        if batch.len() < BATCH {
            return Ok(());
        }
        after = batch.last().map(|r| r.id.clone());
    }
}

/// `--changes-since`: a whole number, 0 for the beginning.
fn parse_cursor(text: &str) -> Result<u64, Failure> {
    text.parse::<u64>().map_err(|_| {
        Failure::usage(format!(
            "--changes-since `{}`: a cursor is a whole number (0: from the beginning), as printed after `cursor: `",
            text.escape_default()
        ))
    })
}

/// `{"id":…,"data":…}` per current record, in id order.
async fn records(store: &Store, model: Model<'_>) -> Result<(), Failure> {
    let mut after: Option<String> = None;
    loop {
        let batch = store.records(model, after.as_deref(), BATCH).await?;
        let mut out = String::new();
        for record in &batch {
            let line = json!({ "id": record.id, "data": record.data }).to_string();
            out.push_str(&escape::json(&line));
            out.push('\n');
        }
        fail::print_bytes(out.as_bytes())?;
        if batch.len() < BATCH {
            return Ok(());
        }
        after = batch.last().map(|r| r.id.clone());
    }
}

/// `{"kind":…,"id":…,"data":…,"cursor":N,"at_ms":…}` per change after `cursor`, then
/// `cursor: N` on stderr: the cursor to resume from.
async fn changes(store: &Store, model: Model<'_>, mut cursor: u64) -> Result<(), Failure> {
    loop {
        let batch = store.changes(model, cursor, BATCH).await?;
        let mut out = String::new();
        for change in &batch.changes {
            let line = serde_json::to_string(change)
                .map_err(|e| Failure::usage(format!("cannot print a change: {e}")))?;
            out.push_str(&escape::json(&line));
            out.push('\n');
        }
        fail::print_bytes(out.as_bytes())?;
        cursor = batch.cursor;
        if batch.changes.len() < BATCH {
            break;
        }
    }
    eprintln!("cursor: {cursor}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor("0").unwrap(), 0);
        assert_eq!(parse_cursor("1234").unwrap(), 1234);
        for bad in ["", "-1", "1.5", "abc", "99999999999999999999999"] {
            let failure = parse_cursor(bad).unwrap_err();
            assert_eq!(failure.code(), fail::USAGE);
            assert!(failure.message().contains("whole number"), "{bad}");
        }
    }
}

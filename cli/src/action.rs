//! `terapi action ID NAME --input JSON`: a declared action through a stored connection. The
//! input is checked against the action's input model (every problem at once, nothing sent);
//! the provider's answer goes to stdout (JSON pretty-printed), its status to stderr; a 4xx or
//! 5xx from the provider fails with its message (exit 1).

use std::io::Read as _;

use base64::Engine as _;
use serde_json::{Map, Value};
use terapi_runtime::client::action::{self, ActionError};
use terapi_runtime::integration::{ActionSpec, BodyKind};

use crate::args::ActionArgs;
use crate::context::Context;
use crate::escape;
use crate::fail::{self, Failure};

/// The largest input read from a file or stdin, and the largest file a `{"path": …}` field
/// may name (the recruiting API takes documents up to 20 MB).
const MAX_INPUT: u64 = 25 << 20;

pub async fn run(context: &Context, args: ActionArgs) -> Result<(), Failure> {
    let input = read_input(args.input.as_deref())?;
    let opened = context.open_store().await?;
    let conn = opened
        .store
        .connect(&args.id, context.settings.clone())
        .await?;
    let integrations = context.workflows.integrations();
    let spec = context
        .workflows
        .action(&args.id, conn.provider(), &args.name)?;
    let input = read_files(spec, input)?;
    match action::run(&conn, integrations, spec, &input).await {
        Ok(output) => {
            eprintln!("HTTP {}", output.status);
            if output.body.is_null() {
                return Ok(());
            }
            let text = serde_json::to_string_pretty(&output.body)
                .map_err(|e| Failure::usage(format!("cannot print the answer: {e}")))?;
            fail::print_line(&escape::json(&text))
        }
        Err(ActionError::Request(e)) => Err(Failure::from(e)),
        Err(e) => Err(Failure::failed(escape::shown(&e.to_string()).into_owned())),
    }
}

/// `--input`: JSON, `@FILE`, or `-` (stdin); none is `{}`.
fn read_input(arg: Option<&str>) -> Result<Value, Failure> {
    let text = match arg {
        None => return Ok(Value::Object(Map::new())),
        Some("-") => bounded(std::io::stdin(), "--input -")?,
        Some(arg) => match arg.strip_prefix('@') {
            Some(path) => {
                let what = format!("--input @{path}");
                let file = std::fs::File::open(path)
                    .map_err(|e| Failure::usage(format!("{what}: {e}")))?;
                bounded(file, &what)?
            }
            None => arg.to_owned(),
        },
    };
    serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "--input is not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// At most [`MAX_INPUT`] bytes of text from `from`; more is refused, not cut.
fn bounded(from: impl std::io::Read, what: &str) -> Result<String, Failure> {
    let mut text = String::new();
    from.take(MAX_INPUT + 1)
        .read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("{what}: {e}")))?;
    if text.len() as u64 > MAX_INPUT {
        return Err(Failure::usage(format!(
            "{what}: the input is larger than {} MB",
            MAX_INPUT >> 20
        )));
    }
    Ok(text)
}

/// A multipart action's file field given as `{"path": "cv.pdf"}`: read here, as the action
/// takes it (`{filename, content_type?, base64}`).
fn read_files(spec: &ActionSpec, mut input: Value) -> Result<Value, Failure> {
    let BodyKind::Multipart { file } = &spec.body else {
        return Ok(input);
    };
    let Some(Value::Object(field)) = input.get_mut(file) else {
        return Ok(input);
    };
    let Some(Value::String(path)) = field.get("path").cloned() else {
        return Ok(input);
    };
    if field.len() > 2 || field.keys().any(|k| k != "path" && k != "content_type") {
        return Err(Failure::usage(format!(
            "--input: the file field `{file}` is `{{\"path\": …}}` (with an optional `content_type`) or `{{filename, content_type?, base64}}`"
        )));
    }
    let meta = std::fs::metadata(&path)
        .map_err(|e| Failure::usage(format!("--input: `{file}`: {path}: {e}")))?;
    if meta.len() > MAX_INPUT {
        return Err(Failure::usage(format!(
            "--input: `{file}`: {path} is larger than {} MB",
            MAX_INPUT >> 20
        )));
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| Failure::usage(format!("--input: `{file}`: {path}: {e}")))?;
    let filename = std::path::Path::new(&path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    field.remove("path");
    field.insert("filename".into(), Value::String(filename));
    field.insert(
        "base64".into(),
        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    );
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs() {
        assert_eq!(read_input(None).unwrap(), serde_json::json!({}));
        assert_eq!(
            read_input(Some(r#"{"id": 1}"#)).unwrap(),
            serde_json::json!({"id": 1})
        );
        let failure = read_input(Some("{secret")).unwrap_err();
        assert_eq!(failure.code(), fail::USAGE);
        assert!(
            !failure.message().contains("secret"),
            "{}",
            failure.message()
        );
        assert!(read_input(Some("@/nonexistent/input.json")).is_err());
        let big = bounded(std::io::repeat(b' ').take(MAX_INPUT + 10), "--input -").unwrap_err();
        assert!(
            big.message().contains("larger than 25 MB"),
            "{}",
            big.message()
        );
        assert_eq!(bounded(&b"{}"[..], "x").unwrap(), "{}");
    }
}

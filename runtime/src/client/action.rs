//! Declared actions ([`ActionSpec`]) run through a [`Connection`]: the input checked against
//! its model (every problem at once, before anything is sent), placed into the path, the
//! query and a JSON or `multipart/form-data` body, sent within the connection's request
//! budget, retried only as the action's idempotence allows, and the answer read back.
//!
//! - [`run`] takes and gives JSON; [`run_typed`] takes a `Serialize` input and reads the
//!   response as `O` (`()` or `serde_json::Value` when the action has no output model).
//! - Path params (`/employees/{id}`) are taken from the input field of that name: a
//!   non-empty string or an integer, percent-encoded as one path segment (a `/` in the value
//!   stays inside it). They are not sent again in the body.
//! - The fields the action lists in `query` are sent as query params: strings, numbers and
//!   booleans, a list as the param repeated; a `null` or absent field is left out.
//! - The other fields are the body: a JSON object (`json`), or the parts of a
//!   `multipart/form-data` body (`multipart`: the file field as a file part with its filename
//!   and media type, each other field as a text part). An action without a body takes no
//!   other field.
//! - An action that is not `idempotent` is sent once, and again only after a 429 (the
//!   provider refused it without acting on it); never after a 5xx or a transport error. An
//!   idempotent one is retried after both, within the connection's retry policy.
//! - Each request (retries included) waits for the connection's [`RateBudget`]
//!   ([`Connection::rate_budget`], at the action's `budget`, else [`Budget::default`]), and
//!   gives it the response's rate hints.
//!
//! [`RateBudget`]: super::RateBudget
//! [`Budget::default`]: crate::sync::Budget

use std::fmt::Write as _;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{MESSAGE_CHARS, truncate};
use super::{Connection, Error, Method};
use crate::integration::{
    ActionSpec, BodyKind, FileUpload, InputErrors, InputProblem, Integrations,
    UnreadableIntegrations,
};

/// What an action answered: a status from 200 to 299 and its body as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutput {
    /// The status.
    pub status: u16,
    /// The body; `Null` for an empty one.
    pub body: Value,
}

/// The provider refused an action: an error status, after the retries the action allows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("action `{action}`: the provider answered HTTP {status}{}", message_suffix(.message.as_deref()))]
pub struct ProviderError {
    /// The action.
    pub action: String,
    /// The status (400 to 599).
    pub status: u16,
    /// The provider's message, from the usual places of an error body (`error.message`,
    /// `errors[0].detail`, `title` or `message`, `message`, `detail`, `title`), with the
    /// connection's secrets masked.
    pub message: Option<String>,
    /// The error body (its first 64 KiB) as JSON, a string when it is not JSON, `Null` when
    /// empty; the connection's secrets masked.
    pub body: Value,
}

impl ProviderError {
    /// The provider's error body read as `T`: a type of its error shape (Personio v1's
    /// `{success, error: {code, message}}`, v2's problem details), for a caller that acts on
    /// more than the message. The error names where the body differs, never its content.
    pub fn body_as<T: DeserializeOwned>(&self) -> Result<T, crate::integration::ReadError> {
        crate::integration::read_value(&self.body)
    }
}

fn message_suffix(message: Option<&str>) -> String {
    message.map(|m| format!(": {m}")).unwrap_or_default()
}

/// Why an action did not give its output.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action is another provider's than the connection's.
    #[error(
        "action `{action}` is for the provider `{expected}`, but the connection is to `{connection}`"
    )]
    WrongProvider {
        /// The action.
        action: String,
        /// The action's provider.
        expected: String,
        /// The connection's provider.
        connection: String,
    },
    /// The input is not valid: every problem at once. Nothing was sent.
    #[error(transparent)]
    Input(#[from] InputErrors),
    /// The provider answered with an error status.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The request failed: transport, credentials, token, timeout, redirect, a body too
    /// large.
    #[error(transparent)]
    Request(#[from] Error),
    /// A success whose body does not read as the output type.
    #[error("action `{action}`: the response does not read as `{model}`: {reason}")]
    Output {
        /// The action.
        action: String,
        /// The output model (or type).
        model: String,
        /// Why (without the values the body holds).
        reason: String,
    },
    /// Generated code's embedded integrations description does not read back.
    #[error(transparent)]
    Unreadable(#[from] UnreadableIntegrations),
}

/// Runs `action` with `input` (JSON) through `conn`: see the [module docs](self).
pub async fn run(
    conn: &Connection,
    integrations: &Integrations,
    action: &ActionSpec,
    input: &Value,
) -> Result<ActionOutput, ActionError> {
    if action.provider != conn.provider() {
        return Err(ActionError::WrongProvider {
            action: action.name.clone(),
            expected: action.provider.clone(),
            connection: conn.provider().to_owned(),
        });
    }
    validate(integrations, action, input)?;
    let prepared = prepare(action, input)?;
    let budget = conn.rate_budget(action.budget.unwrap_or_default());
    let mut request = conn
        .request(method(action.method), prepared.endpoint)
        .query(&prepared.query)
        .idempotent(action.idempotent)
        .rate_budget(budget.clone());
    if let Some((bytes, content_type)) = prepared.body {
        request = request.body(bytes, content_type);
    }
    match request.send_keeping_body().await {
        Ok(response) => {
            let body = if response.bytes().iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(response.bytes()).map_err(|e| ActionError::Output {
                    action: action.name.clone(),
                    model: action.output.clone().unwrap_or_else(|| "JSON".to_owned()),
                    reason: format!("the body is not JSON ({})", describe_json_error(&e)),
                })?
            };
            Ok(ActionOutput {
                status: response.status(),
                body,
            })
        }
        Err((
            Error::Status {
                status, message, ..
            },
            body,
        )) => {
            if status == 429 {
                budget.refused(None);
            }
            let body = match body {
                Some(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => {
                    let text = conn.mask_text(&String::from_utf8_lossy(&bytes));
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                }
                _ => Value::Null,
            };
            let message = provider_message(&body)
                .map(|m| truncate(&m, MESSAGE_CHARS))
                .or(message);
            Err(ActionError::Provider(ProviderError {
                action: action.name.clone(),
                status,
                message,
                body,
            }))
        }
        Err((error, _)) => Err(ActionError::Request(error)),
    }
}

/// Runs `action` with a typed input, and reads its response as `O`: the output model's type,
/// or `serde_json::Value`, or `()` (which takes any body, an empty one included).
pub async fn run_typed<I: Serialize, O: DeserializeOwned>(
    conn: &Connection,
    integrations: &Integrations,
    action: &ActionSpec,
    input: &I,
) -> Result<O, ActionError> {
    let input = serde_json::to_value(input).map_err(|e| InputErrors {
        model: input_model(action),
        problems: vec![InputProblem {
            field: String::new(),
            message: format!("cannot be written as JSON ({})", describe_json_error(&e)),
        }],
    })?;
    let output = run(conn, integrations, action, &input).await?;
    // `()` is "nothing to read": whatever the body holds (an action answers `{success:
    // true}` as often as nothing at all).
    let body = if std::any::type_name::<O>() == "()" {
        Value::Null
    } else {
        output.body
    };
    serde_json::from_value(body).map_err(|e| ActionError::Output {
        action: action.name.clone(),
        model: action
            .output
            .clone()
            .unwrap_or_else(|| std::any::type_name::<O>().to_owned()),
        reason: describe_json_error(&e),
    })
}

fn input_model(action: &ActionSpec) -> String {
    action.input.clone().unwrap_or_else(|| action.name.clone())
}

fn method(method: crate::integration::Method) -> Method {
    use crate::integration::Method as M;
    match method {
        M::Get => Method::GET,
        M::Post => Method::POST,
        M::Put => Method::PUT,
        M::Patch => Method::PATCH,
        M::Delete => Method::DELETE,
    }
}

/// The input against the action's input model; without one, the input must be empty.
fn validate(
    integrations: &Integrations,
    action: &ActionSpec,
    input: &Value,
) -> Result<(), InputErrors> {
    match &action.input {
        Some(name) => match integrations.model(name) {
            Some(model) => model.validate(integrations, input),
            None => Err(InputErrors {
                model: name.clone(),
                problems: vec![InputProblem {
                    field: String::new(),
                    message: format!(
                        "the action `{}` names the input model `{name}`, which the integrations do not declare",
                        action.name
                    ),
                }],
            }),
        },
        None => match input {
            Value::Null => Ok(()),
            Value::Object(map) if map.is_empty() => Ok(()),
            other => Err(InputErrors {
                model: action.name.clone(),
                problems: vec![InputProblem {
                    field: String::new(),
                    message: format!(
                        "the action takes no input (null or {{}}), got {}",
                        kind(other)
                    ),
                }],
            }),
        },
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A request made from a valid input.
struct Prepared {
    endpoint: String,
    query: Vec<(String, String)>,
    body: Option<(Vec<u8>, String)>,
}

/// Characters left as they are in a path segment: RFC 3986's unreserved ones.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Splits a valid input into the path, the query and the body.
fn prepare(action: &ActionSpec, input: &Value) -> Result<Prepared, InputErrors> {
    let empty = Map::new();
    let fields = input.as_object().unwrap_or(&empty);
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(InputProblem {
            field: field.to_owned(),
            message,
        })
    };

    // The path, its params replaced.
    let params = action.path_params();
    let mut endpoint = String::with_capacity(action.path.len());
    let mut rest = action.path.as_str();
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open + 1..].find('}') else {
            break;
        };
        endpoint.push_str(&rest[..open]);
        let name = &rest[open + 1..open + 1 + len];
        match fields.get(name) {
            None | Some(Value::Null) => problem(name, "is required (a path param)".into()),
            Some(Value::String(s)) if s.is_empty() => {
                problem(name, "must not be empty (a path param)".into())
            }
            Some(Value::String(s)) if s == "." || s == ".." => {
                problem(name, "must not be `.` or `..` (a path param)".into())
            }
            Some(Value::String(s)) => {
                endpoint.extend(percent_encoding::utf8_percent_encode(s, SEGMENT));
            }
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
                let _ = write!(endpoint, "{n}");
            }
            Some(other) => problem(
                name,
                format!(
                    "expected a string or an integer (a path param), got {}",
                    kind(other)
                ),
            ),
        }
        rest = &rest[open + 2 + len..];
    }
    endpoint.push_str(rest);

    // The query.
    let mut query = Vec::new();
    for name in &action.query {
        let value = match fields.get(name) {
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        for item in items {
            match query_text(item) {
                Some(text) => query.push((name.clone(), text)),
                None => {
                    problem(
                        name,
                        format!(
                            "cannot be sent as a query param (a string, number or boolean, or a list of them), got {}",
                            kind(item)
                        ),
                    );
                    break;
                }
            }
        }
    }

    // The body: every other field.
    let body_fields: Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| {
            !params.contains(&k.as_str()) && !action.query.iter().any(|q| q == k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let body = match &action.body {
        BodyKind::None => {
            for (name, value) in &body_fields {
                if !value.is_null() {
                    problem(
                        name,
                        "is not sent: the action has no body, and the field is not a path or query param"
                            .into(),
                    );
                }
            }
            None
        }
        BodyKind::Json => {
            if body_fields.is_empty() && !action.method.has_body() {
                None
            } else {
                Some((
                    serde_json::to_vec(&Value::Object(body_fields)).unwrap_or_default(),
                    "application/json".to_owned(),
                ))
            }
        }
        BodyKind::Multipart { file } => {
            let upload = match body_fields.get(file) {
                None | Some(Value::Null) => {
                    problem(file, "is required (the file to upload)".into());
                    None
                }
                Some(value) => match serde_json::from_value::<FileUpload>(value.clone()) {
                    Err(_) => {
                        problem(
                            file,
                            "expected a file: {filename, content_type?, base64} with valid base64"
                                .into(),
                        );
                        None
                    }
                    Ok(upload) if upload.filename.is_empty() => {
                        problem(file, "the file's `filename` must not be empty".into());
                        None
                    }
                    Ok(upload)
                        if upload
                            .content_type
                            .as_deref()
                            .is_some_and(|t| !is_media_type(t)) =>
                    {
                        problem(
                            file,
                            "the file's `content_type` is not a media type (`type/subtype`)".into(),
                        );
                        None
                    }
                    Ok(upload) => Some(upload),
                },
            };
            let mut parts = Vec::new();
            for (name, value) in &body_fields {
                if name == file {
                    if let Some(upload) = &upload {
                        parts.push(Part::File(name, upload));
                    }
                    continue;
                }
                match value {
                    Value::Null => {}
                    Value::Array(items) if items.iter().all(|i| query_text(i).is_some()) => {
                        for item in items {
                            parts.push(Part::Text(name, query_text(item).unwrap_or_default()));
                        }
                    }
                    Value::Array(_) | Value::Object(_) => {
                        parts.push(Part::Text(name, value.to_string()))
                    }
                    scalar => parts.push(Part::Text(name, query_text(scalar).unwrap_or_default())),
                }
            }
            Some(multipart(&parts))
        }
    };
    if problems.is_empty() {
        Ok(Prepared {
            endpoint,
            query,
            body,
        })
    } else {
        Err(InputErrors {
            model: input_model(action),
            problems,
        })
    }
}

/// A scalar as a query param or a text part: a string as it is, a number or a boolean as
/// JSON writes it.
fn query_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `type/subtype`, optionally with `; params`: printable ASCII, no quote-free line break.
fn is_media_type(text: &str) -> bool {
    let essence = text.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s))
}

enum Part<'a> {
    Text(&'a str, String),
    File(&'a str, &'a FileUpload),
}

/// A name or filename inside a quoted `Content-Disposition` param, as browsers write it
/// (the HTML standard's multipart/form-data encoding): `"`, CR and LF percent-encoded, and
/// so is every other control character, so that nothing can end the quoted string or the
/// header line.
fn escape_param(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("%22"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The parts as a `multipart/form-data` body (RFC 7578) and its content type, with a random
/// boundary that no part contains.
fn multipart(parts: &[Part<'_>]) -> (Vec<u8>, String) {
    loop {
        let boundary = format!(
            "terapi-{}",
            hex::encode(terapi_model::random::bytes::<16>())
        );
        let found = |hay: &[u8]| {
            hay.windows(boundary.len())
                .any(|w| w == boundary.as_bytes())
        };
        let clash = parts.iter().any(|p| match p {
            Part::Text(_, text) => found(text.as_bytes()),
            Part::File(_, upload) => found(&upload.bytes),
        });
        if clash {
            continue;
        }
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(b"--");
            body.extend_from_slice(boundary.as_bytes());
            body.extend_from_slice(b"\r\n");
            match part {
                Part::Text(name, text) => {
                    let head = format!(
                        "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                        escape_param(name)
                    );
                    body.extend_from_slice(head.as_bytes());
                    body.extend_from_slice(text.as_bytes());
                }
                Part::File(name, upload) => {
                    let head = format!(
                        "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                        escape_param(name),
                        escape_param(&upload.filename),
                        upload
                            .content_type
                            .as_deref()
                            .unwrap_or("application/octet-stream")
                    );
                    body.extend_from_slice(head.as_bytes());
                    body.extend_from_slice(&upload.bytes);
                }
            }
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"--\r\n");
        return (body, format!("multipart/form-data; boundary={boundary}"));
    }
}

/// The provider's message in an error body, in the shapes providers use: Personio v1
/// (`error.message`), a list of errors (`errors[0]`'s `detail`, `title` or `message`;
/// Personio v2, JSON:API), a top-level `message`, RFC 9457 problem details (`detail`,
/// `title`), OAuth 2.0 (`error`, `error_description`).
pub(crate) fn provider_message(body: &Value) -> Option<String> {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    };
    let first = body.get("errors").and_then(|e| e.get(0));
    text(body.get("error").and_then(|e| e.get("message")))
        .or_else(|| {
            first.and_then(|e| {
                text(e.get("detail"))
                    .or_else(|| text(e.get("title")))
                    .or_else(|| text(e.get("message")))
            })
        })
        .or_else(|| text(body.get("message")))
        .or_else(|| text(body.get("detail")))
        .or_else(|| text(body.get("title")))
        .or_else(|| {
            let code = text(body.get("error"))?;
            Some(match text(body.get("error_description")) {
                Some(d) => format!("{code}: {d}"),
                None => code,
            })
        })
}

/// A JSON error without the values it may quote (a body may hold personal data): its kind,
/// what was expected, and where.
/// serde's message without the value it quotes (`crate::integration::serde_error_kind`).
fn describe_json_error(error: &serde_json::Error) -> String {
    crate::integration::serde_error_kind(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_from_the_usual_shapes() {
        let cases = [
            (
                json!({"success": false, "error": {"code": 0, "message": "v1 says"}}),
                "v1 says",
            ),
            (
                json!({"errors": [{"title": "Invalid", "detail": "v2 says"}], "title": "x"}),
                "v2 says",
            ),
            (
                json!({"errors": [{"title": "only a title"}]}),
                "only a title",
            ),
            (json!({"errors": [{"message": "m"}]}), "m"),
            (json!({"message": "top"}), "top"),
            (json!({"detail": "d", "title": "t"}), "d"),
            (json!({"title": "t"}), "t"),
            (
                json!({"error": "invalid_grant", "error_description": "no"}),
                "invalid_grant: no",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(provider_message(&body).as_deref(), Some(message), "{body}");
        }
        assert_eq!(provider_message(&json!({"errors": []})), None);
        assert_eq!(provider_message(&json!("text")), None);
    }

    #[test]
    fn json_errors_do_not_quote_values() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Out {
            id: u64,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        enum Kind {
            A,
        }
        let e = serde_json::from_value::<Out>(json!({"id": "secret-value"})).unwrap_err();
        assert_eq!(
            describe_json_error(&e),
            "invalid type: string, expected u64"
        );
        let e = serde_json::from_value::<Kind>(json!("secret-value")).unwrap_err();
        assert_eq!(describe_json_error(&e), "unknown variant, expected `A`");
        let e = serde_json::from_value::<Out>(json!({})).unwrap_err();
        assert_eq!(describe_json_error(&e), "missing field `id`");
    }

    #[test]
    fn names_and_filenames_cannot_leave_their_quotes() {
        assert_eq!(
            escape_param("a\"b\r\nContent-Type: x"),
            "a%22b%0D%0AContent-Type: x"
        );
        assert_eq!(escape_param("cv é.pdf"), "cv é.pdf");
        assert!(is_media_type("application/pdf"));
        assert!(is_media_type("text/plain; charset=utf-8"));
        assert!(!is_media_type("text/plain\r\nX-Evil: 1"));
        assert!(!is_media_type("pdf"));
    }
}

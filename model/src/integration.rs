//! Workflows declared in an integrations file (`integrations.yaml`): per provider of the
//! catalog, its syncs ([`SyncSpec`]), its actions ([`ActionSpec`]), and the models both are
//! typed with ([`ModelSpec`]).
//!
//! `terapi-codegen` reads and checks the file, and either returns these descriptions
//! (`terapi_codegen::load_integrations`) or writes typed Rust whose descriptions are these,
//! embedded as JSON ([`EmbeddedIntegrations`]). [`ModelSpec::validate`] checks an action's
//! input with every problem at once, the same way for generated code and a file loaded at
//! run time.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::sync::SyncSpec;

/// Everything an integrations file declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrations {
    /// Per provider key, in key order.
    pub integrations: Vec<Integration>,
    /// The models, in name order.
    pub models: Vec<ModelSpec>,
}

/// One provider's workflows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// The provider key of the catalog (`personio`).
    pub provider: String,
    /// Its syncs, in file order (a parent before its children, as a worker runs them).
    #[serde(default)]
    pub syncs: Vec<SyncSpec>,
    /// Its actions, in name order.
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
}

impl Integrations {
    /// The integration of `provider`.
    pub fn integration(&self, provider: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.provider == provider)
    }

    /// The sync `name` (its model in the store) of `provider`.
    pub fn sync(&self, provider: &str, name: &str) -> Option<&SyncSpec> {
        self.integration(provider)?
            .syncs
            .iter()
            .find(|s| s.model == name)
    }

    /// The action `name` of `provider`.
    pub fn action(&self, provider: &str, name: &str) -> Option<&ActionSpec> {
        self.integration(provider)?
            .actions
            .iter()
            .find(|a| a.name == name)
    }

    /// The model `name`.
    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }

    /// Every sync of every provider.
    pub fn syncs(&self) -> impl Iterator<Item = &SyncSpec> {
        self.integrations.iter().flat_map(|i| i.syncs.iter())
    }

    /// Every action of every provider.
    pub fn actions(&self) -> impl Iterator<Item = &ActionSpec> {
        self.integrations.iter().flat_map(|i| i.actions.iter())
    }
}

/// An HTTP method an action sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// Every method, as written in a file.
    pub const ALL: [(&'static str, Method); 5] = [
        ("GET", Method::Get),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("PATCH", Method::Patch),
        ("DELETE", Method::Delete),
    ];

    /// `GET`, `POST`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The method written `text` (upper case, as in a file).
    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL
            .iter()
            .find(|(t, _)| *t == text)
            .map(|(_, m)| *m)
    }

    /// Whether a request of this method may carry a body.
    pub fn has_body(self) -> bool {
        !matches!(self, Method::Get | Method::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an action's body is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BodyKind {
    /// No body: every input field is in the path or the query.
    None,
    /// The remaining input fields as a JSON object.
    Json,
    /// `multipart/form-data`: the file field as a file part, the others as text parts.
    Multipart {
        /// The input field that holds the file.
        file: String,
    },
}

/// A write (or a one-off read) declared for a provider: `create-attendances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSpec {
    /// The provider key.
    pub provider: String,
    /// The action's name (`create-attendances`).
    pub name: String,
    /// What it does, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The method.
    pub method: Method,
    /// The path below the provider's base URL, `{field}` for a path param taken from the
    /// input field of that name.
    pub path: String,
    /// The input model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The output model (`None`: the response body is returned as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Input fields sent as query params, not in the body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<String>,
    /// How the body is sent.
    pub body: BodyKind,
    /// Whether sending it twice has the effect of sending it once: then it is retried after
    /// a 5xx or a transport error, else only after a 429 (which the provider did not act on).
    pub idempotent: bool,
    /// The request budget actions of this provider share per connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::sync::Budget>,
}

impl ActionSpec {
    /// The names of the path params, in order (`{id}` → `id`).
    pub fn path_params(&self) -> Vec<&str> {
        path_params(&self.path)
    }
}

/// The `{name}` params of `path`, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open + 1..].find('}') else {
            break;
        };
        out.push(&rest[open + 1..open + 1 + len]);
        rest = &rest[open + 2 + len..];
    }
    out
}

/// A model: the fields of a record or an input, or a schema of an OpenAPI document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The name (`Employee`), a Rust type name in generated code.
    pub name: String,
    /// Its fields, as declared (none for an OpenAPI model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSpec>,
    /// `document#/pointer` of an OpenAPI schema, for a model typed from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openapi: Option<String>,
}

/// One field of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// The name as the provider writes it (`first_name`).
    pub name: String,
    /// The type.
    pub ty: FieldType,
    /// Whether it may be left out (`name?:` in the file).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Whether it may be `null` (`| null` in the file).
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A field's type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldType {
    /// Any string.
    String,
    /// A number.
    Number,
    /// An integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// An RFC 3339 date and time (`2026-12-01T10:15:30+01:00`).
    DateTime,
    /// A date (`2026-12-01`).
    Date,
    /// A time of day (`09:30`, or `09:30:15`).
    Time,
    /// One of these strings.
    Enum(Vec<String>),
    /// A list.
    Array(Box<FieldType>),
    /// A nested object with these fields.
    Object(Vec<FieldSpec>),
    /// Another model, by name.
    Model(String),
    /// A file to upload (in JSON: `{filename, content_type?, base64}`).
    File,
    /// Any JSON value.
    Any,
}

impl FieldType {
    /// The type as a file writes it (`string`, `date-time`, `'A' | 'B'`, `Employee[]`).
    pub fn describe(&self) -> String {
        match self {
            FieldType::String => "string".into(),
            FieldType::Number => "number".into(),
            FieldType::Integer => "integer".into(),
            FieldType::Boolean => "boolean".into(),
            FieldType::DateTime => "date-time".into(),
            FieldType::Date => "date".into(),
            FieldType::Time => "time".into(),
            FieldType::Enum(values) => values
                .iter()
                .map(|v| format!("'{v}'"))
                .collect::<Vec<_>>()
                .join(" | "),
            FieldType::Array(item) => format!("{}[]", item.describe()),
            FieldType::Object(_) => "object".into(),
            FieldType::Model(name) => name.clone(),
            FieldType::File => "file".into(),
            FieldType::Any => "any".into(),
        }
    }
}

/// One problem with an input: where (`attendances[0].date`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputProblem {
    /// The field's path, `.` between fields and `[i]` for list items; empty for the input
    /// itself.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// Every problem found in an input, in field order. Values are never quoted back (an input
/// may hold personal data or secrets), only their kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct InputErrors {
    /// The model checked.
    pub model: String,
    /// The problems.
    pub problems: Vec<InputProblem>,
}

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} problem{} with the input `{}`:",
            if n == 1 { "" } else { "s" },
            self.model
        )?;
        for p in &self.problems {
            if p.field.is_empty() {
                write!(f, "\n  - {}", p.message)?;
            } else {
                write!(f, "\n  - `{}`: {}", p.field, p.message)?;
            }
        }
        Ok(())
    }
}

impl ModelSpec {
    /// Checks `value` against this model (models it names are looked up in `models`): the
    /// object, every required field, each field's type, format and enum, nested objects,
    /// lists, and no field the model does not declare (a typo would be dropped silently).
    /// Every problem at once. An OpenAPI model is checked by deserializing into its type
    /// instead: here it only has to be an object.
    pub fn validate(&self, models: &Integrations, value: &Value) -> Result<(), InputErrors> {
        let mut problems = Vec::new();
        check_model(self, models, value, "", &mut problems, 0);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InputErrors {
                model: self.name.clone(),
                problems,
            })
        }
    }
}

/// Nesting deeper than this is refused (a hostile input cannot exhaust the stack).
const MAX_DEPTH: usize = 32;

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
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

fn check_model(
    model: &ModelSpec,
    models: &Integrations,
    value: &Value,
    path: &str,
    problems: &mut Vec<InputProblem>,
    depth: usize,
) {
    if model.openapi.is_some() {
        if !value.is_object() {
            problems.push(InputProblem {
                field: path.to_owned(),
                message: format!("expected an object ({}), got {}", model.name, kind(value)),
            });
        }
        return;
    }
    check_fields(&model.fields, models, value, path, problems, depth);
}

fn check_fields(
    fields: &[FieldSpec],
    models: &Integrations,
    value: &Value,
    path: &str,
    problems: &mut Vec<InputProblem>,
    depth: usize,
) {
    let Value::Object(map) = value else {
        problems.push(InputProblem {
            field: path.to_owned(),
            message: format!("expected an object, got {}", kind(value)),
        });
        return;
    };
    for field in fields {
        let at = join(path, &field.name);
        match map.get(&field.name) {
            None if field.optional => {}
            None => problems.push(InputProblem {
                field: at,
                message: format!("is required ({})", field.ty.describe()),
            }),
            Some(Value::Null) if field.nullable || field.optional => {}
            Some(v) => check_type(&field.ty, models, v, &at, problems, depth + 1),
        }
    }
    let declared: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let mut unknown: Vec<&String> = map
        .keys()
        .filter(|k| !declared.contains(&k.as_str()))
        .collect();
    unknown.sort();
    for key in unknown {
        let hint = crate::closest(key, declared.iter().copied())
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        problems.push(InputProblem {
            field: join(path, &key.escape_default().to_string()),
            message: format!("is not a field of this input{hint}"),
        });
    }
}

fn check_type(
    ty: &FieldType,
    models: &Integrations,
    value: &Value,
    path: &str,
    problems: &mut Vec<InputProblem>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        problems.push(InputProblem {
            field: path.to_owned(),
            message: format!("is nested deeper than {MAX_DEPTH} levels"),
        });
        return;
    }
    let mut bad = |expected: String| {
        problems.push(InputProblem {
            field: path.to_owned(),
            message: format!("expected {expected}, got {}", kind(value)),
        })
    };
    match (ty, value) {
        (FieldType::Any, _) => {}
        (FieldType::String, Value::String(_)) => {}
        (FieldType::Number, Value::Number(_)) => {}
        (FieldType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        (FieldType::Boolean, Value::Bool(_)) => {}
        (FieldType::DateTime, Value::String(s)) => {
            if !is_date_time(s) {
                problems.push(InputProblem {
                    field: path.to_owned(),
                    message: "is not an RFC 3339 date and time (e.g. `2026-12-01T09:30:00+01:00`)"
                        .into(),
                });
            }
        }
        (FieldType::Date, Value::String(s)) => {
            if !is_date(s) {
                problems.push(InputProblem {
                    field: path.to_owned(),
                    message: "is not a date written YYYY-MM-DD (e.g. `2026-12-01`)".into(),
                });
            }
        }
        (FieldType::Time, Value::String(s)) => {
            if !is_time(s) {
                problems.push(InputProblem {
                    field: path.to_owned(),
                    message: "is not a time of day written HH:MM (e.g. `09:30`)".into(),
                });
            }
        }
        (FieldType::Enum(values), Value::String(s)) => {
            if !values.iter().any(|v| v == s) {
                problems.push(InputProblem {
                    field: path.to_owned(),
                    message: format!("must be one of {}", ty.describe()),
                });
            }
        }
        (FieldType::Array(item), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                check_type(
                    item,
                    models,
                    v,
                    &format!("{path}[{i}]"),
                    problems,
                    depth + 1,
                );
            }
        }
        (FieldType::Object(fields), _) => {
            check_fields(fields, models, value, path, problems, depth + 1)
        }
        (FieldType::Model(name), _) => match models.model(name) {
            Some(model) => check_model(model, models, value, path, problems, depth + 1),
            None => problems.push(InputProblem {
                field: path.to_owned(),
                message: format!("names the model `{name}`, which is not declared"),
            }),
        },
        (FieldType::File, Value::Object(map)) => {
            let ok = matches!(map.get("filename"), Some(Value::String(s)) if !s.is_empty())
                && matches!(map.get("base64"), Some(Value::String(_)));
            if !ok {
                problems.push(InputProblem {
                    field: path.to_owned(),
                    message: "expected a file: {filename, content_type?, base64}".into(),
                });
            }
        }
        (FieldType::File, _) => bad("a file: {filename, content_type?, base64}".into()),
        (FieldType::Enum(_), _) => bad(format!("one of {}", ty.describe())),
        (FieldType::DateTime | FieldType::Date | FieldType::Time, _) => {
            bad(format!("a string ({})", ty.describe()))
        }
        (FieldType::Array(_), _) => bad(format!("a list ({})", ty.describe())),
        (FieldType::Integer, _) => bad("an integer".into()),
        (FieldType::Number, _) => bad("a number".into()),
        (FieldType::String, _) => bad("a string".into()),
        (FieldType::Boolean, _) => bad("a boolean".into()),
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY-MM-DD`, a real day.
pub fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts[..] else {
        return false;
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || !digits(y) || !digits(m) || !digits(d) {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) else {
        return false;
    };
    time::Month::try_from(m)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(y, m, d).ok())
        .is_some()
}

/// `HH:MM` or `HH:MM:SS`, a real time of day.
pub fn is_time(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2 || !digits(p)) {
        return false;
    }
    let n: Vec<u8> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    n[0] < 24 && n[1] < 60 && n.get(2).is_none_or(|s| *s < 60)
}

/// An RFC 3339 date and time.
pub fn is_date_time(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

/// A `static` integrations description, as generated code holds it: the JSON text the
/// generator wrote, read on first use.
pub struct EmbeddedIntegrations {
    json: &'static str,
    parsed: OnceLock<Result<Integrations, String>>,
}

impl EmbeddedIntegrations {
    /// The description written as `json` by the generator.
    pub const fn new(json: &'static str) -> Self {
        EmbeddedIntegrations {
            json,
            parsed: OnceLock::new(),
        }
    }

    /// The description; an error (naming the mismatch) if a generator of another version
    /// wrote it.
    pub fn get(&self) -> Result<&Integrations, UnreadableIntegrations> {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.json).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| UnreadableIntegrations(e.clone()))
    }
}

impl EmbeddedIntegrations {
    /// The sync `name` of `provider`. If the description does not read back, a spec that
    /// fails [`SyncSpec::check`] with the reason (a sync then reports it instead of running).
    pub fn sync(&self, provider: &str, name: &str) -> SyncSpec {
        let found = match self.get() {
            Ok(all) => all
                .sync(provider, name)
                .cloned()
                .ok_or_else(|| format!("the generated integrations have no sync `{name}`")),
            Err(e) => Err(e.to_string()),
        };
        found.unwrap_or_else(|reason| {
            let mut spec = SyncSpec::new(provider.to_owned(), name.to_owned(), "/");
            spec.unreadable = Some(reason.into());
            spec
        })
    }

    /// The action `name` of `provider`, with the description it belongs to.
    pub fn action(
        &self,
        provider: &str,
        name: &str,
    ) -> Result<(&Integrations, &ActionSpec), UnreadableIntegrations> {
        let all = self.get()?;
        let action = all
            .action(provider, name)
            .ok_or_else(|| UnreadableIntegrations(format!("no action `{name}` of `{provider}`")))?;
        Ok((all, action))
    }

    /// `value` checked against the model `name` (every problem at once), then read as `T`.
    pub fn read_model<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        value: &Value,
    ) -> Result<T, InputErrors> {
        let one = |message: String| InputErrors {
            model: name.to_owned(),
            problems: vec![InputProblem {
                field: String::new(),
                message,
            }],
        };
        let all = self.get().map_err(|e| one(e.to_string()))?;
        let model = all.model(name).ok_or_else(|| {
            one(format!(
                "the model `{name}` is not in the generated description"
            ))
        })?;
        model.validate(all, value)?;
        read_value(value).map_err(|e| InputErrors {
            model: name.to_owned(),
            problems: vec![InputProblem {
                field: e.path,
                message: format!("does not read as `{name}`: {}", e.kind),
            }],
        })
    }
}

impl fmt::Debug for EmbeddedIntegrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedIntegrations")
            .field("json_bytes", &self.json.len())
            .finish()
    }
}

/// Generated descriptions that do not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the generated integrations do not read back ({0}); regenerate with the terapi-codegen of this terapi-runtime"
)]
pub struct UnreadableIntegrations(pub String);

/// A file to upload through a multipart action.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUpload {
    /// The file name sent with the part.
    pub filename: String,
    /// The media type (`application/pdf`); `application/octet-stream` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The content, base64 (standard alphabet) in JSON.
    #[serde(with = "base64_bytes", rename = "base64")]
    pub bytes: Vec<u8>,
}

impl fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileUpload")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// A JSON value that does not read as a type: where (a path such as `data.attributes.id`,
/// empty for the value itself), and what kind of mismatch. Never the value itself (records
/// hold personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}does not read as `{type_name}`: {kind}", if path.is_empty() { String::new() } else { format!("`{path}` ") })]
pub struct ReadError {
    /// Where in the value.
    pub path: String,
    /// The type it was read as.
    pub type_name: String,
    /// What kind of mismatch (a wrong type, a missing field, ...), without the value.
    pub kind: String,
}

/// `value` read as `T` (a generated model), or where and why not.
///
/// With the `paths` feature the error names the place (`attributes.id`); without it, only the
/// kind of mismatch.
pub fn read_as<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ReadError> {
    read_value(&value)
}

/// [`read_as`] from a borrowed value (nothing copied but what `T` keeps).
pub fn read_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, ReadError> {
    #[cfg(feature = "paths")]
    let read = serde_path_to_error::deserialize(value)
        .map_err(|e| (e.path().to_string(), e.into_inner().to_string()));
    #[cfg(not(feature = "paths"))]
    let read = T::deserialize(value).map_err(|e| (String::new(), e.to_string()));
    read.map_err(|(path, message)| {
        let kind = serde_error_kind(&message);
        ReadError {
            path: if path == "." { String::new() } else { path },
            type_name: std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("?")
                .to_owned(),
            kind,
        }
    })
}

/// serde's error message without the value it quotes (records and inputs hold personal data
/// and secrets): `invalid type: string "Ada", expected i64` becomes `invalid type: string,
/// expected i64`; `unknown variant `x`, expected …` keeps what was expected.
pub fn serde_error_kind(message: &str) -> String {
    let (head, tail) = match message.split_once(", expected") {
        Some((head, tail)) => (head.to_owned(), format!(", expected{tail}")),
        None => (message.to_owned(), String::new()),
    };
    let head = match head.split_once(": ") {
        Some((what, found)) if what == "invalid type" || what == "invalid value" => {
            let kind = found
                .split(['"', '`'])
                .next()
                .unwrap_or_default()
                .trim_end();
            format!("{what}: {kind}")
        }
        _ if head.starts_with("unknown variant") => "unknown variant".to_owned(),
        _ => head,
    };
    format!("{head}{tail}")
}

/// `value` read as `T` and written back as JSON: the model's typed view of a record (what
/// it declares, in its types; unknown fields kept where the model keeps them).
pub fn typed_json<T: serde::de::DeserializeOwned + Serialize>(
    value: Value,
) -> Result<Value, ReadError> {
    let typed: T = read_as(value)?;
    serde_json::to_value(&typed).map_err(|_| ReadError {
        path: String::new(),
        type_name: std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("?")
            .to_owned(),
        kind: "does not write back as JSON".to_owned(),
    })
}

/// serde for a field that may be left out, or be `null`: `None` when absent (and left out
/// when written), `Some(None)` for `null` (written as `null`: what clears a value in a PATCH),
/// `Some(Some(v))` for a value. Generated models use it for `name?: T | null` fields.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `Some(None)` as `null` (`None` is left out by `skip_serializing_if`).
    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    /// Reads a present field, `null` included (an absent one is `None` by `default`).
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Unknown fields of a record, kept as they came (generated models flatten this in, so
/// nothing a provider adds is lost on a round trip).
pub type Extra = BTreeMap<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn models() -> Integrations {
        Integrations {
            integrations: vec![],
            models: vec![
                ModelSpec {
                    name: "Input".into(),
                    openapi: None,
                    fields: vec![
                        FieldSpec {
                            name: "employee".into(),
                            ty: FieldType::Integer,
                            optional: false,
                            nullable: false,
                        },
                        FieldSpec {
                            name: "date".into(),
                            ty: FieldType::Date,
                            optional: false,
                            nullable: false,
                        },
                        FieldSpec {
                            name: "start_time".into(),
                            ty: FieldType::Time,
                            optional: true,
                            nullable: false,
                        },
                        FieldSpec {
                            name: "status".into(),
                            ty: FieldType::Enum(vec!["a".into(), "b".into()]),
                            optional: true,
                            nullable: false,
                        },
                        FieldSpec {
                            name: "items".into(),
                            ty: FieldType::Array(Box::new(FieldType::Model("Item".into()))),
                            optional: true,
                            nullable: false,
                        },
                    ],
                },
                ModelSpec {
                    name: "Item".into(),
                    openapi: None,
                    fields: vec![FieldSpec {
                        name: "at".into(),
                        ty: FieldType::DateTime,
                        optional: false,
                        nullable: true,
                    }],
                },
            ],
        }
    }

    #[test]
    fn every_problem_at_once_without_values() {
        let models = models();
        let input = models.model("Input").unwrap();
        assert!(
            input
                .validate(&models, &json!({"employee": 1, "date": "2026-12-01"}))
                .is_ok()
        );
        let e = input
            .validate(
                &models,
                &json!({"employee": "x", "date": "2026-02-30", "start_time": "25:00",
                        "status": "secret-c", "items": [{"at": "yesterday"}, {"at": null}, {}],
                        "emplyee": 2}),
            )
            .unwrap_err();
        let got: Vec<(&str, &str)> = e
            .problems
            .iter()
            .map(|p| (p.field.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("employee", "expected an integer, got a string"),
                (
                    "date",
                    "is not a date written YYYY-MM-DD (e.g. `2026-12-01`)"
                ),
                (
                    "start_time",
                    "is not a time of day written HH:MM (e.g. `09:30`)"
                ),
                ("status", "must be one of 'a' | 'b'"),
                (
                    "items[0].at",
                    "is not an RFC 3339 date and time (e.g. `2026-12-01T09:30:00+01:00`)"
                ),
                ("items[2].at", "is required (date-time)"),
                (
                    "emplyee",
                    "is not a field of this input; did you mean `employee`?"
                ),
            ]
        );
        assert!(!e.to_string().contains("secret-c"), "{e}");
        assert!(
            e.to_string()
                .starts_with("7 problems with the input `Input`:")
        );
        let e = input.validate(&models, &json!([1])).unwrap_err();
        assert_eq!(e.problems[0].message, "expected an object, got a list");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut ty = FieldType::Any;
        for _ in 0..100 {
            ty = FieldType::Array(Box::new(ty));
        }
        let mut v = json!(1);
        for _ in 0..100 {
            v = json!([v]);
        }
        let mut problems = Vec::new();
        check_type(&ty, &models(), &v, "x", &mut problems, 0);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("deeper than 32"));
    }

    #[test]
    fn formats() {
        assert!(is_date("2024-02-29") && !is_date("2023-02-29") && !is_date("2024-2-29"));
        assert!(is_time("09:30") && is_time("23:59:59") && !is_time("24:00") && !is_time("9:30"));
        assert!(is_date_time("2026-12-01T10:15:30Z") && !is_date_time("2026-12-01T10:15:30"));
        assert_eq!(path_params("/a/{id}/b/{x}"), vec!["id", "x"]);
        assert_eq!(Method::parse("PATCH"), Some(Method::Patch));
        assert_eq!(Method::parse("patch"), None);
    }

    #[cfg(not(feature = "paths"))]
    #[test]
    fn read_as_without_paths_names_the_kind_never_the_value() {
        let e = read_as::<Vec<i64>>(json!(["Ada Lovelace"])).unwrap_err();
        assert_eq!(e.path, "");
        assert_eq!(e.kind, "invalid type: string, expected i64");
        assert!(!e.to_string().contains("Ada"), "{e}");
    }

    #[cfg(feature = "paths")]
    #[test]
    fn read_as_names_the_place_never_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            id: i64,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Rec {
            name: String,
            attributes: Inner,
        }
        assert!(read_as::<Rec>(json!({"name": "a", "attributes": {"id": 1}})).is_ok());
        let e =
            read_as::<Rec>(json!({"name": "a", "attributes": {"id": "Ada Lovelace"}})).unwrap_err();
        assert_eq!(e.path, "attributes.id");
        assert_eq!(
            e.to_string(),
            "`attributes.id` does not read as `Rec`: invalid type: string, expected i64"
        );
        let e = read_as::<Rec>(json!({"attributes": {"id": 1}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "does not read as `Rec`: missing field `name`"
        );
    }

    #[test]
    fn absent_null_and_a_value_are_three_things() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Patch {
            #[serde(
                default,
                skip_serializing_if = "Option::is_none",
                with = "super::double_option"
            )]
            end_time: Option<Option<String>>,
        }
        for (json, value) in [
            (json!({}), None),
            (json!({"end_time": null}), Some(None)),
            (json!({"end_time": "18:00"}), Some(Some("18:00".to_owned()))),
        ] {
            let read: Patch = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(read.end_time, value);
            assert_eq!(serde_json::to_value(&read).unwrap(), json);
        }
    }

    #[test]
    fn file_uploads_round_trip_and_hide_their_bytes() {
        let f = FileUpload {
            filename: "cv.pdf".into(),
            content_type: None,
            bytes: b"%PDF secret".to_vec(),
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            json!({"filename": "cv.pdf", "base64": "JVBERiBzZWNyZXQ="})
        );
        assert_eq!(serde_json::from_value::<FileUpload>(v).unwrap(), f);
        assert!(!format!("{f:?}").contains("secret"));
    }
}

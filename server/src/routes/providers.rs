//! `GET /providers` and `GET /providers/{key}`: the catalog's providers and, for one, the
//! form a connect page (or any custom UI) shows: every connection param and credential with
//! its title, description, example and check, and how the provider connects.
//!
//! Readable with a secret key of any scope or a connect session; a session that names its
//! `allowed_integrations` sees only those (any other key is answered as unknown).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use terapi_runtime::rules::{UPPER_SNAKE_CASE_ECMASCRIPT, UPPER_SNAKE_CASE_MESSAGE};
use terapi_runtime::spec::ProviderSpec;
use terapi_runtime::{ParamSpec, Rule};
use terapi_store::Catalog;

use super::auth::Way;
use crate::auth::{AnyCaller, Caller};
use crate::error::ApiError;
use crate::state::Server;

/// The longest `search` taken (a longer one is refused with 400): no display name is that long.
const MAX_SEARCH_CHARS: usize = 200;
/// The most characters of an unknown key that a 404 quotes (escaped).
const MAX_QUOTED_KEY_CHARS: usize = 64;

pub(crate) fn routes() -> Router<Server> {
    Router::new()
        .route("/providers", get(list))
        .route("/providers/{key}", get(show))
}

/// `{"data": ...}`.
#[derive(Serialize)]
struct Data<T> {
    data: T,
}

/// How a provider's connections are made through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Connect {
    /// With the form's params and credentials: `POST /auth/{provider}`.
    Credentials,
    /// Through the provider's authorization page: `GET /oauth/connect/{provider}`.
    Oauth,
    /// Not through this server: the runtime's client does not serve the entry.
    Unsupported,
}

/// The way `POST /auth` and `/oauth/connect` decide it, so the form never says otherwise.
fn connect(spec: &ProviderSpec) -> Connect {
    match super::auth::way(spec) {
        Way::Credentials => Connect::Credentials,
        Way::OAuth => Connect::Oauth,
        Way::Unsupported => Connect::Unsupported,
    }
}

/// A provider in the list.
#[derive(Serialize)]
struct Summary<'a> {
    key: &'a str,
    display_name: &'a str,
    auth_mode: &'a str,
    docs_url: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    categories: Vec<&'a str>,
    connect: Connect,
}

impl<'a> Summary<'a> {
    fn of(spec: &'a ProviderSpec) -> Self {
        Summary {
            key: &spec.key,
            display_name: &spec.display_name,
            auth_mode: spec.auth_mode.as_str(),
            docs_url: spec.docs_url.as_deref(),
            categories: spec.categories.iter().map(|c| &**c).collect(),
            connect: connect(spec),
        }
    }
}

/// One provider with its form.
#[derive(Serialize)]
struct Detail<'a> {
    #[serde(flatten)]
    summary: Summary<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    docs_connect: Option<&'a str>,
    form: Form<'a>,
}

/// The inputs of a connection, by the section `POST /auth/{provider}` takes them in
/// (`connection_config` there is `params`).
#[derive(Serialize)]
struct Form<'a> {
    connection_config: Vec<Field<'a>>,
    credentials: Vec<Field<'a>>,
}

/// One input of the form.
#[derive(Serialize)]
struct Field<'a> {
    /// The param's key, as `params` or `credentials` of `POST /auth/{provider}` take it.
    name: &'a str,
    /// The label (the key when the catalog has none).
    title: &'a str,
    description: Option<&'a str>,
    example: Option<&'a str>,
    /// An ECMAScript regex the value must match (searched, like `RegExp.prototype.test`):
    /// the catalog's as written, or the named rule's equivalent.
    pattern: Option<&'a str>,
    optional: bool,
    secret: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    one_of: Vec<&'a str>,
    /// A named rule the server checks (`upper_snake_case`), with what it means.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suffix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc_section: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    order: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    hidden: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    automated: bool,
}

impl<'a> Field<'a> {
    fn of(param: &'a ParamSpec) -> Self {
        let (pattern, rule, message) = match &param.rule {
            Rule::Pattern(p) => (Some(p.source()), None, None),
            Rule::UpperSnakeCase => (
                Some(UPPER_SNAKE_CASE_ECMASCRIPT),
                Some("upper_snake_case"),
                Some(UPPER_SNAKE_CASE_MESSAGE),
            ),
            _ => (None, None, None),
        };
        Field {
            name: &param.key,
            title: param.title.as_deref().unwrap_or(&param.key),
            description: param.description.as_deref(),
            example: param.example.as_deref(),
            pattern,
            optional: param.optional,
            secret: param.secret,
            one_of: param.one_of.iter().map(|v| &**v).collect(),
            rule,
            message,
            format: param.format.as_deref(),
            prefix: param.prefix.as_deref(),
            suffix: param.suffix.as_deref(),
            default_value: param.default_value.as_deref(),
            doc_section: param.doc_section.as_deref(),
            order: param.order,
            hidden: param.hidden,
            automated: param.automated,
        }
    }
}

fn detail(spec: &ProviderSpec) -> Detail<'_> {
    Detail {
        summary: Summary::of(spec),
        docs_connect: spec.docs_connect.as_deref(),
        form: Form {
            connection_config: spec.config.iter().map(Field::of).collect(),
            credentials: spec.credentials.iter().map(Field::of).collect(),
        },
    }
}

/// Whether `caller` may see `key`: every key sees every provider, a session those it allows.
fn visible(caller: &Caller, key: &str) -> bool {
    match caller {
        Caller::Key { .. } => true,
        Caller::Session(session) => session.allows(key),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    search: Option<String>,
}

/// Whether `search` (already lowercased) is in the key or the display name, ignoring case.
fn matches(spec: &ProviderSpec, search: &str) -> bool {
    spec.key.to_lowercase().contains(search) || spec.display_name.to_lowercase().contains(search)
}

async fn list(
    AnyCaller(caller): AnyCaller,
    State(server): State<Server>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request("the query string does not read: `search` takes one text value")
    })?;
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    if search
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(ApiError::bad_request(format!(
            "`search` is longer than {MAX_SEARCH_CHARS} characters"
        )));
    }
    // `Specs` iterates by key, sorted.
    let specs = &server.inner.specs;
    let data: Vec<Summary<'_>> = specs
        .iter()
        .map(|spec| &**spec)
        .filter(|spec| visible(&caller, &spec.key))
        .filter(|spec| search.as_deref().is_none_or(|s| matches(spec, s)))
        .map(Summary::of)
        .collect();
    Ok(Json(Data { data }).into_response())
}

async fn show(
    AnyCaller(caller): AnyCaller,
    State(server): State<Server>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(key) = key.map_err(|_| ApiError::bad_request("the provider key does not read"))?;
    let spec = server
        .inner
        .specs
        .spec(&key)
        .filter(|_| visible(&caller, &key))
        .ok_or_else(|| unknown(&key))?;
    Ok(Json(Data {
        data: detail(&spec),
    })
    .into_response())
}

/// 404 for a key the catalog does not have (or the session may not see), quoting the key
/// escaped and cut short.
fn unknown(key: &str) -> ApiError {
    let mut chars = key.chars();
    let head: String = chars.by_ref().take(MAX_QUOTED_KEY_CHARS).collect();
    let cut = if chars.next().is_some() { "…" } else { "" };
    ApiError::not_found(format!("no provider `{}`{cut}", head.escape_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_escaped_and_cut() {
        let e = unknown("a\u{1b}[31m\r\nx");
        assert_eq!(e.message, "no provider `a\\u{1b}[31m\\r\\nx`");
        let e = unknown(&"k".repeat(500));
        assert!(e.message.len() < 100, "{}", e.message);
        assert!(e.message.ends_with("`…"));
    }
}

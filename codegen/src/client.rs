//! What the HTTP client of `terapi-runtime` needs to know about a provider, beyond its
//! templates: token request format, pagination, retry headers, the credential check. A
//! provider the client cannot serve as the catalog describes it gets a reason instead, which
//! generated code reports as `Error::Unsupported` rather than connecting half-way.

use terapi_runtime::{AuthMode, Section};

use crate::model::{Provider, ProviderEntry};
use crate::plan::{ParamPlan, PartPlan, UrlBasePlan, UrlPlan};
use crate::yaml::{Node, NodeKind};

/// The client's view of one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPlan {
    /// `body_format: json`.
    pub json_body: bool,
    /// `token_request_auth_method: basic`.
    pub basic_token_auth: bool,
    /// `default_scopes` joined by `scope_separator` (a space by default), sent as `scope`
    /// unless `token_params` set it.
    pub default_scope: Option<String>,
    /// `proxy.paginate`.
    pub paginate: Option<PaginatePlan>,
    /// `proxy.retry`.
    pub retry: RetryPlan,
    /// `proxy.verification`.
    pub verification: Option<VerificationPlan>,
    /// Indexes of the `client_id` and `client_secret` credentials (OAUTH2_CC).
    pub client_credentials: Option<(usize, usize)>,
    /// Indexes of the `username` and `password` credentials (BASIC).
    pub basic: Option<(usize, Option<usize>)>,
}

/// `proxy.paginate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaginatePlan {
    /// `Offset`, `Cursor` or `Link` (the runtime's `PageKind` variant).
    pub kind: &'static str,
    /// The optional string fields, by runtime field name.
    pub fields: Vec<(&'static str, Option<String>)>,
    /// `offset_start_value`.
    pub offset_start: i64,
    /// `per-page`.
    pub per_page: bool,
}

/// `proxy.retry`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetryPlan {
    /// `at` headers.
    pub at: Vec<String>,
    /// `after` headers.
    pub after: Vec<String>,
    /// `remaining` header.
    pub remaining: Option<String>,
    /// `error_code` patterns.
    pub error_code: Option<Vec<String>>,
}

/// `proxy.verification`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationPlan {
    /// `GET` or `POST`.
    pub method: String,
    /// The endpoints.
    pub endpoints: Vec<String>,
    /// The params in the host of `base_url_override`.
    pub host_params: Vec<String>,
    /// `data`, as JSON text.
    pub body: Option<String>,
}

/// The auth modes the runtime's client implements.
pub const CLIENT_AUTH_MODES: &[AuthMode] = &[
    AuthMode::ApiKey,
    AuthMode::Basic,
    AuthMode::None,
    AuthMode::OAuth2Cc,
];

/// What the client needs, or why it cannot serve the provider.
pub(crate) fn plan(
    entry: &ProviderEntry,
    auth_mode: AuthMode,
    credentials: &[ParamPlan<'_>],
    urls: &[UrlPlan],
    token_params_nested: &[String],
) -> Result<ClientPlan, String> {
    let p: &Provider = &entry.provider;
    if !CLIENT_AUTH_MODES.contains(&auth_mode) {
        return Err(format!(
            "the client implements API_KEY, BASIC, NONE and OAUTH2_CC; {auth_mode} is not implemented"
        ));
    }
    let has_fn = |name: &str| {
        urls.iter()
            .any(|u| u.fn_name == name && u.alternatives.is_some())
    };
    if !has_fn("base_url") {
        return Err(match p.proxy {
            None => "the entry has no `proxy.base_url`".to_owned(),
            Some(_) => {
                "`proxy.base_url` carries a credential, which the client never puts into a URL"
                    .to_owned()
            }
        });
    }
    let find = |key: &str| credentials.iter().position(|c| c.key == key);
    let mut client_credentials = None;
    let mut json_body = false;
    let mut basic_token_auth = false;
    let mut default_scope = None;
    if auth_mode == AuthMode::OAuth2Cc {
        if !has_fn("token_url") {
            return Err("OAUTH2_CC without a `token_url` the client can render (missing, per auth mode, or carrying a credential)".to_owned());
        }
        match (find("client_id"), find("client_secret")) {
            (Some(id), Some(secret))
                if !credentials[id].optional && !credentials[secret].optional =>
            {
                client_credentials = Some((id, secret));
            }
            _ => {
                return Err(
                    "OAUTH2_CC needs required `client_id` and `client_secret` credentials"
                        .to_owned(),
                );
            }
        }
        match p.body_format.as_ref().map(|f| f.value.as_str()) {
            None | Some("form") => {}
            Some("json") => json_body = true,
            Some(other) => return Err(format!("`body_format: {other}` is not implemented")),
        }
        match p
            .token_request_auth_method
            .as_ref()
            .map(|m| m.value.as_str())
        {
            None => {}
            Some("basic") => basic_token_auth = true,
            Some(other) => {
                return Err(format!(
                    "`token_request_auth_method: {other}` is not implemented"
                ));
            }
        }
        if p.token_headers
            .as_ref()
            .is_some_and(|h| !h.entries.is_empty())
        {
            return Err("`token_headers` are not implemented".to_owned());
        }
        if p.require_client_certificate == Some(true) {
            return Err("`require_client_certificate` (mutual TLS) is not implemented".to_owned());
        }
        if p.expires_in_unit.is_some() || p.token_expires_in_ms.is_some() {
            return Err(
                "`expires_in_unit`/`token_expires_in_ms` (token lifetimes not in seconds) are not implemented"
                    .to_owned(),
            );
        }
        if let Some(scopes) = p.default_scopes.as_ref().filter(|s| !s.is_empty())
            && p.token_params
                .as_ref()
                .is_none_or(|t| t.get("scope").is_none())
        {
            default_scope = Some(scopes.join(p.scope_separator.as_deref().unwrap_or(" ")));
        }
        if let Some(key) = token_params_nested.first() {
            return Err(format!(
                "`token_params.{key}` is not a single value; nested token params are not implemented"
            ));
        }
    }
    let basic = match auth_mode {
        AuthMode::Basic => match find("username") {
            Some(user) if !credentials[user].optional => Some((user, find("password"))),
            _ => return Err("BASIC needs a required `username` credential".to_owned()),
        },
        _ => None,
    };
    let proxy = p.proxy.as_ref();
    let retry = proxy
        .and_then(|x| x.retry.as_ref())
        .map(|r| RetryPlan {
            at: r.at.as_ref().map(|v| v.0.clone()).unwrap_or_default(),
            after: r.after.as_ref().map(|v| v.0.clone()).unwrap_or_default(),
            remaining: r.remaining.clone(),
            error_code: r
                .error_code
                .as_ref()
                .map(|codes| codes.0.iter().map(|c| c.0.clone()).collect()),
        })
        .unwrap_or_default();
    let paginate = match proxy.and_then(|x| x.paginate.as_ref()) {
        None => None,
        Some(pg) => {
            let kind = match pg.kind.as_ref().map(|k| k.value.as_str()) {
                Some("offset") => "Offset",
                Some("cursor") => "Cursor",
                Some("link") => "Link",
                other => {
                    return Err(format!(
                        "`proxy.paginate.type` {} is not one the client implements (offset, cursor, link)",
                        other.unwrap_or("missing")
                    ));
                }
            };
            Some(PaginatePlan {
                kind,
                fields: vec![
                    ("limit_name", pg.limit_name_in_request.clone()),
                    ("response_path", pg.response_path.clone()),
                    ("cursor_path", pg.cursor_path_in_response.clone()),
                    ("cursor_name", pg.cursor_name_in_request.clone()),
                    ("link_rel", pg.link_rel_in_response_header.clone()),
                    ("link_path", pg.link_path_in_response_body.clone()),
                    ("offset_name", pg.offset_name_in_request.clone()),
                ],
                offset_start: pg.offset_start_value.unwrap_or(0),
                per_page: pg.offset_calculation_method.as_deref() == Some("per-page"),
            })
        }
    };
    let verification = proxy.and_then(|x| x.verification.as_ref()).map(|v| {
        let endpoints: Vec<String> = match (&v.endpoints, &v.endpoint) {
            (Some(list), _) => list.iter().map(|e| e.value.clone()).collect(),
            (None, Some(one)) => vec![one.value.clone()],
            (None, None) => Vec::new(),
        };
        let host_params = urls
            .iter()
            .filter(|u| u.fn_name == "verification_base_url")
            .flat_map(|u| u.alternatives.iter().flatten())
            .flat_map(|alt| match &alt.base {
                UrlBasePlan::Fixed { host, .. } => host.clone(),
                UrlBasePlan::Param(part) => vec![part.clone()],
            })
            .filter_map(|part| match part {
                PartPlan::Param {
                    section: Section::ConnectionConfig,
                    written,
                    ..
                } => Some(written),
                _ => None,
            })
            .collect();
        VerificationPlan {
            method: v
                .method
                .as_ref()
                .map_or_else(|| "GET".to_owned(), |m| m.value.to_ascii_uppercase()),
            endpoints,
            host_params,
            body: v.data.as_ref().map(|d| json(d).to_string()),
        }
    });
    Ok(ClientPlan {
        json_body,
        basic_token_auth,
        default_scope,
        paginate,
        retry,
        verification,
        client_credentials,
        basic,
    })
}

/// A YAML value as JSON.
fn json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Int(i) => Value::from(*i),
        NodeKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        NodeKind::Str(s) => Value::String(s.clone()),
        NodeKind::Seq(items) => Value::Array(items.iter().map(json).collect()),
        NodeKind::Map(items) => Value::Object(
            items
                .iter()
                .map(|(k, v)| {
                    let key = match &k.kind {
                        NodeKind::Str(s) => s.clone(),
                        _ => json(k).to_string(),
                    };
                    (key, json(v))
                })
                .collect(),
        ),
    }
}

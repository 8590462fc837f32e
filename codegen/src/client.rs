//! What the HTTP client of `terapi-runtime` needs to know about a provider, beyond its
//! templates: token request format, pagination, retry headers, the credential check. A
//! provider the client cannot serve as the catalog describes it gets a reason instead, which
//! generated code reports as `Error::Unsupported` rather than connecting half-way.

use std::borrow::Cow;

use terapi_model::paginate::{OffsetStep, PageKind, PaginateConfig};
use terapi_model::render::Func;
use terapi_model::retry::RetryConfig;
use terapi_model::spec::{
    AuthorizationSpec, BodyFormat, ClientSpec, JwtSettings, NamedTemplate, OAuth1Spec, Replacement,
    StepSpec, TemplatePart, TokenAuth, TokenRequestSpec, Unsupported, UrlBase, UrlKind,
    VerificationSpec,
};
use terapi_model::{AuthMode, ClientAuth, Section, Text};

use crate::model::{Provider, ProviderEntry};
use crate::plan::{ParamPlan, UrlPlan};
use crate::yaml::{Node, NodeKind};

/// What the compiler made of an entry's templates that the planning reads.
pub(crate) struct Compiled<'c> {
    /// `proxy.headers`.
    pub(crate) headers: &'c [NamedTemplate],
    /// `token_params` keys whose value is not a scalar.
    pub(crate) token_params_nested: &'c [String],
    /// Whether `proxy.query` carries a secret.
    pub(crate) query_has_secret: bool,
    /// `token_params`.
    pub(crate) token_params: &'c [NamedTemplate],
    /// Why the entry's JWT cannot be built.
    pub(crate) jwt_error: Option<&'c str>,
    /// TWO_STEP's steps, or why they cannot be followed.
    pub(crate) steps: Result<&'c [StepSpec], &'c str>,
}

/// What the client needs, or why it cannot serve the provider. The credentials that carry
/// an OAuth client or basic credentials must be there and required; the runtime finds them
/// by key ([`terapi_runtime::spec::ProviderSpec::credential_roles`]).
pub(crate) fn plan(
    entry: &ProviderEntry,
    auth_mode: AuthMode,
    credentials: &[ParamPlan<'_>],
    urls: &[UrlPlan],
    compiled: Compiled<'_>,
) -> Result<ClientSpec, Unsupported> {
    let Compiled {
        headers,
        token_params_nested,
        query_has_secret,
        token_params,
        jwt_error,
        steps,
    } = compiled;
    let p: &Provider = &entry.provider;
    let auth = auth_mode
        .client_auth()
        .ok_or(Unsupported::AuthMode(auth_mode))?;
    let has_fn = |kind: UrlKind| {
        urls.iter()
            .any(|u| u.kind == kind && u.spec.alternatives.is_some())
    };
    if !has_fn(UrlKind::BaseUrl) {
        return Err(match p.proxy {
            None => Unsupported::NoBaseUrl,
            Some(_) => Unsupported::BaseUrlCarriesCredential,
        });
    }
    // The mode's required credentials must be declared, and not optional.
    let required = |key: &&str| credentials.iter().any(|c| c.key == *key && !c.optional);
    if !auth.required_credentials().iter().all(required) {
        return Err(Unsupported::MissingCredentials(auth_mode));
    }
    let mut body_format = BodyFormat::Form;
    let mut token_auth = TokenAuth::Body;
    let mut default_scope = None;
    let auth_code = auth == ClientAuth::AuthorizationCode;
    let signs = auth == ClientAuth::SignedToken
        || (auth == ClientAuth::TokenRequest && p.signature.is_some() && p.assertion.is_none());
    let jwt = if signs {
        if let Some(error) = jwt_error {
            return Err(Unsupported::JwtSettings(error.to_owned().into()));
        }
        Some(jwt_settings(p, auth_mode)?)
    } else {
        None
    };
    let mut authorization = None;
    let mut token_request = None;
    let mut expires_in_milliseconds = false;
    if auth == ClientAuth::OAuth1 {
        if !has_fn(UrlKind::TokenUrl) {
            return Err(Unsupported::NoTokenUrl(auth_mode));
        }
        let mut spec = authorization_spec(p, auth_mode, token_params, &has_fn)?;
        spec.pkce = false;
        spec.code_param = "oauth_verifier".into();
        spec.oauth1 = Some(oauth1_spec(p)?);
        authorization = Some(spec);
    }
    let discovery = auth_mode == AuthMode::McpOAuth2Generic;
    if auth.uses_token() && auth != ClientAuth::SignedToken {
        let token_url = discovery
            || has_fn(UrlKind::TokenUrl)
            || (auth_mode == AuthMode::OAuth2 && has_fn(UrlKind::TokenUrlOAuth2));
        if !token_url {
            return Err(Unsupported::NoTokenUrl(auth_mode));
        }
        if auth_code {
            authorization = Some(authorization_spec(p, auth_mode, token_params, &has_fn)?);
        }
        if auth == ClientAuth::TokenRequest {
            let mut request = token_request_spec(p, auth_mode, token_params)?;
            request.steps = steps
                .map_err(|e| Unsupported::AdditionalSteps(e.to_owned().into()))?
                .to_vec()
                .into();
            token_request = Some(request);
        }
        match p.body_format.as_ref().map(|f| f.value.as_str()) {
            // A TWO_STEP request is JSON unless the entry says otherwise.
            None if auth == ClientAuth::TokenRequest => body_format = BodyFormat::Json,
            None | Some("form") => {}
            Some("json") => body_format = BodyFormat::Json,
            Some(other) => return Err(Unsupported::BodyFormat(other.to_owned().into())),
        }
        match p
            .token_request_auth_method
            .as_ref()
            .map(|m| m.value.as_str())
        {
            None => {}
            Some("basic") => token_auth = TokenAuth::Basic,
            Some("custom") if auth == ClientAuth::ClientCredentials => {
                token_auth = TokenAuth::UsernamePassword
            }
            Some(other) => {
                return Err(Unsupported::TokenRequestAuthMethod(other.to_owned().into()));
            }
        }
        // The authorization code flow's other way to say it (simple-oauth2's option).
        if auth_code && p.authorization_method.as_deref() == Some("header") {
            token_auth = TokenAuth::Basic;
        }
        if auth_code
            && p.token_headers
                .as_ref()
                .is_some_and(|h| !h.entries.is_empty())
        {
            return Err(Unsupported::TokenHeaders);
        }
        if p.require_client_certificate == Some(true) {
            return Err(Unsupported::ClientCertificate);
        }
        match p.expires_in_unit.as_deref() {
            None | Some("seconds") => {}
            Some("milliseconds") if auth == ClientAuth::ClientCredentials => {
                expires_in_milliseconds = true
            }
            Some(_) => return Err(Unsupported::TokenLifetimeUnit),
        }
        if let Some(scopes) = p
            .default_scopes
            .as_ref()
            .filter(|s| !s.is_empty() && !auth_code)
            && p.token_params
                .as_ref()
                .is_none_or(|t| t.get("scope").is_none())
        {
            default_scope = Some(
                scopes
                    .join(p.scope_separator.as_deref().unwrap_or(" "))
                    .into(),
            );
        }
        if let Some(key) = token_params_nested.first() {
            return Err(Unsupported::NestedTokenParam(key.clone().into()));
        }
    }
    let proxy = p.proxy.as_ref();
    let retry = proxy
        .and_then(|x| x.retry.as_ref())
        .map_or(RetryConfig::EMPTY, |r| RetryConfig {
            at: texts(r.at.iter().flat_map(|v| &v.0)),
            after: texts(r.after.iter().flat_map(|v| &v.0)),
            remaining: r.remaining.clone().map(Into::into),
            error_code: r
                .error_code
                .as_ref()
                .map(|codes| texts(codes.0.iter().map(|c| &c.0))),
        });
    let paginate = match proxy.and_then(|x| x.paginate.as_ref()) {
        None => None,
        Some(pg) => {
            let kind = match pg.kind.as_ref().map(|k| k.value.as_str()) {
                Some("offset") => PageKind::Offset,
                Some("cursor") => PageKind::Cursor,
                Some("link") => PageKind::Link,
                other => {
                    return Err(Unsupported::PaginationKind(
                        other.map(|k| k.to_owned().into()),
                    ));
                }
            };
            let text = |v: &Option<String>| v.clone().map(Text::from);
            Some(PaginateConfig {
                kind,
                limit_name: text(&pg.limit_name_in_request),
                response_path: text(&pg.response_path),
                cursor_path: text(&pg.cursor_path_in_response),
                cursor_name: text(&pg.cursor_name_in_request),
                link_rel: text(&pg.link_rel_in_response_header),
                link_path: text(&pg.link_path_in_response_body),
                offset_name: text(&pg.offset_name_in_request),
                offset_start: pg.offset_start_value.unwrap_or(0),
                offset_step: if pg.offset_calculation_method.as_deref() == Some("per-page") {
                    OffsetStep::PerPage
                } else {
                    OffsetStep::ByResponseSize
                },
                total_pages_path: None,
            })
        }
    };
    let verification = proxy.and_then(|x| x.verification.as_ref()).map(|v| {
        let endpoints = match (&v.endpoints, &v.endpoint) {
            (Some(list), _) => texts(list.iter().map(|e| &e.value)),
            (None, Some(one)) => texts([&one.value]),
            (None, None) => Cow::Borrowed(&[][..]),
        };
        let host_params = urls
            .iter()
            .filter(|u| u.kind == UrlKind::VerificationBaseUrl)
            .flat_map(|u| u.spec.alternatives.iter().flat_map(|alts| alts.iter()))
            .flat_map(|alt| match &alt.base {
                UrlBase::Fixed { host, .. } => host.iter(),
                UrlBase::Param(part) => std::slice::from_ref(part).iter(),
            })
            .filter_map(|part| match part {
                TemplatePart::Param {
                    section: Section::ConnectionConfig,
                    written,
                    ..
                } => Some(written.clone()),
                _ => None,
            })
            .collect();
        VerificationSpec {
            method: v.method.as_ref().map_or(Cow::Borrowed("GET"), |m| {
                m.value.to_ascii_uppercase().into()
            }),
            endpoints,
            host_params,
            body: v.data.as_ref().map(|d| json(d).to_string().into()),
        }
    });
    Ok(ClientSpec {
        key: entry.key.clone().into(),
        auth_mode,
        body_format,
        token_auth,
        default_scope,
        paginate,
        retry,
        verification,
        query_has_secret,
        token_expiration_buffer: p
            .token_expiration_buffer
            .and_then(|b| u64::try_from(b).ok())
            .filter(|_| auth.uses_token()),
        expires_in_milliseconds,
        default_lifetime_ms: if auth_mode == AuthMode::Bill {
            Some(35 * 60 * 1000)
        } else {
            p.token_expires_in_ms
                .and_then(|ms| u64::try_from(ms).ok())
                .filter(|_| auth.uses_token() && !auth_code)
        },
        authorization,
        jwt,
        token_request,
        static_headers: !headers
            .iter()
            .flat_map(|h| h.alternatives.iter())
            .any(|parts| uses_context(parts)),
    })
}

/// The authorization code settings of an OAUTH2 or MCP_OAUTH2 entry, or why the client
/// cannot follow its flow.
fn authorization_spec(
    p: &Provider,
    auth_mode: AuthMode,
    token_params: &[NamedTemplate],
    has_fn: &dyn Fn(UrlKind) -> bool,
) -> Result<AuthorizationSpec, Unsupported> {
    let discovery = auth_mode == AuthMode::McpOAuth2Generic;
    if !discovery && !has_fn(UrlKind::AuthorizationUrl) {
        return Err(Unsupported::NoAuthorizationUrl);
    }
    if p.installation.as_deref() == Some("outbound") {
        return Err(Unsupported::OutboundInstallation);
    }
    // The code exchange is an `authorization_code` grant, whatever else the entry sends.
    if let Some(grant) = token_params.iter().find(|t| &*t.name == "grant_type")
        && !grant.alternatives.iter().all(|parts| {
            matches!(&parts[..], [TemplatePart::Lit(text)] if &**text == "authorization_code")
        })
    {
        return Err(Unsupported::GrantType);
    }
    let mcp = matches!(auth_mode, AuthMode::McpOAuth2 | AuthMode::McpOAuth2Generic);
    let registration_url = match p.client_registration.as_deref() {
        Some("dynamic") if mcp => match &p.registration_url {
            Some(url) => Some(url.clone().into()),
            None => return Err(Unsupported::ClientRegistration("dynamic".into())),
        },
        None | Some("static") => None,
        Some(other) => return Err(Unsupported::ClientRegistration(other.to_owned().into())),
    };
    let list = |items: Option<&Vec<String>>| -> Cow<'static, [Text]> {
        texts(items.into_iter().flatten())
    };
    Ok(AuthorizationSpec {
        scope_separator: p
            .scope_separator
            .clone()
            .unwrap_or_else(|| " ".to_owned())
            .into(),
        default_scopes: list(p.default_scopes.as_ref()),
        // MCP servers always take PKCE (the platform does not read `disable_pkce` for them).
        pkce: mcp || p.disable_pkce != Some(true),
        code_param: p
            .authorization_code_param_in_callback
            .clone()
            .unwrap_or_else(|| "code".to_owned())
            .into(),
        token_response_metadata: list(p.token_response_metadata.as_ref()),
        redirect_uri_metadata: list(p.redirect_uri_metadata.as_ref()),
        replacements: p
            .authorization_url_replacements
            .iter()
            .flat_map(|m| m.iter())
            .map(|(from, e)| Replacement {
                from: from.clone().into(),
                to: e.value.clone().into(),
            })
            .collect(),
        access_token_path: p
            .alternate_access_token_response_path
            .clone()
            .map(Into::into),
        registration_url,
        discovery,
        oauth1: None,
    })
}

/// OAuth 1.0a's settings of an OAUTH1 entry, or why the client cannot follow it.
fn oauth1_spec(p: &Provider) -> Result<OAuth1Spec, Unsupported> {
    let request_url = p
        .request_url
        .as_ref()
        .filter(|u| !u.value.contains("${"))
        .ok_or_else(|| Unsupported::OAuth1("without a fixed `request_url`".into()))?;
    let signature_method = p
        .signature_method
        .clone()
        .unwrap_or_else(|| "HMAC-SHA1".to_owned());
    if !matches!(
        signature_method.as_str(),
        "HMAC-SHA1" | "HMAC-SHA256" | "PLAINTEXT"
    ) {
        return Err(Unsupported::OAuth1(
            format!("with `signature_method: {signature_method}` (HMAC-SHA1, HMAC-SHA256 and PLAINTEXT are implemented)").into(),
        ));
    }
    let mut request_params = Vec::new();
    for (name, e) in p.request_params.iter().flat_map(|m| m.iter()) {
        let value = match &e.value.kind {
            NodeKind::Str(s) if !s.contains("${") => s.clone(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Bool(b) => b.to_string(),
            _ => {
                return Err(Unsupported::OAuth1(
                    format!("with a `request_params.{name}` that is not a fixed value").into(),
                ));
            }
        };
        request_params.push(Replacement {
            from: name.clone().into(),
            to: value.into(),
        });
    }
    let get = |m: &Option<String>| m.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("GET"));
    Ok(OAuth1Spec {
        request_url: request_url.value.clone().into(),
        request_params: request_params.into(),
        signature_method: signature_method.into(),
        request_get: get(&p.request_http_method),
        token_get: get(&p.token_http_method),
    })
}

/// How an entry's JWT is signed, or why the client cannot sign it.
fn jwt_settings(p: &Provider, auth_mode: AuthMode) -> Result<JwtSettings, Unsupported> {
    let unsupported = |why: &str| Unsupported::JwtSettings(why.to_owned().into());
    if auth_mode == AuthMode::AppStore {
        // App Store Connect takes tokens of at most 20 minutes.
        return Ok(JwtSettings {
            protocol: "EC".into(),
            hmac_encoding: "hex".into(),
            lifetime_ms: 15 * 60 * 1000,
        });
    }
    let signature = p
        .signature
        .as_ref()
        .ok_or_else(|| unsupported("the entry has no `signature`"))?;
    let protocol = signature.protocol.value.clone();
    if !matches!(protocol.as_str(), "RSA" | "EC" | "HMAC") {
        return Err(unsupported(&format!(
            "`signature.protocol: {protocol}` is not RSA, EC or HMAC"
        )));
    }
    let hmac_encoding = signature
        .hmac_secret_encoding
        .as_ref()
        .map_or_else(|| "hex".to_owned(), |e| e.value.clone());
    let lifetime_ms = p
        .token
        .as_ref()
        .and_then(|t| t.expires_in_ms.as_ref())
        .and_then(|ms| u64::try_from(ms.0).ok())
        .filter(|ms| *ms > 0)
        .ok_or_else(|| unsupported("`token.expires_in_ms` is missing or not positive"))?;
    Ok(JwtSettings {
        protocol: protocol.into(),
        hmac_encoding: hmac_encoding.into(),
        lifetime_ms,
    })
}

/// How a TWO_STEP entry's token request goes, or why the client cannot make it.
fn token_request_spec(
    p: &Provider,
    auth_mode: AuthMode,
    token_params: &[NamedTemplate],
) -> Result<TokenRequestSpec, Unsupported> {
    if auth_mode == AuthMode::Bill {
        // The login answers `sessionId`; a session lasts 35 minutes (the platform's figure).
        return Ok(TokenRequestSpec {
            get: false,
            typed_params: Default::default(),
            token_path: "sessionId".into(),
            refresh_token_path: None,
            expiration_path: None,
            expires_in: false,
            bearer: false,
            steps: Default::default(),
        });
    }
    if p.assertion.is_some() {
        return Err(Unsupported::Assertion);
    }
    if p.token_response_headers
        .as_ref()
        .is_some_and(|h| !h.is_empty())
    {
        return Err(Unsupported::TokenResponseHeaders);
    }
    let get = p
        .token_request_method
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("GET"));
    if get && !token_params.is_empty() {
        return Err(Unsupported::ParamsOnGet);
    }
    let response = p.token_response.as_ref();
    let typed_params = p
        .token_params
        .iter()
        .flat_map(|m| m.iter())
        .filter(|(_, e)| {
            matches!(
                e.value.kind,
                NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_)
            )
        })
        .map(|(name, _)| Text::from(name.clone()))
        .collect();
    Ok(TokenRequestSpec {
        get,
        typed_params,
        token_path: response
            .map_or_else(String::new, |r| r.token.clone())
            .into(),
        refresh_token_path: response
            .and_then(|r| r.refresh_token.clone())
            .filter(|s| !s.is_empty())
            .map(Into::into),
        expiration_path: response
            .and_then(|r| r.token_expiration.clone())
            .filter(|s| !s.is_empty())
            .map(Into::into),
        expires_in: response
            .and_then(|r| r.token_expiration_strategy.as_ref())
            .is_some_and(|s| s.value == "expireIn"),
        bearer: true,
        steps: Default::default(),
    })
}

fn texts<'s>(items: impl IntoIterator<Item = &'s String>) -> Cow<'static, [Text]> {
    items.into_iter().map(|s| Text::from(s.clone())).collect()
}

/// Whether rendering these parts needs the render context (a request's variables, the
/// time, obtained credentials, a signature), so that they cannot be rendered once at connect.
fn uses_context(parts: &[TemplatePart]) -> bool {
    parts.iter().any(|p| match p {
        TemplatePart::Var { .. } | TemplatePart::Now { .. } | TemplatePart::Obtained { .. } => true,
        TemplatePart::Call { func, args, .. } => {
            *func == Func::AwsSigV4 || args.iter().any(|a| uses_context(a))
        }
        _ => false,
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

//! Templates → the runtime's [`TemplatePart`]s: every placeholder resolved to a declared param, a context
//! variable or a function, each with the [`Context`] it lands in, so that generated code
//! renders without parsing at run time.

use terapi_model::render::{Context, Func, Var};
use terapi_model::rules::is_header_safe;
use terapi_model::{AuthMode, ClientAuth, Section};

use super::{Checker, Declared, Scope};
use crate::diagnostic::{Diagnostic, Severity};
use crate::lower::{Entry, Located, Map, closest};
use crate::model::{Provider, TokenUrl};
use crate::parsed::Templates;
use crate::plan::{ParamPlan, UrlPlan};
use crate::rules::Rule;
use crate::template::{self, Expr, Piece};
use crate::yaml::{Loc, NodeKind};
use terapi_model::spec::{
    NamedTemplate, StepSpec, TemplatePart, UrlAlternative, UrlBase, UrlKind, UrlSpec,
};

/// The compiled templates of one entry.
pub(crate) struct Compiled {
    pub(crate) headers: Vec<NamedTemplate>,
    pub(crate) query: Vec<NamedTemplate>,
    pub(crate) verification_headers: Vec<NamedTemplate>,
    pub(crate) urls: Vec<UrlPlan>,
    /// `token_params` with a scalar value, compiled as query values.
    pub(crate) token_params: Vec<NamedTemplate>,
    /// `token_params` keys whose value is not a scalar (a mapping or a sequence).
    pub(crate) token_params_nested: Vec<String>,
    /// `refresh_params` with a scalar value (authorization code modes).
    pub(crate) refresh_params: Option<Vec<NamedTemplate>>,
    /// `authorization_params` with a scalar value (authorization code modes), without those
    /// set to `undefined`.
    pub(crate) authorization_params: Vec<NamedTemplate>,
    /// `token_headers` (OAUTH2_CC, TWO_STEP).
    pub(crate) token_headers: Vec<NamedTemplate>,
    /// `refresh_token_params` with a scalar value (TWO_STEP).
    pub(crate) refresh_token_params: Option<Vec<NamedTemplate>>,
    /// A JWT's templates (JWT; TWO_STEP with `signature`), and why the client cannot build it.
    pub(crate) jwt: Vec<NamedTemplate>,
    pub(crate) jwt_error: Option<String>,
    /// TWO_STEP's `additional_steps`, and why the client cannot follow them.
    pub(crate) steps: Vec<StepSpec>,
    pub(crate) steps_error: Option<String>,
    /// Whether a `proxy.query` value carries a secret.
    pub(crate) query_has_secret: bool,
}

/// BILL's login body (`POST token_url`), as the platform sends it.
const BILL_LOGIN: &[(&str, &str)] = &[
    ("username", "${credentials.username}"),
    ("password", "${credentials.password}"),
    ("organizationId", "${credentials.organization_id}"),
    ("devKey", "${credentials.dev_key}"),
];

/// The headers Bill's v3 API authenticates requests with: the login's session and the
/// developer key.
const BILL_HEADERS: &[(&str, &str)] = &[
    ("sessionid", "${credentials.token}"),
    ("devkey", "${credentials.dev_key}"),
];

/// A template of the mode's own, not of the catalog (so it has no location there).
fn fixed(template: &str) -> Located<String> {
    Located {
        value: template.to_owned(),
        loc: Loc::default(),
    }
}

/// The entries of a loosely typed map whose values are scalars, as text; the keys of the
/// others (mappings, sequences) go to `nested`; nulls are left out.
fn scalar_map(map: &Map<crate::yaml::Node>, nested: &mut Vec<String>) -> Map<Located<String>> {
    Map {
        entries: map
            .iter()
            .filter_map(|(name, e)| {
                let text = match &e.value.kind {
                    NodeKind::Str(s) => s.clone(),
                    NodeKind::Int(i) => i.to_string(),
                    NodeKind::Float(f) => f.to_string(),
                    NodeKind::Bool(b) => b.to_string(),
                    NodeKind::Null => return None,
                    NodeKind::Seq(_) | NodeKind::Map(_) => {
                        nested.push(name.clone());
                        return None;
                    }
                };
                let value = Located {
                    value: text,
                    loc: e.value.loc,
                };
                Some((
                    name.clone(),
                    Entry {
                        key_loc: e.key_loc,
                        value,
                    },
                ))
            })
            .collect(),
    }
}

/// Where a template stands, which decides what it may use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A header value.
    Header,
    /// A query param value (a list entry, encoded when the URL is built).
    QueryParam,
    /// A token request param (in the request body, never in a URL).
    BodyParam,
}

const VARIABLE_NAMES: &[&str] = &[
    "apiKey",
    "accessToken",
    "clientId",
    "clientSecret",
    "random",
    "now",
    "method",
    "endpoint",
    "host",
    "path",
    "params",
    "urlCanonicalParams",
    "bodyCanonicalParams",
    "contentType",
];

impl<'a> Checker<'a> {
    pub(crate) fn compile_entry(&mut self, p: &Provider, decl: &Scope<'_, 'a>) -> Compiled {
        let mode = p.auth_mode.as_ref().map(|m| m.value);
        let proxy = p.proxy.as_ref();
        let verification = proxy.and_then(|x| x.verification.as_ref());
        let mut headers =
            self.named_map(proxy.and_then(|x| x.headers.as_ref()), decl, Place::Header);
        // BILL's login and session headers are fixed by the mode, not written in the catalog:
        // they are compiled from the mode's own templates.
        let bill = mode == Some(AuthMode::Bill);
        if bill {
            for (name, template) in BILL_HEADERS {
                if !headers.iter().any(|h| &*h.name == *name) {
                    let value = fixed(template);
                    if let Some(h) = self.named(name, value.loc, &value, decl, Place::Header) {
                        headers.push(h);
                    }
                }
            }
        }
        let query = self.named_map(
            proxy.and_then(|x| x.query.as_ref()),
            decl,
            Place::QueryParam,
        );
        let verification_headers = self.named_map(
            verification.and_then(|v| v.headers.as_ref()),
            decl,
            Place::Header,
        );
        // Only the OAuth flows send them as they are; other modes add values (a signed JWT as
        // `${token}`, ...) that the checks handle on their own.
        // A TWO_STEP entry that signs a JWT or builds an assertion first uses values
        // (`${token}`, `${credentials.assertion}`) the client does not make yet: its params
        // are left uncompiled, and the client planning says why.
        let presteps = p.assertion.is_some();
        let oauth = mode.is_some_and(|m| match m.client_auth() {
            Some(ClientAuth::ClientCredentials | ClientAuth::AuthorizationCode) => true,
            Some(ClientAuth::TokenRequest) => !presteps,
            _ => false,
        });
        let token_headers = match p.token_headers.as_ref().filter(|_| oauth) {
            Some(map) => self.named_map(Some(map), decl, Place::Header),
            None => Vec::new(),
        };
        let two_step =
            oauth && mode.and_then(AuthMode::client_auth) == Some(ClientAuth::TokenRequest);
        let refresh_token_params = match p.refresh_token_params.as_ref().filter(|_| two_step) {
            Some(map) => {
                let mut nested = Vec::new();
                let scalars = scalar_map(map, &mut nested);
                Some(self.named_map(Some(&scalars), decl, Place::BodyParam))
            }
            None => None,
        };
        let auth_code = mode
            .and_then(AuthMode::client_auth)
            .is_some_and(ClientAuth::authorizes);
        let mut token_params_nested = Vec::new();
        let token_params = match p.token_params.as_ref().filter(|_| oauth) {
            Some(map) => {
                let scalars = scalar_map(map, &mut token_params_nested);
                self.named_map(Some(&scalars), decl, Place::BodyParam)
            }
            None if bill => BILL_LOGIN
                .iter()
                .filter_map(|(name, template)| {
                    let value = fixed(template);
                    self.named(name, value.loc, &value, decl, Place::BodyParam)
                })
                .collect(),
            None => Vec::new(),
        };
        let refresh_params = match p.refresh_params.as_ref().filter(|_| auth_code) {
            Some(map) => {
                let scalars = scalar_map(map, &mut token_params_nested);
                Some(self.named_map(Some(&scalars), decl, Place::BodyParam))
            }
            None => None,
        };
        let authorization_params = match p.authorization_params.as_ref().filter(|_| auth_code) {
            Some(map) => {
                let mut scalars = scalar_map(map, &mut token_params_nested);
                // The platform's way to delete a param: the string `undefined`.
                scalars.entries.retain(|_, e| e.value.value != "undefined");
                self.named_map(Some(&scalars), decl, Place::QueryParam)
            }
            None => Vec::new(),
        };
        let signs = mode == Some(AuthMode::Jwt)
            || (mode == Some(AuthMode::TwoStep) && p.signature.is_some() && !presteps);
        let (jwt, jwt_error) = match p.token.as_ref().filter(|_| signs) {
            Some(token) => self.jwt_templates(token, decl),
            None if signs => (
                Vec::new(),
                Some("the entry has no `token` settings".to_owned()),
            ),
            // APP_STORE's JWT has a fixed recipe (App Store Connect's): ES256 with the key id,
            // the issuer, and the audience of its `authorization_params`.
            None if mode == Some(AuthMode::AppStore) => {
                let audience = p
                    .authorization_params
                    .as_ref()
                    .and_then(|m| m.get("audience"))
                    .and_then(|n| match &n.kind {
                        NodeKind::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "appstoreconnect-v1".to_owned());
                let entries = vec![
                    ("header.alg".to_owned(), fixed("ES256")),
                    (
                        "header.kid".to_owned(),
                        fixed("${credentials.privateKeyId}"),
                    ),
                    ("header.typ".to_owned(), fixed("JWT")),
                    ("claim.iss".to_owned(), fixed("${credentials.issuerId}")),
                    ("claim.aud".to_owned(), fixed(&audience)),
                    ("key".to_owned(), fixed("${credentials.privateKey}")),
                ];
                self.compile_jwt(entries, None, decl)
            }
            None => (Vec::new(), None),
        };
        let (steps, steps_error) = match p.additional_steps.as_ref().filter(|_| two_step) {
            Some(steps) => self.steps(steps, decl),
            None => (Vec::new(), None),
        };
        let query_has_secret = query.iter().any(|q| {
            q.alternatives
                .iter()
                .any(|parts| secret_in(parts, decl.decl))
        });
        let mut urls = Vec::new();
        let mut url = |this: &mut Self, t: Option<&Located<String>>, kind| {
            if let Some(plan) = t.and_then(|t| this.url(t, kind, decl)) {
                urls.push(plan);
            }
        };
        // An MCP server found at run time is also the API: without a `proxy.base_url`, its
        // `mcp_server_url` is the base URL.
        let mcp_base = fixed("${connectionConfig.mcp_server_url}");
        let base = match proxy {
            Some(x) => Some(&x.base_url),
            None if mode == Some(AuthMode::McpOAuth2Generic) => Some(&mcp_base),
            None => None,
        };
        url(self, base, UrlKind::BaseUrl);
        match &p.token_url {
            Some(TokenUrl::Single(t)) => url(self, Some(t), UrlKind::TokenUrl),
            Some(TokenUrl::PerMode(map)) => {
                for (mode, e) in map.iter() {
                    let kind = match mode.as_str() {
                        "OAUTH2" => UrlKind::TokenUrlOAuth2,
                        "APP" => UrlKind::TokenUrlApp,
                        _ => continue,
                    };
                    url(self, Some(&e.value), kind);
                }
            }
            None => {}
        }
        url(self, p.refresh_url.as_ref(), UrlKind::RefreshUrl);
        url(
            self,
            p.authorization_url.as_ref(),
            UrlKind::AuthorizationUrl,
        );
        url(
            self,
            verification.and_then(|v| v.base_url_override.as_ref()),
            UrlKind::VerificationBaseUrl,
        );
        Compiled {
            headers,
            query,
            verification_headers,
            urls,
            token_params,
            token_params_nested,
            refresh_params,
            authorization_params,
            token_headers,
            refresh_token_params,
            jwt,
            jwt_error,
            steps,
            steps_error,
            query_has_secret,
        }
    }

    /// TWO_STEP's `additional_steps`, compiled quietly (as a JWT's templates are): their URLs
    /// as text (they may come from an earlier response), params and headers.
    fn steps(
        &mut self,
        steps: &[crate::model::AdditionalStep],
        decl: &Scope<'_, 'a>,
    ) -> (Vec<StepSpec>, Option<String>) {
        self.quietly(None, |this, error| {
            let mut out = Vec::new();
            for (i, step) in steps.iter().enumerate() {
                let number = i + 2;
                let url = this.named(
                    "url",
                    step.token_url.loc,
                    &step.token_url,
                    decl,
                    Place::BodyParam,
                );
                let mut nested = Vec::new();
                let params = step
                    .token_params
                    .as_ref()
                    .map(|m| scalar_map(m, &mut nested))
                    .map(|m| this.named_map(Some(&m), decl, Place::BodyParam))
                    .unwrap_or_default();
                if let Some(name) = nested.first() {
                    *error = Some(format!(
                        "step {number}'s `token_params.{name}` is not a single value"
                    ));
                }
                let headers = this.named_map(step.token_headers.as_ref(), decl, Place::Header);
                let form = match step.body_format.as_ref().map(|f| f.value.as_str()) {
                    Some("form") => true,
                    None | Some("json") => false,
                    Some(other) => {
                        *error = Some(format!("step {number}'s `body_format: {other}`"));
                        false
                    }
                };
                match url {
                    Some(url) => out.push(StepSpec {
                        get: step
                            .token_request_method
                            .as_deref()
                            .is_some_and(|m| m.eq_ignore_ascii_case("GET")),
                        form,
                        url,
                        params: params.into(),
                        headers: headers.into(),
                    }),
                    None => *error = Some(format!("step {number}'s URL cannot be rendered")),
                }
            }
            out
        })
    }

    /// A JWT's templates, compiled without reporting: what the client cannot render makes
    /// the JWT unsupported (the reference checks report the templates' problems themselves).
    fn jwt_templates(
        &mut self,
        token: &crate::model::JwtToken,
        decl: &Scope<'_, 'a>,
    ) -> (Vec<NamedTemplate>, Option<String>) {
        let mut error = None;
        let literal = |value: &str| Located {
            value: value.to_owned(),
            loc: Loc::default(),
        };
        let mut entries: Vec<(String, Located<String>)> = Vec::new();
        if let Some(header) = &token.header {
            entries.push(("header.alg".to_owned(), literal(&header.alg)));
            if let Some(typ) = &header.typ {
                entries.push(("header.typ".to_owned(), literal(typ)));
            }
            if let Some(kid) = &header.kid {
                entries.push(("header.kid".to_owned(), kid.clone()));
            }
            if let Some(x5t) = &header.x5t_s256 {
                entries.push(("header.x5t#S256".to_owned(), x5t.clone()));
            }
        } else {
            error = Some("the JWT has no `token.header`".to_owned());
        }
        for (name, e) in token.payload.iter().flat_map(|m| m.iter()) {
            match &e.value.kind {
                NodeKind::Str(text) => entries.push((
                    format!("claim.{name}"),
                    Located {
                        value: text.clone(),
                        loc: e.value.loc,
                    },
                )),
                NodeKind::Seq(items) => {
                    for item in items {
                        match &item.kind {
                            NodeKind::Str(text) => entries.push((
                                format!("claim.{name}[]"),
                                Located {
                                    value: text.clone(),
                                    loc: item.loc,
                                },
                            )),
                            _ => {
                                error = Some(format!(
                                    "the list claim `{name}` has an item that is not text"
                                ))
                            }
                        }
                    }
                }
                _ => error = Some(format!("the claim `{name}` is not text or a list of text")),
            }
        }
        match &token.signing_key {
            Some(key) => entries.push(("key".to_owned(), key.clone())),
            None => error = Some("the JWT has no `token.signing_key`".to_owned()),
        }
        self.compile_jwt(entries, error, decl)
    }

    /// Compiles a JWT's named templates quietly (see [`Checker::jwt_templates`]).
    fn compile_jwt(
        &mut self,
        entries: Vec<(String, Located<String>)>,
        error: Option<String>,
        decl: &Scope<'_, 'a>,
    ) -> (Vec<NamedTemplate>, Option<String>) {
        self.quietly(error, |this, error| {
            let mut out = Vec::new();
            for (name, value) in &entries {
                match this.named(name, value.loc, value, decl, Place::BodyParam) {
                    Some(t) if t.alternatives.len() == 1 || name.as_str() != "key" => out.push(t),
                    Some(_) => {
                        *error = Some("the signing key's template has `||` alternatives".to_owned())
                    }
                    None => *error = Some(format!("the template of `{name}` cannot be rendered")),
                }
            }
            out
        })
    }

    /// Runs `compile` without reporting: templates the client cannot render make a mode's
    /// settings unsupported, and the reference checks report their problems themselves. The
    /// reason is `compile`'s, with the first problem it would have reported.
    fn quietly<T>(
        &mut self,
        error: Option<String>,
        compile: impl FnOnce(&mut Self, &mut Option<String>) -> T,
    ) -> (T, Option<String>) {
        let mark = self.diagnostics.len();
        let mut error = error;
        let out = compile(self, &mut error);
        if self.diagnostics.len() > mark {
            let first = self.diagnostics[mark].message.clone();
            self.diagnostics.truncate(mark);
            error = Some(match error {
                Some(e) => format!("{e} ({first})"),
                None => first,
            });
        }
        (out, error)
    }

    fn named_map(
        &mut self,
        map: Option<&Map<Located<String>>>,
        decl: &Scope<'_, 'a>,
        place: Place,
    ) -> Vec<NamedTemplate> {
        let mut out = Vec::new();
        for (name, e) in map.into_iter().flat_map(|m| m.iter()) {
            if let Some(plan) = self.named(name, e.key_loc, &e.value, decl, place) {
                out.push(plan);
            }
        }
        out
    }

    fn named(
        &mut self,
        name: &str,
        name_loc: Loc,
        value: &Located<String>,
        decl: &Scope<'_, 'a>,
        place: Place,
    ) -> Option<NamedTemplate> {
        if place == Place::Header
            && (name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)))
        {
            self.report(
                Rule::InvalidHeader,
                name_loc,
                format!("`{name}` is not a valid HTTP header name"),
            );
            return None;
        }
        // A query param or body param is one value of a list that the URL builder or the body
        // encoder encodes: it is rendered as it is (rendering it for a URL query here would
        // encode it twice).
        let context = if place == Place::Header {
            Context::Header
        } else {
            Context::Raw
        };
        let alternatives = alternatives(decl.templates, value)?;
        let mut compiled = Vec::new();
        for pieces in &alternatives {
            let mut parts = Vec::new();
            for piece in pieces {
                match piece {
                    Piece::Lit { text, offset } => {
                        if place == Place::Header && !is_header_safe(text) {
                            let loc = self.inner(value.loc, value, *offset, text.len());
                            self.report(Rule::InvalidHeader, loc, format!("the value of header `{name}` has characters a header cannot carry"));
                            return None;
                        }
                        parts.push(TemplatePart::Lit(text.clone().into()));
                    }
                    Piece::Expr { expr, offset, len } => {
                        parts.push(self.expr_part(value, (expr, *offset, *len), decl, context)?)
                    }
                }
            }
            compiled.push(parts);
        }
        if place == Place::QueryParam && compiled.iter().any(|parts| secret_in(parts, decl.decl)) {
            let d = Diagnostic::new(
                Rule::SecretInQuery,
                value.loc,
                format!(
                    "query param `{name}` carries a secret: it ends up in URLs, logs and proxies"
                ),
            )
            .with_help("prefer a header if the API accepts one");
            self.push(d);
        }
        let name = if place == Place::Header {
            name.to_ascii_lowercase()
        } else {
            name.to_owned()
        };
        Some(NamedTemplate {
            name: name.into(),
            alternatives: compiled.into_iter().map(Into::into).collect(),
        })
    }

    /// Resolves one placeholder.
    fn expr_part(
        &mut self,
        s: &Located<String>,
        (expr, offset, len): (&Expr, usize, usize),
        scope: &Scope<'_, 'a>,
        context: Context,
    ) -> Option<TemplatePart> {
        let loc = self.inner(s.loc, s, offset, len);
        let (config, credentials) = scope.decl;
        let param = |section: Section, name: &str, written: String| {
            let params = if section == Section::ConnectionConfig {
                config
            } else {
                credentials
            };
            params
                .iter()
                .position(|p| p.key == name)
                .map(|index| TemplatePart::Param {
                    section,
                    index,
                    written: written.into(),
                    context,
                })
        };
        match expr {
            // Undeclared params are reported once, by the reference check (params the
            // platform fills are implied, optional params).
            Expr::ConnectionConfig(n) => param(Section::ConnectionConfig, n, format!("connectionConfig.{n}")),
            // Undeclared connection params are reported once, by the reference check.
            Expr::Credential(n) => param(Section::Credentials, n, format!("credentials.{n}")).or_else(|| {
                if scope.obtains_credentials {
                    // A field of the credentials the platform obtains (a TWO_STEP token, its
                    // cookies, the raw token response): supplied through the render context.
                    return Some(TemplatePart::Obtained { name: n.clone().into(), written: format!("credentials.{n}").into(), context });
                }
                let suggestion = closest(n, credentials.iter().map(|p| p.key));
                let d = Diagnostic::new(Rule::UndeclaredCredential, loc, format!("`${{credentials.{n}}}` uses a credential that `credentials` does not declare"))
                    .with_suggestion(suggestion);
                self.push(d);
                None
            }),
            Expr::Now { offset_seconds, format } => Some(TemplatePart::Now {
                offset_seconds: *offset_seconds,
                format: format.clone().map(Into::into),
                written: s.value.get(offset + 2..offset + len - 1).unwrap_or_default().to_owned().into(),
                context,
            }),
            Expr::Var(n) => {
                if let Some(part) = param(Section::Credentials, n, n.clone()) {
                    return Some(part);
                }
                // A TWO_STEP refresh request's `${refresh_token}` (the one the last response
                // gave), the JWT its login sends as `${token}`, and `${stepK.path}`, a value of
                // an earlier response of its steps.
                let step_value = n.strip_prefix("step").is_some_and(|rest| {
                    rest.split_once('.').is_some_and(|(k, path)| {
                        !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && !path.is_empty()
                    })
                });
                if (n == "refresh_token" || n == "token" || step_value) && scope.obtains_credentials {
                    return Some(TemplatePart::Obtained { name: n.clone().into(), written: n.clone().into(), context });
                }
                if n == "apiKey" {
                    self.push(Diagnostic::new(Rule::UndeclaredCredential, loc, "`${apiKey}` uses a credential that `credentials` does not declare")
                        .with_help("declare `apiKey` under `credentials`"));
                    return None;
                }
                if let Some(var) = Var::from_name(n) {
                    return Some(TemplatePart::Var { var, written: n.clone().into(), context });
                }
                if let Some(part) = param(Section::ConnectionConfig, n, format!("connectionConfig.{n}")) {
                    self.push(Diagnostic::new(Rule::BareVariable, loc, format!("bare `${{{n}}}` is read as `${{connectionConfig.{n}}}`; write it that way"))
                        .with_help("the platform's proxy resolves bare names only from credentials"));
                    return Some(part);
                }
                let names = VARIABLE_NAMES.iter().copied().chain(credentials.iter().chain(config).map(|p| p.key));
                let d = Diagnostic::new(Rule::UnknownVariable, loc, format!("unknown template variable `${{{n}}}`")).with_suggestion(closest(n, names));
                self.push(d);
                None
            }
            Expr::Call { name, args } => {
                let Some(&(func, _, min, max)) = Func::ALL.iter().find(|(_, f, ..)| f == name) else {
                    let d = Diagnostic::new(Rule::UnknownFunction, loc, format!("unknown template function `{name}`"))
                        .with_suggestion(closest(name, Func::ALL.iter().map(|(_, n, ..)| *n)));
                    self.push(d);
                    return None;
                };
                if args.len() < min || args.len() > max {
                    let want = if min == max { min.to_string() } else { format!("{min} to {max}") };
                    self.report(Rule::UnknownFunction, loc, format!("`{name}` takes {want} arguments, not {}", args.len()));
                    return None;
                }
                let mut compiled = Vec::new();
                for arg in args {
                    let mut parts = Vec::new();
                    for piece in arg {
                        match piece {
                            Piece::Lit { text, .. } => parts.push(TemplatePart::Lit(text.clone().into())),
                            Piece::Expr { expr, offset, len } => {
                                parts.push(self.expr_part(s, (expr, *offset, *len), scope, Context::Raw)?)
                            }
                        }
                    }
                    compiled.push(parts.into());
                }
                Some(TemplatePart::Call { func, args: compiled.into(), context })
            }
        }
    }

    fn url(&mut self, s: &Located<String>, kind: UrlKind, decl: &Scope<'_, 'a>) -> Option<UrlPlan> {
        let alternatives = alternatives(decl.templates, s)?;
        let errors = self.diagnostics.len();
        let mut compiled = Some(Vec::new());
        for pieces in &alternatives {
            match self.url_alternative(s, pieces, decl) {
                Some(alt) => compiled.as_mut().map_or((), |c| c.push(alt)),
                // Only warnings: the URL stays a constant, without a rendering function.
                None if self.diagnostics[errors..]
                    .iter()
                    .all(|d| d.severity == Severity::Warning) =>
                {
                    compiled = None
                }
                None => return None,
            }
        }
        Some(UrlPlan {
            kind,
            spec: UrlSpec {
                source: s.value.clone().into(),
                alternatives: compiled.map(Into::into),
            },
        })
    }

    /// A URL part: only connection config params, never a credential or secret.
    fn url_part(
        &mut self,
        s: &Located<String>,
        (expr, offset, len): (&Expr, usize, usize),
        decl: &Scope<'_, 'a>,
        context: Context,
    ) -> Option<TemplatePart> {
        let part = self.expr_part(s, (expr, offset, len), decl, context)?;
        let secret = secret_in(std::slice::from_ref(&part), decl.decl);
        let loc = self.inner(s.loc, s, offset, len);
        let written = s
            .value
            .get(offset + 2..offset + len - 1)
            .unwrap_or_default();
        if secret {
            // Not an error: some APIs are built that way (a bot token in the path, a secret
            // in a token URL's query). The URL is not generated as a function, so no
            // generated code puts a secret into a URL; the template stays a constant.
            self.push(Diagnostic::new(
                Rule::SecretInUrl,
                loc,
                format!("`${{{written}}}` is a credential or secret, which terapi keeps out of URLs (they end up in logs and proxies): this URL is not generated as a function"),
            )
            .with_help("if the API accepts it, send it in a header instead"));
            return None;
        }
        if !matches!(part, TemplatePart::Param { .. }) {
            self.report(
                Rule::UrlPlaceholder,
                loc,
                format!(
                    "a URL template may use connection config params only, not `${{{written}}}`"
                ),
            );
            return None;
        }
        Some(part)
    }

    fn url_alternative(
        &mut self,
        s: &Located<String>,
        pieces: &[Piece],
        decl: &Scope<'_, 'a>,
    ) -> Option<UrlAlternative> {
        // A whole base URL from one param: `${connectionConfig.instance_url}/api`.
        if let Some(Piece::Expr { expr, offset, len }) = pieces.first() {
            let base = self.url_part(s, (expr, *offset, *len), decl, Context::Url)?;
            let rest = self.url_rest(s, &pieces[1..], decl, false)?;
            return Some(UrlAlternative {
                base: UrlBase::Param(base),
                rest: rest.into(),
            });
        }
        let Some(Piece::Lit {
            text: first,
            offset: first_offset,
        }) = pieces.first()
        else {
            self.report(Rule::InvalidUrl, s.loc, "an empty URL");
            return None;
        };
        let Some((scheme, after)) = first.split_once("://") else {
            self.report(
                Rule::InvalidUrl,
                s.loc,
                format!("`{}` is not an absolute URL (it needs `https://`)", s.value),
            );
            return None;
        };
        if scheme != "https" && scheme != "http" {
            self.report(
                Rule::InvalidUrl,
                s.loc,
                format!("URL scheme `{scheme}` is not supported (use https)"),
            );
            return None;
        }
        // The host runs up to the first `/`, `?`, `#` or `:` in literal text.
        let mut host = Vec::new();
        let mut rest_start: Option<(usize, String, usize)> = None;
        let mut host_has_literal = false;
        let mut first_rest = None;
        let pieces_after: Vec<(usize, &Piece)> = pieces.iter().enumerate().collect();
        for (i, piece) in pieces_after {
            let (text, offset) = match piece {
                Piece::Lit { text, offset } if i == 0 => (
                    after.to_owned(),
                    first_offset + scheme.len() + 3 + (offset - first_offset),
                ),
                Piece::Lit { text, offset } => (text.clone(), *offset),
                Piece::Expr { expr, offset, len } => {
                    host.push(self.url_part(s, (expr, *offset, *len), decl, Context::HostLabel)?);
                    continue;
                }
            };
            let end = text.find(['/', '?', '#', ':']).unwrap_or(text.len());
            let host_text = &text[..end];
            if let Some(bad) =
                host_text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            {
                // A placeholder without its `$` is reported as such, once.
                if super::references::missing_dollar(&s.value).is_some() {
                    return None;
                }
                let loc = self.inner(s.loc, s, offset + bad, 1);
                self.report(
                    Rule::InvalidUrl,
                    loc,
                    "a URL host may contain only letters, digits, `.` and `-`",
                );
                return None;
            }
            if !host_text.is_empty() {
                host_has_literal = true;
                host.push(TemplatePart::Lit(host_text.to_owned().into()));
            }
            if end < text.len() {
                rest_start = Some((i, text[end..].to_owned(), offset + end));
                first_rest = Some(i);
                break;
            }
        }
        if host.is_empty() {
            self.report(
                Rule::InvalidUrl,
                s.loc,
                format!("`{}` has no host", s.value),
            );
            return None;
        }
        if !host_has_literal {
            let config = decl.decl.0;
            let whole = host.len() == 1;
            for part in &mut host {
                if let TemplatePart::Param {
                    context,
                    section,
                    index,
                    ..
                } = part
                {
                    let self_hosted = whole
                        && *section == Section::ConnectionConfig
                        && allows_authority(&config[*index]);
                    *context = if self_hosted {
                        Context::Authority
                    } else {
                        Context::Hostname
                    };
                }
            }
        }
        let rest = match (rest_start, first_rest) {
            (Some((i, text, offset)), Some(_)) => {
                let mut tail = vec![Piece::Lit { text, offset }];
                tail.extend(pieces[i + 1..].iter().cloned());
                self.url_rest(s, &tail, decl, true)?
            }
            _ => Vec::new(),
        };
        Some(UrlAlternative {
            base: UrlBase::Fixed {
                scheme: scheme.to_owned().into(),
                host: host.into(),
            },
            rest: rest.into(),
        })
    }

    /// The part of a URL after the host: `:port`, path, query.
    fn url_rest(
        &mut self,
        s: &Located<String>,
        pieces: &[Piece],
        decl: &Scope<'_, 'a>,
        may_have_port: bool,
    ) -> Option<Vec<TemplatePart>> {
        let mut rest = Vec::new();
        let mut in_port = false;
        let mut in_query = false;
        for piece in pieces {
            match piece {
                Piece::Lit { text, .. } => {
                    // `https://host:${connectionConfig.port}/...`
                    in_port = may_have_port && rest.is_empty() && text == ":";
                    in_query |= text.contains(['?', '#']);
                    rest.push(TemplatePart::Lit(text.clone().into()));
                }
                Piece::Expr { expr, offset, len } => {
                    let context = if in_port {
                        in_port = false;
                        Context::Port
                    } else if in_query {
                        Context::Query
                    } else {
                        Context::PathSegment
                    };
                    rest.push(self.url_part(s, (expr, *offset, *len), decl, context)?);
                }
            }
        }
        Some(rest)
    }
}

/// The alternatives of the template `s`, parsed once per entry (a value that was no string
/// in the YAML, such as a number, is parsed here); `None` when it does not parse (reported
/// by the reference check).
fn alternatives(templates: &Templates, s: &Located<String>) -> Option<Vec<Vec<Piece>>> {
    match templates.at(s.loc, &s.value) {
        Some(parsed) => parsed.as_ref().ok().map(|t| t.alternatives.clone()),
        None => template::parse(&s.value, true).ok().map(|t| t.alternatives),
    }
}

/// Whether a param that stands for a whole host may hold a port and a base path
/// (`host[:port][/path]`, a self-hosted server): its pattern accepts such a value, or its
/// example has one and matches the pattern.
fn allows_authority(param: &ParamPlan<'_>) -> bool {
    let crate::plan::RulePlan::Pattern(_, translated) = &param.rule else {
        return false;
    };
    let Some(re) = crate::pattern::Compiled::new(translated) else {
        return false;
    };
    let example = param.def.example.as_ref().map(|e| e.value.as_str());
    [
        "git.example.com:8443",
        "git.example.com/gitlab",
        "git.example.com:8443/gitlab",
    ]
    .into_iter()
    .chain(example.filter(|e| e.contains([':', '/'])))
    .any(|probe| re.is_match(probe))
}

/// Whether compiled parts carry a credential or a secret (any credential counts: none goes
/// into a URL, and query params that carry one get a warning).
fn secret_in(parts: &[TemplatePart], (config, _): Declared<'_, '_>) -> bool {
    parts.iter().any(|p| match p {
        TemplatePart::Param {
            section: Section::Credentials,
            ..
        } => true,
        TemplatePart::Param { index, .. } => config[*index].secret,
        TemplatePart::Var { var, .. } => var.is_secret(),
        TemplatePart::Obtained { .. } => true,
        TemplatePart::Call { args, .. } => args.iter().any(|a| secret_in(a, (config, &[]))),
        _ => false,
    })
}

//! The catalog format of `providers.yaml` as Rust types: every key the format has.
//!
//! Loosely typed parts of the format (`token_params`, `proxy.body`, `verification.data`,
//! JWT and assertion settings, ...) are kept as located YAML [`Node`]s. Unknown keys are
//! errors everywhere a mapping has a fixed set of keys.

use indexmap::IndexMap;
use terapi_model::AuthMode;

use crate::diagnostic::Diagnostic;
use crate::lower::{
    Cx, FromNode, Located, LooseInt, LooseString, Map, OneOrMany, closest, model_struct,
};
use crate::parsed::Templates;
use crate::rules::{Era, Levels, LintLevels, Rule};
use crate::yaml::{Loc, Node, NodeKind};

/// A whole catalog, after `alias` entries were merged with their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// The providers in file order, by key.
    pub providers: IndexMap<String, ProviderEntry>,
}

/// One provider of a catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderEntry {
    /// The key, e.g. `personio-v2`.
    pub key: String,
    /// Where the key was written.
    pub key_loc: Loc,
    /// The provider this entry is an alias of, if it is one.
    pub alias_of: Option<Located<String>>,
    /// The merged entry as YAML, for checks that look at every string.
    pub node: Node,
    /// The entry, merged with its alias target.
    pub provider: Provider,
    /// Every string of the merged entry, parsed once as a template.
    pub templates: Templates,
    /// The params and credentials it has without declaring them (filled by
    /// `crate::implied::infer`).
    pub implied: ImpliedParams,
    /// The byte range of its own text: from its key to the next entry's key.
    pub span: std::ops::Range<usize>,
}

impl FromNode for AuthMode {
    const EXPECTED: &'static str = "an auth mode";
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        let text = String::from_node(node, cx)?;
        match text.parse::<AuthMode>() {
            Ok(mode) => Some(mode),
            Err(e) => {
                let msg = format!("unknown auth mode `{text}`");
                cx.push(
                    Diagnostic::new(Rule::UnknownAuthMode, node.loc, msg)
                        .with_suggestion(e.suggestion),
                );
                None
            }
        }
    }
    fn schema() -> serde_json::Value {
        let modes: Vec<&str> = AuthMode::ALL.iter().map(|m| m.as_str()).collect();
        serde_json::json!({ "type": "string", "enum": modes })
    }
}

/// `token_url`: one URL, or one per auth mode (GitHub App OAuth).
#[derive(Debug, Clone, PartialEq)]
pub enum TokenUrl {
    /// One URL template.
    Single(Located<String>),
    /// A URL template per auth mode name.
    PerMode(Map<Located<String>>),
}

impl FromNode for TokenUrl {
    const EXPECTED: &'static str = "a URL or a mapping of auth mode to URL";
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        match &node.kind {
            NodeKind::Str(_) => Located::from_node(node, cx).map(TokenUrl::Single),
            NodeKind::Map(entries) => {
                let modes: Vec<&str> = AuthMode::ALL.iter().map(|m| m.as_str()).collect();
                cx.unknown_keys(entries, &modes, "`token_url` (keys are auth modes)");
                Map::from_node(node, cx).map(TokenUrl::PerMode)
            }
            _ => {
                cx.expected(node, Self::EXPECTED);
                None
            }
        }
    }
    fn schema() -> serde_json::Value {
        let modes: serde_json::Map<String, serde_json::Value> = AuthMode::ALL
            .iter()
            .map(|m| {
                (
                    m.as_str().to_owned(),
                    serde_json::json!({ "type": "string" }),
                )
            })
            .collect();
        serde_json::json!({ "anyOf": [
            { "type": "string" },
            { "type": "object", "properties": modes, "additionalProperties": false },
        ] })
    }
}

impl TokenUrl {
    /// Every template with its location.
    pub fn templates(&self) -> Vec<&Located<String>> {
        match self {
            TokenUrl::Single(t) => vec![t],
            TokenUrl::PerMode(m) => m.iter().map(|(_, e)| &e.value).collect(),
        }
    }
}

model_struct! {
    /// One provider entry.
    pub struct Provider ("a provider entry") {
        /// The name shown to users (older catalogs may omit it; the key is used then).
        "display_name" => display_name: Located<String>,
        /// The provider's documentation page.
        "docs" => docs: Located<String>,
        /// The "how to connect" page.
        "docs_connect" => docs_connect: String,
        /// How to register one's own app.
        "setup_guide_url" => setup_guide_url: String,
        /// Catalog categories.
        "categories" => categories: Vec<Located<String>>,
        /// How the provider authenticates (inherited by aliases).
        "auth_mode" => auth_mode: Located<AuthMode>,
        /// Resolved before reading; kept so that the key is known.
        "alias" => alias: Located<String>,
        /// Proxy, pagination, retry and verification settings.
        "proxy" => proxy: Proxy,
        /// Per-connection params, referenced as `${connectionConfig.<key>}`.
        "connection_config" => connection_config: Map<FieldDef>,
        /// The secrets a user supplies.
        "credentials" => credentials: Map<FieldDef>,
        /// Settings entered once per integration.
        "integration_config" => integration_config: Map<FieldDef>,
        /// One-time inputs for building an assertion.
        "assertion_option" => assertion_option: Map<FieldDef>,
        /// OAuth authorize URL template.
        "authorization_url" => authorization_url: Located<String>,
        /// Extra authorize URL query params.
        "authorization_params" => authorization_params: Map<Node>,
        /// Authorize URL params not to encode.
        "authorization_url_skip_encode" => authorization_url_skip_encode: Vec<String>,
        /// Drop empty authorize URL params.
        "authorization_url_skip_empty" => authorization_url_skip_empty: bool,
        /// Literal replacements on the authorize URL.
        "authorization_url_replacements" => authorization_url_replacements: Map<String>,
        /// Fragment of the authorize URL.
        "authorization_url_fragment" => authorization_url_fragment: String,
        /// Callback param carrying the code.
        "authorization_code_param_in_callback" => authorization_code_param_in_callback: String,
        /// Webhook param carrying the code.
        "authorization_code_param_in_webhook" => authorization_code_param_in_webhook: String,
        /// Separator of scopes.
        "scope_separator" => scope_separator: String,
        /// Scopes requested by default.
        "default_scopes" => default_scopes: Vec<String>,
        /// Token endpoint template(s).
        "token_url" => token_url: TokenUrl,
        /// Token URL params not to encode.
        "token_url_skip_encode" => token_url_skip_encode: Vec<String>,
        /// Token request body params (loosely typed).
        "token_params" => token_params: Map<Node>,
        /// Token request headers.
        "token_headers" => token_headers: Map<Located<String>>,
        /// Seconds before expiry to renew.
        "token_expiration_buffer" => token_expiration_buffer: i64,
        /// `basic`, `custom` or `private_key_jwt`.
        "token_request_auth_method" => token_request_auth_method: Located<String>,
        /// mTLS client certificate needed.
        "require_client_certificate" => require_client_certificate: bool,
        /// Token request body encoding: `json`, `form`, `query` or `xml`.
        "body_format" => body_format: Located<String>,
        /// Callback params copied into the connection config.
        "redirect_uri_metadata" => redirect_uri_metadata: Vec<String>,
        /// Token response fields copied into the connection config.
        "token_response_metadata" => token_response_metadata: Vec<String>,
        /// Refresh response fields copied into the connection config.
        "refresh_token_response_metadata" => refresh_token_response_metadata: Vec<String>,
        /// Webhook fields copied into the connection config.
        "webhook_response_metadata" => webhook_response_metadata: Vec<String>,
        /// Connection config keys filled by scripts.
        "connection_configuration" => connection_configuration: Vec<String>,
        /// Hook run after a connection is made.
        "post_connection_script" => post_connection_script: String,
        /// Hook run before a connection is deleted.
        "pre_connection_deletion_script" => pre_connection_deletion_script: String,
        /// Hook that verifies credentials.
        "credentials_verification_script" => credentials_verification_script: String,
        /// Hook run before a connection is created.
        "pre_connection_creation_script" => pre_connection_creation_script: String,
        /// Hook that routes webhooks.
        "webhook_routing_script" => webhook_routing_script: String,
        /// Webhook secret defined by the user.
        "webhook_user_defined_secret" => webhook_user_defined_secret: bool,
        /// Query params allowed on webhooks.
        "webhook_allowed_query_params" => webhook_allowed_query_params: Vec<String>,
        /// `outbound` installs.
        "installation" => installation: String,
        /// OAuth2: turn PKCE off.
        "disable_pkce" => disable_pkce: bool,
        /// OAuth2: refresh request params.
        "refresh_params" => refresh_params: Map<Node>,
        /// OAuth2: `body` or `header`.
        "authorization_method" => authorization_method: String,
        /// OAuth2: path of the token in the response.
        "alternate_access_token_response_path" => alternate_access_token_response_path: String,
        /// Refresh endpoint template.
        "refresh_url" => refresh_url: Located<String>,
        /// Unit of `expires_in`.
        "expires_in_unit" => expires_in_unit: String,
        /// OAuth2: extra auth settings.
        "auth" => auth: OAuthSettings,
        /// OAuth2: decode the URL.
        "decode_url" => decode_url: bool,
        /// Token lifetime in milliseconds.
        "token_expires_in_ms" => token_expires_in_ms: i64,
        /// OAuth1: request token URL.
        "request_url" => request_url: Located<String>,
        /// OAuth1: request token params.
        "request_params" => request_params: Map<Node>,
        /// OAuth1: request token method.
        "request_http_method" => request_http_method: String,
        /// OAuth1: access token method.
        "token_http_method" => token_http_method: String,
        /// OAuth1: signature method.
        "signature_method" => signature_method: String,
        /// MCP OAuth2: `dynamic`, `static` or `cimd`.
        "client_registration" => client_registration: String,
        /// MCP OAuth2: registration endpoint.
        "registration_url" => registration_url: String,
        /// MCP OAuth2: registration params.
        "registration_params" => registration_params: Map<Node>,
        /// JWT / SIGNATURE: signature settings.
        "signature" => signature: Signature,
        /// JWT / SIGNATURE / TWO_STEP: token settings.
        "token" => token: JwtToken,
        /// TWO_STEP: paths into the token response.
        "token_response" => token_response: TokenResponse,
        /// TWO_STEP: token request method.
        "token_request_method" => token_request_method: String,
        /// TWO_STEP: refresh params.
        "refresh_token_params" => refresh_token_params: Map<Node>,
        /// TWO_STEP: refresh headers.
        "refresh_token_headers" => refresh_token_headers: Map<Node>,
        /// TWO_STEP: response headers kept.
        "token_response_headers" => token_response_headers: Vec<String>,
        /// TWO_STEP: further requests.
        "additional_steps" => additional_steps: Vec<AdditionalStep>,
        /// TWO_STEP: assertion settings.
        "assertion" => assertion: Assertion,
        /// INSTALL_PLUGIN: the underlying auth type.
        "auth_type" => auth_type: String,
    }

    /// The `proxy` section.
    pub struct Proxy ("`proxy`") {
        /// The API root template.
        req "base_url" => base_url: Located<String>,
        /// Headers sent with every request (templates).
        "headers" => headers: Map<Located<String>>,
        /// Query params added to every request (templates).
        "query" => query: Map<Located<String>>,
        /// Body fields merged into requests.
        "body" => body: Map<Node>,
        /// Params the integration needs.
        "connection_config" => connection_config: Map<Node>,
        /// Retry settings.
        "retry" => retry: Retry,
        /// Decompress responses.
        "decompress" => decompress: bool,
        /// Forward headers on redirects.
        "forward_headers_on_redirect" => forward_headers_on_redirect: bool,
        /// Default pagination.
        "paginate" => paginate: Paginate,
        /// Credential check.
        "verification" => verification: Verification,
    }

    /// `proxy.retry`.
    pub struct Retry ("`proxy.retry`") {
        /// Headers that hold the time to retry at.
        "at" => at: OneOrMany<String>,
        /// Headers that hold seconds to wait.
        "after" => after: OneOrMany<String>,
        /// Header whose `0` means retryable.
        "remaining" => remaining: String,
        /// Status codes to retry (`429`, `5xx`).
        "error_code" => error_code: OneOrMany<LooseString>,
        /// Retry hint in the error body.
        "in_body" => in_body: RetryInBody,
    }

    /// `proxy.retry.in_body`.
    pub struct RetryInBody ("`proxy.retry.in_body`") {
        /// Path of the hint in the error body.
        req "path" => path: String,
        /// A regex whose group 1 holds the value.
        "value" => value: String,
        /// `at` or `after`.
        req "strategy" => strategy: Located<String>,
    }

    /// `signature` (JWT, SIGNATURE).
    pub struct Signature ("`signature`") {
        /// `RSA`, `HMAC`, `EC` or `WSSE`.
        req "protocol" => protocol: Located<String>,
        /// `hex` or `utf8`.
        "hmac_secret_encoding" => hmac_secret_encoding: Located<String>,
    }

    /// `token` (JWT, SIGNATURE, TWO_STEP): how to build a signed token.
    pub struct JwtToken ("`token`") {
        /// The signing key template.
        "signing_key" => signing_key: Located<String>,
        /// Lifetime in milliseconds.
        "expires_in_ms" => expires_in_ms: LooseInt,
        /// JWT header fields.
        "header" => header: JwtHeader,
        /// JWT claims (templates; `scope` may be a list).
        "payload" => payload: Map<Node>,
    }

    /// A JWT header.
    pub struct JwtHeader ("a JWT `header`") {
        /// Algorithm, e.g. `RS256`.
        req "alg" => alg: String,
        /// Type, e.g. `JWT`.
        "typ" => typ: String,
        /// Key id (template).
        "kid" => kid: Located<String>,
        /// X.509 SHA-256 thumbprint.
        "x5t#S256" => x5t_s256: Located<String>,
    }

    /// `token_response` (TWO_STEP): paths into the token response.
    pub struct TokenResponse ("`token_response`") {
        /// Path of the token.
        req "token" => token: String,
        /// Path of the expiry.
        "token_expiration" => token_expiration: String,
        /// `expireAt` or `expireIn`.
        "token_expiration_strategy" => token_expiration_strategy: Located<String>,
        /// Path of the refresh token.
        "refresh_token" => refresh_token: String,
    }

    /// One of `additional_steps` (TWO_STEP).
    pub struct AdditionalStep ("a step of `additional_steps`") {
        /// The step's URL template.
        req "token_url" => token_url: Located<String>,
        /// `json`, `form` or `xml`.
        "body_format" => body_format: Located<String>,
        /// The step's body params.
        "token_params" => token_params: Map<Node>,
        /// The step's headers.
        "token_headers" => token_headers: Map<Located<String>>,
        /// The step's method.
        "token_request_method" => token_request_method: String,
    }

    /// `assertion` (TWO_STEP): a SAML or JWT assertion.
    pub struct Assertion ("`assertion`") {
        /// `saml` or `jwt`.
        "type" => kind: Located<String>,
        /// The signing key template.
        "key" => key: Located<String>,
        /// Issuer.
        "issuer" => issuer: Located<String>,
        /// Lifetime in seconds.
        "lifetimeInSeconds" => lifetime_in_seconds: LooseInt,
        /// Audiences: one or a list.
        "audiences" => audiences: OneOrMany<String>,
        /// SAML attributes (loosely typed).
        "attributes" => attributes: Map<Node>,
        /// SAML session index.
        "sessionIndex" => session_index: Located<String>,
        /// SAML recipient.
        "recipient" => recipient: Located<String>,
        /// SAML name id (template).
        "nameIdentifier" => name_identifier: Located<String>,
        /// JWT header fields.
        "header" => header: JwtHeader,
        /// JWT claims (templates).
        "payload" => payload: Map<Node>,
    }

    /// `auth` (OAUTH2).
    pub struct OAuthSettings ("`auth`") {
        /// The authorize request's `response_type`.
        "response_type" => response_type: String,
    }

    /// `proxy.paginate`.
    pub struct Paginate ("`proxy.paginate`") {
        /// `cursor`, `link` or `offset`.
        "type" => kind: Located<String>,
        /// Name of the limit param.
        "limit_name_in_request" => limit_name_in_request: String,
        /// Path of the records.
        "response_path" => response_path: String,
        /// Cursor: path of the next cursor.
        "cursor_path_in_response" => cursor_path_in_response: String,
        /// Cursor: name of the cursor param.
        "cursor_name_in_request" => cursor_name_in_request: String,
        /// Link: rel in the `Link` header.
        "link_rel_in_response_header" => link_rel_in_response_header: String,
        /// Link: path of the next link in the body.
        "link_path_in_response_body" => link_path_in_response_body: String,
        /// Offset: name of the offset param.
        "offset_name_in_request" => offset_name_in_request: String,
        /// Offset: first offset.
        "offset_start_value" => offset_start_value: i64,
        /// Offset: `per-page` or `by-response-size`.
        "offset_calculation_method" => offset_calculation_method: String,
        /// Offset (2024 format): name of the offset in the response.
        "offset_name_in_response" => offset_name_in_response: String,
    }

    /// `proxy.verification`.
    pub struct Verification ("`proxy.verification`") {
        /// `GET` or `POST` (default `GET`).
        "method" => method: Located<String>,
        /// Endpoints tried in order.
        "endpoints" => endpoints: Vec<Located<String>>,
        /// The 2024 format's single endpoint.
        "endpoint" => endpoint: Located<String>,
        /// Base URL used instead of `proxy.base_url`.
        "base_url_override" => base_url_override: Located<String>,
        /// Extra headers.
        "headers" => headers: Map<Located<String>>,
        /// Request body.
        "data" => data: Node,
    }

    /// A param definition in `connection_config`, `credentials`, `integration_config` or
    /// `assertion_option`.
    pub struct FieldDef ("a param definition") {
        /// Always `string`.
        "type" => kind: Located<String>,
        /// Label.
        "title" => title: String,
        /// Help text.
        "description" => description: String,
        /// Placeholder.
        "example" => example: Located<String>,
        /// ECMAScript regex searched in the value.
        "pattern" => pattern: Located<String>,
        /// May be absent or empty.
        "optional" => optional: bool,
        /// `hostname`, `uri`, `uuid` or `email`.
        "format" => format: Located<String>,
        /// Allowed values.
        "enum" => one_of: Vec<String>,
        /// UI order.
        "order" => order: i64,
        /// The value is a secret.
        "secret" => secret: bool,
        /// Display-only prefix.
        "prefix" => prefix: String,
        /// Display-only suffix.
        "suffix" => suffix: String,
        /// Anchor in the connect docs.
        "doc_section" => doc_section: String,
        /// Filled automatically, not asked from the user.
        "automated" => automated: bool,
        /// Prefilled value.
        "default_value" => default_value: String,
        /// Hidden input.
        "hidden" => hidden: bool,
        /// Messages per enum value.
        "warnings" => warnings: Map<String>,
        /// Conditional visibility.
        "visible_when" => visible_when: Node,
    }
}

impl Provider {
    /// Connection params the platform fills at run time (from the token response, the OAuth
    /// callback, webhooks or post-connection scripts) rather than the user.
    pub fn platform_filled_params(&self) -> impl Iterator<Item = &String> {
        [
            &self.token_response_metadata,
            &self.redirect_uri_metadata,
            &self.webhook_response_metadata,
            &self.connection_configuration,
        ]
        .into_iter()
        .flatten()
        .flatten()
    }
}

/// The JSON Schema of a whole catalog (draft-07), for editors (yaml-language-server): derived
/// from the same definitions the reader uses, so the two cannot drift.
pub fn catalog_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "terapi providers.yaml",
        "description": "A catalog of API providers: provider key → provider entry.",
        "type": "object",
        "propertyNames": { "pattern": "^[a-z0-9-]+$" },
        "additionalProperties": Provider::schema(),
    })
}

/// Why an entry has a param it does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The auth mode implies it.
    AuthMode(terapi_model::AuthMode),
    /// The platform fills it (from the token response, the OAuth callback, a webhook or a
    /// script); the user may supply it.
    PlatformFilled,
    /// An older-format template uses it.
    Template,
}

/// A param an entry has without declaring it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpliedParam {
    /// The key, as templates write it.
    pub key: String,
    /// A definition made for it.
    pub def: FieldDef,
    /// Why it is there.
    pub origin: Origin,
}

/// The implied params of one entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImpliedParams {
    /// Whether they were inferred by the rules of the older format (which declares no params).
    pub older_format: bool,
    /// Connection params.
    pub config: Vec<ImpliedParam>,
    /// Credentials.
    pub credentials: Vec<ImpliedParam>,
    /// The connection params the platform fills, declared or not (see
    /// `crate::implied::platform_filled`): computed once, read by the checks.
    pub platform_filled: Vec<String>,
}

/// A catalog as read, with the problems found per provider and for the file as a whole.
#[derive(Debug)]
pub struct Read {
    /// The format era the catalog is read by.
    pub era: Era,
    /// The rules' levels in force for it.
    pub levels: Levels,
    /// The entries that could be read.
    pub catalog: Catalog,
    /// Problems of each provider, by key (every key of the file is present).
    pub per_provider: IndexMap<String, Vec<Diagnostic>>,
    /// Problems of the file as a whole.
    pub global: Vec<Diagnostic>,
}

/// Reads a whole catalog: resolves `alias` entries (shallow merge in file order, as the
/// platform's loader does), then reads each entry. Returns the entries that could be read
/// and every problem found.
pub fn read_entries(root: &Node, lint_levels: &LintLevels) -> Read {
    let era = era_of(root);
    let levels = lint_levels.resolve(era);
    let mut global = Cx::new(levels);
    let mut per_provider: IndexMap<String, Cx> = IndexMap::new();
    let mut providers = IndexMap::new();
    let Some(entries) = root.as_map() else {
        global.expected(root, "a mapping of provider keys to provider entries");
        return Read {
            era,
            levels,
            catalog: Catalog { providers },
            per_provider: IndexMap::new(),
            global: global.diagnostics,
        };
    };
    // The platform's loader mutates its map in file order: an alias sees its target
    // resolved if the target came earlier, raw otherwise.
    let mut resolved: IndexMap<String, (Loc, Node)> = IndexMap::new();
    for (key, value) in entries {
        let Some(k) = key.as_str() else {
            global.expected(key, "a provider key (a string)");
            continue;
        };
        per_provider.insert(k.to_owned(), Cx::new(levels));
        resolved.insert(k.to_owned(), (key.loc, value.clone()));
    }
    let keys: Vec<String> = resolved.keys().cloned().collect();
    let mut aliases = IndexMap::new();
    for key in &keys {
        let node = &resolved[key].1;
        let Some(alias) = node.get("alias") else {
            continue;
        };
        let Some(target) = alias.as_str() else {
            continue;
        }; // reported when the entry is read
        let located = Located {
            value: target.to_owned(),
            loc: alias.loc,
        };
        let cx = per_provider.get_mut(key).expect("every key has a context");
        if target == key {
            cx.push(Diagnostic::new(
                Rule::UnknownAlias,
                alias.loc,
                format!("provider `{key}` is an alias of itself"),
            ));
            continue;
        }
        let Some((_, target_node)) = resolved.get(target) else {
            let suggestion = closest(target, keys.iter().map(String::as_str));
            cx.push(
                Diagnostic::new(
                    Rule::UnknownAlias,
                    alias.loc,
                    format!("`alias` names provider `{target}`, which the catalog does not have"),
                )
                .with_suggestion(suggestion),
            );
            continue;
        };
        let merged = merge_shallow(target_node, node);
        resolved.get_mut(key).expect("key exists").1 = merged;
        aliases.insert(key.clone(), located);
    }
    let mut starts: Vec<usize> = resolved.values().map(|(loc, _)| loc.offset).collect();
    starts.sort_unstable();
    let end_of = |start: usize| {
        let next = starts.partition_point(|s| *s <= start);
        starts.get(next).copied().unwrap_or(usize::MAX)
    };
    for (key, (key_loc, node)) in resolved {
        let cx = per_provider.get_mut(&key).expect("every key has a context");
        if let Some(mut provider) = Provider::from_node(&node, cx) {
            if era == Era::Older {
                legacy_token_url(&mut provider, cx);
            }
            let alias_of = aliases.get(&key).cloned();
            let templates = Templates::of(&node);
            providers.insert(
                key.clone(),
                ProviderEntry {
                    key,
                    key_loc,
                    alias_of,
                    node,
                    provider,
                    templates,
                    implied: ImpliedParams::default(),
                    span: key_loc.offset..end_of(key_loc.offset),
                },
            );
        }
    }
    Read {
        era,
        levels,
        catalog: Catalog { providers },
        per_provider: per_provider
            .into_iter()
            .map(|(k, cx)| (k, cx.diagnostics))
            .collect(),
        global: global.diagnostics,
    }
}

/// Older catalogs gave OAUTH2_CC's token endpoint as `authorization_url` (the platform's
/// client-credentials request of the time posted there): read it as `token_url`.
fn legacy_token_url(p: &mut Provider, cx: &mut Cx) {
    let cc = p.auth_mode.as_ref().map(|m| m.value) == Some(AuthMode::OAuth2Cc);
    if cc
        && p.token_url.is_none()
        && let Some(url) = p.authorization_url.take()
    {
        cx.push(Diagnostic::new(
            Rule::LegacySpelling,
            url.loc,
            "an older-format OAUTH2_CC entry gives its token endpoint as `authorization_url`: read as `token_url`",
        ));
        p.token_url = Some(TokenUrl::Single(url));
    }
}

/// The era of a catalog: older when no entry declares `connection_config` or `credentials`.
fn era_of(root: &Node) -> Era {
    let entries = root.as_map().unwrap_or_default();
    let declares = |entry: &Node| {
        entry.get("connection_config").is_some() || entry.get("credentials").is_some()
    };
    if !entries.is_empty() && !entries.iter().any(|(_, e)| declares(e)) {
        Era::Older
    } else {
        Era::Current
    }
}

/// `{ ...target, ...overrides }` without `alias`, keeping JavaScript's key order.
fn merge_shallow(target: &Node, entry: &Node) -> Node {
    let (Some(base), Some(own)) = (target.as_map(), entry.as_map()) else {
        return entry.clone();
    };
    let mut merged: Vec<(Node, Node)> = base
        .iter()
        .filter(|(k, _)| k.as_str() != Some("alias"))
        .cloned()
        .collect();
    for (k, v) in own {
        if k.as_str() == Some("alias") {
            continue;
        }
        match merged.iter_mut().find(|(mk, _)| mk.as_str() == k.as_str()) {
            Some(slot) => slot.1 = v.clone(),
            None => merged.push((k.clone(), v.clone())),
        }
    }
    Node {
        kind: NodeKind::Map(merged),
        loc: entry.loc,
    }
}

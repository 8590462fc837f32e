//! What the checks hand to the emitter and to [`crate::load`]: per provider, the Rust names
//! and the read entry (for docs), beside the runtime's own types for everything the runtime
//! acts on (compiled templates, URLs, the client's settings), so that the description is
//! built from the plan by moving data, not by translating it.

use terapi_model::AuthMode;
use terapi_model::spec::{ClientSpec, NamedTemplate, Unsupported, UrlKind, UrlSpec};

use crate::model::{FieldDef, ProviderEntry};

/// Everything the emitter needs, in output order (providers sorted by key).
#[derive(Debug)]
pub struct Plan<'a> {
    /// The providers, sorted by key.
    pub providers: Vec<ProviderPlan<'a>>,
}

/// One provider, checked.
#[derive(Debug)]
pub struct ProviderPlan<'a> {
    /// The catalog key.
    pub key: &'a str,
    /// The module name.
    pub module: String,
    /// The `Provider` variant name.
    pub variant: String,
    /// The entry as read.
    pub entry: &'a ProviderEntry,
    /// The auth mode.
    pub auth_mode: AuthMode,
    /// The display name (the key when the entry has none).
    pub display_name: &'a str,
    /// The docs URL (older catalogs may have none).
    pub docs: Option<&'a str>,
    /// `connection_config` params in file order.
    pub config: Vec<ParamPlan<'a>>,
    /// `credentials` params in file order.
    pub credentials: Vec<ParamPlan<'a>>,
    /// `proxy.headers` in file order.
    pub headers: Vec<NamedTemplate>,
    /// `proxy.query` in file order.
    pub query: Vec<NamedTemplate>,
    /// `proxy.verification.headers` in file order.
    pub verification_headers: Vec<NamedTemplate>,
    /// URL templates: `proxy.base_url`, `token_url`, ...
    pub urls: Vec<UrlPlan>,
    /// `token_params` in file order (scalar values).
    pub token_params: Vec<NamedTemplate>,
    /// `authorization_params` in file order (scalar values; authorization code modes).
    pub authorization_params: Vec<NamedTemplate>,
    /// `refresh_params` in file order (scalar values; authorization code modes).
    pub refresh_params: Option<Vec<NamedTemplate>>,
    /// `token_headers` in file order (OAUTH2_CC, TWO_STEP).
    pub token_headers: Vec<NamedTemplate>,
    /// `refresh_token_params` in file order (scalar values; TWO_STEP).
    pub refresh_token_params: Option<Vec<NamedTemplate>>,
    /// A JWT's templates (JWT; TWO_STEP with `signature`).
    pub jwt: Vec<NamedTemplate>,
    /// What the HTTP client needs, or why it cannot serve this provider.
    pub client: Result<ClientSpec, Unsupported>,
}

/// One declared param.
#[derive(Debug)]
pub struct ParamPlan<'a> {
    /// The key as written.
    pub key: &'a str,
    /// The struct field name.
    pub field: String,
    /// The definition.
    pub def: &'a FieldDef,
    /// `optional: true`.
    pub optional: bool,
    /// Kept out of `Debug`, `Display` and errors: every credential unless it says
    /// `secret: false`, connection params with `secret: true`.
    pub secret: bool,
    /// The value check.
    pub rule: RulePlan<'a>,
    /// Why the entry has it when it does not declare it (`None`: declared).
    pub origin: Option<crate::model::Origin>,
}

/// The value check of a param.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulePlan<'a> {
    /// Any string.
    Any,
    /// The catalog's ECMAScript pattern, and its translation for the engine that runs it.
    Pattern(&'a str, crate::pattern::Translated),
    /// The named UPPER_SNAKE_CASE rule.
    UpperSnakeCase,
}

/// A URL of the entry: which one, and its compiled template.
#[derive(Debug)]
pub struct UrlPlan {
    /// Which URL.
    pub kind: UrlKind,
    /// The template as written and its alternatives (`None` when the URL needs a
    /// credential, which generated code never puts into a URL: it is kept as text only).
    pub spec: UrlSpec,
}

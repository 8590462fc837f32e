//! What the checks hand to the emitter: names, params and compiled templates per provider.

use terapi_runtime::render::{Context, Func, Var};
use terapi_runtime::{AuthMode, Section};

use crate::client::ClientPlan;
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
    pub headers: Vec<NamedPlan>,
    /// `proxy.query` in file order.
    pub query: Vec<NamedPlan>,
    /// `proxy.verification.headers` in file order.
    pub verification_headers: Vec<NamedPlan>,
    /// URL templates: `proxy.base_url`, `token_url`, ...
    pub urls: Vec<UrlPlan>,
    /// `token_params` in file order (scalar values).
    pub token_params: Vec<NamedPlan>,
    /// Whether a `proxy.query` value carries a secret.
    pub query_has_secret: bool,
    /// What the HTTP client needs, or why it cannot serve this provider.
    pub client: Result<ClientPlan, String>,
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

/// A header or query param: its name and its template's alternatives.
#[derive(Debug)]
pub struct NamedPlan {
    /// The name (header names lowercase).
    pub name: String,
    /// The alternatives of its template (`A || B`), each a list of parts.
    pub alternatives: Vec<Vec<PartPlan>>,
}

/// A piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartPlan {
    /// Literal text.
    Lit(String),
    /// A param value.
    Param {
        /// Which struct holds it.
        section: Section,
        /// Index into that section's params.
        index: usize,
        /// How it was written in the template, e.g. `connectionConfig.company`.
        written: String,
        /// Where it lands.
        context: Context,
    },
    /// A value the render context supplies (`${accessToken}`, `${method}`, ...).
    Var {
        /// The variable.
        var: Var<'static>,
        /// How it was written.
        written: String,
        /// Where it lands.
        context: Context,
    },
    /// A field of the credentials the platform obtains (`${credentials.token}` in TWO_STEP).
    Obtained {
        /// The field name, e.g. `token` or `raw.accountID`.
        name: String,
        /// How it was written.
        written: String,
        /// Where it lands.
        context: Context,
    },
    /// `${now...}`.
    Now {
        /// Seconds added to the current time.
        offset_seconds: i64,
        /// The day.js format, already checked to parse.
        format: Option<String>,
        /// How it was written.
        written: String,
        /// Where it lands.
        context: Context,
    },
    /// A function call.
    Call {
        /// The function.
        func: Func,
        /// Its arguments.
        args: Vec<Vec<PartPlan>>,
        /// Where the result lands.
        context: Context,
    },
}

/// A URL template compiled into alternatives.
#[derive(Debug)]
pub struct UrlPlan {
    /// The constant's name, e.g. `BASE_URL`.
    pub const_name: &'static str,
    /// The function's name, e.g. `base_url`.
    pub fn_name: &'static str,
    /// What the URL is, for docs.
    pub what: &'static str,
    /// The template as written.
    pub source: String,
    /// The alternatives; `None` when the URL is kept as a constant only (it needs a
    /// credential, which generated code never puts into a URL).
    pub alternatives: Option<Vec<UrlAltPlan>>,
}

/// One alternative of a URL.
#[derive(Debug)]
pub struct UrlAltPlan {
    /// Scheme and host.
    pub base: UrlBasePlan,
    /// Port, path, query pieces.
    pub rest: Vec<PartPlan>,
}

/// Where a URL alternative's scheme and host come from.
#[derive(Debug)]
pub enum UrlBasePlan {
    /// Fixed by the template, up to host values.
    Fixed {
        /// `https` or `http`.
        scheme: String,
        /// Host pieces.
        host: Vec<PartPlan>,
    },
    /// A whole base URL from a param.
    Param(PartPlan),
}

impl PartPlan {
    /// Whether a param of `section` appears in these parts (nested calls included).
    pub fn uses(parts: &[PartPlan], section: Section) -> bool {
        parts.iter().any(|p| match p {
            PartPlan::Param { section: s, .. } => *s == section,
            PartPlan::Call { args, .. } => args.iter().any(|a| PartPlan::uses(a, section)),
            _ => false,
        })
    }

    /// Whether the render context is needed for these parts.
    pub fn uses_context(parts: &[PartPlan]) -> bool {
        parts.iter().any(|p| match p {
            PartPlan::Var { .. } | PartPlan::Now { .. } | PartPlan::Obtained { .. } => true,
            PartPlan::Call { func, args, .. } => {
                *func == Func::AwsSigV4 || args.iter().any(|a| PartPlan::uses_context(a))
            }
            _ => false,
        })
    }
}

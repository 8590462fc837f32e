//! The rule registry: every check of the generator is a named rule with a stable code, a
//! default level and the basis it stands on, declared here and nowhere else.
//!
//! A diagnostic names its [`Rule`]; its severity comes from the rule's level, which a user
//! may set per rule (`-A/-W/-D RULE` on the command line, [`crate::Builder::lint_level`]).
//! Rules the generator cannot go past (it would emit code that does not compile, or leave out
//! something the catalog says) are *fixed*: their level cannot be lowered.
//!
//! Where to add a rule: one row in the `rules!` table below (code, level, basis, summary,
//! explanation), then report it with [`crate::Diagnostic::new`] where the check runs, and
//! add a test of its exact location to `codegen/tests/rules.rs`.

use std::collections::BTreeMap;
use std::fmt;

/// How a rule's findings are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Not reported.
    Allow,
    /// Reported as a note: information, not a problem.
    Note,
    /// Reported as a warning; generation goes on.
    Warn,
    /// Reported as an error; generation fails (or, with `--invalid-providers skip`, the
    /// provider is left out).
    Deny,
}

impl Level {
    /// `allow`, `note`, `warn` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Note => "note",
            Level::Warn => "warn",
            Level::Deny => "deny",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The platform's own behaviour: the named part of it (its CI validator, its JSON
    /// schema, its loader, its proxy's interpolation) rejects or mishandles the input.
    Platform(&'static str),
    /// terapi's own policy. A warning by default unless breaking it makes a request go
    /// wrong, leaks a secret or makes generated code not compile.
    Policy,
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Platform(what) => write!(f, "the platform's behaviour ({what})"),
            Basis::Policy => f.write_str("terapi's own policy"),
        }
    }
}

/// The format era a catalog is read by: its rules changed over time, and a catalog is held
/// to the rules of its own era.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Era {
    /// `connection_config` and `credentials` declared per entry (from late 2024 on).
    #[default]
    Current,
    /// No entry declares `connection_config` or `credentials` (the format before late
    /// 2024): params are implied by the templates, credentials by the auth mode.
    Older,
}

/// One row of the registry.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// The stable code, e.g. `unused-param`.
    pub code: &'static str,
    /// The level in a current-era catalog.
    pub level: Level,
    /// The level in an older-era catalog, where it differs.
    pub older_level: Option<Level>,
    /// Whether the level cannot be lowered.
    pub fixed: bool,
    /// What it stands on.
    pub basis: Basis,
    /// One line: what it finds.
    pub summary: &'static str,
    /// Why it matters and what to do (for `lint --explain`).
    pub explanation: &'static str,
}

macro_rules! rules {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $code:literal, $level:ident $(/ older $older:ident)?, $fixed:ident, $basis:expr,
            $explanation:literal;
    )*) => {
        /// A rule of the generator's checks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Rule {
            /// Every rule, in the registry's order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The rule's registry row.
            pub const fn info(self) -> &'static RuleInfo {
                match self {
                    $(Rule::$variant => &RuleInfo {
                        code: $code,
                        level: Level::$level,
                        older_level: rules!(@older $($older)?),
                        fixed: rules!(@fixed $fixed),
                        basis: $basis,
                        summary: concat!($($doc),*),
                        explanation: $explanation,
                    },)*
                }
            }
        }
    };
    (@older) => { None };
    (@older $older:ident) => { Some(Level::$older) };
    (@fixed fixed) => { true };
    (@fixed open) => { false };
}

const CI: Basis = Basis::Platform("its CI validator");
const SCHEMA: Basis = Basis::Platform("its JSON schema");
const LOADER: Basis = Basis::Platform("its loader");
const PROXY: Basis = Basis::Platform("its proxy's interpolation");
const POLICY: Basis = Basis::Policy;
const NANGO: Basis = Basis::Platform("its integrations file's parser");

rules! {
    // --- reading the file --------------------------------------------------------------
    /// The file is not valid YAML, or uses a YAML feature the format does not have.
    YamlSyntax = "yaml-syntax", Deny, fixed, LOADER,
        "The platform's loader (js-yaml) refuses the file, so nothing of it can be read. Duplicate keys are refused too: js-yaml rejects them.";
    /// The file is not UTF-8.
    InvalidUtf8 = "invalid-utf8", Deny, fixed, LOADER,
        "A catalog is UTF-8 text. The error names the byte offset and the line of the first invalid sequence.";
    /// The file expands beyond the size budget (YAML alias bombs).
    SizeBudget = "size-budget", Deny, fixed, POLICY,
        "YAML aliases (`*a` for an anchor `&a`) can make a small file expand to billions of nodes. The budget is a ratio of the expanded size to the file's size, so a large honest catalog passes and an alias bomb is refused at once.";
    /// A key the format does not have.
    UnknownKey = "unknown-key", Deny / older Warn, open, SCHEMA,
        "The platform's schema refuses keys it does not know (since late 2024); before that its loader ignored them. A typo such as `scope_seprator` means the setting is ignored, so the request goes wrong. Older catalogs get a warning.";
    /// A value of the wrong type.
    WrongType = "wrong-type", Deny, fixed, SCHEMA,
        "The value cannot be read as the format's type for this key (a mapping where a string is expected, ...). The generator cannot use it.";
    /// A required key is missing.
    MissingKey = "missing-key", Deny, fixed, SCHEMA,
        "A mapping lacks a key the format requires, such as `proxy.base_url`.";
    /// An older spelling that the platform's loader accepted, read as the current one.
    LegacySpelling = "legacy-spelling", Allow, open, LOADER,
        "Older catalogs write a scalar where a list is expected (`error_code: 403`), a number where a string is expected, or an empty value for an absent one. The platform's loader accepted them; so does terapi, reading them as the current spelling.";
    /// An `alias` names a provider that is not there.
    UnknownAlias = "unknown-alias", Deny, fixed, LOADER,
        "The platform's loader merges an alias entry over its target; without a target there is nothing to merge.";
    /// An unknown `auth_mode`.
    UnknownAuthMode = "unknown-auth-mode", Deny, fixed, SCHEMA,
        "The auth mode decides how a connection authenticates; an unknown one cannot be served.";
    /// The entry uses the older format: params inferred from templates, credentials from
    /// the auth mode.
    OlderFormat = "older-format", Note, open, LOADER,
        "Before late 2024 entries declared no `connection_config` or `credentials`. terapi infers a required string param for each `${connectionConfig.x}` the templates use and the credentials the auth mode implies (API_KEY: `apiKey`, BASIC: `username` and `password`, ...), and documents them as inferred.";

    // --- the entry ---------------------------------------------------------------------
    /// A provider without `auth_mode`.
    MissingAuthMode = "missing-auth-mode", Deny, fixed, SCHEMA,
        "Every entry that is not an `alias` needs an `auth_mode`.";
    /// A provider without `docs`.
    MissingDocs = "missing-docs", Deny / older Allow, open, SCHEMA,
        "The platform's schema requires `docs` (its CI checks the page exists). Older catalogs did not; there the generated docs link nowhere.";
    /// A category the format does not have.
    UnknownCategory = "unknown-category", Deny / older Allow, open, SCHEMA,
        "The platform's schema limits `categories` to a fixed list (since late 2024).";
    /// Two provider keys map to the same Rust name.
    ProviderCollision = "provider-collision", Deny, fixed, POLICY,
        "Provider keys become module and enum variant names; two keys that map to the same name would not compile.";
    /// A name that cannot become a Rust identifier (an empty key).
    InvalidName = "invalid-name", Deny, fixed, POLICY,
        "An empty provider, param or credential key has no Rust name; generated code would not compile.";
    /// A character that reverses text direction (U+202A–U+202E, U+2066–U+2069).
    BidiControl = "bidi-control", Deny, open, POLICY,
        "Bidirectional override characters make text read differently from how it runs (\"Trojan Source\", CVE-2021-42574); rustc refuses them in comments and literals. terapi escapes them in generated code, and reports them as errors because no catalog needs them.";
    /// `proxy.verification` and `credentials_verification_script` together.
    VerificationConflict = "verification-conflict", Deny, open, CI,
        "The platform's CI allows one way to verify credentials: `proxy.verification` or a `credentials_verification_script`.";
    /// An OAuth flow without a `token_url`.
    MissingTokenUrl = "missing-token-url", Deny, open, Basis::Platform("its OAuth client"),
        "OAUTH2_CC (and the authorization-code modes) exchange credentials at `token_url`; without it no connection can get a token. The platform's CI does not check this.";

    // --- params and credentials --------------------------------------------------------
    /// A param definition whose `type` is not `string`.
    ParamType = "param-type", Deny, open, SCHEMA,
        "The platform's schema requires `type: string` in every param definition.";
    /// Two params map to the same Rust field name.
    FieldCollision = "field-collision", Deny, fixed, POLICY,
        "Param keys become struct field names; two keys that map to the same name would not compile.";
    /// A `pattern` that is not a valid ECMAScript regex.
    InvalidPattern = "invalid-pattern", Deny, open, Basis::Platform("its connect UI"),
        "The platform compiles `pattern` with JavaScript's `new RegExp`; an invalid one throws, so the connect form breaks. With a lower level, the check is dropped (any value passes it).";
    /// A valid ECMAScript `pattern` that neither regex engine can run.
    UnsupportedPattern = "unsupported-pattern", Warn, open, POLICY,
        "The pattern is valid but uses a feature neither the `regex` crate nor the backtracking `fancy-regex` (which runs lookaround and backreferences) has, such as an empty class `[]`. The value check is dropped: any value passes it, as on the platform's server, which never checks patterns.";
    /// An `example` that fails its own `pattern`.
    ExampleMismatch = "example-mismatch", Warn, open, POLICY,
        "An example that its own pattern rejects misleads users. Masked examples (`sk_****`) are not checked.";
    /// `${connectionConfig.x}` for a param `connection_config` does not declare.
    UndeclaredParam = "undeclared-param", Deny, open, CI,
        "The platform's CI requires every `${connectionConfig.x}` to be declared in `connection_config` or listed in `token_response_metadata`. An undeclared param is never asked from the user, so the template stays unresolved.";
    /// `connection_config` declared while no string uses any `${connectionConfig.*}`.
    NoConfigReference = "no-config-reference", Deny, open, CI,
        "The platform's CI rejects an entry that declares `connection_config` while no string of it references any `${connectionConfig.*}` (aliases, MCP_OAUTH2_GENERIC and AWS_SIGV4 are exempt).";
    /// A declared param that no template uses.
    UnusedParam = "unused-param", Warn, open, POLICY,
        "A single declared param that no template uses is legitimate (the platform's scripts read it); the warning helps find typos.";
    /// A credential the auth mode requires is not declared.
    MissingCredential = "missing-credential", Deny, open, CI,
        "The platform's CI requires `credentials.apiKey` for API_KEY and `credentials.role_arn` for AWS_SIGV4.";
    /// A credential the auth mode usually has is not declared.
    UsualCredential = "usual-credential", Warn, open, CI,
        "The platform's CI warns when a BASIC or SIGNATURE entry lacks `credentials.username` or `credentials.password`.";
    /// `credentials` declared where the platform obtains them itself.
    ForbiddenCredentials = "forbidden-credentials", Deny, open, CI,
        "The platform's CI forbids a `credentials` block for OAUTH2, OAUTH1, APP, CUSTOM, NONE, TBA, BILL, MCP_* and INSTALL_PLUGIN: the platform obtains those credentials itself.";

    // --- templates ---------------------------------------------------------------------
    /// A string that does not parse as a template.
    InvalidTemplate = "invalid-template", Deny, fixed, PROXY,
        "Every string of an entry is interpolated by the platform; an unclosed `${`, an empty placeholder or a second `||` cannot be rendered.";
    /// `{connectionConfig.x}` without its `$`.
    MissingDollar = "missing-dollar", Deny, open, CI,
        "A placeholder is written `${...}`. Without the `$` the text is sent as it is (`https://{connectionConfig.host}`). The platform's CI looks for `{` not preceded by `$`; terapi reports the ones that look like placeholders.";
    /// `${credentials.x}` or `${apiKey}` for a credential that is not declared.
    UndeclaredCredential = "undeclared-credential", Deny, fixed, PROXY,
        "The platform leaves an unresolved placeholder in the text, so the request carries `${apiKey}` literally.";
    /// An unknown template variable.
    UnknownVariable = "unknown-variable", Deny, fixed, PROXY,
        "The platform leaves an unknown placeholder in the text, so the request carries it literally.";
    /// An unknown template function, or a call with the wrong number of arguments.
    UnknownFunction = "unknown-function", Deny, fixed, PROXY,
        "Template functions are `base64`, `sha256Hex`, `hmacSha1Hex`, `awsSigV4`, ... with their number of arguments.";
    /// A bare `${x}` read as `${connectionConfig.x}`.
    BareVariable = "bare-variable", Warn, open, PROXY,
        "The platform's proxy resolves bare names from credentials only; terapi reads a bare name that matches a declared connection param as that param.";
    /// A URL template with something other than connection params.
    UrlPlaceholder = "url-placeholder", Deny, fixed, POLICY,
        "URL templates may use connection params only; other values (the time, a function) cannot be checked for the URL context they land in.";
    /// A URL template that is not an absolute http(s) URL with a valid host.
    InvalidUrl = "invalid-url", Deny, fixed, PROXY,
        "The platform builds requests from these URLs; one without a scheme, with another scheme, or with characters a host cannot have fails.";
    /// A header name or value a header cannot carry.
    InvalidHeader = "invalid-header", Deny, fixed, PROXY,
        "HTTP refuses such a header: the request fails.";
    /// A credential or secret in a URL template.
    SecretInUrl = "secret-in-url", Warn, open, POLICY,
        "URLs end up in logs and proxies. The URL stays a constant; no function puts the secret into it.";
    /// A credential or secret in a query param.
    SecretInQuery = "secret-in-query", Warn, open, POLICY,
        "Query strings end up in logs and proxies; prefer a header if the API accepts one. The client sends it only with `Settings::allow_secret_in_query(true)`.";

    // --- the integrations file ----------------------------------------------------------
    /// An integration names a provider key the catalog does not have.
    UnknownProvider = "unknown-provider", Deny, fixed, POLICY,
        "Each key under `integrations` is a provider key of the catalog: its syncs and actions run through that provider's connections (base URL, headers, auth).";
    /// A model (an output, an input, a field's type) or a parent sync that is not declared.
    UnknownModel = "unknown-model", Deny, fixed, NANGO,
        "Every model an `output`, `input` or field type names must be declared under `models`, and a sync's `parent` must be a sync of the same provider; generated code would not compile otherwise.";
    /// A field that the model it is looked up in does not have.
    UnknownField = "unknown-field", Deny, fixed, POLICY,
        "An action's `query` fields and `file`, and a sync's `id` and `updated_at` paths, name fields of the input or output model (when that model declares its fields); a typo would send nothing, or find no id.";
    /// A path param that no input field or parent supplies.
    UnboundPathParam = "unbound-path-param", Deny, fixed, POLICY,
        "Each `{param}` of an action's path is filled from the input field of the same name, and a sync's `{id}` from its parent's records; a param nothing fills would send a literal `{param}` to the provider.";
    /// An action on GET or DELETE whose input leaves fields for a body.
    BodyOnGet = "body-on-get", Deny, fixed, POLICY,
        "GET and DELETE requests carry no body (many servers and proxies drop it): every input field of such an action must be a path param or listed under `query`.";
    /// An endpoint that is not `METHOD /path`, or a sync that does not list with GET.
    InvalidEndpoint = "invalid-endpoint", Deny, fixed, NANGO,
        "An endpoint is written `METHOD /path` (`GET /company/employees`), with a method of GET, POST, PUT, PATCH or DELETE, a path starting with `/`, and `{param}`s that are closed and named. A sync lists with GET.";
    /// A duration or schedule that cannot be read.
    InvalidDuration = "invalid-duration", Deny, fixed, NANGO,
        "Durations are a number and a unit (`30s`, `15min`, `1h`, `1d`); `runs` is `every` and a duration, at least a minute.";
    /// A field type that cannot be read.
    InvalidFieldType = "invalid-field-type", Deny, fixed, NANGO,
        "A field's type is `string`, `number`, `integer`, `boolean`, `date-time`, `date`, `time`, `file`, `any`, a model's name, a union of quoted literals (`'a' | 'b'`: an enum), any of these with `[]` (a list) or `| null`, or a nested mapping of fields.";
    /// A `$ref` that is not `document#/pointer`.
    InvalidRef = "invalid-ref", Deny, fixed, POLICY,
        "A model typed from an OpenAPI document is `$ref: <document file>#/<JSON pointer>` (`personio-personnel-data-api-oa3.yaml#/components/schemas/Employee`), with no other key beside it.";
    /// Two models, fields, syncs or actions that map to the same Rust name.
    NameCollision = "name-collision", Deny, fixed, POLICY,
        "Model names become Rust types, field, sync and action names become Rust identifiers; two names that map to the same identifier would not compile.";
    /// A POST action declared idempotent.
    IdempotentPost = "idempotent-post", Warn, open, POLICY,
        "An idempotent action is retried after a 5xx or a dropped connection. A POST that creates something would then create it twice unless the provider deduplicates it (an idempotency key). Declare it `idempotent: false` unless the provider documents that.";
    /// A model that no sync, action or other model uses.
    UnusedModel = "unused-model", Warn, open, POLICY,
        "A declared model that nothing names is generated all the same; it is often a leftover or a typo of the name used.";

    // --- the run -----------------------------------------------------------------------
    /// A selected provider key (`--providers`, `--exclude`) that the catalog does not have.
    UnknownSelection = "unknown-selection", Deny, fixed, POLICY,
        "A selection names providers by key; a key the catalog lacks is a typo or a stale list.";
    /// A provider left out by `--invalid-providers skip`.
    ProviderSkipped = "provider-skipped", Warn, open, POLICY,
        "With `--invalid-providers skip`, an entry with errors (and its aliases) is left out of the output; this names it with its first error.";
}

impl Rule {
    /// The stable code, e.g. `unused-param`.
    pub const fn code(self) -> &'static str {
        self.info().code
    }

    /// The level in a catalog of `era`, before the user's settings.
    pub fn default_level(self, era: Era) -> Level {
        let info = self.info();
        match era {
            Era::Older => info.older_level.unwrap_or(info.level),
            Era::Current => info.level,
        }
    }

    /// The rule with this code.
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// The text of `lint --explain CODE`.
    pub fn explain(self) -> String {
        let info = self.info();
        let mut out = format!(
            "{}: {}\n\n{}\n\nbasis: {}\ndefault level: {}",
            info.code,
            info.summary.trim(),
            info.explanation,
            info.basis,
            info.level
        );
        if let Some(older) = info.older_level {
            out.push_str(&format!(" (in an older-format catalog: {older})"));
        }
        if info.fixed {
            out.push_str("\nfixed: the level cannot be lowered (the generator cannot go past it)");
        }
        out
    }

    /// The rules as a Markdown table, as RULES.md shows them.
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | level | basis | what it finds |\n|---|---|---|---|\n");
        for rule in Rule::ALL {
            let info = rule.info();
            let mut level = info.level.to_string();
            if let Some(older) = info.older_level {
                level.push_str(&format!(" ({older} in older catalogs)"));
            }
            if info.fixed {
                level.push_str(", fixed");
            }
            let basis = match info.basis {
                Basis::Platform(what) => format!("platform: {what}"),
                Basis::Policy => "policy".to_owned(),
            };
            out.push_str(&format!(
                "| `{}` | {level} | {basis} | {} |\n",
                info.code,
                info.summary.trim()
            ));
        }
        out
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A code that names no rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule `{given}`{}", .suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
pub struct UnknownRule {
    /// What was given.
    pub given: String,
    /// The closest code.
    pub suggestion: Option<&'static str>,
}

impl std::str::FromStr for Rule {
    type Err = UnknownRule;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::from_code(s).ok_or_else(|| UnknownRule {
            given: s.to_owned(),
            suggestion: crate::suggest::closest(s, Rule::ALL.iter().map(|r| r.code())),
        })
    }
}

/// The user's level settings: per rule, and for all warnings at once (`-D warnings`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LintLevels {
    per_rule: BTreeMap<Rule, Level>,
    warnings: Option<Level>,
}

impl LintLevels {
    /// Sets the level of one rule. A fixed rule cannot be set below `deny`.
    pub fn set(&mut self, rule: Rule, level: Level) -> Result<(), String> {
        if rule.info().fixed && level != Level::Deny {
            return Err(format!(
                "rule `{rule}` cannot be set to `{level}`: the generator cannot go past it \
                 (see `terapi lint --explain {rule}`)"
            ));
        }
        self.per_rule.insert(rule, level);
        Ok(())
    }

    /// Sets the level of every rule whose level would be `warn` (`-D warnings`, `-A warnings`).
    pub fn set_warnings(&mut self, level: Level) {
        self.warnings = Some(level);
    }

    /// Reads `-A/-W/-D` arguments: a rule code, or `warnings`.
    pub fn set_code(&mut self, code: &str, level: Level) -> Result<(), String> {
        if code == "warnings" {
            self.set_warnings(level);
            return Ok(());
        }
        let rule: Rule = code.parse().map_err(|e: UnknownRule| e.to_string())?;
        self.set(rule, level)
    }

    /// The levels in force for a catalog of `era`.
    pub fn resolve(&self, era: Era) -> Levels {
        let mut levels = [Level::Deny; Rule::ALL.len()];
        for (i, rule) in Rule::ALL.iter().enumerate() {
            let mut level = rule.default_level(era);
            if level == Level::Warn
                && let Some(w) = self.warnings
            {
                level = w;
            }
            if let Some(l) = self.per_rule.get(rule) {
                level = *l;
            }
            levels[i] = level;
        }
        Levels { levels }
    }
}

/// The level of each rule in force for one catalog.
#[derive(Debug, Clone, Copy)]
pub struct Levels {
    levels: [Level; Rule::ALL.len()],
}

impl Default for Levels {
    fn default() -> Self {
        LintLevels::default().resolve(Era::Current)
    }
}

impl Levels {
    /// The level of `rule`.
    pub fn of(&self, rule: Rule) -> Level {
        self.levels[rule as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            let code = rule.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{code}"
            );
            assert_eq!(Rule::from_code(code), Some(*rule));
            assert!(!rule.info().summary.is_empty());
            assert_eq!(Rule::ALL[*rule as usize], *rule);
        }
    }

    #[test]
    fn fixed_rules_cannot_be_lowered() {
        let mut levels = LintLevels::default();
        assert!(levels.set(Rule::InvalidTemplate, Level::Warn).is_err());
        assert!(levels.set(Rule::UnusedParam, Level::Deny).is_ok());
        assert_eq!(
            levels.resolve(Era::Current).of(Rule::UnusedParam),
            Level::Deny
        );
        let err = levels.set_code("unused-parm", Level::Allow).unwrap_err();
        assert!(err.contains("did you mean `unused-param`"), "{err}");
    }

    #[test]
    fn deny_warnings_raises_every_warning() {
        let mut levels = LintLevels::default();
        levels.set_code("warnings", Level::Deny).unwrap();
        let resolved = levels.resolve(Era::Current);
        assert_eq!(resolved.of(Rule::UnusedParam), Level::Deny);
        assert_eq!(resolved.of(Rule::LegacySpelling), Level::Allow);
    }

    #[test]
    fn eras_have_their_own_defaults() {
        let levels = LintLevels::default();
        assert_eq!(
            levels.resolve(Era::Current).of(Rule::MissingDocs),
            Level::Deny
        );
        assert_eq!(
            levels.resolve(Era::Older).of(Rule::MissingDocs),
            Level::Allow
        );
    }
}

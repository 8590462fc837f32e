//! A provider's whole description as data: its params with their rules, its templates
//! compiled into parts, its URLs, auth settings, pagination, retry and verification.
//!
//! One model, two ways to get it: generated code writes it out as a `static`, and
//! `terapi_codegen::load` builds it from a catalog at run time (the same reader and checks,
//! owned text). Everything that acts on a provider (validation, rendering, the client)
//! interprets this model, so a loaded provider behaves exactly like a generated one.
//!
//! Text and lists are [`Text`] and [`List`]: borrowed from the binary for generated
//! descriptions, owned for loaded ones. Equality compares contents, so a generated and a
//! loaded description of the same entry are equal.

mod client;
mod embedded;
mod render;
mod typed;

use std::ops::Deref;
use std::sync::Arc;

pub use client::{
    AuthorizationSpec, BodyFormat, ClientSpec, JwtSettings, OAuth1Spec, Replacement, StepSpec,
    TokenAuth, TokenRequestSpec, Unsupported, VerificationSpec,
};
pub use embedded::Embedded;
pub use render::{ParamValues, Values};
pub use typed::{
    Params, SectionValues, Sections, TypedProvider, TypedValues, deserialize_checked,
    render_config_url, serialize_section,
};

use crate::auth_mode::AuthMode;
use crate::render::{Context, Func, Var};
use crate::validate::{List, ParamSpec, Section, Text};

/// One provider of a catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProviderSpec {
    /// The catalog key, e.g. `personio`.
    pub key: Text,
    /// The name shown to users (the key when the entry has none).
    pub display_name: Text,
    /// The provider's documentation page (older catalogs may have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<Text>,
    /// The end user's guide to connecting (`docs_connect`), to which a param's
    /// [`doc_section`](ParamSpec::doc_section) anchor is appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_connect: Option<Text>,
    /// The catalog's categories (`hr`, `ats`, ...), in catalog order.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub categories: List<Text>,
    /// How the provider authenticates.
    pub auth_mode: AuthMode,
    /// `connection_config` params in catalog order (implied ones included).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub config: List<ParamSpec>,
    /// `credentials` params in catalog order (implied ones included).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub credentials: List<ParamSpec>,
    /// `proxy.base_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<UrlSpec>,
    /// `token_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<UrlSpec>,
    /// `proxy.verification.base_url_override`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_base_url: Option<UrlSpec>,
    /// `authorization_url` (OAuth authorization code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<UrlSpec>,
    /// `refresh_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<UrlSpec>,
    /// `token_url.OAUTH2` of an entry with a token URL per auth mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url_oauth2: Option<UrlSpec>,
    /// `token_url.APP` of an entry with a token URL per auth mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url_app: Option<UrlSpec>,
    /// `proxy.headers` in catalog order.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub headers: List<NamedTemplate>,
    /// `proxy.query` in catalog order.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub query: List<NamedTemplate>,
    /// `proxy.verification.headers` in catalog order.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub verification_headers: List<NamedTemplate>,
    /// `token_params` in catalog order (scalar values).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub token_params: List<NamedTemplate>,
    /// `authorization_params` in catalog order (OAuth authorization code; values unencoded).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub authorization_params: List<NamedTemplate>,
    /// `token_headers` in catalog order (TWO_STEP, OAUTH2_CC).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub token_headers: List<NamedTemplate>,
    /// `refresh_token_params` in catalog order, when the entry has them (TWO_STEP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_params: Option<List<NamedTemplate>>,
    /// A JWT's templates (`token.header`, `token.payload`, `token.signing_key`), named
    /// `header.<field>`, `claim.<name>` (`claim.<name>[]` for each item of a list claim) and
    /// `key`.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub jwt: List<NamedTemplate>,
    /// `refresh_params` in catalog order, when the entry has them (else a refresh sends the
    /// `token_params` that are not about the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_params: Option<List<NamedTemplate>>,
    /// What the HTTP client needs, or why it cannot serve this provider.
    pub client: ClientSupport,
}

/// Whether the runtime's client can serve a provider as its entry describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
// Descriptions live in statics or behind an `Arc` and are not moved: boxing the large
// variant would only cost an allocation (and keep it out of a `static`).
#[allow(clippy::large_enum_variant)]
pub enum ClientSupport {
    /// It can, with this.
    Supported(ClientSpec),
    /// It cannot, for this reason (reported as `client::Error::Unsupported` on connect).
    Unsupported(Unsupported),
}

/// The params that carry an OAuth client or basic credentials, by index into
/// [`ProviderSpec::credentials`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CredentialRoles {
    /// `client_id` and `client_secret` (OAUTH2_CC).
    pub client: Option<(usize, usize)>,
    /// `username` and an optional `password` (BASIC).
    pub basic: Option<(usize, Option<usize>)>,
}

/// A header, query param or token param: its name and its template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NamedTemplate {
    /// The name (header names lowercase).
    pub name: Text,
    /// The alternatives of the template (`A || B`), tried in order; the first whose values
    /// are all present is used, and when none is, the entry is left out.
    pub alternatives: List<List<TemplatePart>>,
}

/// A piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TemplatePart {
    /// Literal text, checked when the catalog was read.
    Lit(Text),
    /// A declared param.
    Param {
        /// Which section holds it.
        section: Section,
        /// Its index in that section's params.
        index: usize,
        /// How the template writes it, e.g. `connectionConfig.company` (for errors).
        written: Text,
        /// Where it lands.
        context: Context,
    },
    /// A value of the render context (`${accessToken}`, `${method}`, ...; never `Now` or
    /// `Obtained`, which have their own parts).
    Var {
        /// The variable.
        #[serde(with = "var_by_name")]
        var: Var<'static>,
        /// How the template writes it.
        written: Text,
        /// Where it lands.
        context: Context,
    },
    /// A field of the credentials the platform obtains (`${credentials.token}` in TWO_STEP).
    Obtained {
        /// The field, e.g. `token`.
        name: Text,
        /// How the template writes it.
        written: Text,
        /// Where it lands.
        context: Context,
    },
    /// `${now...}`.
    Now {
        /// Seconds added to the current time.
        offset_seconds: i64,
        /// The day.js format (checked to parse when the catalog was read); `None` for ISO
        /// 8601 with milliseconds.
        format: Option<Text>,
        /// How the template writes it.
        written: Text,
        /// Where it lands.
        context: Context,
    },
    /// A call of a template function.
    Call {
        /// The function.
        func: Func,
        /// Its arguments, each a list of parts.
        args: List<List<TemplatePart>>,
        /// Where the result lands.
        context: Context,
    },
}

/// Which of a provider's URLs: each is a field of [`ProviderSpec`] of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UrlKind {
    /// `proxy.base_url`: the API root.
    BaseUrl,
    /// `token_url`.
    TokenUrl,
    /// `token_url.OAUTH2` of an entry with a token URL per auth mode.
    TokenUrlOAuth2,
    /// `token_url.APP` of an entry with a token URL per auth mode.
    TokenUrlApp,
    /// `refresh_url`.
    RefreshUrl,
    /// `authorization_url`.
    AuthorizationUrl,
    /// `proxy.verification.base_url_override`: the base URL of the credential check.
    VerificationBaseUrl,
}

impl UrlKind {
    /// Its name in snake case, which is also its [`ProviderSpec`] field's, e.g. `base_url`.
    pub const fn name(self) -> &'static str {
        match self {
            UrlKind::BaseUrl => "base_url",
            UrlKind::TokenUrl => "token_url",
            UrlKind::TokenUrlOAuth2 => "token_url_oauth2",
            UrlKind::TokenUrlApp => "token_url_app",
            UrlKind::RefreshUrl => "refresh_url",
            UrlKind::AuthorizationUrl => "authorization_url",
            UrlKind::VerificationBaseUrl => "verification_base_url",
        }
    }

    /// Where the catalog writes it, e.g. `proxy.base_url`.
    pub const fn catalog_key(self) -> &'static str {
        match self {
            UrlKind::BaseUrl => "proxy.base_url",
            UrlKind::TokenUrl => "token_url",
            UrlKind::TokenUrlOAuth2 => "token_url.OAUTH2",
            UrlKind::TokenUrlApp => "token_url.APP",
            UrlKind::RefreshUrl => "refresh_url",
            UrlKind::AuthorizationUrl => "authorization_url",
            UrlKind::VerificationBaseUrl => "proxy.verification.base_url_override",
        }
    }
}

/// A URL template compiled into alternatives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UrlSpec {
    /// The template as written in the catalog (for errors and docs).
    pub source: Text,
    /// The alternatives; `None` when the URL needs a credential, which is never put into a
    /// URL (the template is then known as text only).
    pub alternatives: Option<List<UrlAlternative>>,
}

/// One alternative of a URL template: its scheme and host, then the rest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UrlAlternative {
    /// Scheme and host.
    pub base: UrlBase,
    /// Port, path and query pieces.
    pub rest: List<TemplatePart>,
}

/// Where a URL alternative's scheme and host come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UrlBase {
    /// Fixed by the template, up to host values.
    Fixed {
        /// `https` or `http`.
        scheme: Text,
        /// The host's pieces.
        host: List<TemplatePart>,
    },
    /// A whole base URL from a param (a [`TemplatePart::Param`] in [`Context::Url`]).
    Param(TemplatePart),
}

impl ProviderSpec {
    /// The params of `section`.
    pub fn params(&self, section: Section) -> &[ParamSpec] {
        match section {
            Section::ConnectionConfig => &self.config,
            Section::Credentials => &self.credentials,
        }
    }

    /// The URL of `kind`, when the entry has one.
    pub fn url(&self, kind: UrlKind) -> Option<&UrlSpec> {
        match kind {
            UrlKind::BaseUrl => self.base_url.as_ref(),
            UrlKind::TokenUrl => self.token_url.as_ref(),
            UrlKind::TokenUrlOAuth2 => self.token_url_oauth2.as_ref(),
            UrlKind::TokenUrlApp => self.token_url_app.as_ref(),
            UrlKind::RefreshUrl => self.refresh_url.as_ref(),
            UrlKind::AuthorizationUrl => self.authorization_url.as_ref(),
            UrlKind::VerificationBaseUrl => self.verification_base_url.as_ref(),
        }
    }

    /// The OAuth client and basic credentials among the credentials, found by their keys
    /// (`client_id`/`client_secret` for OAUTH2_CC, `username`/`password` for BASIC).
    pub fn credential_roles(&self) -> CredentialRoles {
        let index = |key: &str| self.credentials.iter().position(|p| p.key == key);
        CredentialRoles {
            client: match self.auth_mode {
                AuthMode::OAuth2Cc => index("client_id").zip(index("client_secret")),
                _ => None,
            },
            basic: match self.auth_mode {
                AuthMode::Basic => index("username").map(|u| (u, index("password"))),
                _ => None,
            },
        }
    }
}

/// A provider description that a connection can hold: a generated `static`, or a loaded one
/// shared between connections.
#[derive(Debug, Clone)]
pub enum SpecRef {
    /// A description of generated code.
    Static(&'static ProviderSpec),
    /// A description loaded at run time.
    Shared(Arc<ProviderSpec>),
}

impl Deref for SpecRef {
    type Target = ProviderSpec;
    fn deref(&self) -> &ProviderSpec {
        match self {
            SpecRef::Static(spec) => spec,
            SpecRef::Shared(spec) => spec,
        }
    }
}

impl From<&'static ProviderSpec> for SpecRef {
    fn from(spec: &'static ProviderSpec) -> Self {
        SpecRef::Static(spec)
    }
}

impl From<Arc<ProviderSpec>> for SpecRef {
    fn from(spec: Arc<ProviderSpec>) -> Self {
        SpecRef::Shared(spec)
    }
}

impl From<ProviderSpec> for SpecRef {
    fn from(spec: ProviderSpec) -> Self {
        SpecRef::Shared(Arc::new(spec))
    }
}

/// A context variable travels as its template name (`accessToken`).
mod var_by_name {
    use crate::render::Var;

    pub(super) fn serialize<S: serde::Serializer>(
        var: &Var<'static>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match var.name() {
            Some(name) => s.serialize_str(name),
            None => Err(serde::ser::Error::custom(
                "a `now` or obtained variable has its own part",
            )),
        }
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Var<'static>, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(d)?;
        Var::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown template variable `{name}`")))
    }
}

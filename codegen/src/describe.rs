//! A checked provider's plan as the runtime's data model ([`ProviderSpec`]): what
//! [`crate::load`] returns, and what generated code embeds. The plan already holds the
//! runtime's types for templates, URLs and the client; only the params are translated.

use std::borrow::Cow;

use terapi_model::spec::{ClientSupport, ProviderSpec, UrlKind};
use terapi_model::{ParamSpec, Pattern, Rule, Text};

use crate::plan::{ParamPlan, ProviderPlan, RulePlan};

/// The description of one checked provider, owning its text.
pub(crate) fn provider(p: &ProviderPlan<'_>) -> ProviderSpec {
    let url = |kind: UrlKind| {
        p.urls
            .iter()
            .find(|u| u.kind == kind)
            .map(|u| u.spec.clone())
    };
    ProviderSpec {
        key: text(p.key),
        display_name: text(p.display_name),
        docs_url: p.docs.map(text),
        docs_connect: p.entry.provider.docs_connect.as_deref().map(text),
        categories: p
            .entry
            .provider
            .categories
            .iter()
            .flatten()
            .map(|c| text(&c.value))
            .collect(),
        auth_mode: p.auth_mode,
        config: p.config.iter().map(param).collect(),
        credentials: p.credentials.iter().map(param).collect(),
        base_url: url(UrlKind::BaseUrl),
        token_url: url(UrlKind::TokenUrl),
        verification_base_url: url(UrlKind::VerificationBaseUrl),
        authorization_url: url(UrlKind::AuthorizationUrl),
        refresh_url: url(UrlKind::RefreshUrl),
        token_url_oauth2: url(UrlKind::TokenUrlOAuth2),
        token_url_app: url(UrlKind::TokenUrlApp),
        headers: p.headers.clone().into(),
        query: p.query.clone().into(),
        verification_headers: p.verification_headers.clone().into(),
        token_params: p.token_params.clone().into(),
        authorization_params: p.authorization_params.clone().into(),
        refresh_params: p.refresh_params.clone().map(Into::into),
        token_headers: p.token_headers.clone().into(),
        jwt: p.jwt.clone().into(),
        refresh_token_params: p.refresh_token_params.clone().map(Into::into),
        client: match &p.client {
            Ok(c) => ClientSupport::Supported(c.clone()),
            Err(reason) => ClientSupport::Unsupported(reason.clone()),
        },
    }
}

fn text(s: &str) -> Text {
    Cow::Owned(s.to_owned())
}

fn param(p: &ParamPlan<'_>) -> ParamSpec {
    ParamSpec {
        key: text(p.key),
        optional: p.optional,
        secret: p.secret,
        rule: match &p.rule {
            RulePlan::Any => Rule::Any,
            RulePlan::Pattern(written, t) => Rule::Pattern(Pattern::owned(
                t.regex.clone(),
                (*written).to_owned(),
                t.backtracking,
            )),
            RulePlan::UpperSnakeCase => Rule::UpperSnakeCase,
        },
        one_of: p.def.one_of.iter().flatten().map(|s| text(s)).collect(),
        title: p.def.title.as_deref().map(text),
        description: p.def.description.as_deref().map(text),
        example: p.def.example.as_ref().map(|e| text(&e.value)),
        format: p.def.format.as_ref().map(|f| text(&f.value)),
        prefix: p.def.prefix.as_deref().map(text),
        suffix: p.def.suffix.as_deref().map(text),
        default_value: p.def.default_value.as_deref().map(text),
        doc_section: p.def.doc_section.as_deref().map(text),
        order: p.def.order,
        hidden: p.def.hidden.unwrap_or(false),
        automated: p.def.automated.unwrap_or(false),
    }
}

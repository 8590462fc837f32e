//! A checked provider's plan as the runtime's data model ([`ProviderSpec`]): what
//! [`crate::load`] returns, and what the interpreter of the runtime acts on.

use std::borrow::Cow;

use terapi_runtime::paginate::{OffsetStep, PageKind, PaginateConfig};
use terapi_runtime::spec::{
    BodyFormat, ClientSpec, ClientSupport, NamedTemplate, ProviderSpec, RetrySpec, TemplatePart,
    TokenAuth, UrlAlternative, UrlBase, UrlSpec, VerificationSpec,
};
use terapi_runtime::{List, ParamSpec, Pattern, Rule, Text};

use crate::client::{ClientPlan, PaginatePlan};
use crate::plan::{
    NamedPlan, ParamPlan, PartPlan, ProviderPlan, RulePlan, UrlAltPlan, UrlBasePlan, UrlPlan,
};

/// The description of one checked provider, owning its text.
pub(crate) fn provider(p: &ProviderPlan<'_>) -> ProviderSpec {
    let url = |name: &str| p.urls.iter().find(|u| u.fn_name == name).map(url_spec);
    ProviderSpec {
        key: text(p.key),
        display_name: text(p.display_name),
        docs_url: p.docs.map(text),
        auth_mode: p.auth_mode,
        config: list(p.config.iter().map(param)),
        credentials: list(p.credentials.iter().map(param)),
        base_url: url("base_url"),
        token_url: url("token_url"),
        verification_base_url: url("verification_base_url"),
        authorization_url: url("authorization_url"),
        refresh_url: url("refresh_url"),
        token_url_oauth2: url("token_url_oauth2"),
        token_url_app: url("token_url_app"),
        headers: list(p.headers.iter().map(named)),
        query: list(p.query.iter().map(named)),
        verification_headers: list(p.verification_headers.iter().map(named)),
        token_params: list(p.token_params.iter().map(named)),
        client: match &p.client {
            Ok(c) => ClientSupport::Supported(client(p, c)),
            Err(reason) => ClientSupport::Unsupported(text(reason)),
        },
    }
}

fn text(s: &str) -> Text {
    Cow::Owned(s.to_owned())
}

fn list<T: Clone>(items: impl Iterator<Item = T>) -> List<T> {
    Cow::Owned(items.collect())
}

fn texts<'s>(items: impl IntoIterator<Item = &'s String>) -> List<Text> {
    list(items.into_iter().map(|s| text(s)))
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
        one_of: texts(p.def.one_of.iter().flatten()),
    }
}

fn named(n: &NamedPlan) -> NamedTemplate {
    NamedTemplate {
        name: text(&n.name),
        alternatives: list(n.alternatives.iter().map(|alt| parts(alt))),
    }
}

fn parts(parts: &[PartPlan]) -> List<TemplatePart> {
    list(parts.iter().map(part))
}

fn part(p: &PartPlan) -> TemplatePart {
    match p {
        PartPlan::Lit(s) => TemplatePart::Lit(text(s)),
        PartPlan::Param {
            section,
            index,
            written,
            context,
        } => TemplatePart::Param {
            section: *section,
            index: *index,
            written: text(written),
            context: *context,
        },
        PartPlan::Var {
            var,
            written,
            context,
        } => TemplatePart::Var {
            var: *var,
            written: text(written),
            context: *context,
        },
        PartPlan::Obtained {
            name,
            written,
            context,
        } => TemplatePart::Obtained {
            name: text(name),
            written: text(written),
            context: *context,
        },
        PartPlan::Now {
            offset_seconds,
            format,
            written,
            context,
        } => TemplatePart::Now {
            offset_seconds: *offset_seconds,
            format: format.as_deref().map(text),
            written: text(written),
            context: *context,
        },
        PartPlan::Call {
            func,
            args,
            context,
        } => TemplatePart::Call {
            func: *func,
            args: list(args.iter().map(|a| parts(a))),
            context: *context,
        },
    }
}

fn url_spec(u: &UrlPlan) -> UrlSpec {
    UrlSpec {
        source: text(&u.source),
        alternatives: u
            .alternatives
            .as_ref()
            .map(|alts| list(alts.iter().map(url_alternative))),
    }
}

fn url_alternative(a: &UrlAltPlan) -> UrlAlternative {
    UrlAlternative {
        base: match &a.base {
            UrlBasePlan::Fixed { scheme, host } => UrlBase::Fixed {
                scheme: text(scheme),
                host: parts(host),
            },
            UrlBasePlan::Param(p) => UrlBase::Param(part(p)),
        },
        rest: parts(&a.rest),
    }
}

fn client(p: &ProviderPlan<'_>, c: &ClientPlan) -> ClientSpec {
    let header_parts: Vec<PartPlan> = p
        .headers
        .iter()
        .flat_map(|h| h.alternatives.iter().flatten().cloned())
        .collect();
    ClientSpec {
        key: text(p.key),
        auth_mode: p.auth_mode,
        body_format: if c.json_body {
            BodyFormat::Json
        } else {
            BodyFormat::Form
        },
        token_auth: if c.basic_token_auth {
            TokenAuth::Basic
        } else {
            TokenAuth::Body
        },
        default_scope: c.default_scope.as_deref().map(text),
        paginate: c.paginate.as_ref().map(paginate),
        retry: RetrySpec {
            at: texts(&c.retry.at),
            after: texts(&c.retry.after),
            remaining: c.retry.remaining.as_deref().map(text),
            error_code: c.retry.error_code.as_ref().map(|codes| texts(codes)),
        },
        verification: c.verification.as_ref().map(|v| VerificationSpec {
            method: text(&v.method),
            endpoints: texts(&v.endpoints),
            host_params: texts(&v.host_params),
            body: v.body.as_deref().map(text),
        }),
        query_has_secret: p.query_has_secret,
        static_headers: !PartPlan::uses_context(&header_parts),
    }
}

fn paginate(pg: &PaginatePlan) -> PaginateConfig {
    let field = |name: &str| {
        pg.fields
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
            .map(text)
    };
    PaginateConfig {
        kind: match pg.kind {
            "Cursor" => PageKind::Cursor,
            "Link" => PageKind::Link,
            _ => PageKind::Offset,
        },
        limit_name: field("limit_name"),
        response_path: field("response_path"),
        cursor_path: field("cursor_path"),
        cursor_name: field("cursor_name"),
        link_rel: field("link_rel"),
        link_path: field("link_path"),
        offset_name: field("offset_name"),
        offset_start: pg.offset_start,
        offset_step: if pg.per_page {
            OffsetStep::PerPage
        } else {
            OffsetStep::ByResponseSize
        },
        total_pages_path: None,
    }
}

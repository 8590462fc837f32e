//! A host template whose param's pattern allows `host[:port][/path]` (a self-hosted server)
//! renders it in the runtime's `Authority` context (port and base path kept, the host still
//! checked after parsing); a param whose pattern allows a host name only stays a `Hostname`.

use std::path::Path;

use crate::common::{Entry, Param};

use terapi_codegen::{Options, load};
use terapi_runtime::Section;
use terapi_runtime::render::Context;
use terapi_runtime::spec::{TemplatePart, UrlBase};

fn catalog(pattern: &str, example: &str) -> String {
    Entry::api_key("gitlab")
        .display_name("GitLab")
        .base_url("https://${connectionConfig.host}/api/v4")
        .header("private-token", "${apiKey}")
        .config(
            Param::new("host")
                .title("Host")
                .description("Your server.")
                .pattern(pattern)
                .example(&format!("'{example}'")),
        )
        .no_credentials()
        .credential(
            Param::new("apiKey")
                .title("Token")
                .description("The token."),
        )
        .yaml()
}

/// The context the `host` config param lands in, in the host of every alternative of the
/// loaded model's `proxy.base_url` (the generated `SPEC` holds the same model).
fn context_of(pattern: &str, example: &str) -> Context {
    let loaded = load(
        Path::new("p.yaml"),
        &catalog(pattern, example),
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let spec = loaded.get("gitlab").expect("the provider `gitlab`");
    let host = spec
        .config
        .iter()
        .position(|p| p.key == "host")
        .expect("the `host` config param");
    let url = spec.base_url.as_ref().expect("proxy.base_url");
    let alternatives = url
        .alternatives
        .as_ref()
        .unwrap_or_else(|| panic!("no compiled alternatives: {url:?}"));
    let mut contexts = Vec::new();
    for alternative in alternatives.iter() {
        let UrlBase::Fixed { host: parts, .. } = &alternative.base else {
            panic!("not a fixed scheme and host: {url:?}");
        };
        for part in parts.iter() {
            match part {
                TemplatePart::Param {
                    section: Section::ConnectionConfig,
                    index,
                    context,
                    ..
                } if *index == host => contexts.push(*context),
                other => panic!("not the `host` param in the host: {other:?}"),
            }
        }
    }
    match contexts[..] {
        [context] => context,
        _ => panic!("not one host context: {contexts:?} in {url:?}"),
    }
}

#[test]
fn patterns_with_a_port_or_a_path_make_a_self_hosted_host() {
    // Patterns of the real catalog (jira-data-center, looker, acumatica, chatgpt-enterprise).
    for (pattern, example) in [
        (
            r"^[a-zA-Z0-9.-]+(:\d+)?(/[a-zA-Z0-9._~-]+)*/?$",
            "jira.example.com",
        ),
        (r"^[a-zA-Z0-9.-]+(:[0-9]+)?$", "looker.example.com"),
        (
            r"^[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._-]+)*$",
            "acme.example.com",
        ),
        (
            r"^[a-zA-Z0-9.-]+\/scim\/.+$",
            "api.workos.com/scim/v2.0/acme",
        ),
    ] {
        assert_eq!(
            context_of(pattern, example),
            Context::Authority,
            "{pattern}"
        );
    }
}

#[test]
fn host_name_patterns_stay_host_names() {
    for (pattern, example) in [
        (r"^[a-z0-9-]+(\.[a-z0-9-]+)*$", "git.example.com"),
        (
            r"^api(?:\.[a-z0-9-]+)*\.crowdstrike\.(?:com|mil)$",
            "api.crowdstrike.com",
        ),
        // An example with a path that its own pattern rejects does not widen the context.
        (r"^[a-z.]+$", "git.example.com/x"),
    ] {
        assert_eq!(context_of(pattern, example), Context::Hostname, "{pattern}");
    }
}

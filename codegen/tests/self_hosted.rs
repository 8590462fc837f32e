//! A host template whose param's pattern allows `host[:port][/path]` (a self-hosted server)
//! renders it in the runtime's `Authority` context (port and base path kept, the host still
//! checked after parsing); a param whose pattern allows a host name only stays a `Hostname`.

use std::path::Path;

use terapi_codegen::{Options, generate};

fn catalog(pattern: &str, example: &str) -> String {
    format!(
        "gitlab:
    display_name: GitLab
    auth_mode: API_KEY
    docs: https://gitlab.example/docs
    proxy:
        base_url: https://${{connectionConfig.host}}/api/v4
        headers:
            private-token: ${{apiKey}}
    connection_config:
        host:
            type: string
            title: Host
            description: Your server.
            pattern: '{pattern}'
            example: '{example}'
    credentials:
        apiKey:
            type: string
            title: Token
            description: The token.
"
    )
}

fn context_of(pattern: &str, example: &str) -> &'static str {
    let code = generate(
        Path::new("p.yaml"),
        &catalog(pattern, example),
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .code;
    if code.contains("render::Context::Authority") {
        "Authority"
    } else if code.contains("render::Context::Hostname") {
        "Hostname"
    } else {
        panic!("no host context in:\n{code}")
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
        assert_eq!(context_of(pattern, example), "Authority", "{pattern}");
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
        assert_eq!(context_of(pattern, example), "Hostname", "{pattern}");
    }
}

//! `terapi schema`: the JSON Schema derived from the reader's own model accepts the
//! real catalog and this repository's, and rejects typos — checked with a real JSON Schema
//! validator (the `jsonschema` crate).

use std::path::Path;

use crate::common::Entry;

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&terapi_codegen::model::catalog_schema())
        .expect("the schema is a valid draft-07 schema")
}

fn as_json(yaml: &str) -> serde_json::Value {
    serde_saphyr::from_str(yaml).expect("valid YAML")
}

fn errors(yaml: &str) -> Vec<String> {
    validator()
        .iter_errors(&as_json(yaml))
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
#[ignore = "slow tier: reads the real catalog in ../shared/corpus"]
fn accepts_the_real_catalog() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/providers-2026-08-21.yaml");
    let corpus = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the real catalog is expected at {}: {e}", path.display()));
    assert_eq!(errors(&corpus), Vec::<String>::new());
    let ours =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers.yaml"))
            .unwrap();
    assert_eq!(errors(&ours), Vec::<String>::new());
}

/// This repository's catalog (the real one is in the slow tier, above).
#[test]
fn accepts_this_repositorys_catalog() {
    let ours =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../providers.yaml"))
            .unwrap();
    assert_eq!(errors(&ours), Vec::<String>::new());
}

#[test]
fn rejects_typos_and_wrong_types() {
    let base = &Entry::new("acme")
        .auth_mode("API_KEY")
        .docs("https://acme.example")
        .yaml();
    assert_eq!(errors(base), Vec::<String>::new());
    let typo = errors(&format!("{base}    conection_config: {{}}\n"));
    assert_eq!(typo.len(), 1, "{typo:?}");
    assert!(typo[0].contains("conection_config"), "{typo:?}");
    let mode = errors(&base.replace("API_KEY", "OAUTH2CC"));
    assert!(
        mode.iter().any(|e| e.starts_with("/acme/auth_mode")),
        "{mode:?}"
    );
    let param = errors(&format!(
        "{base}    connection_config:\n        x:\n            type: string\n            patern: a\n"
    ));
    assert!(param.iter().any(|e| e.contains("patern")), "{param:?}");
    let proxy = errors(&format!("{base}    proxy:\n        headers: {{}}\n"));
    assert!(
        proxy.iter().any(|e| e.contains("base_url")),
        "a proxy without base_url: {proxy:?}"
    );
    let key = errors("Acme_Corp:\n    docs: x\n");
    assert!(!key.is_empty(), "provider keys are lowercase");
}

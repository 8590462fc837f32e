//! The generator's fast tests, in one test binary (each file under `tests/` is a binary that
//! links the generator and its dependencies; one binary links once). The tests that run cargo
//! or read the real corpora are their own binaries: `corpus.rs`, `downstream.rs`,
//! `robustness.rs`; `cli.rs` tests the command line.
//!
//! Catalogs are built with [`common::Entry`] or kept as files under `fixtures/`; a location
//! asserted in a test is found in the text with [`common::at`].

mod common;

mod client;
mod diagnostics;
mod frontend;
mod integrations;
mod rules;
mod schema;
mod self_hosted;
mod templates;

/// The locator the tests rely on.
#[test]
fn at_counts_characters_from_one_and_refuses_a_needle_that_is_not_unique() {
    let text = common::Entry::api_key("acme")
        .header("x-a", "'Grüße ${b}'")
        .yaml();
    assert_eq!(common::at(&text, "acme:"), (1, 1));
    assert_eq!(common::at(&text, "auth_mode: ‸API_KEY"), (3, 16));
    // `            x-a: 'Grüße ` is 24 characters (26 bytes).
    assert_eq!(common::at(&text, "${b}"), (8, 25));
    assert_eq!(
        &text[common::offset_of(&text, "Grüße ‸${b}")..][..4],
        "${b}"
    );
    for needle in ["acme", "not there"] {
        let found = std::panic::catch_unwind(|| common::at(&text, needle));
        assert!(found.is_err(), "{needle:?} was accepted");
    }
}

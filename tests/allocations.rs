//! Heap allocations on the validation happy path, counted with dhat (one test in its own
//! binary, because the counting allocator is process-wide).

use serde_json::json;
#[allow(unused_imports)]
use terapi_providers::{Params as _, TypedProvider as _};
use terapi_providers::{personio, personio_recruiting};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations_of(f: impl Fn()) -> u64 {
    f(); // warm up: patterns compile on first use
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..10 {
        f();
    }
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn validating_valid_params_allocates_nothing_and_invalid_params_are_still_reported() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let config = json!({
        "companyId": "33434", "company": "company-b", "partnerId": "ACME", "appId": "MY_APPLICATION"
    });
    let credentials = json!({ "apiKey": "papi-secret" });
    let v1 = json!({ "partnerId": "ACME" });
    let v1_credentials = json!({ "client_id": "id", "client_secret": "secret" });

    let valid = allocations_of(|| {
        personio_recruiting::ConnectionConfig::validate_json(&config).expect("valid");
        personio_recruiting::Credentials::validate_json(&credentials).expect("valid");
        personio::ConnectionConfig::validate_json(&v1).expect("valid");
        personio::Credentials::validate_json(&v1_credentials).expect("valid");
    });
    assert_eq!(valid, 0, "validate_json allocated on valid input");

    // Building the typed values allocates their strings: the count is what that costs.
    let building = allocations_of(|| {
        personio_recruiting::ConnectionConfig::from_json(&config).expect("valid");
    });
    assert!(building > 0);

    // The allocation-free path still finds every problem.
    let bad =
        json!({ "companyId": "33x", "company": "evil.com/", "partnerId": "acme", "extra": 1 });
    let errors = personio_recruiting::ConnectionConfig::validate_json(&bad).unwrap_err();
    let params: Vec<&str> = errors.iter().map(|e| e.param()).collect();
    assert_eq!(params, ["companyId", "company", "partnerId", "extra"]);
}

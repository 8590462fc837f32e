//! Generated from `hostile.yaml`: keywords, leading digits, std names and malicious
//! descriptions. That this crate builds, passes clippy and rustdoc with `-D warnings` and runs
//! no doctest from a description is the test.
#![forbid(unsafe_code)]

::terapi_runtime::include_providers!("hostile.rs");

#[cfg(test)]
mod tests {
    use super::*;
    use ::terapi_runtime::{Params as _, TypedProvider as _};
    use serde_json::json;

    #[test]
    fn keyword_and_digit_names_are_usable() {
        assert_eq!(Provider::ALL.len(), 13);
        assert_eq!("type".parse::<Provider>(), Ok(Provider::Type));
        assert_eq!("self".parse::<Provider>(), Ok(Provider::Self_));
        assert_eq!("1password".parse::<Provider>(), Ok(Provider::P1password));
        assert_eq!(Provider::P3cx.auth_mode(), ::terapi_runtime::AuthMode::None);
        assert_eq!(
            &*type_::Marker::spec().display_name,
            "\"); std::process::exit(1); (\""
        );
        assert_eq!(_3cx::Marker::key(), "3cx");
        assert_eq!(core::Marker::key(), "core");
        assert_eq!(str::Marker::key(), "str");
        assert_eq!(terapi_runtime::Marker::key(), "terapi-runtime");
    }

    #[test]
    fn keyword_params_validate_and_render() {
        let config = type_::ConnectionConfig::from_json(&json!({
            "type": "t", "self": "abc", "match": "m/1", "a.b": "ab", "x-y": "plain", "größe": "XL"
        }))
        .unwrap();
        assert_eq!(config.type_, "t");
        assert_eq!(config.self_, "abc");
        assert_eq!(config.match_.as_deref(), Some("m/1"));
        assert_eq!(config.a_b, "ab");
        assert_eq!(config.x_y, "plain");
        assert_eq!(config.gr_e.as_deref(), Some("XL"));
        let url = type_::Marker::base_url(&config).unwrap();
        assert_eq!(url.as_str(), "https://abc.example.com/m%2F1");
        let credentials = type_::Credentials::from_json(&json!({ "apiKey": "k" })).unwrap();
        let headers = type_::Marker::proxy_headers(&config, &credentials).unwrap();
        assert_eq!(headers.get("x-a-b"), Some("pre ab post"));
        let err = type_::ConnectionConfig::from_json(
            &json!({"type": "t", "self": "ABC", "a.b": "x", "x-y": "nope"}),
        )
        .unwrap_err();
        let params: Vec<&str> = err.iter().map(|e| e.param()).collect();
        assert_eq!(params, ["self", "x-y"]);
    }
}

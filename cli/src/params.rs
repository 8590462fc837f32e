//! `KEY=VALUE` params, and secrets read from the environment or a prompt without echo, never
//! from where other local users could see them unless the user insists.

use std::io::IsTerminal as _;

use serde_json::{Map, Value};

use crate::fail::Failure;

/// `KEY=VALUE` items as pairs, in order; `what` names the flag in errors.
pub fn pairs(items: &[String], what: &str) -> Result<Vec<(String, String)>, Failure> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(Failure::usage(format!(
                "--{what} `{}`: expected KEY=VALUE",
                item.escape_default()
            ))),
        })
        .collect()
}

/// `--config` items as a JSON object of strings.
pub fn config(items: &[String]) -> Result<Value, Failure> {
    object(pairs(items, "config")?, "config")
}

/// `--credential` items as a JSON object: `KEY=VALUE` as given, `KEY` from its environment
/// variable or a prompt.
pub fn credentials(items: &[String]) -> Result<Value, Failure> {
    let mut pairs = Vec::with_capacity(items.len());
    for item in items {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => {
                let value =
                    read_secret(&format!("credential `{item}`"), &credential_env(item), item)?;
                (item.clone(), value)
            }
        };
        if key.is_empty() {
            return Err(Failure::usage("--credential: a KEY is empty"));
        }
        pairs.push((key, value));
    }
    object(pairs, "credential")
}

fn object(pairs: Vec<(String, String)>, what: &str) -> Result<Value, Failure> {
    let mut map = Map::new();
    for (key, value) in pairs {
        if map.contains_key(&key) {
            return Err(Failure::usage(format!(
                "--{what}: `{}` is given twice",
                key.escape_default()
            )));
        }
        map.insert(key, Value::String(value));
    }
    Ok(Value::Object(map))
}

/// `TERAPI_CREDENTIAL_` and the key in UPPER_SNAKE_CASE (`apiKey` → `API_KEY`).
pub fn credential_env(key: &str) -> String {
    format!("TERAPI_CREDENTIAL_{}", upper_snake(key))
}

/// `apiKey` → `API_KEY`, `client-secret` → `CLIENT_SECRET`, `OAuthToken` → `O_AUTH_TOKEN`.
fn upper_snake(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 && !out.is_empty() && !out.ends_with('_') {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out.trim_end_matches('_').to_owned()
}

/// A secret from the environment variable `env`, else a prompt without echo on a terminal,
/// else an error naming the variable. `what` names it in messages, `prompt` in the prompt.
pub fn read_secret(what: &str, env: &str, prompt: &str) -> Result<String, Failure> {
    if let Some(value) = std::env::var_os(env) {
        return value.into_string().map_err(|_| {
            Failure::usage(format!(
                "{what}: the environment variable `{env}` is not UTF-8"
            ))
        });
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("{prompt}: "))
            .map_err(|e| Failure::usage(format!("{what}: cannot read it from the terminal: {e}")));
    }
    Err(Failure::usage(format!(
        "{what}: no value: set the environment variable `{env}` (or run on a terminal to be asked)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(credential_env("apiKey"), "TERAPI_CREDENTIAL_API_KEY");
        assert_eq!(
            credential_env("client_secret"),
            "TERAPI_CREDENTIAL_CLIENT_SECRET"
        );
        assert_eq!(
            credential_env("client-secret"),
            "TERAPI_CREDENTIAL_CLIENT_SECRET"
        );
        assert_eq!(
            credential_env("OAuthToken"),
            "TERAPI_CREDENTIAL_O_AUTH_TOKEN"
        );
        assert_eq!(credential_env("APIKey"), "TERAPI_CREDENTIAL_API_KEY");
        assert_eq!(credential_env("key2Value"), "TERAPI_CREDENTIAL_KEY2_VALUE");
        assert_eq!(credential_env("token"), "TERAPI_CREDENTIAL_TOKEN");
    }

    #[test]
    fn pairs_and_objects() {
        let items = ["a=1".to_owned(), "b=x=y".to_owned(), "c=".to_owned()];
        assert_eq!(
            config(&items).unwrap(),
            serde_json::json!({"a": "1", "b": "x=y", "c": ""})
        );
        assert!(config(&["a".to_owned()]).is_err());
        assert!(config(&["=1".to_owned()]).is_err());
        assert!(config(&["a=1".to_owned(), "a=2".to_owned()]).is_err());
    }
}

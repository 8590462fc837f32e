//! Validation of a JSON object of params against a provider's declared params.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::error::{ValidationError, ValidationErrorKind, ValidationErrors, closest};
use crate::rules;
use crate::secret::Secret;

pub use crate::section::Section;

/// A regex from providers.yaml, compiled on first use. The generator has already translated
/// it from ECMAScript and compiled it with the same engine, so compilation does not fail at
/// run time; if it ever did, every value is reported as not matching instead of the process
/// panicking.
pub struct Pattern {
    regex: Text,
    written: Text,
    backtracking: bool,
    compiled: OnceLock<Option<Compiled>>,
}

/// Text of a provider's description: borrowed from a generated `static`, or owned when the
/// description was loaded from a catalog at run time.
pub type Text = Cow<'static, str>;

/// A list of a provider's description, borrowed or owned like [`Text`].
pub type List<T> = Cow<'static, [T]>;

/// A pattern compiled on its engine.
enum Compiled {
    Plain(Regex),
    Backtracking(fancy_regex::Regex),
}

impl Pattern {
    /// A pattern in the `regex` crate's syntax (searched in the value, like ECMAScript's
    /// `test`).
    pub const fn new(regex: &'static str) -> Self {
        Pattern::translated(regex, regex)
    }

    /// A pattern translated from the catalog's ECMAScript `written` into `regex`.
    pub const fn translated(regex: &'static str, written: &'static str) -> Self {
        Pattern {
            regex: Cow::Borrowed(regex),
            written: Cow::Borrowed(written),
            backtracking: false,
            compiled: OnceLock::new(),
        }
    }

    /// A pattern with lookaround or backreferences, translated from the catalog's ECMAScript
    /// `written` into `regex` for the backtracking engine (`fancy-regex`). A value on which
    /// that engine hits its backtracking limit counts as not matching.
    pub const fn backtracking(regex: &'static str, written: &'static str) -> Self {
        Pattern {
            regex: Cow::Borrowed(regex),
            written: Cow::Borrowed(written),
            backtracking: true,
            compiled: OnceLock::new(),
        }
    }

    /// A pattern of a catalog loaded at run time: `regex` is the translation of `written` for
    /// the `regex` crate, or for `fancy-regex` when `backtracking`.
    pub fn owned(regex: String, written: String, backtracking: bool) -> Self {
        Pattern {
            regex: Cow::Owned(regex),
            written: Cow::Owned(written),
            backtracking,
            compiled: OnceLock::new(),
        }
    }

    /// The pattern as written in providers.yaml.
    pub fn source(&self) -> &str {
        &self.written
    }

    /// The translation that runs.
    pub fn regex(&self) -> &str {
        &self.regex
    }

    /// Whether it runs on the backtracking engine.
    pub fn is_backtracking(&self) -> bool {
        self.backtracking
    }

    /// Whether the pattern is found in `value`.
    pub fn is_match(&self, value: &str) -> bool {
        let compiled = self.compiled.get_or_init(|| {
            if self.backtracking {
                fancy_regex::Regex::new(&self.regex)
                    .ok()
                    .map(Compiled::Backtracking)
            } else {
                Regex::new(&self.regex).ok().map(Compiled::Plain)
            }
        });
        match compiled {
            Some(Compiled::Plain(re)) => re.is_match(value),
            Some(Compiled::Backtracking(re)) => re.is_match(value).unwrap_or(false),
            None => false,
        }
    }
}

/// A clone compiles again on first use.
impl Clone for Pattern {
    fn clone(&self) -> Self {
        Pattern {
            regex: self.regex.clone(),
            written: self.written.clone(),
            backtracking: self.backtracking,
            compiled: OnceLock::new(),
        }
    }
}

/// Patterns are equal when they are written the same and run the same.
impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.regex == other.regex
            && self.written == other.written
            && self.backtracking == other.backtracking
    }
}

impl Eq for Pattern {}

/// The pattern as written, then what runs when that differs.
/// A pattern travels as `[written, regex, backtracking]`.
impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&*self.written, &*self.regex, self.backtracking).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (written, regex, backtracking) = <(String, String, bool)>::deserialize(d)?;
        Ok(Pattern::owned(regex, written, backtracking))
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("Pattern");
        t.field(&self.written);
        if self.regex != self.written || self.backtracking {
            t.field(&self.regex);
        }
        if self.backtracking {
            t.field(&"backtracking");
        }
        t.finish()
    }
}

/// The check a param's value must pass besides being a non-empty string.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
// Rules live in statics (and in loaded descriptions) and are not moved; a `Box` would keep
// the compiled pattern out of a `static`.
#[allow(clippy::large_enum_variant)]
pub enum Rule {
    /// Any string.
    Any,
    /// The param's `pattern`.
    Pattern(Pattern),
    /// UPPER_SNAKE_CASE (see [`rules::is_upper_snake_case`]).
    UpperSnakeCase,
}

/// One declared param, as generated from providers.yaml: its check, and the text and hints a
/// connect form shows (`title` to `automated`, as the catalog writes them). Of a definition's
/// keys, `type` (always `string`), `warnings` and `visible_when` are not kept: the last two
/// describe integration settings, and no connection param or credential of any catalog
/// uses them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParamSpec {
    /// The key as written in providers.yaml, e.g. `partnerId`.
    pub key: Text,
    /// Whether the param may be absent; an empty string or `null` counts as absent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Whether the value is a secret: never shown in errors, kept in a [`Secret`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// The check on the value.
    pub rule: Rule,
    /// The allowed values (`enum` in providers.yaml); empty for any value.
    #[serde(default, skip_serializing_if = "<[Text]>::is_empty")]
    pub one_of: List<Text>,
    /// The label of the param's input (`title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Text>,
    /// The help text under the input (`description`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// The input's placeholder (`example`); often masked (`sk_****`) and not always matching
    /// the pattern, so it is shown, never checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Text>,
    /// The kind of value the input takes (`format`: `hostname`, `uri`, `uuid` or `email`),
    /// for the input's type and a check in the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Text>,
    /// Text shown before the input (`prefix`, e.g. `https://`); display only, not part of
    /// the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Text>,
    /// Text shown after the input (`suffix`, e.g. `.zendesk.com`); display only, not part of
    /// the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<Text>,
    /// The value the input starts with (`default_value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Text>,
    /// The anchor of the section about this param in the provider's connect guide
    /// (`doc_section`, e.g. `#step-1-finding-your-api-key`), appended to
    /// [`ProviderSpec::docs_connect`](crate::spec::ProviderSpec::docs_connect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_section: Option<Text>,
    /// Where the input goes among the form's inputs (`order`); catalog order when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// Whether the input is hidden (`hidden`): its value is the default value.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// Whether the platform fills the param rather than the user (`automated`): a form does
    /// not ask for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automated: bool,
}

impl ParamSpec {
    fn check(&self, section: Section, value: &str, errors: &mut Vec<ValidationError>) {
        let shown = || (!self.secret).then(|| value.to_owned());
        let kind = match &self.rule {
            Rule::Pattern(p) if !p.is_match(value) => Some(ValidationErrorKind::Pattern {
                pattern: p.source().to_owned(),
                value: shown(),
            }),
            Rule::UpperSnakeCase if !rules::is_upper_snake_case(value) => {
                Some(ValidationErrorKind::UpperSnakeCase { value: shown() })
            }
            _ => None,
        };
        errors.extend(kind.map(|k| ValidationError::new(section, &*self.key, k)));
        if !self.one_of.is_empty() && !self.one_of.iter().any(|a| a == value) {
            let kind = ValidationErrorKind::NotOneOf {
                allowed: self.one_of.iter().map(|a| a.to_string()).collect(),
                value: shown(),
            };
            errors.push(ValidationError::new(section, &*self.key, kind));
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The validated values of one input, by the index of their [`ParamSpec`]. Generated
/// `from_json` functions build their struct from it.
#[derive(Debug)]
pub struct Fields<'a> {
    values: Vec<Option<&'a str>>,
}

impl<'a> Fields<'a> {
    /// Checks `input` against `specs`: every problem is collected (missing, empty, not a
    /// string, rule broken, unknown param) and returned at once.
    pub fn read(
        section: Section,
        specs: &[ParamSpec],
        input: &'a Value,
    ) -> Result<Self, ValidationErrors> {
        let mut values = Vec::with_capacity(specs.len());
        scan(section, specs, input, |v| values.push(v))?;
        Ok(Fields { values })
    }

    /// The same checks as [`Fields::read`], keeping nothing: for validating input without
    /// building the typed value. It allocates nothing when the input is valid (after a
    /// pattern's first use, which compiles it).
    pub fn validate(
        section: Section,
        specs: &[ParamSpec],
        input: &'a Value,
    ) -> Result<(), ValidationErrors> {
        scan(section, specs, input, |_| {})
    }

    fn get(&self, index: usize) -> Option<&'a str> {
        self.values.get(index).copied().flatten()
    }

    /// The value of a required param (validated as present by [`Fields::read`]).
    pub fn required(&self, index: usize) -> String {
        self.get(index).unwrap_or_default().to_owned()
    }

    /// The value of an optional param; `None` when absent, `null` or empty.
    pub fn optional(&self, index: usize) -> Option<String> {
        self.get(index).map(str::to_owned)
    }

    /// The value of a required secret param.
    pub fn required_secret(&self, index: usize) -> Secret {
        Secret::new(self.get(index).unwrap_or_default())
    }

    /// The value of an optional secret param.
    pub fn optional_secret(&self, index: usize) -> Option<Secret> {
        self.get(index).map(Secret::new)
    }
}

/// The checks of [`Fields::read`]: `value` gets each spec's value in order (`None` when
/// absent or invalid); the errors are returned together.
fn scan<'a>(
    section: Section,
    specs: &[ParamSpec],
    input: &'a Value,
    mut value_of: impl FnMut(Option<&'a str>),
) -> Result<(), ValidationErrors> {
    let Value::Object(map) = input else {
        let kind = ValidationErrorKind::NotAnObject {
            found: json_kind(input),
        };
        let error = ValidationError::new(section, section.as_str(), kind);
        return Err(ValidationErrors::from_vec(vec![error]).expect("one error"));
    };
    let mut errors = Vec::new();
    for spec in specs {
        let value = match map.get(&*spec.key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => {
                if !spec.optional {
                    errors.push(ValidationError::new(
                        section,
                        &*spec.key,
                        ValidationErrorKind::Empty,
                    ));
                }
                value_of(None);
                continue;
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                let kind = ValidationErrorKind::NotAString {
                    found: json_kind(other),
                };
                errors.push(ValidationError::new(section, &*spec.key, kind));
                value_of(None);
                continue;
            }
        };
        match value {
            Some(v) => spec.check(section, v, &mut errors),
            None if !spec.optional => errors.push(ValidationError::new(
                section,
                &*spec.key,
                ValidationErrorKind::Missing,
            )),
            None => {}
        }
        value_of(value);
    }
    // Unknown params, sorted whatever the map's order (serde_json keeps input order when
    // some crate in the build turns on its `preserve_order` feature). No allocation when
    // there are none.
    if map.len() > specs.iter().filter(|s| map.contains_key(&*s.key)).count() {
        let mut unknown: Vec<&String> = map
            .keys()
            .filter(|k| !specs.iter().any(|s| s.key == k.as_str()))
            .collect();
        unknown.sort();
        for key in unknown {
            let suggestion = closest(key, specs.iter().map(|s| &*s.key)).map(str::to_owned);
            let kind = ValidationErrorKind::UnknownParam { suggestion };
            errors.push(ValidationError::new(section, key.as_str(), kind));
        }
    }
    match ValidationErrors::from_vec(errors) {
        Some(errors) => Err(errors),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A param without form text.
    const fn spec(
        key: &'static str,
        optional: bool,
        secret: bool,
        rule: Rule,
        one_of: &'static [Text],
    ) -> ParamSpec {
        ParamSpec {
            key: Cow::Borrowed(key),
            optional,
            secret,
            rule,
            one_of: Cow::Borrowed(one_of),
            title: None,
            description: None,
            example: None,
            format: None,
            prefix: None,
            suffix: None,
            default_value: None,
            doc_section: None,
            order: None,
            hidden: false,
            automated: false,
        }
    }

    static SPECS: [ParamSpec; 4] = [
        spec(
            "companyId",
            false,
            false,
            Rule::Pattern(Pattern::new("^[0-9]+$")),
            &[],
        ),
        spec("partnerId", true, false, Rule::UpperSnakeCase, &[]),
        spec(
            "apiKey",
            false,
            true,
            Rule::Pattern(Pattern::new("^papi-")),
            &[],
        ),
        spec(
            "language",
            true,
            false,
            Rule::Any,
            &[Cow::Borrowed("de"), Cow::Borrowed("en")],
        ),
    ];

    fn errors(input: Value) -> Vec<String> {
        Fields::read(Section::ConnectionConfig, &SPECS, &input)
            .unwrap_err()
            .iter()
            .map(|e| format!("{}|{e}", e.param()))
            .collect()
    }

    #[test]
    fn accepts_valid_input() {
        let input =
            json!({"companyId": "123", "partnerId": "ACME", "apiKey": "papi-x", "language": "de"});
        let f = Fields::read(Section::ConnectionConfig, &SPECS, &input).unwrap();
        assert_eq!(f.required(0), "123");
        assert_eq!(f.optional(1).as_deref(), Some("ACME"));
        assert_eq!(f.required_secret(2).expose(), "papi-x");
        assert_eq!(f.optional(3).as_deref(), Some("de"));
    }

    #[test]
    fn optional_empty_and_null_are_absent() {
        let input =
            json!({"companyId": "1", "partnerId": "", "apiKey": "papi-x", "language": null});
        let f = Fields::read(Section::ConnectionConfig, &SPECS, &input).unwrap();
        assert_eq!(f.optional(1), None);
        assert_eq!(f.optional(3), None);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let got = errors(
            json!({"companyId": "", "partnerId": "my_app", "apiKey": 5, "langauge": "x", "language": "fr"}),
        );
        assert_eq!(
            got,
            [
                "companyId|connection_config param `companyId`: required param is empty",
                "partnerId|connection_config param `partnerId`: value \"my_app\" is not UPPER_SNAKE_CASE (an uppercase letter, then uppercase letters and digits, words joined by single underscores, at most 64 characters; e.g. MY_APPLICATION)",
                "apiKey|connection_config param `apiKey`: must be a string, got a number",
                "language|connection_config param `language`: value \"fr\" is not one of `de`, `en`",
                "langauge|connection_config param `langauge`: unknown param (did you mean `language`?)",
            ]
        );
    }

    #[test]
    fn missing_and_not_an_object() {
        assert_eq!(
            errors(json!({})),
            [
                "companyId|connection_config param `companyId`: required param is missing",
                "apiKey|connection_config param `apiKey`: required param is missing",
            ]
        );
        assert_eq!(
            errors(json!([1])),
            ["connection_config|connection_config: expected a JSON object of params, got an array"]
        );
    }

    #[test]
    fn secret_values_never_in_messages() {
        let got = errors(json!({"companyId": "abc", "apiKey": "sk-live-123"}));
        assert_eq!(
            got,
            [
                "companyId|connection_config param `companyId`: value \"abc\" does not match the pattern `^[0-9]+$`",
                "apiKey|connection_config param `apiKey`: the secret value (not shown) does not match the pattern `^papi-`",
            ]
        );
        assert!(!got.join("").contains("sk-live"));
    }

    #[test]
    fn validate_agrees_with_read() {
        for input in [
            json!({"companyId": "123", "partnerId": "ACME", "apiKey": "papi-x", "language": "de"}),
            json!({"companyId": "", "partnerId": "my_app", "apiKey": 5, "langauge": "x"}),
            json!({}),
            json!([1]),
        ] {
            let read = Fields::read(Section::Credentials, &SPECS, &input).map(|_| ());
            let validate = Fields::validate(Section::Credentials, &SPECS, &input);
            assert_eq!(read, validate, "{input}");
        }
    }

    #[test]
    fn pattern_that_cannot_compile_never_matches() {
        let p = Pattern::new("(");
        assert!(!p.is_match("("));
    }

    #[test]
    fn form_text_round_trips_and_stays_out_of_json_when_absent() {
        let bare = &SPECS[1];
        let json = serde_json::to_value(bare).unwrap();
        assert_eq!(
            json,
            json!({"key": "partnerId", "optional": true, "rule": "UpperSnakeCase"})
        );
        let mut documented = SPECS[0].clone();
        documented.title = Some("Company ID".into());
        documented.description = Some("The numeric id; \"quoted\", \u{e4}, and a\nnewline.".into());
        documented.example = Some("33434".into());
        documented.format = Some("uuid".into());
        documented.prefix = Some("https://".into());
        documented.suffix = Some(".example.com".into());
        documented.default_value = Some("1".into());
        documented.doc_section = Some("#step-1".into());
        documented.order = Some(-3);
        documented.hidden = true;
        documented.automated = true;
        let json = serde_json::to_string(&documented).unwrap();
        let back: ParamSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, documented);
        assert_eq!(back.title.as_deref(), Some("Company ID"));
        assert_eq!(back.order, Some(-3));
        assert!(back.hidden && back.automated);
        // Every field travels under its catalog name.
        let value: Value = serde_json::from_str(&json).unwrap();
        for key in [
            "title",
            "description",
            "example",
            "format",
            "prefix",
            "suffix",
            "default_value",
            "doc_section",
            "order",
            "hidden",
            "automated",
        ] {
            assert!(value.get(key).is_some(), "{key} in {json}");
        }
        // A description written before these fields existed still reads.
        let old: ParamSpec = serde_json::from_str(r#"{"key":"x","rule":"Any"}"#).unwrap();
        assert_eq!(old.title, None);
        assert!(!old.hidden && !old.automated);
    }
}

//! Typed reading of the located YAML tree: [`FromNode`], implemented by the model types.
//!
//! Every problem is recorded as a located [`Diagnostic`] and reading goes on, so one run
//! reports all unknown keys and wrong types of a file. An optional value that failed to read
//! is left out (`None`) so that the rest is still checked, like a compiler that recovers
//! after an error; any error makes generation fail.

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::rules::{Levels, Rule};
use crate::yaml::{Loc, Node, NodeKind};

/// Collects diagnostics while reading, at the levels in force.
#[derive(Debug, Default)]
pub struct Cx {
    /// What was found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// The rules' levels.
    pub levels: Levels,
}

impl Cx {
    /// A context that applies `levels`.
    pub fn new(levels: Levels) -> Self {
        Cx {
            diagnostics: Vec::new(),
            levels,
        }
    }

    /// Records a finding (dropped when its rule is allowed).
    pub fn push(&mut self, d: Diagnostic) {
        if let Some(d) = d.leveled(&self.levels) {
            self.diagnostics.push(d);
        }
    }

    /// Reports a node of the wrong kind.
    pub fn expected(&mut self, node: &Node, what: &str) {
        self.push(Diagnostic::new(
            Rule::WrongType,
            node.loc,
            format!("expected {what}, found {}", node.describe()),
        ));
    }

    /// Reports every key of `entries` that is not in `known`, with a "did you mean".
    pub fn unknown_keys(&mut self, entries: &[(Node, Node)], known: &[&str], context: &str) {
        for (key, _) in entries {
            match key.as_str() {
                Some(k) if known.contains(&k) => {}
                Some(k) => {
                    let suggestion = closest(k, known.iter().copied());
                    self.push(
                        Diagnostic::new(
                            Rule::UnknownKey,
                            key.loc,
                            format!("unknown key `{k}` in {context}"),
                        )
                        .with_suggestion(suggestion),
                    );
                }
                None => self.expected(key, "a string key"),
            }
        }
    }
}

pub use crate::suggest::closest;

/// A type read from a located YAML node.
pub trait FromNode: Sized {
    /// What the YAML should hold, for messages ("a string", "a mapping", ...).
    const EXPECTED: &'static str;

    /// Reads the node, recording problems in `cx`; `None` when it could not be read.
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self>;

    /// The JSON Schema of what this type reads, derived from the same definitions as the
    /// reader (`terapi schema`).
    fn schema() -> serde_json::Value;
}

/// A value with the location it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub loc: Loc,
}

impl<T> std::ops::Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: FromNode> FromNode for Located<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        T::from_node(node, cx).map(|value| Located {
            value,
            loc: node.loc,
        })
    }
    fn schema() -> serde_json::Value {
        T::schema()
    }
}

/// `FromNode` for a scalar type read from one node kind.
macro_rules! scalar_from_node {
    ($($ty:ty => $expected:literal, $json:literal, $pattern:pat => $value:expr;)*) => {$(
        impl FromNode for $ty {
            const EXPECTED: &'static str = $expected;
            fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
                match &node.kind {
                    $pattern => Some($value),
                    _ => {
                        cx.expected(node, Self::EXPECTED);
                        None
                    }
                }
            }
            fn schema() -> serde_json::Value {
                serde_json::json!({ "type": $json })
            }
        }
    )*};
}

scalar_from_node! {
    String => "a string", "string", NodeKind::Str(s) => s.clone();
    bool => "`true` or `false`", "boolean", NodeKind::Bool(b) => *b;
    i64 => "an integer", "integer", NodeKind::Int(i) => *i;
}

/// A string that older catalogs write as a number (`error_code: 403`): read as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LooseString(pub String);

impl FromNode for LooseString {
    const EXPECTED: &'static str = "a string";
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        let text = match &node.kind {
            NodeKind::Str(s) => return Some(LooseString(s.clone())),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            _ => {
                cx.expected(node, Self::EXPECTED);
                return None;
            }
        };
        cx.push(Diagnostic::new(
            Rule::LegacySpelling,
            node.loc,
            format!("the number {text} is read as the string `'{text}'`"),
        ));
        Some(LooseString(text))
    }
    fn schema() -> serde_json::Value {
        serde_json::json!({ "type": ["string", "number"] })
    }
}

/// An integer that some entries write as a quoted string (`lifetimeInSeconds: '315360000'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LooseInt(pub i64);

impl FromNode for LooseInt {
    const EXPECTED: &'static str = "an integer";
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        match &node.kind {
            NodeKind::Int(i) => Some(LooseInt(*i)),
            NodeKind::Str(s) if s.parse::<i64>().is_ok() => s.parse().ok().map(LooseInt),
            _ => {
                cx.expected(node, "an integer (or a quoted one)");
                None
            }
        }
    }
    fn schema() -> serde_json::Value {
        serde_json::json!({ "anyOf": [{ "type": "integer" }, { "type": "string", "pattern": "^-?[0-9]+$" }] })
    }
}

/// Any YAML value, kept as it is: the format's loosely typed maps (`token_params`,
/// `proxy.body`, `verification.data`, ...).
impl FromNode for Node {
    const EXPECTED: &'static str = "any value";
    fn from_node(node: &Node, _cx: &mut Cx) -> Option<Self> {
        Some(node.clone())
    }
    fn schema() -> serde_json::Value {
        serde_json::json!({})
    }
}

impl<T: FromNode> FromNode for Vec<T> {
    const EXPECTED: &'static str = "a sequence";
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        let NodeKind::Seq(items) = &node.kind else {
            cx.expected(node, &format!("a sequence of {}", T::EXPECTED));
            return None;
        };
        let read: Vec<Option<T>> = items.iter().map(|n| T::from_node(n, cx)).collect();
        read.into_iter().collect()
    }
    fn schema() -> serde_json::Value {
        serde_json::json!({ "type": "array", "items": T::schema() })
    }
}

/// A value that older versions of the format wrote as a single item and newer ones as a
/// sequence (`retry.at`, `retry.after`).
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T: FromNode> FromNode for OneOrMany<T> {
    const EXPECTED: &'static str = "a value or a sequence of them";
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        match node.kind {
            NodeKind::Seq(_) => Vec::from_node(node, cx).map(OneOrMany),
            _ => {
                let one = T::from_node(node, cx)?;
                cx.push(Diagnostic::new(
                    Rule::LegacySpelling,
                    node.loc,
                    "a single value where a list is expected is read as a list of one",
                ));
                Some(OneOrMany(vec![one]))
            }
        }
    }
    fn schema() -> serde_json::Value {
        serde_json::json!({ "anyOf": [T::schema(), { "type": "array", "items": T::schema() }] })
    }
}

/// A mapping with string keys, in file order, each key with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Map<T> {
    /// The entries by key.
    pub entries: IndexMap<String, Entry<T>>,
}

/// One entry of a [`Map`].
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    /// Where the key was written.
    pub key_loc: Loc,
    /// The value.
    pub value: T,
}

impl<T> Default for Map<T> {
    fn default() -> Self {
        Map {
            entries: IndexMap::new(),
        }
    }
}

impl<T> Map<T> {
    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.entries.get(key).map(|e| &e.value)
    }

    /// The entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Entry<T>)> {
        self.entries.iter()
    }
}

impl<T: FromNode> FromNode for Map<T> {
    const EXPECTED: &'static str = "a mapping";
    fn from_node(node: &Node, cx: &mut Cx) -> Option<Self> {
        let NodeKind::Map(items) = &node.kind else {
            cx.expected(node, Self::EXPECTED);
            return None;
        };
        let mut ok = true;
        let mut entries = IndexMap::new();
        for (k, v) in items {
            let key = match &k.kind {
                NodeKind::Str(s) => s.clone(),
                // Numbers and booleans as keys are read as their text, as YAML loaders do.
                NodeKind::Int(i) => i.to_string(),
                NodeKind::Bool(b) => b.to_string(),
                _ => {
                    cx.expected(k, "a string key");
                    ok = false;
                    continue;
                }
            };
            match T::from_node(v, cx) {
                Some(value) => {
                    entries.insert(
                        key,
                        Entry {
                            key_loc: k.loc,
                            value,
                        },
                    );
                }
                None => ok = false,
            }
        }
        ok.then_some(Map { entries })
    }
    fn schema() -> serde_json::Value {
        serde_json::json!({ "type": "object", "additionalProperties": T::schema() })
    }
}

/// A field of a mapping as read.
#[derive(Debug)]
pub enum Field<T> {
    /// The key is absent.
    Missing,
    /// The value could not be read (already reported).
    Invalid,
    /// The value.
    Present(T),
}

impl<T> Field<T> {
    /// The value, if present and valid.
    pub fn ok(self) -> Option<T> {
        match self {
            Field::Present(v) => Some(v),
            _ => None,
        }
    }
}

/// Reads the field `key` of a mapping. An empty value (`categories:` with nothing after
/// it) is read as absent, as the platform's loader treats it.
pub fn field<T: FromNode>(entries: &[(Node, Node)], key: &str, cx: &mut Cx) -> Field<T> {
    match entries.iter().find(|(k, _)| k.as_str() == Some(key)) {
        None => Field::Missing,
        Some((_, v)) if v.kind == NodeKind::Null => {
            cx.push(Diagnostic::new(
                Rule::LegacySpelling,
                v.loc,
                format!("`{key}` has an empty value: it is read as absent"),
            ));
            Field::Missing
        }
        Some((_, v)) => T::from_node(v, cx).map_or(Field::Invalid, Field::Present),
    }
}

/// Defines a model struct read from a YAML mapping: its fields (`Option` unless marked
/// `req`), the keys they are read from, and a [`FromNode`] impl that reports unknown keys
/// with a "did you mean", missing required keys and wrong types, all of them.
macro_rules! model_struct {
    ($(
        $(#[doc = $doc:literal])*
        pub struct $name:ident ($context:literal) {
            $( $(#[doc = $fdoc:literal])* $($req:ident)? $key:literal => $field:ident : $ty:ty, )*
        }
    )*) => {$(
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[doc = $fdoc])* pub $field: $crate::lower::model_struct!(@ty $($req)? $ty), )*
            /// Where the mapping starts.
            pub loc: $crate::yaml::Loc,
            /// Optional keys whose values could not be read (reported already; the field is
            /// `None`), so that later checks do not report them again as missing.
            pub invalid_keys: ::std::vec::Vec<&'static str>,
        }

        impl $name {
            /// The keys this mapping may have.
            pub const KEYS: &'static [&'static str] = &[$($key),*];
        }

        impl $crate::lower::FromNode for $name {
            const EXPECTED: &'static str = "a mapping";

            fn from_node(node: &$crate::yaml::Node, cx: &mut $crate::lower::Cx) -> Option<Self> {
                let Some(entries) = node.as_map() else {
                    cx.expected(node, concat!("a mapping (", $context, ")"));
                    return None;
                };
                cx.unknown_keys(entries, Self::KEYS, $context);
                #[allow(unused_mut)] // structs without required keys never clear it
                let mut ok = true;
                let mut invalid_keys = ::std::vec::Vec::new();
                $(
                    let $field = $crate::lower::field::<$ty>(entries, $key, cx);
                    $crate::lower::model_struct!(@check $($req)? ok, invalid_keys, $field, node, cx, $key, $context);
                )*
                if !ok {
                    return None;
                }
                Some($name {
                    $( $field: $crate::lower::model_struct!(@take $($req)? $field), )*
                    loc: node.loc,
                    invalid_keys,
                })
            }

            fn schema() -> serde_json::Value {
                let mut properties = serde_json::Map::new();
                #[allow(unused_mut)] // structs without required keys never push
                let mut required: ::std::vec::Vec<&str> = ::std::vec::Vec::new();
                $(
                    let mut field = <$ty as $crate::lower::FromNode>::schema();
                    let doc: &[&str] = &[$($fdoc),*];
                    if let Some(obj) = field.as_object_mut() {
                        obj.insert("description".into(), doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ").into());
                    }
                    properties.insert($key.into(), field);
                    $crate::lower::model_struct!(@required $($req)? required, $key);
                )*
                let doc: &[&str] = &[$($doc),*];
                serde_json::json!({
                    "type": "object",
                    "description": doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "),
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                })
            }
        }
    )*};
    (@ty req $ty:ty) => { $ty };
    (@ty $ty:ty) => { ::core::option::Option<$ty> };
    (@check req $ok:ident, $invalid:ident, $field:ident, $node:ident, $cx:ident, $key:literal, $context:literal) => {
        match &$field {
            $crate::lower::Field::Invalid => $ok = false,
            $crate::lower::Field::Missing => {
                $ok = false;
                $cx.push($crate::diagnostic::Diagnostic::new(
                    $crate::rules::Rule::MissingKey,
                    $node.loc,
                    concat!("missing required key `", $key, "` in ", $context),
                ));
            }
            $crate::lower::Field::Present(_) => {}
        }
    };
    (@check $ok:ident, $invalid:ident, $field:ident, $node:ident, $cx:ident, $key:literal, $context:literal) => {
        // An optional value that could not be read is left out, so that the checks of the
        // rest of the mapping still run; generation fails on the error already reported.
        if matches!($field, $crate::lower::Field::Invalid) {
            $invalid.push($key);
        }
    };
    (@required req $required:ident, $key:literal) => { $required.push($key); };
    (@required $required:ident, $key:literal) => {};
    (@take req $field:ident) => { $field.ok()? };
    (@take $field:ident) => { $field.ok() };
}
pub(crate) use model_struct;

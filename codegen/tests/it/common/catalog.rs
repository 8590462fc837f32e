//! Test catalogs, built instead of copied: an [`Entry`] renders one provider entry as YAML text
//! with 4-space indentation like the real providers.yaml, and [`catalog`] joins entries into a
//! file. The text is deterministic, so a test that asserts a location finds it in the text
//! with [`at`] instead of counting lines and columns by hand.
//!
//! ```text
//! let yaml = Entry::api_key("acme")
//!     .base_url("https://${connectionConfig.tenant}.acme.example")
//!     .yaml();
//! // acme:
//! //     display_name: Acme
//! //     auth_mode: API_KEY
//! //     docs: https://acme.example/docs
//! //     proxy:
//! //         base_url: https://${connectionConfig.tenant}.acme.example
//! //     credentials:
//! //         apiKey:
//! //             type: string
//! //             title: API Key
//! //             description: The key.
//! assert_eq!(at(&yaml, "${connectionConfig.tenant}"), (6, 27));
//! assert_eq!(at(&yaml, "auth_mode: ‸API_KEY"), (3, 16));
//! ```
//!
//! Catalogs whose text is the point of a test (broken YAML, odd indentation) stay written
//! out; catalogs that several tests share are files under `tests/fixtures/`.
#![allow(dead_code)] // each test module uses some of it

use std::fmt::Write as _;

/// One param of `connection_config` or `credentials`: `type: string`, a title and a
/// description (the key and "The KEY." unless set), then the other fields in the order given.
#[derive(Clone, Debug)]
pub struct Param {
    key: String,
    ty: Option<String>,
    title: Option<String>,
    description: Option<String>,
    more: Vec<String>,
}

impl Param {
    pub fn new(key: &str) -> Self {
        Param {
            key: key.to_owned(),
            ty: Some("string".to_owned()),
            title: Some(key.to_owned()),
            description: Some(format!("The {key}.")),
            more: Vec::new(),
        }
    }

    /// `apiKey` as most API_KEY entries declare it: title `API Key`, description `The key.`.
    pub fn api_key() -> Self {
        Param::new("apiKey")
            .title("API Key")
            .description("The key.")
    }

    /// The value of `type:` as written (`int`, `number`, ...).
    pub fn ty(mut self, ty: &str) -> Self {
        self.ty = Some(ty.to_owned());
        self
    }

    pub fn title(mut self, title: &str) -> Self {
        self.title = Some(title.to_owned());
        self
    }

    /// The value of `description:` as written (quote it in the argument when YAML needs it).
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_owned());
        self
    }

    /// `pattern: 'PATTERN'` (single-quoted).
    pub fn pattern(self, pattern: &str) -> Self {
        self.field("pattern", &format!("'{pattern}'"))
    }

    /// `example: VALUE`, as written.
    pub fn example(self, example: &str) -> Self {
        self.field("example", example)
    }

    pub fn optional(self) -> Self {
        self.field("optional", "true")
    }

    pub fn secret(self, secret: bool) -> Self {
        self.field("secret", if secret { "true" } else { "false" })
    }

    /// Any other `name: value` line, after the ones before it.
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.more.push(format!("{name}: {value}"));
        self
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "        {}:", self.key);
        let lines = [
            self.ty.as_ref().map(|t| format!("type: {t}")),
            self.title.as_ref().map(|t| format!("title: {t}")),
            self.description
                .as_ref()
                .map(|d| format!("description: {d}")),
        ];
        for line in lines.into_iter().flatten().chain(self.more.iter().cloned()) {
            let _ = writeln!(out, "            {line}");
        }
    }
}

/// One provider entry. Rendered in this order: the key; `display_name`, `auth_mode` and
/// `docs` (each unless left out); the lines added with [`Entry::field`] and [`Entry::raw`];
/// `proxy` (`base_url`, `headers`, `query`, then [`Entry::proxy_raw`]); `connection_config`;
/// `credentials`; the lines added with [`Entry::tail`].
#[derive(Clone, Debug)]
pub struct Entry {
    key: String,
    display_name: Option<String>,
    auth_mode: Option<String>,
    docs: Option<String>,
    top: Vec<String>,
    base_url: Option<String>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    proxy_raw: Vec<String>,
    config: Vec<Param>,
    credentials: Vec<Param>,
    tail: Vec<String>,
}

impl Entry {
    /// `key` with display name `Key` (first letter upper-cased), docs at
    /// `https://KEY.example/docs`, and nothing else.
    pub fn new(key: &str) -> Self {
        let mut chars = key.chars();
        let display_name = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        Entry {
            key: key.to_owned(),
            display_name: Some(display_name),
            auth_mode: None,
            docs: Some(format!("https://{key}.example/docs")),
            top: Vec::new(),
            base_url: None,
            headers: Vec::new(),
            query: Vec::new(),
            proxy_raw: Vec::new(),
            config: Vec::new(),
            credentials: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// The usual API_KEY entry: base URL `https://api.KEY.example` and the credential
    /// [`Param::api_key`].
    pub fn api_key(key: &str) -> Self {
        Entry::new(key)
            .auth_mode("API_KEY")
            .base_url(&format!("https://api.{key}.example"))
            .credential(Param::api_key())
    }

    pub fn display_name(mut self, name: &str) -> Self {
        self.display_name = Some(name.to_owned());
        self
    }

    pub fn no_display_name(mut self) -> Self {
        self.display_name = None;
        self
    }

    pub fn auth_mode(mut self, mode: &str) -> Self {
        self.auth_mode = Some(mode.to_owned());
        self
    }

    pub fn no_auth_mode(mut self) -> Self {
        self.auth_mode = None;
        self
    }

    pub fn docs(mut self, url: &str) -> Self {
        self.docs = Some(url.to_owned());
        self
    }

    pub fn no_docs(mut self) -> Self {
        self.docs = None;
        self
    }

    /// A `name: value` line of the entry, after `docs` and the lines added before it.
    pub fn field(self, name: &str, value: &str) -> Self {
        self.raw(&format!("{name}: {value}"))
    }

    /// Lines of the entry written as they stand at its level (indented by 4 here), after
    /// `docs` and the lines added before them.
    pub fn raw(mut self, lines: &str) -> Self {
        self.top.extend(lines.lines().map(str::to_owned));
        self
    }

    /// Lines of the entry (indented by 4 here) after `credentials`.
    pub fn tail(mut self, lines: &str) -> Self {
        self.tail.extend(lines.lines().map(str::to_owned));
        self
    }

    pub fn base_url(mut self, url: &str) -> Self {
        self.base_url = Some(url.to_owned());
        self
    }

    pub fn no_base_url(mut self) -> Self {
        self.base_url = None;
        self
    }

    /// A line `name: value` under `proxy.headers`, as written.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A line `name: value` under `proxy.query`, as written.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Lines of `proxy` written as they stand at its level (indented by 8 here), after
    /// `base_url`, `headers` and `query`.
    pub fn proxy_raw(mut self, lines: &str) -> Self {
        self.proxy_raw.extend(lines.lines().map(str::to_owned));
        self
    }

    /// A param of `connection_config`.
    pub fn config(mut self, param: Param) -> Self {
        self.config.push(param);
        self
    }

    /// A param of `credentials`.
    pub fn credential(mut self, param: Param) -> Self {
        self.credentials.push(param);
        self
    }

    /// Drops every credential (for example the one [`Entry::api_key`] declares).
    pub fn no_credentials(mut self) -> Self {
        self.credentials.clear();
        self
    }

    /// The YAML text of the entry.
    pub fn yaml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}:", self.key);
        let head = [
            self.display_name
                .as_ref()
                .map(|n| format!("display_name: {n}")),
            self.auth_mode.as_ref().map(|m| format!("auth_mode: {m}")),
            self.docs.as_ref().map(|d| format!("docs: {d}")),
        ];
        for line in head.into_iter().flatten().chain(self.top.iter().cloned()) {
            let _ = writeln!(out, "    {line}");
        }
        let has_proxy = self.base_url.is_some()
            || !self.headers.is_empty()
            || !self.query.is_empty()
            || !self.proxy_raw.is_empty();
        if has_proxy {
            out.push_str("    proxy:\n");
            if let Some(url) = &self.base_url {
                let _ = writeln!(out, "        base_url: {url}");
            }
            for (block, pairs) in [("headers", &self.headers), ("query", &self.query)] {
                if !pairs.is_empty() {
                    let _ = writeln!(out, "        {block}:");
                    for (name, value) in pairs {
                        let _ = writeln!(out, "            {name}: {value}");
                    }
                }
            }
            for line in &self.proxy_raw {
                let _ = writeln!(out, "        {line}");
            }
        }
        for (block, params) in [
            ("connection_config", &self.config),
            ("credentials", &self.credentials),
        ] {
            if !params.is_empty() {
                let _ = writeln!(out, "    {block}:");
                for p in params {
                    p.render(&mut out);
                }
            }
        }
        for line in &self.tail {
            let _ = writeln!(out, "    {line}");
        }
        out
    }
}

/// The entries as one catalog, a blank line between two entries.
pub fn catalog(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(Entry::yaml)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The marker of [`at`]: where in the needle the position is.
pub const HERE: char = '‸';

/// The line and column (1-based; columns count characters) in `text` of the one occurrence
/// of `needle`, at its `‸` if it has one, else at its start. Panics unless `needle` (without
/// the marker) occurs exactly once, so that a test never points at the wrong place silently.
pub fn at(text: &str, needle: &str) -> (u32, u32) {
    let offset = offset_of(text, needle);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line as u32, col as u32)
}

/// The byte offset in `text` of what [`at`] finds.
pub fn offset_of(text: &str, needle: &str) -> usize {
    let (plain, shift) = match needle.find(HERE) {
        Some(i) => (needle.replacen(HERE, "", 1), i),
        None => (needle.to_owned(), 0),
    };
    let found: Vec<usize> = text.match_indices(&plain).map(|(i, _)| i).collect();
    match found[..] {
        [start] => start + shift,
        [] => panic!("{plain:?} is not in:\n{text}"),
        _ => panic!(
            "{plain:?} occurs {} times in the text below; make the needle longer:\n{text}",
            found.len()
        ),
    }
}

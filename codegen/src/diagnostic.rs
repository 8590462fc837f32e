//! Located diagnostics, rendered like a compiler's:
//! `FILE:LINE:COL: error: message`, then the offending line with a caret.

use std::fmt;
use std::path::Path;

use annotate_snippets::{AnnotationKind, Renderer, Snippet};

use crate::loc::Loc;
use crate::rules::{Level, Levels, Rule};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Information (a rule at level `note`).
    Note,
    /// Reported; generation goes on.
    Warning,
    /// Generation fails.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding at one place in providers.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule that found it.
    pub rule: Rule,
    /// Error, warning or note: the rule's level in force.
    pub severity: Severity,
    /// Where.
    pub loc: Loc,
    /// What is wrong, in one line.
    pub message: String,
    /// A label at the caret: what to do, or a "did you mean".
    pub help: Option<String>,
    /// Related places (e.g. where a colliding name was first used).
    pub notes: Vec<(Loc, String)>,
    /// The catalog it is in, when generation read several (`None`: the one being read).
    pub file: Option<std::path::PathBuf>,
    /// The provider it belongs to (`None`: the file as a whole).
    pub provider: Option<String>,
}

impl Diagnostic {
    /// A finding of `rule` at `loc`, with the rule's default level in a current catalog
    /// (the stage that collects it applies the levels in force: [`Diagnostic::leveled`]).
    pub fn new(rule: Rule, loc: Loc, message: impl Into<String>) -> Self {
        let severity = match rule.info().level {
            Level::Deny => Severity::Error,
            Level::Warn => Severity::Warning,
            Level::Note | Level::Allow => Severity::Note,
        };
        Diagnostic {
            rule,
            severity,
            loc,
            message: message.into(),
            help: None,
            notes: Vec::new(),
            file: None,
            provider: None,
        }
    }

    /// This finding with the severity that `levels` give its rule; `None` when the rule is
    /// allowed.
    pub fn leveled(mut self, levels: &Levels) -> Option<Self> {
        self.severity = match levels.of(self.rule) {
            Level::Allow => return None,
            Level::Note => Severity::Note,
            Level::Warn => Severity::Warning,
            Level::Deny => Severity::Error,
        };
        Some(self)
    }

    /// Adds a label at the caret.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a "did you mean" label when there is a suggestion.
    pub fn with_suggestion(self, suggestion: Option<&str>) -> Self {
        match suggestion {
            Some(s) => self.with_help(format!("did you mean `{s}`?")),
            None => self,
        }
    }

    /// Adds a related place.
    pub fn with_note(mut self, loc: Loc, note: impl Into<String>) -> Self {
        self.notes.push((loc, note.into()));
        self
    }

    /// The one-line form: `FILE:LINE:COL: error[code]: message`.
    pub fn headline(&self, path: &Path) -> String {
        let path = self.file.as_deref().unwrap_or(path);
        format!(
            "{}:{}:{}: {}[{}]: {}",
            path.display(),
            self.loc.line,
            self.loc.col,
            self.severity,
            self.rule,
            self.message
        )
    }

    /// The full form: the headline, the offending line with a caret, help and notes.
    pub fn render(&self, path: &Path, source: &str, color: bool) -> String {
        let mut out = self.headline(path);
        out.push('\n');
        let level = match self.severity {
            Severity::Error => annotate_snippets::Level::ERROR,
            Severity::Warning => annotate_snippets::Level::WARNING,
            Severity::Note => annotate_snippets::Level::NOTE,
        };
        // Only the lines the spans stand on are handed to the renderer, so that rendering
        // costs the size of the snippet, not of the file.
        let (start, first_line, window) = window(source, self.loc, &self.notes);
        // YAML counts a lone `\r` as a line break; so must the snippet (same byte length).
        let normalized;
        let window = if window.contains('\r') {
            normalized = lone_cr_as_lf(window);
            normalized.as_str()
        } else {
            window
        };
        let within = |loc: Loc| Loc {
            offset: loc.offset.saturating_sub(start),
            ..loc
        };
        let span = span_of(window, within(self.loc));
        let label = self.help.clone().unwrap_or_default();
        let path_text = path.display().to_string();
        let mut snippet = Snippet::source(window)
            .line_start(first_line)
            .path(path_text.as_str())
            .annotation(AnnotationKind::Primary.span(span).label(label.as_str()));
        for (loc, note) in &self.notes {
            snippet = snippet.annotation(
                AnnotationKind::Context
                    .span(span_of(window, within(*loc)))
                    .label(note.as_str()),
            );
        }
        let report = &[level.primary_title(self.message.as_str()).element(snippet)];
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let rendered = renderer.render(report).to_string();
        // The renderer's own title line repeats the headline; keep the snippet below it.
        out.extend(rendered.lines().skip(1).map(|l| format!("{l}\n")));
        out
    }
}

/// The lines of `source` that `primary` and `notes` stand on: the window's byte offset, the
/// line number of its first line, and its text.
fn window<'s>(source: &'s str, primary: Loc, notes: &[(Loc, String)]) -> (usize, usize, &'s str) {
    let boundary = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let locs = std::iter::once(primary).chain(notes.iter().map(|(l, _)| *l));
    let first = locs.clone().min_by_key(|l| l.offset).unwrap_or(primary);
    let lo = boundary(first.offset);
    let hi = boundary(
        locs.map(|l| l.offset.saturating_add(l.len.max(1)))
            .max()
            .unwrap_or(lo),
    )
    .max(lo);
    let start = source[..lo].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let end = source[hi..]
        .find(['\n', '\r'])
        .map_or(source.len(), |i| hi + i);
    (start, first.line.max(1) as usize, &source[start..end])
}

/// `source` with each `\r` that is not followed by `\n` replaced by `\n`.
fn lone_cr_as_lf(source: &str) -> String {
    let bytes = source.as_bytes();
    source
        .char_indices()
        .map(|(i, c)| {
            if c == '\r' && bytes.get(i + 1) != Some(&b'\n') {
                '\n'
            } else {
                c
            }
        })
        .collect()
}

/// A byte range inside `source` for `loc`: the node's own span, at least one character,
/// clamped to the source and to char boundaries.
fn span_of(source: &str, loc: Loc) -> std::ops::Range<usize> {
    let mut start = loc.offset.min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let mut end = (start + loc.len.max(1)).min(line_end.max(start));
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end.max(start)
}

/// The diagnostics of one run over one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// All of them, sorted by position (then message) so output is stable.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.items.iter().collect();
        v.sort_by(|a, b| Self::order(a, b));
        v.dedup();
        v
    }

    fn order(a: &Diagnostic, b: &Diagnostic) -> std::cmp::Ordering {
        (a.loc.offset, a.loc.line, a.loc.col, &a.message).cmp(&(
            b.loc.offset,
            b.loc.line,
            b.loc.col,
            &b.message,
        ))
    }

    /// Sorts by position and drops exact duplicates (two passes may find the same problem,
    /// e.g. a broken template that is both checked and compiled).
    pub fn normalize(&mut self) {
        self.items.sort_by(Self::order);
        self.items.dedup();
    }

    /// Drops the warnings.
    pub fn retain_errors(&mut self) {
        self.items.retain(|d| d.severity == Severity::Error);
    }

    /// Whether any is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// How many errors and warnings (notes are not counted).
    pub fn counts(&self) -> (usize, usize) {
        let count = |s: Severity| self.items.iter().filter(|d| d.severity == s).count();
        (count(Severity::Error), count(Severity::Warning))
    }

    /// How many notes.
    pub fn notes(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Note)
            .count()
    }

    /// The diagnostics in their current order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Moves the diagnostics of `other` in.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_deep_lines_with_their_numbers_from_a_window() {
        let source: String = (1..=1000).map(|i| format!("k{i}: v{i}\n")).collect();
        let line = 700;
        let offset = source.find("k700:").unwrap();
        let primary = Loc {
            line,
            col: 1,
            offset,
            len: 4,
        };
        let note_offset = source.find("k3:").unwrap();
        let note = Loc {
            line: 3,
            col: 1,
            offset: note_offset,
            len: 2,
        };
        let d = Diagnostic::new(Rule::UnknownKey, primary, "unknown key `k700`")
            .with_note(note, "first here");
        let text = d.render(Path::new("p.yaml"), &source, false);
        assert!(text.contains("700 | k700: v700"), "{text}");
        assert!(text.contains("  3 | k3: v3"), "{text}");
        let (start, first, window) = window(&source, primary, &[]);
        assert_eq!((start, first, window), (offset, 700, "k700: v700"));
    }
}

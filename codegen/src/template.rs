//! The template language of providers.yaml strings: `${connectionConfig.x}`,
//! `${credentials.x}`, bare variables such as `${apiKey}`, function calls such as
//! `${base64(...)}` (nesting allowed), and the `A || B` fallback where a context allows it.
//! Every piece keeps its byte offset in the string, so problems are reported at their column.

/// A parsed template: one alternative, or two for `A || B`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The alternatives, tried in order.
    pub alternatives: Vec<Vec<Piece>>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Lit {
        /// The text.
        text: String,
        /// Byte offset in the template string.
        offset: usize,
    },
    /// A `${...}` placeholder.
    Expr {
        /// What it refers to.
        expr: Expr,
        /// Byte offset of `$` in the template string.
        offset: usize,
        /// Byte length up to and including `}`.
        len: usize,
    },
}

/// What a placeholder refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `${connectionConfig.<key>}`.
    ConnectionConfig(String),
    /// `${credentials.<key>}`.
    Credential(String),
    /// A bare variable: `${apiKey}`, `${accessToken}`, `${now:X}`, `${step1.token}`, ...
    Var(String),
    /// `${now}`, `${now:FORMAT}`, `${now+N:UNIT:FORMAT}`.
    Now {
        /// Seconds added to the current time.
        offset_seconds: i64,
        /// The day.js format; `None` for ISO 8601.
        format: Option<String>,
    },
    /// A function call: `${base64(...)}`.
    Call {
        /// The function name.
        name: String,
        /// The arguments, each a template.
        args: Vec<Vec<Piece>>,
    },
}

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// Byte length of the offending text.
    pub len: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses `text`. With `allow_fallback`, a top-level `||` outside placeholders separates
/// two alternatives (surrounding spaces trimmed), as in URL, header and query templates.
pub fn parse(text: &str, allow_fallback: bool) -> Result<Template, TemplateError> {
    let mut alternatives = Vec::new();
    let mut start = 0;
    if allow_fallback {
        for (i, _) in top_level_matches(text, "||") {
            alternatives.push(trimmed(text, start, i)?);
            start = i + 2;
        }
    }
    alternatives.push(if alternatives.is_empty() {
        parse_pieces(text, 0, 0)?
    } else {
        trimmed(text, start, text.len())?
    });
    if alternatives.len() > 2 {
        let second = top_level_matches(text, "||").nth(1).map_or(0, |(i, _)| i);
        return Err(TemplateError {
            offset: second,
            len: 2,
            message: "a template may have one `||` fallback, not more".into(),
        });
    }
    Ok(Template { alternatives })
}

fn trimmed(text: &str, start: usize, end: usize) -> Result<Vec<Piece>, TemplateError> {
    let part = &text[start..end];
    let lead = part.len() - part.trim_start().len();
    parse_pieces(part.trim(), start + lead, 0)
}

/// Positions of `needle` in `text` outside of `${...}` placeholders.
fn top_level_matches<'a>(
    text: &'a str,
    needle: &'a str,
) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            if bytes[i..].starts_with(b"${") {
                depth += 1;
                i += 2;
            } else if bytes[i] == b'}' && depth > 0 {
                depth -= 1;
                i += 1;
            } else if depth == 0 && bytes[i..].starts_with(needle.as_bytes()) {
                let at = i;
                i += needle.len();
                return Some((at, needle));
            } else {
                i += 1;
            }
        }
        None
    })
}

/// How deep function calls may nest (`${f(${g(...)})}` is two). Real templates nest two or
/// three deep; the bound keeps the recursive parser, and every later stage that walks the
/// arguments, off the end of the stack.
pub const MAX_CALL_NESTING: usize = 16;

/// Splits `text` (which starts at `base` in the whole template, inside `depth` calls) into
/// pieces.
fn parse_pieces(text: &str, base: usize, depth: usize) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if !bytes[i..].starts_with(b"${") {
            i += 1;
            continue;
        }
        let end = closing_brace(text, i).ok_or_else(|| TemplateError {
            offset: base + i,
            len: 2,
            message: "unclosed `${`: a placeholder ends with `}`".into(),
        })?;
        if lit_start < i {
            pieces.push(Piece::Lit {
                text: text[lit_start..i].to_owned(),
                offset: base + lit_start,
            });
        }
        let inner = &text[i + 2..end];
        let expr = parse_expr(inner, base + i + 2, depth).map_err(|mut e| {
            if e.len == 0 {
                e.offset = base + i;
                e.len = end + 1 - i;
            }
            e
        })?;
        pieces.push(Piece::Expr {
            expr,
            offset: base + i,
            len: end + 1 - i,
        });
        i = end + 1;
        lit_start = i;
    }
    if lit_start < text.len() {
        pieces.push(Piece::Lit {
            text: text[lit_start..].to_owned(),
            offset: base + lit_start,
        });
    }
    Ok(pieces)
}

/// The index of the `}` that closes the `${` at `open`, counting nested `${`.
fn closing_brace(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"${") {
            depth += 1;
            i += 2;
            continue;
        }
        if bytes[i] == b'}' {
            // `depth` is at least 1 here: the scan starts at the `${` of `open`.
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_expr(inner: &str, base: usize, depth: usize) -> Result<Expr, TemplateError> {
    let err = |message: String| TemplateError {
        offset: base,
        len: 0,
        message,
    };
    if inner.trim().is_empty() {
        return Err(err("empty placeholder `${}`".into()));
    }
    if let Some(open) = inner.find('(')
        && is_name(&inner[..open])
    {
        if !inner.ends_with(')') {
            return Err(err(format!(
                "function call `{}(` is not closed by `)`",
                &inner[..open]
            )));
        }
        if depth >= MAX_CALL_NESTING {
            return Err(TemplateError {
                offset: base,
                len: open + 1,
                message: format!(
                    "function calls nest more than {MAX_CALL_NESTING} deep here; \
                     a template may nest at most {MAX_CALL_NESTING} calls"
                ),
            });
        }
        let args_text = &inner[open + 1..inner.len() - 1];
        let args_base = base + open + 1;
        let name = &inner[..open];
        // The platform splits the message functions at their last comma only (the message
        // may hold commas); the others at every comma outside placeholders.
        let mut cuts: Vec<usize> = top_level_matches(args_text, ",").map(|(i, _)| i).collect();
        if terapi_model::render::Func::from_name(name).is_some_and(|f| f.splits_at_last_comma()) {
            cuts = cuts.pop().into_iter().collect();
        }
        let mut args = Vec::new();
        if !args_text.trim().is_empty() {
            let mut start = 0;
            for end in cuts.into_iter().chain([args_text.len()]) {
                let raw = &args_text[start..end];
                let lead = raw.len() - raw.trim_start().len();
                args.push(parse_pieces(
                    raw.trim(),
                    args_base + start + lead,
                    depth + 1,
                )?);
                start = end + 1;
            }
        }
        return Ok(Expr::Call {
            name: inner[..open].to_owned(),
            args,
        });
    }
    let key_ok =
        |k: &str| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || "_.-".contains(c));
    type Prefixed = (&'static str, fn(String) -> Expr, &'static str);
    let prefixed: [Prefixed; 2] = [
        (
            "connectionConfig.",
            Expr::ConnectionConfig,
            "connection config",
        ),
        ("credentials.", Expr::Credential, "credentials"),
    ];
    for (prefix, make, what) in prefixed {
        if let Some(key) = inner.strip_prefix(prefix) {
            return if key_ok(key) {
                Ok(make(key.to_owned()))
            } else {
                Err(err(format!("`{inner}` is not a valid {what} reference")))
            };
        }
    }
    if inner == "now"
        || inner.starts_with("now:")
        || inner.starts_with("now+")
        || inner.starts_with("now-")
    {
        return parse_now(inner).map_err(err);
    }
    let first_ok = inner.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if first_ok
        && inner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-+:".contains(c))
    {
        return Ok(Expr::Var(inner.to_owned()));
    }
    Err(err(format!(
        "`${{{inner}}}` is not a placeholder the template language has"
    )))
}

/// The largest `now±N` offset, in seconds: 10,000 years of 365.2425 days. Farther than that
/// from any present time there is no date to write (the runtime's dates end with year 9999).
pub const MAX_NOW_OFFSET_SECONDS: i64 = 315_569_520_000;

/// `now`, `now:FORMAT`, `now+N:UNIT` or `now+N:UNIT:FORMAT` (also `-N`): exactly one sign,
/// then decimal digits only; `N` times the unit's seconds must stay within
/// [`MAX_NOW_OFFSET_SECONDS`].
fn parse_now(inner: &str) -> Result<Expr, String> {
    let rest = inner.strip_prefix("now").unwrap_or(inner);
    let (offset_seconds, format) = if let Some(format) = rest.strip_prefix(':') {
        (0, Some(format))
    } else if rest.is_empty() {
        (0, None)
    } else {
        let (negative, sign, rest) = if let Some(rest) = rest.strip_prefix('+') {
            (false, '+', rest)
        } else if let Some(rest) = rest.strip_prefix('-') {
            (true, '-', rest)
        } else {
            return Err(format!(
                "`${{{inner}}}`: `now` is followed by `:FORMAT`, `+N:UNIT` or `-N:UNIT`"
            ));
        };
        let mut fields = rest.splitn(3, ':');
        let digits = fields.next().unwrap_or_default();
        if digits.starts_with(['+', '-']) {
            return Err(format!(
                "`${{{inner}}}`: one sign only: `now{sign}` is followed by digits, as in \
                 `now+1:minutes` or `now-5:minutes`"
            ));
        }
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`${{{inner}}}`: `now{sign}` takes a whole number of digits only, as in \
                 `now+1:minutes`"
            ));
        }
        let unit = fields.next().unwrap_or_default();
        let unit_seconds = terapi_model::now::unit_seconds(unit).ok_or_else(|| {
            format!("`${{{inner}}}`: unknown time unit `{unit}` (use seconds, minutes, hours, days or weeks)")
        })?;
        let seconds = digits
            .parse::<i64>()
            .ok()
            .and_then(|amount| amount.checked_mul(unit_seconds))
            .filter(|s| *s <= MAX_NOW_OFFSET_SECONDS)
            .ok_or_else(|| {
                format!(
                    "`${{{inner}}}`: the offset is too large: `now{sign}N:{unit}` may reach at \
                     most {MAX_NOW_OFFSET_SECONDS} seconds (10,000 years)"
                )
            })?;
        // `seconds` is in 0..=MAX_NOW_OFFSET_SECONDS, so its negation cannot overflow.
        (if negative { -seconds } else { seconds }, fields.next())
    };
    if let Some(f) = format {
        terapi_model::now::parse_format(f).map_err(|e| format!("`${{{inner}}}`: {e}"))?;
    }
    Ok(Expr::Now {
        offset_seconds,
        format: format.map(str::to_owned),
    })
}

/// Every placeholder of a template, nested ones included, in order.
pub fn exprs(pieces: &[Piece]) -> Vec<(&Expr, usize, usize)> {
    let mut out = Vec::new();
    for p in pieces {
        if let Piece::Expr { expr, offset, len } = p {
            out.push((expr, *offset, *len));
            if let Expr::Call { args, .. } = expr {
                for a in args {
                    out.extend(exprs(a));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str, offset: usize) -> Piece {
        Piece::Lit {
            text: text.into(),
            offset,
        }
    }

    #[test]
    fn parses_params_with_offsets() {
        let t = parse("Bearer ${apiKey}", true).unwrap();
        assert_eq!(
            t.alternatives,
            vec![vec![
                lit("Bearer ", 0),
                Piece::Expr {
                    expr: Expr::Var("apiKey".into()),
                    offset: 7,
                    len: 9
                }
            ]]
        );
        let t = parse(
            "https://${connectionConfig.company}.jobs.personio.de",
            false,
        )
        .unwrap();
        assert_eq!(
            t.alternatives[0],
            vec![
                lit("https://", 0),
                Piece::Expr {
                    expr: Expr::ConnectionConfig("company".into()),
                    offset: 8,
                    len: 27
                },
                lit(".jobs.personio.de", 35),
            ]
        );
    }

    #[test]
    fn parses_nested_calls_and_fallbacks() {
        let t = parse(
            "Basic ${base64(${credentials.username}:${credentials.password})}",
            true,
        )
        .unwrap();
        let all = exprs(&t.alternatives[0]);
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].0, &Expr::Credential("username".into()));
        assert_eq!(all[1].1, 15);
        let t = parse(
            "https://${connectionConfig.host}/x || https://default.example/x",
            true,
        )
        .unwrap();
        assert_eq!(t.alternatives.len(), 2);
        assert_eq!(
            t.alternatives[1],
            vec![lit("https://default.example/x", 38)]
        );
        let t = parse("${connectionConfig.a}||${connectionConfig.b}", false).unwrap();
        assert_eq!(t.alternatives.len(), 1);
    }

    #[test]
    fn parses_now_forms_and_function_arguments() {
        let t = parse("${now:YYYYMMDDTHHmmss[Z]} ${now} ${now+1:minutes:X}", true).unwrap();
        let all = exprs(&t.alternatives[0]);
        assert_eq!(
            all[0].0,
            &Expr::Now {
                offset_seconds: 0,
                format: Some("YYYYMMDDTHHmmss[Z]".into())
            }
        );
        assert_eq!(
            all[1].0,
            &Expr::Now {
                offset_seconds: 0,
                format: None
            }
        );
        assert_eq!(
            all[2].0,
            &Expr::Now {
                offset_seconds: 60,
                format: Some("X".into())
            }
        );
        assert!(
            parse("${now+1:months:X}", true)
                .unwrap_err()
                .message
                .contains("months")
        );
        let t = parse(
            "${awsSigV4(${credentials.a}, ${credentials.b}, us-east-1, iam)}",
            true,
        )
        .unwrap();
        let Expr::Call { args, .. } = exprs(&t.alternatives[0])[0].0 else {
            panic!()
        };
        assert_eq!(args.len(), 4);
        assert_eq!(
            args[2],
            vec![Piece::Lit {
                text: "us-east-1".into(),
                offset: 47
            }]
        );
        // Message functions split at the last comma only.
        let t = parse(
            "${hmacSha1Hex(${now:ddd, DD}\n${method}, a, ${credentials.p})}",
            true,
        )
        .unwrap();
        let Expr::Call { args, .. } = exprs(&t.alternatives[0])[0].0 else {
            panic!()
        };
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn reports_errors_with_positions() {
        let e = parse("x ${connectionConfig.a", true).unwrap_err();
        assert_eq!((e.offset, e.len), (2, 2));
        let e = parse("a ${} b", true).unwrap_err();
        assert_eq!(
            (e.offset, e.len, e.message.as_str()),
            (2, 3, "empty placeholder `${}`")
        );
        let e = parse("${connectionConfig.a b}", true).unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(parse("a || b || c", true).is_err());
    }

    fn now_error(text: &str) -> TemplateError {
        parse(text, true).expect_err(text)
    }

    #[test]
    fn now_offsets_that_do_not_fit_are_located_errors() {
        for text in [
            "${now-9223372036854775808:seconds}",
            "${now+9223372036854775807:seconds}",
            "${now+9223372036854775807:weeks}",
            "${now+15250284452:weeks}",
            "${now-99999999999999999999999999:s}",
            "${now+315569520001:seconds}",
            "${now+3652426:days}",
        ] {
            let e = now_error(text);
            assert_eq!((e.offset, e.len), (0, text.len()), "{text}");
            assert!(
                e.message.contains("the offset is too large"),
                "{text}: {}",
                e.message
            );
        }
        // The largest offset there is, both ways, and a unit that multiplies to it.
        for (text, seconds) in [
            ("${now+315569520000:seconds}", MAX_NOW_OFFSET_SECONDS),
            ("${now-315569520000:s}", -MAX_NOW_OFFSET_SECONDS),
            ("${now-3652425:days}", -3_652_425 * 86_400),
            ("${now+521775:weeks}", 521_775 * 604_800),
            ("${now+0:weeks}", 0),
            ("${now-007:minutes:X}", -420),
        ] {
            let t = parse(text, true).unwrap();
            let Expr::Now { offset_seconds, .. } = exprs(&t.alternatives[0])[0].0 else {
                panic!("{text}")
            };
            assert_eq!(*offset_seconds, seconds, "{text}");
        }
    }

    #[test]
    fn now_takes_exactly_one_sign_then_digits() {
        for text in [
            "${now--9223372036854775808:seconds}",
            "${now--5:seconds}",
            "${now+-5:seconds}",
            "${now-+5:seconds}",
            "${now++5:seconds}",
            "${now+-0:s:X}",
        ] {
            let e = now_error(text);
            assert_eq!((e.offset, e.len), (0, text.len()), "{text}");
            assert!(e.message.contains("one sign only"), "{text}: {}", e.message);
        }
        for text in [
            "${now+:seconds}",
            "${now-}",
            "${now+ 5:seconds}",
            "${now+5 :seconds}",
            "${now+5.5:seconds}",
            "${now+1e3:seconds}",
            "${now+0x10:seconds}",
            "${now+\u{0663}:seconds}",
            "${now+_5:seconds}",
        ] {
            let e = now_error(text);
            assert!(
                e.message.contains("takes a whole number of digits only"),
                "{text}: {}",
                e.message
            );
        }
        let e = now_error("x ${now+5}");
        assert_eq!((e.offset, e.len), (2, 8));
        assert!(e.message.contains("unknown time unit ``"), "{}", e.message);
    }

    #[test]
    fn call_nesting_is_bounded() {
        let nested = |depth: usize| {
            format!(
                "{}${{credentials.a}}{}",
                "${base64(".repeat(depth),
                ")}".repeat(depth)
            )
        };
        let t = parse(&nested(MAX_CALL_NESTING), true).unwrap();
        assert_eq!(exprs(&t.alternatives[0]).len(), MAX_CALL_NESTING + 1);
        let e = parse(&nested(MAX_CALL_NESTING + 1), true).unwrap_err();
        assert!(e.message.contains("nest more than"), "{}", e.message);
        // At the innermost call's name: `${base64(` repeated, then `base64(`.
        assert_eq!(e.offset, "${base64(".len() * MAX_CALL_NESTING + 2);
        assert_eq!(e.len, "base64(".len());
        // Deep enough to overflow any stack if the parser recursed without a bound.
        assert!(parse(&nested(200_000), true).is_err());
    }

    #[test]
    fn odd_text_never_panics() {
        // Braces, multi-byte characters next to every delimiter, and cut-off forms.
        let pieces = [
            "${",
            "}",
            "$",
            "{",
            "(",
            ")",
            ",",
            "||",
            "|",
            ":",
            "+",
            "-",
            "now",
            "é",
            "\u{10FFFF}",
            "base64",
            "hmacSha1Hex",
            "connectionConfig.",
            "credentials.",
            " ",
            "\n",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut s = seed;
            for _ in 0..(s % 12) {
                s = s.rotate_left(5) ^ 0x5DEE_CE66;
                text.push_str(pieces[(s % pieces.len() as u64) as usize]);
            }
            for fallback in [false, true] {
                match parse(&text, fallback) {
                    Ok(t) => {
                        for alt in &t.alternatives {
                            for (_, offset, len) in exprs(alt) {
                                assert!(text.get(offset..offset + len).is_some(), "{text:?}");
                            }
                        }
                    }
                    Err(e) => assert!(e.offset + e.len <= text.len(), "{text:?}: {e:?}"),
                }
            }
        }
    }
}

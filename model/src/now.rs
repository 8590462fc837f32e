//! `${now}`, `${now:FORMAT}` and `${now+N:UNIT:FORMAT}`: the current time in UTC, formatted
//! with day.js format tokens. The generator parses the format once ([`parse_format`]); at run
//! time only the tokens are written out.

use std::time::SystemTime;

use time::OffsetDateTime;

/// One piece of a day.js format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NowToken<'a> {
    /// Literal text (from `[...]` or characters that are not tokens).
    Lit(&'a str),
    /// `YYYY`: 2026.
    Year4,
    /// `YY`: 26.
    Year2,
    /// `M`: 1-12.
    Month,
    /// `MM`: 01-12.
    Month2,
    /// `MMM`: Jan.
    MonthShort,
    /// `MMMM`: January.
    MonthLong,
    /// `D`: 1-31.
    Day,
    /// `DD`: 01-31.
    Day2,
    /// `d`: 0-6, Sunday is 0.
    Weekday,
    /// `ddd`: Sun.
    WeekdayShort,
    /// `dddd`: Sunday.
    WeekdayLong,
    /// `H`: 0-23.
    Hour,
    /// `HH`: 00-23.
    Hour2,
    /// `h`: 1-12.
    Hour12,
    /// `hh`: 01-12.
    Hour12Padded,
    /// `m`: 0-59.
    Minute,
    /// `mm`: 00-59.
    Minute2,
    /// `s`: 0-59.
    Second,
    /// `ss`: 00-59.
    Second2,
    /// `SSS`: milliseconds 000-999.
    Millis3,
    /// `Z`: +00:00.
    OffsetColon,
    /// `ZZ`: +0000.
    Offset,
    /// `A`: AM / PM.
    AmPmUpper,
    /// `a`: am / pm.
    AmPmLower,
    /// `X`: Unix seconds.
    UnixSeconds,
    /// `x`: Unix milliseconds.
    UnixMillis,
}

/// `${now...}` as the generator compiled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NowSpec<'a> {
    /// Seconds added to the current time (`now+1:minutes` is 60).
    pub offset_seconds: i64,
    /// The format; `None` for ISO 8601 with milliseconds (`2026-11-28T18:45:00.000Z`).
    pub format: Option<&'a [NowToken<'a>]>,
}

const TOKENS: &[(&str, NowToken<'static>)] = &[
    ("YYYY", NowToken::Year4),
    ("YY", NowToken::Year2),
    ("MMMM", NowToken::MonthLong),
    ("MMM", NowToken::MonthShort),
    ("MM", NowToken::Month2),
    ("M", NowToken::Month),
    ("DD", NowToken::Day2),
    ("D", NowToken::Day),
    ("dddd", NowToken::WeekdayLong),
    ("ddd", NowToken::WeekdayShort),
    ("d", NowToken::Weekday),
    ("HH", NowToken::Hour2),
    ("H", NowToken::Hour),
    ("hh", NowToken::Hour12Padded),
    ("h", NowToken::Hour12),
    ("mm", NowToken::Minute2),
    ("m", NowToken::Minute),
    ("ss", NowToken::Second2),
    ("s", NowToken::Second),
    ("SSS", NowToken::Millis3),
    ("ZZ", NowToken::Offset),
    ("Z", NowToken::OffsetColon),
    ("A", NowToken::AmPmUpper),
    ("a", NowToken::AmPmLower),
    ("X", NowToken::UnixSeconds),
    ("x", NowToken::UnixMillis),
];

/// Splits a day.js format into tokens; `[...]` is literal text. Consecutive literal
/// characters are one [`NowToken::Lit`].
pub fn parse_format(format: &str) -> Result<Vec<NowToken<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = format;
    let mut lit_start: Option<usize> = None;
    let offset = |r: &str| format.len() - r.len();
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or_else(|| format!("unclosed `[` in date format `{format}`"))?;
            if let Some(s) = lit_start.take() {
                out.push(NowToken::Lit(&format[s..offset(rest)]));
            }
            if end > 0 {
                out.push(NowToken::Lit(&inner[..end]));
            }
            rest = &inner[end + 1..];
            continue;
        }
        if let Some((text, token)) = TOKENS.iter().find(|(t, _)| rest.starts_with(t)) {
            if let Some(s) = lit_start.take() {
                out.push(NowToken::Lit(&format[s..offset(rest)]));
            }
            out.push(*token);
            rest = &rest[text.len()..];
            continue;
        }
        lit_start.get_or_insert(offset(rest));
        let c = rest.chars().next().map_or(1, char::len_utf8);
        rest = &rest[c..];
    }
    if let Some(s) = lit_start {
        out.push(NowToken::Lit(&format[s..]));
    }
    Ok(out)
}

/// Seconds in one `UNIT` of `now+N:UNIT` (day.js unit names, singular, plural or short).
pub fn unit_seconds(unit: &str) -> Option<i64> {
    Some(match unit {
        "s" | "second" | "seconds" => 1,
        "m" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    })
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Formats `now` (shifted by the spec's offset) in UTC.
pub fn format(now: SystemTime, spec: &NowSpec<'_>) -> String {
    let base = OffsetDateTime::from(now);
    let t = base
        .checked_add(time::Duration::seconds(spec.offset_seconds))
        .unwrap_or(base);
    let Some(tokens) = spec.format else {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
    };
    let mut out = String::new();
    let month = usize::from(u8::from(t.month())) - 1;
    let weekday = usize::from(t.weekday().number_days_from_sunday());
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    for token in tokens {
        let piece = match token {
            NowToken::Lit(s) => (*s).to_owned(),
            NowToken::Year4 => format!("{:04}", t.year()),
            NowToken::Year2 => format!("{:02}", t.year().rem_euclid(100)),
            NowToken::Month => (month + 1).to_string(),
            NowToken::Month2 => format!("{:02}", month + 1),
            NowToken::MonthShort => MONTHS[month][..3].to_owned(),
            NowToken::MonthLong => MONTHS[month].to_owned(),
            NowToken::Day => t.day().to_string(),
            NowToken::Day2 => format!("{:02}", t.day()),
            NowToken::Weekday => weekday.to_string(),
            NowToken::WeekdayShort => WEEKDAYS[weekday][..3].to_owned(),
            NowToken::WeekdayLong => WEEKDAYS[weekday].to_owned(),
            NowToken::Hour => t.hour().to_string(),
            NowToken::Hour2 => format!("{:02}", t.hour()),
            NowToken::Hour12 => hour12.to_string(),
            NowToken::Hour12Padded => format!("{hour12:02}"),
            NowToken::Minute => t.minute().to_string(),
            NowToken::Minute2 => format!("{:02}", t.minute()),
            NowToken::Second => t.second().to_string(),
            NowToken::Second2 => format!("{:02}", t.second()),
            NowToken::Millis3 => format!("{:03}", t.millisecond()),
            NowToken::OffsetColon => "+00:00".to_owned(),
            NowToken::Offset => "+0000".to_owned(),
            NowToken::AmPmUpper => if t.hour() < 12 { "AM" } else { "PM" }.to_owned(),
            NowToken::AmPmLower => if t.hour() < 12 { "am" } else { "pm" }.to_owned(),
            NowToken::UnixSeconds => t.unix_timestamp().to_string(),
            NowToken::UnixMillis => (t.unix_timestamp_nanos() / 1_000_000).to_string(),
        };
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2026-11-28T18:45:07.089Z, a Saturday.
    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_891_507_089)
    }

    fn fmt(f: &str, offset_seconds: i64) -> String {
        let tokens = parse_format(f).unwrap();
        format(
            at(),
            &NowSpec {
                offset_seconds,
                format: Some(&tokens),
            },
        )
    }

    #[test]
    fn formats_like_dayjs_in_utc() {
        assert_eq!(
            format(
                at(),
                &NowSpec {
                    offset_seconds: 0,
                    format: None
                }
            ),
            "2026-11-28T18:45:07.089Z"
        );
        assert_eq!(fmt("YYYY-MM-DDTHH:mm:ss", 0), "2026-11-28T18:45:07");
        assert_eq!(fmt("YYYYMMDDTHHmmss[Z]", 0), "20261128T184507Z");
        assert_eq!(
            fmt("ddd, DD MMM YYYY HH:mm:ss ZZ", 0),
            "Sat, 28 Nov 2026 18:45:07 +0000"
        );
        assert_eq!(fmt("X", 0), "1795891507");
        assert_eq!(fmt("x", 0), "1795891507089");
        assert_eq!(fmt("X", 60), "1795891567");
        assert_eq!(fmt("YYYY-MM-DD", 7 * 86_400), "2026-12-05");
        assert_eq!(
            fmt("h:mm A, dddd D MMMM YY", 0),
            "6:45 PM, Saturday 28 November 26"
        );
    }

    #[test]
    fn parses_literals_and_brackets() {
        assert_eq!(
            parse_format("[at] HH").unwrap(),
            [NowToken::Lit("at"), NowToken::Lit(" "), NowToken::Hour2]
        );
        assert!(parse_format("[oops").is_err());
        assert_eq!(unit_seconds("minutes"), Some(60));
        assert_eq!(unit_seconds("months"), None);
    }
}

//! `terapi providers`: the catalog's providers.

use crate::context::Context;
use crate::escape::shown;
use crate::fail::{self, Failure};

/// One line per provider: key, auth mode, display name, in aligned columns.
pub fn run(context: &Context) -> Result<(), Failure> {
    context.catalog.print_warnings();
    let rows: Vec<(String, &str, String)> = context
        .catalog
        .specs()
        .iter()
        .map(|s| {
            (
                shown(&s.key).into_owned(),
                s.auth_mode.as_str(),
                s.display_name.to_string(),
            )
        })
        .collect();
    let key_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let mode_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, mode, name) in &rows {
        out.push_str(&format!(
            "{key:<key_width$}  {mode:<mode_width$}  {}\n",
            shown(name)
        ));
    }
    fail::print_bytes(out.as_bytes())
}

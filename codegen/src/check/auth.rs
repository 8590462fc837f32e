//! The rules of each auth mode, read from the runtime's capability table on
//! [`AuthMode`]: required and usual credentials, forbidden `credentials` blocks, the token
//! URL, and the verification's exclusive ways.

use terapi_model::AuthMode;

use crate::diagnostic::Diagnostic;
use crate::model::ProviderEntry;
use crate::rules::Rule;

use super::Checker;

impl Checker<'_> {
    /// The credential rules the platform's CI applies per auth mode.
    pub(super) fn auth_mode_rules(&mut self, entry: &ProviderEntry, mode: AuthMode) {
        let p = &entry.provider;
        let creds = p.credentials.as_ref();
        let has = |k: &str| {
            creds.is_some_and(|c| c.get(k).is_some())
                || entry.implied.credentials.iter().any(|i| i.key == k)
        };
        let loc = creds.map_or(entry.key_loc, |c| {
            c.iter().next().map_or(entry.key_loc, |(_, e)| e.key_loc)
        });
        let (required, usual): (&[&str], &[&str]) = match mode {
            AuthMode::ApiKey => (&["apiKey"], &[]),
            AuthMode::AwsSigV4 => (&["role_arn"], &[]),
            AuthMode::Basic | AuthMode::Signature => (&[], &["username", "password"]),
            _ => (&[], &[]),
        };
        for k in required {
            if !has(k) {
                self.report(
                    Rule::MissingCredential,
                    loc,
                    format!("auth mode {mode} needs a `credentials.{k}` param"),
                );
            }
        }
        // What a catalog usually declares: an implied param (BASIC's, which the platform asks
        // for anyway) does not count, the warning is about the entry as written.
        let declared = |k: &str| creds.is_some_and(|c| c.get(k).is_some());
        let older = entry.implied.older_format;
        for k in usual {
            if !(declared(k) || older && has(k)) {
                self.report(
                    Rule::UsualCredential,
                    loc,
                    format!("auth mode {mode} usually has a `credentials.{k}` param"),
                );
            }
        }
        if mode.forbids_credentials()
            && let Some((_, e)) = creds.and_then(|c| c.iter().next())
        {
            self.report(
                Rule::ForbiddenCredentials,
                e.key_loc,
                format!(
                    "auth mode {mode} must not declare `credentials`: the platform obtains them"
                ),
            );
        }
        if mode.needs_token_url() && p.token_url.is_none() && !p.invalid_keys.contains(&"token_url")
        {
            self.push(
                Diagnostic::new(
                    Rule::MissingTokenUrl,
                    entry.key_loc,
                    format!(
                        "provider `{}` (auth mode {mode}) has no `token_url`",
                        entry.key
                    ),
                )
                .with_help("add the token endpoint as `token_url`"),
            );
        }
        if let (Some(v), Some(_)) = (
            p.proxy.as_ref().and_then(|x| x.verification.as_ref()),
            p.credentials_verification_script.as_ref(),
        ) {
            self.report(
                Rule::VerificationConflict,
                v.loc,
                "`proxy.verification` and `credentials_verification_script` exclude each other",
            );
        }
    }
}

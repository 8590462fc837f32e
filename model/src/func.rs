//! The functions of the template language (`${base64(...)}`, `${sha256Hex(...)}`, ...),
//! applied to arguments the generated code has already rendered.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::render::{RenderContext, Request};

/// A template function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Func {
    /// `base64(text)`: standard Base64 of the UTF-8 text.
    Base64,
    /// `sha256Hex(text)`: lowercase hex SHA-256.
    Sha256Hex,
    /// `sha256Base64(text)`: Base64 SHA-256.
    Sha256Base64,
    /// `hmacSha1Hex(message, key)`: lowercase hex HMAC-SHA1.
    HmacSha1Hex,
    /// `ed25519Sign(message, pkcs8Pem)`: Base64 Ed25519 signature.
    Ed25519Sign,
    /// `fingerprint(pem)`: `SHA256:` and the Base64 SHA-256 of the public key of a PEM private
    /// key (RSA or EC).
    Fingerprint,
    /// `awsSigV4(accessKey, secretKey, region, service[, host])`: an AWS Signature Version 4
    /// `Authorization` header value for the request being sent.
    AwsSigV4,
}

impl Func {
    /// Every function: its template name and how many arguments it takes (min, max).
    pub const ALL: &'static [(Func, &'static str, usize, usize)] = &[
        (Func::Base64, "base64", 1, 1),
        (Func::Sha256Hex, "sha256Hex", 1, 1),
        (Func::Sha256Base64, "sha256Base64", 1, 1),
        (Func::HmacSha1Hex, "hmacSha1Hex", 2, 2),
        (Func::Ed25519Sign, "ed25519Sign", 2, 2),
        (Func::Fingerprint, "fingerprint", 1, 1),
        (Func::AwsSigV4, "awsSigV4", 4, 5),
    ];

    /// The function named `name` in templates.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL
            .iter()
            .find(|(_, n, _, _)| *n == name)
            .map(|(f, ..)| *f)
    }

    /// The name in templates.
    pub fn name(self) -> &'static str {
        Func::ALL
            .iter()
            .find(|(f, ..)| *f == self)
            .map_or("", |(_, n, ..)| n)
    }

    /// Whether the arguments are split at the last top-level comma only (the message may
    /// contain commas), as the platform does for these functions.
    pub fn splits_at_last_comma(self) -> bool {
        matches!(self, Func::HmacSha1Hex | Func::Ed25519Sign)
    }

    /// Applies the function. `Ok(None)` when it needs request details the context lacks.
    pub(crate) fn apply(
        self,
        args: &[String],
        cx: &RenderContext<'_>,
    ) -> Result<Option<String>, String> {
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
        Ok(Some(match self {
            Func::Base64 => BASE64.encode(arg(0)),
            Func::Sha256Hex => hex::encode(Sha256::digest(arg(0).as_bytes())),
            Func::Sha256Base64 => BASE64.encode(Sha256::digest(arg(0).as_bytes())),
            Func::HmacSha1Hex => {
                let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(arg(1).as_bytes())
                    .map_err(|_| "invalid HMAC key".to_owned())?;
                mac.update(arg(0).as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Func::Ed25519Sign => cx
                .signing()
                .ok_or(NO_SIGNING)?
                .ed25519_sign(arg(0), arg(1))?,
            Func::Fingerprint => cx
                .signing()
                .ok_or(NO_SIGNING)?
                .public_key_fingerprint(arg(0))?,
            Func::AwsSigV4 => {
                let Some(request) = cx.request.as_ref() else {
                    return Ok(None);
                };
                let host = args.get(4).map_or(request.host, String::as_str);
                aws_sigv4(request, host, [arg(0), arg(1), arg(2), arg(3)], cx)
            }
        }))
    }
}

/// What `ed25519Sign` and `fingerprint` report in a context without key-based signatures.
const NO_SIGNING: &str = "key-based signatures need terapi-runtime's `signing` feature \
     (its client renders with them; elsewhere use `RenderContext::with_signing(&terapi_runtime::SIGNING)`)";

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// AWS Signature Version 4 over method, path, sorted query, `host` and `x-amz-date`.
fn aws_sigv4(
    request: &Request<'_>,
    host: &str,
    [access_key, secret_key, region, service]: [&str; 4],
    cx: &RenderContext<'_>,
) -> String {
    let amz_date = crate::now::format(
        cx.now(),
        &crate::now::NowSpec {
            offset_seconds: 0,
            format: Some(AMZ_DATE),
        },
    );
    let date = &amz_date[..8];
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    query.sort();
    let canonical_query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let path = if request.path.is_empty() {
        "/".to_owned()
    } else {
        uri_encode(request.path, false)
    };
    let payload_hash = hex::encode(Sha256::digest(request.body));
    let canonical_request = format!(
        "{}\n{path}\n{}\nhost:{host}\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{payload_hash}",
        request.method.to_ascii_uppercase(),
        canonical_query.join("&")
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), date);
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part);
    }
    let signature = hex::encode(hmac_sha256(&key, &string_to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}"
    )
}

const AMZ_DATE: &[crate::now::NowToken<'static>] = {
    use crate::now::NowToken::*;
    &[
        Year4,
        Month2,
        Day2,
        Lit("T"),
        Hour2,
        Minute2,
        Second2,
        Lit("Z"),
    ]
};

/// RFC 3986 encoding as SigV4 wants it (unreserved characters kept; `/` kept in paths).
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (b == b'/' && !encode_slash) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A function travels as its template name (`base64Encode`).
impl serde::Serialize for Func {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Func {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Func::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown template function `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn cx() -> RenderContext<'static> {
        RenderContext::at(UNIX_EPOCH + Duration::from_secs(1_440_938_160), "r".into())
    }

    fn apply(f: Func, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        f.apply(&args, &cx()).unwrap().unwrap()
    }

    #[test]
    fn hashes_and_encodings() {
        assert_eq!(apply(Func::Base64, &["user:pass"]), "dXNlcjpwYXNz");
        assert_eq!(
            apply(Func::Sha256Hex, &["abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            apply(Func::Sha256Base64, &[""]),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        // RFC 2202 test case 2.
        assert_eq!(
            apply(Func::HmacSha1Hex, &["what do ya want for nothing?", "Jefe"]),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(Func::from_name("sha256Hex"), Some(Func::Sha256Hex));
        assert_eq!(Func::from_name("md5"), None);
    }

    #[test]
    fn key_based_signatures_without_a_signer_say_what_is_missing() {
        for f in [Func::Ed25519Sign, Func::Fingerprint] {
            let err = f
                .apply(&["m".into(), "not a key".into()], &cx())
                .unwrap_err();
            assert!(err.contains("`signing` feature"), "{err}");
            assert!(!err.contains("not a key"));
        }
    }

    #[test]
    fn aws_sigv4_matches_the_documented_example() {
        // AWS's "GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08" example
        // (2015-08-30T12:36:00Z) signs host and x-amz-date only, like this function.
        let request = Request {
            method: "GET",
            endpoint: "/",
            host: "iam.amazonaws.com",
            path: "/",
            query: &[("Action", "ListUsers"), ("Version", "2010-05-08")],
            body: b"",
            content_type: None,
        };
        let cx = cx().with_request(request);
        let out = Func::AwsSigV4
            .apply(
                &[
                    "AKIDEXAMPLE".into(),
                    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                    "us-east-1".into(),
                    "iam".into(),
                ],
                &cx,
            )
            .unwrap()
            .unwrap();
        // The signature was computed independently (Python's hmac and hashlib) over the
        // same canonical request.
        assert_eq!(
            out,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=b2e4af44cfad96d9ffa3c5653674a927b9b0995c33de22e1f843745ce37c1d5e"
        );
        assert_eq!(Func::AwsSigV4.apply(&[], &self::cx()).unwrap(), None);
    }
}

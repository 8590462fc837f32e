//! Signing JWTs (RFC 7519, JWS compact serialization) for the `JWT` auth mode.
//!
//! Everything here is pure: no I/O and no clock ([`issued_claims`] takes the time). The
//! catalog's `signature.protocol` ([`Protocol`]) says which kind of key the connection's
//! signing key is, its `token.header` gives `alg` (and `typ`, `kid`, ...), and [`sign`] turns
//! header, claims and key into a token. Keys are what users paste: [`normalize_pem`] repairs
//! the usual damage (literal `\n`, lost line breaks, missing armour) before parsing.
//!
//! The signatures come from the `jsonwebtoken` crate's RustCrypto backend; this module builds
//! the header and payload itself, so that every header field the catalog renders is kept.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, PAD_INDIFFERENT, URL_SAFE_NO_PAD};
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value};

use crate::Secret;

/// Standard base64 that accepts a body with or without its `=` padding.
const PEM_BASE64: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, PAD_INDIFFERENT);

/// The label of a PEM pasted without its `-----BEGIN ...-----` line.
const DEFAULT_LABEL: &str = "PRIVATE KEY";

/// The algorithms [`sign`] supports, for error messages.
const SUPPORTED: &str =
    "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, HS256, HS384 or HS512";

/// An error of this module. None of them contains a key, a secret or a token: at most the
/// names of an algorithm, a protocol or an encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// `signature.protocol` is not `RSA`, `EC` or `HMAC`.
    #[error("unknown JWT signature protocol `{0}` (expected RSA, EC or HMAC)")]
    UnknownProtocol(String),
    /// `hmac_secret_encoding` is not `hex` or `utf8`.
    #[error("unknown HMAC secret encoding `{0}` (expected hex or utf8)")]
    UnknownHmacEncoding(String),
    /// The header has no `alg`.
    #[error("the JWT header has no `alg`")]
    MissingAlg,
    /// The header's `alg` is not a string.
    #[error("the JWT header's `alg` is not a string")]
    AlgNotString,
    /// The header's `alg` is not one this module signs with.
    #[error("unsupported JWT algorithm `{0}` (expected {SUPPORTED})")]
    UnsupportedAlg(String),
    /// The header's `alg` belongs to another protocol than the catalog's.
    #[error("the JWT algorithm `{alg}` does not belong to the signature protocol {protocol}")]
    AlgProtocolMismatch {
        /// The header's `alg`.
        alg: String,
        /// The catalog's protocol.
        protocol: Protocol,
    },
    /// The signing key is empty (or only whitespace, for a PEM or hex key).
    #[error("the JWT signing key is empty")]
    EmptyKey,
    /// The signing key is not a well-formed PEM (or a bare base64 key body).
    #[error("the JWT signing key is not a valid PEM: {0}")]
    InvalidPem(&'static str),
    /// The PEM is an encrypted private key.
    #[error("the JWT signing key is encrypted; a PEM without a passphrase is needed")]
    EncryptedKey,
    /// The PEM holds a public key or a certificate, which cannot sign.
    #[error("the JWT signing key is a public key or a certificate, not a private key")]
    NotAPrivateKey,
    /// The key does not parse as the kind of key that the algorithm needs.
    #[error("the JWT signing key is not {expected}")]
    InvalidKey {
        /// What kind of key was expected, e.g. `an RSA private key (PKCS#1 or PKCS#8)`.
        expected: &'static str,
    },
    /// An HMAC secret declared `hex` is not hexadecimal.
    #[error("the JWT HMAC secret is not valid hex (hmac_secret_encoding is hex)")]
    InvalidHex,
    /// Signing failed after the key was read.
    #[error("signing the JWT with {0} failed")]
    Signing(String),
    /// The header or the claims could not be serialized.
    #[error("the JWT header or claims could not be serialized to JSON")]
    Json,
}

/// The kind of key a JWT is signed with: the catalog's `signature.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `RSA`: RS256, RS384, RS512, PS256, PS384, PS512 with an RSA private key.
    Rsa,
    /// `EC`: ES256 (P-256) or ES384 (P-384) with an elliptic-curve private key.
    Ec,
    /// `HMAC`: HS256, HS384, HS512 with a shared secret.
    Hmac,
}

impl Protocol {
    /// The protocol's catalog name: `RSA`, `EC` or `HMAC`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rsa => "RSA",
            Protocol::Ec => "EC",
            Protocol::Hmac => "HMAC",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = JwtError;

    /// Parses `RSA`, `EC` or `HMAC`, in any ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Protocol::Rsa, Protocol::Ec, Protocol::Hmac]
            .into_iter()
            .find(|protocol| protocol.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| JwtError::UnknownProtocol(s.to_owned()))
    }
}

/// How an HMAC signing key is written: the catalog's `hmac_secret_encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HmacEncoding {
    /// `hex`: the key is hexadecimal and signs with the bytes it decodes to (the default).
    #[default]
    Hex,
    /// `utf8`: the key signs with its own UTF-8 bytes.
    Utf8,
}

impl HmacEncoding {
    /// The encoding's catalog name: `hex` or `utf8`.
    pub fn as_str(self) -> &'static str {
        match self {
            HmacEncoding::Hex => "hex",
            HmacEncoding::Utf8 => "utf8",
        }
    }
}

impl fmt::Display for HmacEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HmacEncoding {
    type Err = JwtError;

    /// Parses `hex`, `utf8` or `utf-8`, in any ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("hex") {
            Ok(HmacEncoding::Hex)
        } else if s.eq_ignore_ascii_case("utf8") || s.eq_ignore_ascii_case("utf-8") {
            Ok(HmacEncoding::Utf8)
        } else {
            Err(JwtError::UnknownHmacEncoding(s.to_owned()))
        }
    }
}

/// A parsed PEM: its label and its base64 body without whitespace.
struct Pem {
    label: String,
    body: String,
}

impl Pem {
    /// Reads what a user pasted; see [`normalize_pem`].
    fn parse(text: &str) -> Result<Pem, JwtError> {
        let text = text.replace("\\r", "").replace("\\n", "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err(JwtError::EmptyKey);
        }
        let (label, body) = match text.find("-----BEGIN ") {
            Some(start) => {
                let after = &text[start + "-----BEGIN ".len()..];
                let label_len = after
                    .find("-----")
                    .ok_or(JwtError::InvalidPem("the BEGIN line does not end in -----"))?;
                let label = &after[..label_len];
                let valid_label = !label.is_empty()
                    && !label.starts_with(' ')
                    && !label.ends_with(' ')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
                if !valid_label {
                    return Err(JwtError::InvalidPem("the BEGIN line has an invalid label"));
                }
                let rest = &after[label_len + "-----".len()..];
                let body_len = rest
                    .find("-----END ")
                    .ok_or(JwtError::InvalidPem("there is no END line"))?;
                let end = &rest[body_len + "-----END ".len()..];
                if !end
                    .strip_prefix(label)
                    .is_some_and(|end| end.starts_with("-----"))
                {
                    return Err(JwtError::InvalidPem(
                        "the END line does not match the BEGIN line",
                    ));
                }
                (label.to_owned(), &rest[..body_len])
            }
            None => (DEFAULT_LABEL.to_owned(), text),
        };
        // `Proc-Type: 4,ENCRYPTED` and `DEK-Info: ...` headers of legacy encrypted PEMs.
        if body.contains(':') {
            return Err(if body.contains("ENCRYPTED") {
                JwtError::EncryptedKey
            } else {
                JwtError::InvalidPem("the key data has header lines")
            });
        }
        let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        if body.is_empty() {
            return Err(JwtError::InvalidPem("there is no key data"));
        }
        let is_base64 = body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
        if !is_base64 || PEM_BASE64.decode(&body).is_err() {
            return Err(JwtError::InvalidPem("the key data is not base64"));
        }
        Ok(Pem { label, body })
    }

    /// The DER bytes of the body.
    fn der(&self) -> Result<Vec<u8>, JwtError> {
        PEM_BASE64
            .decode(&self.body)
            .map_err(|_| JwtError::InvalidPem("the key data is not base64"))
    }

    /// The PEM text: armour lines around the body wrapped at 64 columns.
    fn render(&self) -> String {
        let mut out = String::with_capacity(self.body.len() + self.body.len() / 64 + 64);
        out.push_str("-----BEGIN ");
        out.push_str(&self.label);
        out.push_str("-----\n");
        for (i, c) in self.body.chars().enumerate() {
            if i > 0 && i % 64 == 0 {
                out.push('\n');
            }
            out.push(c);
        }
        out.push_str("\n-----END ");
        out.push_str(&self.label);
        out.push_str("-----\n");
        out
    }
}

/// Repairs a pasted PEM key: literal two-character `\n` sequences become line breaks (and
/// literal `\r` ones are dropped), surrounding whitespace is trimmed, whitespace inside the
/// base64 body is removed and the body is re-wrapped at 64 columns between
/// `-----BEGIN X-----` and `-----END X-----`, where `X` is the input's label, or
/// `PRIVATE KEY` when the input is a bare base64 body without armour. The result ends in a
/// line break.
///
/// Only the first PEM block counts: text before its BEGIN line and after its END line (a
/// certificate that follows, `Bag Attributes` lines) is dropped.
///
/// Errors (which never contain the key): an empty input, a BEGIN line without a matching END
/// line, header lines of an encrypted PEM, a body that is not base64.
pub fn normalize_pem(text: &str) -> Result<String, JwtError> {
    Pem::parse(text).map(|pem| pem.render())
}

/// Maps a header's `alg` to the algorithm and the protocol it belongs to.
fn algorithm(alg: &str) -> Option<(Algorithm, Protocol)> {
    Some(match alg {
        "RS256" => (Algorithm::RS256, Protocol::Rsa),
        "RS384" => (Algorithm::RS384, Protocol::Rsa),
        "RS512" => (Algorithm::RS512, Protocol::Rsa),
        "PS256" => (Algorithm::PS256, Protocol::Rsa),
        "PS384" => (Algorithm::PS384, Protocol::Rsa),
        "PS512" => (Algorithm::PS512, Protocol::Rsa),
        "ES256" => (Algorithm::ES256, Protocol::Ec),
        "ES384" => (Algorithm::ES384, Protocol::Ec),
        "HS256" => (Algorithm::HS256, Protocol::Hmac),
        "HS384" => (Algorithm::HS384, Protocol::Hmac),
        "HS512" => (Algorithm::HS512, Protocol::Hmac),
        _ => return None,
    })
}

/// Reads a PEM private key, refusing encrypted keys, public keys and certificates.
fn private_key_der(key: &str) -> Result<Vec<u8>, JwtError> {
    let pem = Pem::parse(key)?;
    if pem.label.contains("ENCRYPTED") {
        return Err(JwtError::EncryptedKey);
    }
    if pem.label.contains("PUBLIC KEY") || pem.label.contains("CERTIFICATE") {
        return Err(JwtError::NotAPrivateKey);
    }
    // The label is not trusted further: the DER is tried in each format the protocol allows,
    // so that a bare body, or a PKCS#1 body under a PKCS#8 label, still works.
    pem.der()
}

/// An RSA private key, PKCS#8 or PKCS#1, as the PKCS#1 DER `jsonwebtoken` wants.
fn rsa_key(key: &str) -> Result<EncodingKey, JwtError> {
    use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
    use rsa::pkcs8::DecodePrivateKey as _;

    const EXPECTED: &str = "an RSA private key (PKCS#1 or PKCS#8 PEM)";
    let der = private_key_der(key)?;
    let private = rsa::PrivateKey::from_pkcs8_der(&der)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_der(&der))
        .map_err(|_| JwtError::InvalidKey { expected: EXPECTED })?;
    let pkcs1 = private
        .to_pkcs1_der()
        .map_err(|_| JwtError::InvalidKey { expected: EXPECTED })?;
    Ok(EncodingKey::from_rsa_der(pkcs1.as_bytes()))
}

/// An EC private key of the curve `alg` needs, SEC1 or PKCS#8, as the PKCS#8 DER
/// `jsonwebtoken` wants.
fn ec_key(key: &str, alg: Algorithm) -> Result<EncodingKey, JwtError> {
    use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};

    let der = private_key_der(key)?;
    let pkcs8 = match alg {
        Algorithm::ES384 => p384::SecretKey::from_pkcs8_der(&der)
            .or_else(|_| p384::SecretKey::from_sec1_der(&der))
            .ok()
            .and_then(|secret| secret.to_pkcs8_der().ok())
            .ok_or(JwtError::InvalidKey {
                expected: "a P-384 private key (SEC1 or PKCS#8 PEM), as ES384 needs",
            })?,
        _ => p256::SecretKey::from_pkcs8_der(&der)
            .or_else(|_| p256::SecretKey::from_sec1_der(&der))
            .ok()
            .and_then(|secret| secret.to_pkcs8_der().ok())
            .ok_or(JwtError::InvalidKey {
                expected: "a P-256 private key (SEC1 or PKCS#8 PEM), as ES256 needs",
            })?,
    };
    Ok(EncodingKey::from_ec_der(pkcs8.as_bytes()))
}

/// `SHA256:` and the standard Base64 of the SHA-256 of the public key's SubjectPublicKeyInfo
/// DER, for an RSA (PKCS#8 or PKCS#1) or P-256 / P-384 (PKCS#8 or SEC1) private key: the
/// template function `fingerprint(pem)` (Snowflake's key-pair authentication names the key by
/// it).
pub fn public_key_fingerprint(key: &str) -> Result<String, JwtError> {
    use p256::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use sha2::Digest as _;

    let der = private_key_der(key)?;
    let spki = rsa::PrivateKey::from_pkcs8_der(&der)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_der(&der))
        .ok()
        .and_then(|k| k.to_public_key().to_public_key_der().ok())
        .or_else(|| {
            p256::SecretKey::from_pkcs8_der(&der)
                .or_else(|_| p256::SecretKey::from_sec1_der(&der))
                .ok()
                .and_then(|k| k.public_key().to_public_key_der().ok())
        })
        .or_else(|| {
            p384::SecretKey::from_pkcs8_der(&der)
                .or_else(|_| p384::SecretKey::from_sec1_der(&der))
                .ok()
                .and_then(|k| k.public_key().to_public_key_der().ok())
        })
        .ok_or(JwtError::InvalidKey {
            expected: "an RSA or EC private key (PEM)",
        })?;
    Ok(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki.as_bytes()))
    ))
}

/// An HMAC secret, hex-decoded or taken as UTF-8 bytes.
fn hmac_key(key: &str, encoding: HmacEncoding) -> Result<EncodingKey, JwtError> {
    let bytes = match encoding {
        HmacEncoding::Hex => hex::decode(key.trim()).map_err(|_| JwtError::InvalidHex)?,
        HmacEncoding::Utf8 => key.as_bytes().to_vec(),
    };
    if bytes.is_empty() {
        return Err(JwtError::EmptyKey);
    }
    EncodingKey::from_secret(&bytes).map_err(|_| JwtError::EmptyKey)
}

/// Signs a JWT and returns it in compact serialization (`header.payload.signature`).
///
/// `header` is the catalog's rendered `token.header`: `alg` is required and must belong to
/// `protocol` (RS256/RS384/RS512/PS256/PS384/PS512 for RSA, ES256/ES384 for EC,
/// HS256/HS384/HS512 for HMAC); `typ: "JWT"` is added when absent; every other field (`kid`,
/// `x5t`, ...) is kept as it is. `key` is a PEM private key for RSA (PKCS#1 or PKCS#8) and EC
/// (SEC1 or PKCS#8), repaired by [`normalize_pem`] first, or the shared secret for HMAC, read
/// as `hmac_encoding` says.
///
/// The token is a credential, so it comes back as a [`Secret`]. No error contains the key.
pub fn sign(
    protocol: Protocol,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    key: &str,
    hmac_encoding: HmacEncoding,
) -> Result<Secret, JwtError> {
    let alg = match header.get("alg") {
        None => return Err(JwtError::MissingAlg),
        Some(Value::String(alg)) => alg.as_str(),
        Some(_) => return Err(JwtError::AlgNotString),
    };
    let (algorithm, alg_protocol) =
        self::algorithm(alg).ok_or_else(|| JwtError::UnsupportedAlg(alg.to_owned()))?;
    if alg_protocol != protocol {
        return Err(JwtError::AlgProtocolMismatch {
            alg: alg.to_owned(),
            protocol,
        });
    }
    if key.trim().is_empty() && protocol != Protocol::Hmac {
        return Err(JwtError::EmptyKey);
    }
    let encoding_key = match protocol {
        Protocol::Rsa => rsa_key(key)?,
        Protocol::Ec => ec_key(key, algorithm)?,
        Protocol::Hmac => hmac_key(key, hmac_encoding)?,
    };

    let mut header = header.clone();
    header
        .entry("typ")
        .or_insert_with(|| Value::String("JWT".to_owned()));
    let header = serde_json::to_vec(&header).map_err(|_| JwtError::Json)?;
    let claims = serde_json::to_vec(claims).map_err(|_| JwtError::Json)?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));

    let invalid_key = || match protocol {
        Protocol::Rsa => JwtError::InvalidKey {
            expected: "an RSA private key (PKCS#1 or PKCS#8 PEM)",
        },
        Protocol::Ec => JwtError::InvalidKey {
            expected: "an EC private key of the algorithm's curve",
        },
        Protocol::Hmac => JwtError::EmptyKey,
    };
    let signer =
        (DEFAULT_PROVIDER.signer_factory)(&algorithm, &encoding_key).map_err(|_| invalid_key())?;
    let signature = signer
        .try_sign(token.as_bytes())
        .map_err(|_| JwtError::Signing(alg.to_owned()))?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(Secret::new(token))
}

/// `claims` with `iat` set to `now_unix` and `exp` to `now_unix + lifetime_secs`, both in
/// seconds since the Unix epoch, replacing any `iat` or `exp` already there.
pub fn issued_claims(
    claims: &Map<String, Value>,
    now_unix: u64,
    lifetime_secs: u64,
) -> Map<String, Value> {
    let mut claims = claims.clone();
    claims.insert("iat".to_owned(), Value::from(now_unix));
    claims.insert(
        "exp".to_owned(),
        Value::from(now_unix.saturating_add(lifetime_secs)),
    );
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // TEST KEYS ONLY. Generated with `openssl genpkey` / `openssl ecparam` on the development
    // machine for these tests; they protect nothing and must never be used for anything else.

    /// TEST KEY ONLY: RSA 2048, PKCS#8.
    const RSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDe4avY6FJr7a6c
pB1P/yLvI8U4OicRp5KN45/doLqfu2pS6ze5iLcpWta8f4wh62yH/CRrovOoeX9Q
LcjElAzWXT+BXiLuNi9mdIOW1hvb92DtkRaI8Fq30MWpJNA8RTG+QGdorrteUH4P
sUXHDpqiLU7igqj9oYJZnwAjndCgSCY+1UsfoBFZW03mZHpJgMRDfhOIhpNoQhmv
Lv7lrLv2OrY+IMrjSihWRBncoI8sHKdGDZZShPxGvykKtx8iTZpLwpydOPC8XXKN
VbwxzVrW0vFS8UPfGolgs7ZT9jI+qWzNe8NWSTLxAEfqbWgqbSs5mLGrNSBBH/pz
jx99YuqNAgMBAAECggEACIfxyHUoBnqMBvHfL1swLqAbYeoT6cCUwvqV+Wk4C3ok
eTUIpoDdpecUthVZu0ikGFZl3HrZwbaY0WxXNXMHRMM/9YcxZhXL3auTB9h9K3++
BYnap3Yvur5yemVu1Qe+/i2/54lcoaEKGjaqWZKtB40dal0e88pVT3HfEv3s6N2X
09IFQPjOXRtyPglIB6b4374v1wRVkzyciC116MURXVzrCovvlqnealKRip7Uhb90
UEetQwhuHIUSm82z807DIVkzAO/dNTSVuypigkFBZtjDaD5GxrfUtu0F5fOpI/G6
Emnn6zgvVK/2aRmKc4Cz93zhjR+D51yYIEA1PLw9cQKBgQDwd76dJchmymQt4pwz
BMGhYxskBeYeBlf9Cs0TllgOQnRRhgLZZqcjmOlqOEbEmvgd4zVhXT9VQ+N8IZm0
icLaQngC4AQg2RGc9Z4TvuSNj2CXsIx3DhtscwiBzqdFZXnF4NMxWsCbvxVPo29v
OU6t0FkaBur8i+NwkIz05RTIlQKBgQDtRyEu+MPIXeWwePzhRfiW44s88py5ZMDA
w9DKefC0MI6UiN5myWKQYTO3OcT7v6FXWzEKLS1zesBqBwkiCPuTepZw52sxCQam
HMhgfLsD3fVCHEb/o6yPGXnudsJ9pqHmFLdvoQB/bf9EtWsc6T7K87LohLKJd6XO
vMFqOxUEGQKBgQCaMp8XlEfaqkPtLJgvGwizXaLkyaeTb0vy5n805T6X/kMql72x
/OKGsCJVS7sNjbY3LCBpy+q12W/BhKZUn9ZEMUVVyqK7EZb6yIHSdaGHqP4upzab
jX9GXsmAu6yFkpmwqweiaWiDNtgKlmn5r4zlZmoMh40d3vI8l2TcER3vtQKBgQCA
kIfkYZoDmQz5X7T1guo9J7GsJnDQ60ydpfwdmZDYsW6wALEw1HF5dZGF9+FJ3v1W
zex2bSAxcBON354NOPzHXibhqiKkgRV/MB1KWosif0OCvLujjFXVe6JbmTGsz3rt
pc/2xi/02+7ylbIiCieh5AXOgwgSAChxKklKfBTZEQKBgQDskDLTf+/cjqOHb/bv
bIHB/bX584nMoT9ZuR0AWmhm4oq37O2P22hCN8XYlbCkP1fmMHfZWKuoY7g9JjRH
rBrByg3V3hAneKt8nxLzdsqt1Ljb1aONWTgPljTsMSKdPSw0GItVFxBs5+CIaowA
ELLdB/bDExKJ1hiMFe16kI7ZIw==
-----END PRIVATE KEY-----
";

    /// TEST KEY ONLY: the same RSA key, PKCS#1 (`openssl rsa -traditional`).
    const RSA_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEpQIBAAKCAQEA3uGr2OhSa+2unKQdT/8i7yPFODonEaeSjeOf3aC6n7tqUus3
uYi3KVrWvH+MIetsh/wka6LzqHl/UC3IxJQM1l0/gV4i7jYvZnSDltYb2/dg7ZEW
iPBat9DFqSTQPEUxvkBnaK67XlB+D7FFxw6aoi1O4oKo/aGCWZ8AI53QoEgmPtVL
H6ARWVtN5mR6SYDEQ34TiIaTaEIZry7+5ay79jq2PiDK40ooVkQZ3KCPLBynRg2W
UoT8Rr8pCrcfIk2aS8KcnTjwvF1yjVW8Mc1a1tLxUvFD3xqJYLO2U/YyPqlszXvD
Vkky8QBH6m1oKm0rOZixqzUgQR/6c48ffWLqjQIDAQABAoIBAAiH8ch1KAZ6jAbx
3y9bMC6gG2HqE+nAlML6lflpOAt6JHk1CKaA3aXnFLYVWbtIpBhWZdx62cG2mNFs
VzVzB0TDP/WHMWYVy92rkwfYfSt/vgWJ2qd2L7q+cnplbtUHvv4tv+eJXKGhCho2
qlmSrQeNHWpdHvPKVU9x3xL97Ojdl9PSBUD4zl0bcj4JSAem+N++L9cEVZM8nIgt
dejFEV1c6wqL75ap3mpSkYqe1IW/dFBHrUMIbhyFEpvNs/NOwyFZMwDv3TU0lbsq
YoJBQWbYw2g+Rsa31LbtBeXzqSPxuhJp5+s4L1Sv9mkZinOAs/d84Y0fg+dcmCBA
NTy8PXECgYEA8He+nSXIZspkLeKcMwTBoWMbJAXmHgZX/QrNE5ZYDkJ0UYYC2Wan
I5jpajhGxJr4HeM1YV0/VUPjfCGZtInC2kJ4AuAEINkRnPWeE77kjY9gl7CMdw4b
bHMIgc6nRWV5xeDTMVrAm78VT6NvbzlOrdBZGgbq/IvjcJCM9OUUyJUCgYEA7Uch
LvjDyF3lsHj84UX4luOLPPKcuWTAwMPQynnwtDCOlIjeZslikGEztznE+7+hV1sx
Ci0tc3rAagcJIgj7k3qWcOdrMQkGphzIYHy7A931QhxG/6Osjxl57nbCfaah5hS3
b6EAf23/RLVrHOk+yvOy6ISyiXelzrzBajsVBBkCgYEAmjKfF5RH2qpD7SyYLxsI
s12i5Mmnk29L8uZ/NOU+l/5DKpe9sfzihrAiVUu7DY22NywgacvqtdlvwYSmVJ/W
RDFFVcqiuxGW+siB0nWhh6j+Lqc2m41/Rl7JgLushZKZsKsHomlogzbYCpZp+a+M
5WZqDIeNHd7yPJdk3BEd77UCgYEAgJCH5GGaA5kM+V+09YLqPSexrCZw0OtMnaX8
HZmQ2LFusACxMNRxeXWRhffhSd79Vs3sdm0gMXATjd+eDTj8x14m4aoipIEVfzAd
SlqLIn9Dgry7o4xV1XuiW5kxrM967aXP9sYv9Nvu8pWyIgonoeQFzoMIEgAocSpJ
SnwU2RECgYEA7JAy03/v3I6jh2/272yBwf21+fOJzKE/WbkdAFpoZuKKt+ztj9to
QjfF2JWwpD9X5jB32VirqGO4PSY0R6wawcoN1d4QJ3irfJ8S83bKrdS429WjjVk4
D5Y07DEinT0sNBiLVRcQbOfgiGqMABCy3Qf2wxMSidYYjBXtepCO2SM=
-----END RSA PRIVATE KEY-----
";

    /// The public half of the test RSA key (`openssl rsa -pubout`).
    const RSA_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3uGr2OhSa+2unKQdT/8i
7yPFODonEaeSjeOf3aC6n7tqUus3uYi3KVrWvH+MIetsh/wka6LzqHl/UC3IxJQM
1l0/gV4i7jYvZnSDltYb2/dg7ZEWiPBat9DFqSTQPEUxvkBnaK67XlB+D7FFxw6a
oi1O4oKo/aGCWZ8AI53QoEgmPtVLH6ARWVtN5mR6SYDEQ34TiIaTaEIZry7+5ay7
9jq2PiDK40ooVkQZ3KCPLBynRg2WUoT8Rr8pCrcfIk2aS8KcnTjwvF1yjVW8Mc1a
1tLxUvFD3xqJYLO2U/YyPqlszXvDVkky8QBH6m1oKm0rOZixqzUgQR/6c48ffWLq
jQIDAQAB
-----END PUBLIC KEY-----
";

    /// TEST KEY ONLY: EC P-256, SEC1 (`openssl ecparam -genkey -noout`).
    const EC_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIKFDXLTp9Snf3y7GDaAof5IfqNBLYhdE3r0KE4PDxvTYoAoGCCqGSM49
AwEHoUQDQgAE2736nHTiKjFEG8RTt21WIxWheOZCKs988hzVk6pWAbxeGqlbozIb
gcP6QOZJYmKzCu0mvyqINapSaqqrXcsRuQ==
-----END EC PRIVATE KEY-----
";

    /// TEST KEY ONLY: the same P-256 key, PKCS#8 (`openssl pkcs8 -topk8 -nocrypt`).
    const EC_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgoUNctOn1Kd/fLsYN
oCh/kh+o0EtiF0TevQoTg8PG9NihRANCAATbvfqcdOIqMUQbxFO3bVYjFaF45kIq
z3zyHNWTqlYBvF4aqVujMhuBw/pA5kliYrMK7Sa/Kog1qlJqqqtdyxG5
-----END PRIVATE KEY-----
";

    /// The public half of the test P-256 key.
    const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2736nHTiKjFEG8RTt21WIxWheOZC
Ks988hzVk6pWAbxeGqlbozIbgcP6QOZJYmKzCu0mvyqINapSaqqrXcsRuQ==
-----END PUBLIC KEY-----
";

    /// TEST KEY ONLY: EC P-384, PKCS#8.
    const EC384_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCvuwuZf+EdAeQKd8QK
NeoruTAXWJ3ucJsxrj9zPkl0RfuxwzrE49FkUGD9Q87wHz+hZANiAAQRhoQ26MSi
JQJpcgXkl1h+mG0gCXtQpOPrbBnNGanBL3djfb6V/nugTeMCVGaGnhKDSnQRK4qu
piO9tC0kWl4L/7K8XZHJ2SMRjsPHZ7Rp0n+0zTLJZpb5LXwqNbcCCbI=
-----END PRIVATE KEY-----
";

    /// The public half of the test P-384 key.
    const EC384_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEEYaENujEoiUCaXIF5JdYfphtIAl7UKTj
62wZzRmpwS93Y32+lf57oE3jAlRmhp4Sg0p0ESuKrqYjvbQtJFpeC/+yvF2Rydkj
EY7Dx2e0adJ/tM0yyWaW+S18KjW3Agmy
-----END PUBLIC KEY-----
";

    /// The RS256 token of [`header`]`("RS256")` and [`claims`] under the test RSA key,
    /// computed with `openssl dgst -sha256 -sign` (PKCS#1 v1.5 signatures are deterministic).
    const RS256_OPENSSL: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3Qta2V5LTEiLCJ0eXAiOiJKV1QifQ.eyJhdWQiOiJodHRwczovL29hdXRoMi5leGFtcGxlL3Rva2VuIiwiZXhwIjoxNzAwMDAzNjAwLCJpYXQiOjE3MDAwMDAwMDAsImlzcyI6InN2Y0BleGFtcGxlLmlhbSIsIm5hbWUiOiJab8OrIiwic2NvcGUiOiJhIGIifQ.qLQJjAHS-qhKY_b5b68vCr_t2FCrqW6mbMv4FJgigH-Vv2DScPCoZLm_6j7LRHOsLvzj0DKcqffpxs7r_OoKFtp3MsAwizCGcExPGWaOHrCpKGrhvqRc0BvtVxNHSf-XdKOZ4mEWhPH3XMqZZKdyH8Z4qwT3pjfG2QuwPMnB-omwJAbrrC2RkcHcHvv0vuyfhZE7sUDzXvM0OYXwpc5qe4IEJUQjdx71Ccaum4uqXo41vVMXZAjI3gsBxFtPqh-vc1mxaj-bM_CWfHcy2gmw60tdDBp77GY1hq5iEraesSvluIzqmxTdet7yy_68MTqWK5BEiab4Kb8gE_P4M1fntA";

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// A header as the catalog renders it, without `typ`, in sorted key order.
    fn header(alg: &str) -> Map<String, Value> {
        map(json!({ "alg": alg, "kid": "test-key-1" }))
    }

    fn claims() -> Map<String, Value> {
        map(json!({
            "aud": "https://oauth2.example/token",
            "exp": 1_700_003_600u64,
            "iat": 1_700_000_000u64,
            "iss": "svc@example.iam",
            "name": "Zoë",
            "scope": "a b",
        }))
    }

    /// Splits a token, checks its shape, and decodes header and claims with base64.
    fn parts(token: &Secret) -> (Value, Value, String, Vec<u8>) {
        let token = token.expose();
        let pieces: Vec<&str> = token.split('.').collect();
        assert_eq!(pieces.len(), 3, "{token}");
        for piece in &pieces {
            assert!(
                piece
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "not base64url without padding: {piece}"
            );
        }
        let decode = |piece: &str| URL_SAFE_NO_PAD.decode(piece).unwrap();
        let header: Value = serde_json::from_slice(&decode(pieces[0])).unwrap();
        let claims: Value = serde_json::from_slice(&decode(pieces[1])).unwrap();
        let signing_input = format!("{}.{}", pieces[0], pieces[1]);
        (header, claims, signing_input, decode(pieces[2]))
    }

    fn sign_ok(protocol: Protocol, alg: &str, key: &str) -> (Value, Value, String, Vec<u8>) {
        let token = sign(protocol, &header(alg), &claims(), key, HmacEncoding::Hex).unwrap();
        let parts = parts(&token);
        assert_eq!(
            parts.0,
            json!({ "alg": alg, "kid": "test-key-1", "typ": "JWT" })
        );
        assert_eq!(parts.1, Value::Object(claims()));
        parts
    }

    fn rsa_public() -> rsa::PublicKey {
        use rsa::pkcs8::DecodePublicKey as _;
        rsa::PublicKey::from_public_key_pem(RSA_PUBLIC).unwrap()
    }

    fn verify_rsa<D>(scheme: impl rsa::traits::SignatureScheme, input: &str, signature: &[u8])
    where
        D: sha2::Digest,
    {
        let digest = D::digest(input.as_bytes());
        rsa_public()
            .verify(scheme, &digest, signature)
            .expect("the RSA signature verifies");
    }

    #[test]
    fn rs256_verifies_with_the_rsa_crate() {
        let (_, _, input, signature) = sign_ok(Protocol::Rsa, "RS256", RSA_PKCS8);
        assert_eq!(signature.len(), 256);
        verify_rsa::<sha2::Sha256>(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &input, &signature);

        // A changed payload does not verify.
        let tampered = input.replacen('.', ".e", 1);
        let digest = <sha2::Sha256 as sha2::Digest>::digest(tampered.as_bytes());
        assert!(
            rsa_public()
                .verify(
                    rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    &digest,
                    &signature
                )
                .is_err()
        );
    }

    #[test]
    fn rs256_matches_openssl() {
        let token = sign(
            Protocol::Rsa,
            &header("RS256"),
            &claims(),
            RSA_PKCS8,
            HmacEncoding::Hex,
        )
        .unwrap();
        assert_eq!(token.expose(), RS256_OPENSSL);
    }

    #[test]
    fn rsa_pkcs1_and_pkcs8_sign_alike() {
        for alg in ["RS256", "RS384", "RS512"] {
            let pkcs8 = sign(
                Protocol::Rsa,
                &header(alg),
                &claims(),
                RSA_PKCS8,
                HmacEncoding::Hex,
            )
            .unwrap();
            let pkcs1 = sign(
                Protocol::Rsa,
                &header(alg),
                &claims(),
                RSA_PKCS1,
                HmacEncoding::Hex,
            )
            .unwrap();
            assert_eq!(pkcs8, pkcs1, "{alg}");
        }
    }

    #[test]
    fn rs384_rs512_ps256_verify_with_the_rsa_crate() {
        let (_, _, input, signature) = sign_ok(Protocol::Rsa, "RS384", RSA_PKCS1);
        verify_rsa::<sha2::Sha384>(rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), &input, &signature);
        let (_, _, input, signature) = sign_ok(Protocol::Rsa, "RS512", RSA_PKCS1);
        verify_rsa::<sha2::Sha512>(rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), &input, &signature);
        let (_, _, input, signature) = sign_ok(Protocol::Rsa, "PS256", RSA_PKCS8);
        verify_rsa::<sha2::Sha256>(rsa::Pss::<sha2::Sha256>::new(), &input, &signature);
    }

    fn verify_es256(input: &str, signature: &[u8]) {
        use p256::ecdsa::signature::Verifier as _;
        use p256::pkcs8::DecodePublicKey as _;
        assert_eq!(signature.len(), 64, "r || s, 32 bytes each");
        let key = p256::ecdsa::VerifyingKey::from_public_key_pem(EC_PUBLIC).unwrap();
        let signature = p256::ecdsa::Signature::from_slice(signature).unwrap();
        key.verify(input.as_bytes(), &signature)
            .expect("the ES256 signature verifies");
    }

    #[test]
    fn es256_sec1_and_pkcs8_verify_with_p256() {
        for key in [EC_SEC1, EC_PKCS8] {
            let (_, _, input, signature) = sign_ok(Protocol::Ec, "ES256", key);
            verify_es256(&input, &signature);
        }
    }

    #[test]
    fn es384_verifies_with_p384() {
        use p384::ecdsa::signature::Verifier as _;
        use p384::pkcs8::DecodePublicKey as _;
        let (_, _, input, signature) = sign_ok(Protocol::Ec, "ES384", EC384_PKCS8);
        assert_eq!(signature.len(), 96);
        let key = p384::ecdsa::VerifyingKey::from_public_key_pem(EC384_PUBLIC).unwrap();
        let signature = p384::ecdsa::Signature::from_slice(&signature).unwrap();
        key.verify(input.as_bytes(), &signature).unwrap();
    }

    #[test]
    fn ec_key_of_the_wrong_curve() {
        let err = sign(
            Protocol::Ec,
            &header("ES256"),
            &claims(),
            EC384_PKCS8,
            HmacEncoding::Hex,
        )
        .unwrap_err();
        assert!(matches!(err, JwtError::InvalidKey { .. }), "{err}");
        assert!(err.to_string().contains("P-256"), "{err}");
        let err = sign(
            Protocol::Ec,
            &header("ES384"),
            &claims(),
            EC_SEC1,
            HmacEncoding::Hex,
        )
        .unwrap_err();
        assert!(err.to_string().contains("P-384"), "{err}");
        // An RSA key is no EC key, and the other way round.
        assert!(matches!(
            sign(
                Protocol::Ec,
                &header("ES256"),
                &claims(),
                RSA_PKCS8,
                HmacEncoding::Hex
            ),
            Err(JwtError::InvalidKey { .. })
        ));
        assert!(matches!(
            sign(
                Protocol::Rsa,
                &header("RS256"),
                &claims(),
                EC_PKCS8,
                HmacEncoding::Hex
            ),
            Err(JwtError::InvalidKey { .. })
        ));
    }

    fn hs256(key: &[u8], input: &str) -> Vec<u8> {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(key).unwrap();
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn hs256_hex_key() {
        let key = "00ff10Ab";
        let token = sign(
            Protocol::Hmac,
            &header("HS256"),
            &claims(),
            key,
            HmacEncoding::Hex,
        )
        .unwrap();
        let (header, claims_back, input, signature) = parts(&token);
        assert_eq!(header["typ"], "JWT");
        assert_eq!(claims_back, Value::Object(claims()));
        assert_eq!(signature, hs256(&[0x00, 0xff, 0x10, 0xab], &input));
        assert_ne!(signature, hs256(key.as_bytes(), &input));
        // Surrounding whitespace of a hex key is ignored.
        let padded = sign(
            Protocol::Hmac,
            &self::header("HS256"),
            &claims(),
            " 00ff10ab\n",
            HmacEncoding::Hex,
        )
        .unwrap();
        assert_eq!(padded, token);
    }

    #[test]
    fn hs256_utf8_key() {
        let key = "s3cr3t-ü";
        let token = sign(
            Protocol::Hmac,
            &header("HS256"),
            &claims(),
            key,
            HmacEncoding::Utf8,
        )
        .unwrap();
        let (_, _, input, signature) = parts(&token);
        assert_eq!(signature, hs256(key.as_bytes(), &input));
    }

    #[test]
    fn hs384_hs512_signature_lengths() {
        for (alg, len) in [("HS384", 48), ("HS512", 64)] {
            let (_, _, _, signature) = sign_ok(Protocol::Hmac, alg, "0123456789abcdef");
            assert_eq!(signature.len(), len, "{alg}");
        }
    }

    #[test]
    fn header_fields_are_kept_and_typ_only_added_when_absent() {
        let header = map(json!({
            "alg": "HS256",
            "typ": "at+jwt",
            "kid": "k-9",
            "x5t#S256": "abc",
            "crit": ["exp"],
        }));
        let token = sign(
            Protocol::Hmac,
            &header,
            &claims(),
            "abcd",
            HmacEncoding::Hex,
        )
        .unwrap();
        assert_eq!(parts(&token).0, Value::Object(header));
    }

    #[test]
    fn pem_pasted_with_literal_newlines() {
        let pasted = RSA_PKCS8.replace('\n', "\\n");
        assert!(!pasted.contains('\n'));
        let quoted = format!("  {pasted}  ");
        let from_pasted = sign(
            Protocol::Rsa,
            &header("RS256"),
            &claims(),
            &quoted,
            HmacEncoding::Hex,
        )
        .unwrap();
        let original = sign(
            Protocol::Rsa,
            &header("RS256"),
            &claims(),
            RSA_PKCS8,
            HmacEncoding::Hex,
        )
        .unwrap();
        assert_eq!(from_pasted, original);

        let ec = EC_SEC1.replace('\n', "\\r\\n");
        let (_, _, input, signature) = sign_ok(Protocol::Ec, "ES256", &ec);
        verify_es256(&input, &signature);
    }

    /// The base64 body of a PEM, on one line.
    fn body(pem: &str) -> String {
        pem.lines()
            .filter(|line| !line.starts_with("-----"))
            .collect()
    }

    #[test]
    fn pem_without_armour() {
        let bare_pkcs8 = body(RSA_PKCS8);
        let bare_pkcs1 = body(RSA_PKCS1);
        let expected = sign(
            Protocol::Rsa,
            &header("RS256"),
            &claims(),
            RSA_PKCS8,
            HmacEncoding::Hex,
        )
        .unwrap();
        for bare in [bare_pkcs8, bare_pkcs1] {
            let token = sign(
                Protocol::Rsa,
                &header("RS256"),
                &claims(),
                &bare,
                HmacEncoding::Hex,
            )
            .unwrap();
            assert_eq!(token, expected);
        }
        // A bare SEC1 body, which `normalize_pem` labels PRIVATE KEY, still signs.
        let (_, _, input, signature) = sign_ok(Protocol::Ec, "ES256", &body(EC_SEC1));
        verify_es256(&input, &signature);
    }

    #[test]
    fn normalize_pem_rewraps() {
        // Armour kept, body joined and wrapped at 64 columns.
        let one_line = format!(
            "-----BEGIN RSA PRIVATE KEY-----{}-----END RSA PRIVATE KEY-----",
            body(RSA_PKCS1)
        );
        assert_eq!(normalize_pem(&one_line).unwrap(), RSA_PKCS1);
        // Whitespace inside the body, CRLF line ends and surrounding whitespace.
        let messy = format!(
            "\n\t {}\r\n",
            EC_SEC1.replace('\n', "\r\n").replacen("MHcC", "MH cC\t", 1)
        );
        assert_eq!(normalize_pem(&messy).unwrap(), EC_SEC1);
        // Only the first block counts.
        let bundle = format!(
            "Bag Attributes\n    localKeyID: 01\n{EC_SEC1}-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(normalize_pem(&bundle).unwrap(), EC_SEC1);
        // No armour: the default label.
        assert_eq!(normalize_pem(&body(EC_PKCS8)).unwrap(), EC_PKCS8);
        // Literal `\n`.
        assert_eq!(
            normalize_pem(&EC_PKCS8.replace('\n', "\\n")).unwrap(),
            EC_PKCS8
        );
        // Lines wrapped at other widths.
        let narrow: String = body(RSA_PKCS8)
            .as_bytes()
            .chunks(40)
            .map(|chunk| format!("{}\n", String::from_utf8_lossy(chunk)))
            .collect();
        let narrow = format!("-----BEGIN PRIVATE KEY-----\n{narrow}-----END PRIVATE KEY-----");
        assert_eq!(normalize_pem(&narrow).unwrap(), RSA_PKCS8);
        // Every line but the last is exactly 64 characters.
        let normalized = normalize_pem(&narrow).unwrap();
        let lines: Vec<&str> = normalized.lines().collect();
        assert!(
            lines[1..lines.len() - 2]
                .iter()
                .all(|line| line.len() == 64)
        );
        // Short keys and missing padding.
        assert_eq!(
            normalize_pem("QUJD").unwrap(),
            "-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n"
        );
        assert_eq!(
            normalize_pem("-----BEGIN PUBLIC KEY-----\nQUI\n-----END PUBLIC KEY-----").unwrap(),
            "-----BEGIN PUBLIC KEY-----\nQUI\n-----END PUBLIC KEY-----\n"
        );
    }

    #[test]
    fn normalize_pem_errors() {
        let cases: &[(&str, JwtError)] = &[
            ("", JwtError::EmptyKey),
            (" \n\\n\t", JwtError::EmptyKey),
            (
                "-----BEGIN PRIVATE KEY-----\nQUJD\n",
                JwtError::InvalidPem("there is no END line"),
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nQUJD\n-----END RSA PRIVATE KEY-----",
                JwtError::InvalidPem("the END line does not match the BEGIN line"),
            ),
            (
                "-----BEGIN PRIVATE KEY\nQUJD\n",
                JwtError::InvalidPem("the BEGIN line does not end in -----"),
            ),
            (
                "-----BEGIN private key-----\nQUJD\n-----END private key-----",
                JwtError::InvalidPem("the BEGIN line has an invalid label"),
            ),
            (
                "-----BEGIN -----\nQUJD\n-----END -----",
                JwtError::InvalidPem("the BEGIN line has an invalid label"),
            ),
            (
                "-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----",
                JwtError::InvalidPem("there is no key data"),
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----",
                JwtError::InvalidPem("the key data is not base64"),
            ),
            ("QUJ", JwtError::InvalidPem("the key data is not base64")),
            ("Q=UJD", JwtError::InvalidPem("the key data is not base64")),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nQUJD\n-----END RSA PRIVATE KEY-----",
                JwtError::EncryptedKey,
            ),
            (
                "-----BEGIN X-----\nComment: hi\n\nQUJD\n-----END X-----",
                JwtError::InvalidPem("the key data has header lines"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_pem(input).as_ref(), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn wrong_alg_for_protocol() {
        let cases = [
            (Protocol::Rsa, "HS256", RSA_PKCS8),
            (Protocol::Rsa, "ES256", RSA_PKCS8),
            (Protocol::Ec, "RS256", EC_PKCS8),
            (Protocol::Hmac, "RS256", "abcd"),
            (Protocol::Hmac, "ES384", "abcd"),
        ];
        for (protocol, alg, key) in cases {
            let err = sign(protocol, &header(alg), &claims(), key, HmacEncoding::Hex).unwrap_err();
            assert_eq!(
                err,
                JwtError::AlgProtocolMismatch {
                    alg: alg.to_owned(),
                    protocol
                }
            );
            let message = err.to_string();
            assert!(message.contains(alg), "{message}");
            assert!(message.contains(protocol.as_str()), "{message}");
        }
    }

    #[test]
    fn bad_alg() {
        let sign_with = |header: Value| {
            sign(
                Protocol::Hmac,
                &map(header),
                &claims(),
                "abcd",
                HmacEncoding::Hex,
            )
        };
        assert_eq!(sign_with(json!({})), Err(JwtError::MissingAlg));
        assert_eq!(
            sign_with(json!({ "alg": 256 })),
            Err(JwtError::AlgNotString)
        );
        for alg in ["none", "EdDSA", "hs256", "HS256 ", "RS1"] {
            let err = sign_with(json!({ "alg": alg })).unwrap_err();
            assert_eq!(err, JwtError::UnsupportedAlg(alg.to_owned()));
            assert!(err.to_string().contains(&format!("`{alg}`")), "{err}");
        }
    }

    /// Every failure is an error whose text shows no part of the key.
    fn assert_clean_error(protocol: Protocol, alg: &str, key: &str, encoding: HmacEncoding) {
        let err = sign(protocol, &header(alg), &claims(), key, encoding)
            .expect_err("a bad key is an error");
        let text = format!("{err} {err:?}");
        let fragments = key
            .split(|c: char| c.is_whitespace() || c == '-' || c == '\\')
            .filter(|fragment| fragment.len() >= 6 && *fragment != "PRIVATE");
        for fragment in fragments {
            assert!(!text.contains(fragment), "{text} contains {fragment}");
        }
    }

    #[test]
    fn garbage_and_empty_keys_are_clean_errors() {
        let garbage = [
            "this is not a key at all, just a sentence",
            "c29tZSBiYXNlNjQgdGhhdCBpcyBub3QgREVS",
            "-----BEGIN PRIVATE KEY-----\nc29tZSBiYXNlNjQgdGhhdCBpcyBub3QgREVS\n-----END PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----",
            RSA_PUBLIC,
            EC_PUBLIC,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG\n-----END ENCRYPTED PRIVATE KEY-----",
        ];
        for key in garbage {
            assert_clean_error(Protocol::Rsa, "RS256", key, HmacEncoding::Hex);
            assert_clean_error(Protocol::Ec, "ES256", key, HmacEncoding::Hex);
            assert_clean_error(Protocol::Ec, "ES384", key, HmacEncoding::Hex);
        }
        assert_clean_error(
            Protocol::Hmac,
            "HS256",
            "zzqqxx-not-hexadecimal",
            HmacEncoding::Hex,
        );
        assert_eq!(
            sign(
                Protocol::Hmac,
                &header("HS256"),
                &claims(),
                "abc",
                HmacEncoding::Hex
            ),
            Err(JwtError::InvalidHex)
        );
        assert_eq!(
            sign(
                Protocol::Rsa,
                &header("RS256"),
                &claims(),
                RSA_PUBLIC,
                HmacEncoding::Hex
            ),
            Err(JwtError::NotAPrivateKey)
        );

        // Empty PEM keys, including whitespace and a literal `\n` only.
        for (protocol, alg) in [(Protocol::Rsa, "RS256"), (Protocol::Ec, "ES256")] {
            for empty in ["", "  \n", "\\n"] {
                let result = sign(protocol, &header(alg), &claims(), empty, HmacEncoding::Hex);
                assert_eq!(result, Err(JwtError::EmptyKey), "{protocol} {empty:?}");
            }
        }
        // Empty HMAC secrets; a UTF-8 secret is taken as it is, even when only whitespace.
        for (key, encoding) in [
            ("", HmacEncoding::Hex),
            (" \n", HmacEncoding::Hex),
            ("", HmacEncoding::Utf8),
        ] {
            let result = sign(Protocol::Hmac, &header("HS256"), &claims(), key, encoding);
            assert_eq!(result, Err(JwtError::EmptyKey), "{encoding} {key:?}");
        }
        assert!(
            sign(
                Protocol::Hmac,
                &header("HS256"),
                &claims(),
                " ",
                HmacEncoding::Utf8
            )
            .is_ok()
        );
    }

    #[test]
    fn damaged_keys_never_panic() {
        // Truncated and altered DER in every supported format: errors (or, rarely, a key
        // that still parses), never a panic.
        for key in [RSA_PKCS8, RSA_PKCS1, EC_SEC1, EC_PKCS8, EC384_PKCS8] {
            let der = PEM_BASE64.decode(body(key)).unwrap();
            let mut variants = Vec::new();
            for cut in (0..der.len()).step_by(13) {
                variants.push(der[..cut].to_vec());
            }
            for at in (0..der.len()).step_by(29) {
                let mut flipped = der.clone();
                flipped[at] ^= 0x5a;
                variants.push(flipped);
            }
            for variant in variants {
                let bare = base64::engine::general_purpose::STANDARD.encode(&variant);
                for (protocol, alg) in [
                    (Protocol::Rsa, "RS256"),
                    (Protocol::Rsa, "PS256"),
                    (Protocol::Ec, "ES256"),
                    (Protocol::Ec, "ES384"),
                ] {
                    let _ = sign(protocol, &header(alg), &claims(), &bare, HmacEncoding::Hex);
                }
            }
        }
    }

    #[test]
    fn protocol_and_encoding_from_str() {
        assert_eq!("RSA".parse::<Protocol>(), Ok(Protocol::Rsa));
        assert_eq!("EC".parse::<Protocol>(), Ok(Protocol::Ec));
        assert_eq!("HMAC".parse::<Protocol>(), Ok(Protocol::Hmac));
        assert_eq!("hmac".parse::<Protocol>(), Ok(Protocol::Hmac));
        let err = "WSSE".parse::<Protocol>().unwrap_err();
        assert_eq!(err, JwtError::UnknownProtocol("WSSE".into()));
        assert!(err.to_string().contains("`WSSE`"), "{err}");
        assert!(err.to_string().contains("RSA, EC or HMAC"), "{err}");
        for protocol in [Protocol::Rsa, Protocol::Ec, Protocol::Hmac] {
            assert_eq!(protocol.as_str().parse::<Protocol>(), Ok(protocol));
            assert_eq!(protocol.to_string(), protocol.as_str());
        }

        assert_eq!(HmacEncoding::default(), HmacEncoding::Hex);
        assert_eq!("hex".parse::<HmacEncoding>(), Ok(HmacEncoding::Hex));
        assert_eq!("utf8".parse::<HmacEncoding>(), Ok(HmacEncoding::Utf8));
        assert_eq!("UTF-8".parse::<HmacEncoding>(), Ok(HmacEncoding::Utf8));
        assert_eq!(
            "base64".parse::<HmacEncoding>(),
            Err(JwtError::UnknownHmacEncoding("base64".into()))
        );
        assert_eq!(HmacEncoding::Utf8.to_string(), "utf8");
    }

    #[test]
    fn issued_claims_sets_iat_and_exp() {
        let input = map(json!({ "iss": "me", "iat": 1, "exp": "soon" }));
        let issued = issued_claims(&input, 1_700_000_000, 3600);
        assert_eq!(
            Value::Object(issued),
            json!({ "iss": "me", "iat": 1_700_000_000u64, "exp": 1_700_003_600u64 })
        );
        let saturated = issued_claims(&Map::new(), u64::MAX - 1, 10);
        assert_eq!(saturated["exp"], json!(u64::MAX));
    }
}

//! The template functions' cryptography, which the model leaves to this crate
//! ([`terapi_model::Crypto`]): digests with the `client` feature (SHA-256, HMAC-SHA256,
//! HMAC-SHA1), and with `signing` the key-based `${ed25519Sign(message, key)}` and
//! `${fingerprint(pem)}`.

#[cfg(feature = "signing")]
use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::Digest as _;

/// The RustCrypto implementation of [`terapi_model::Crypto`]; the client puts [`CRYPTO`] into
/// every context it renders with.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

/// The cryptography the client renders with; give it to a context of your own with
/// `RenderContext::new().with_crypto(&terapi_runtime::CRYPTO)`.
pub static CRYPTO: RustCrypto = RustCrypto;

impl terapi_model::Crypto for RustCrypto {
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    fn hmac_sha256(&self, key: &[u8], data: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length.
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn hmac_sha1(&self, key: &[u8], data: &[u8]) -> [u8; 20] {
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    #[cfg(feature = "signing")]
    fn ed25519_sign(&self, message: &str, pkcs8_pem: &str) -> Result<String, String> {
        use ed25519_dalek::Signer as _;
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pkcs8_pem.trim()).map_err(|_| {
            "the signing key is not an Ed25519 private key in PKCS#8 PEM form".to_owned()
        })?;
        Ok(base64::engine::general_purpose::STANDARD
            .encode(key.sign(message.as_bytes()).to_bytes()))
    }

    #[cfg(not(feature = "signing"))]
    fn ed25519_sign(&self, _: &str, _: &str) -> Result<String, String> {
        Err(NO_SIGNING.to_owned())
    }

    #[cfg(feature = "signing")]
    fn public_key_fingerprint(&self, pem: &str) -> Result<String, String> {
        crate::jwt::public_key_fingerprint(pem).map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "signing"))]
    fn public_key_fingerprint(&self, _: &str) -> Result<String, String> {
        Err(NO_SIGNING.to_owned())
    }
}

#[cfg(not(feature = "signing"))]
const NO_SIGNING: &str =
    "key-based signatures need terapi-runtime's `signing` feature, which this build leaves out";

#[cfg(test)]
mod tests {
    use super::*;
    use terapi_model::Crypto as _;

    #[cfg(feature = "signing")]
    #[test]
    fn ed25519_signs_with_a_pkcs8_key() {
        // RFC 8410 section 10.3 example key.
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let sig = CRYPTO.ed25519_sign("hello", pem).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&sig)
            .unwrap();
        assert_eq!(bytes.len(), 64);
        let err = CRYPTO.ed25519_sign("m", "not a key").unwrap_err();
        assert!(!err.contains("not a key"));
    }

    #[test]
    fn digests_match_their_test_vectors() {
        let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(&CRYPTO.sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 2202 test case 2; RFC 4231 test case 2.
        assert_eq!(
            hex(&CRYPTO.hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&CRYPTO.hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

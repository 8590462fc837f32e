//! The key-based signatures of the template language, which the model leaves to this crate:
//! `${ed25519Sign(message, key)}` and `${fingerprint(pem)}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// RSA, EC and Ed25519 signatures for templates ([`terapi_model::Signing`]); the client puts
/// [`SIGNING`] into every context it renders with.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeySigning;

/// The signer the client renders with; give it to a context of your own with
/// `RenderContext::new().with_signing(&terapi_runtime::SIGNING)`.
pub static SIGNING: KeySigning = KeySigning;

impl terapi_model::Signing for KeySigning {
    fn ed25519_sign(&self, message: &str, pkcs8_pem: &str) -> Result<String, String> {
        use ed25519_dalek::Signer as _;
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pkcs8_pem.trim()).map_err(|_| {
            "the signing key is not an Ed25519 private key in PKCS#8 PEM form".to_owned()
        })?;
        Ok(BASE64.encode(key.sign(message.as_bytes()).to_bytes()))
    }

    fn public_key_fingerprint(&self, pem: &str) -> Result<String, String> {
        crate::jwt::public_key_fingerprint(pem).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use terapi_model::Signing as _;

    #[test]
    fn ed25519_signs_with_a_pkcs8_key() {
        // RFC 8410 section 10.3 example key.
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let sig = SIGNING.ed25519_sign("hello", pem).unwrap();
        assert_eq!(BASE64.decode(&sig).unwrap().len(), 64);
        let err = SIGNING.ed25519_sign("m", "not a key").unwrap_err();
        assert!(!err.contains("not a key"));
    }
}

//! The keys that encrypt a store's secrets, and the encryption: XChaCha20-Poly1305 (a random
//! 192-bit nonce per write, so nonces never repeat in practice), with the row's table and id
//! as associated data, so a sealed value cannot be moved to another row or table unnoticed.
//!
//! A value is stored as `[format byte 1][24-byte nonce][ciphertext and tag]`, beside the id of
//! the key that sealed it. A ring holds one primary key (for writing) and any number of older
//! keys (for reading rows not yet re-encrypted by `Store::rotate_key`).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Digest as _;

use crate::error::StoreError;

/// The key id of values a store opened with [`Keys::unencrypted`] wrote in clear.
pub(crate) const PLAINTEXT: &str = "plaintext";
const FORMAT: u8 = 1;
const NONCE: usize = 24;

/// A 256-bit key. `Debug` shows only its id.
#[derive(Clone)]
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
    /// A key derived from this one for the content hashes of records: a hash does not let
    /// anyone without the key test a guess of a record's content.
    hash_key: [u8; 32],
}

/// The keys of a store: the one that encrypts what is written, and older ones that only
/// decrypt. `Debug` shows key ids, never a key.
#[derive(Clone)]
pub struct Keys {
    primary: Option<Key>,
    older: BTreeMap<String, Key>,
    plaintext: bool,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("primary", &self.primary.as_ref().map(|k| &k.id))
            .field("older", &self.older.keys().collect::<Vec<_>>())
            .field("plaintext", &self.plaintext)
            .finish()
    }
}

impl Keys {
    /// A ring whose primary key is `key` (32 bytes), named `id` (1 to 32 ASCII letters,
    /// digits, `-` or `_`: stored beside every value it seals).
    pub fn new(id: &str, key: &[u8]) -> Result<Keys, StoreError> {
        Ok(Keys {
            primary: Some(Key::new(id, key)?),
            older: BTreeMap::new(),
            plaintext: false,
        })
    }

    /// A ring from text: one key or a comma-separated list, each `ID:BASE64` or only
    /// `BASE64` (32 bytes, standard or URL-safe base64; the id is then `k` and the first 8
    /// hex digits of the key's SHA-256). The first key is the primary, the others decrypt
    /// only.
    pub fn parse(text: &str) -> Result<Keys, StoreError> {
        let mut keys: Option<Keys> = None;
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (id, encoded) = match item.split_once(':') {
                Some((id, encoded)) => (Some(id.trim()), encoded.trim()),
                None => (None, item),
            };
            let bytes = decode_key(encoded)?;
            let id = match id {
                Some(id) => id.to_owned(),
                None => fingerprint(&bytes),
            };
            keys = Some(match keys {
                None => Keys::new(&id, &bytes)?,
                Some(ring) => ring.with_older(&id, &bytes)?,
            });
        }
        keys.ok_or_else(|| StoreError::InvalidKey {
            reason: "no key given".to_owned(),
        })
    }

    /// The ring in the environment variable `var` (see [`Keys::parse`]). The error names the
    /// variable, never its value.
    pub fn from_env(var: &str) -> Result<Keys, StoreError> {
        let text = std::env::var(var).map_err(|_| StoreError::InvalidKey {
            reason: format!("the environment variable `{var}` is not set (or not UTF-8)"),
        })?;
        Keys::parse(&text).map_err(|e| match e {
            StoreError::InvalidKey { reason } => StoreError::InvalidKey {
                reason: format!("`{var}`: {reason}"),
            },
            other => other,
        })
    }

    /// No key: the store reads what is not secret (the list of connections) and refuses to
    /// read or write secrets.
    pub fn none() -> Keys {
        Keys {
            primary: None,
            older: BTreeMap::new(),
            plaintext: false,
        }
    }

    /// No key, and secrets written **in clear** (key id `plaintext`): for throwaway stores
    /// only. Never the default.
    pub fn unencrypted() -> Keys {
        Keys {
            plaintext: true,
            ..Keys::none()
        }
    }

    /// With an older key that decrypts (rows it sealed) but never encrypts.
    pub fn with_older(mut self, id: &str, key: &[u8]) -> Result<Keys, StoreError> {
        let key = Key::new(id, key)?;
        if self.primary.as_ref().is_some_and(|p| p.id == key.id) || self.older.contains_key(&key.id)
        {
            return Err(StoreError::InvalidKey {
                reason: format!("the key id `{}` is given twice", key.id),
            });
        }
        self.older.insert(key.id.clone(), key);
        Ok(self)
    }

    /// A new random 256-bit key, as base64 (what [`Keys::parse`] reads).
    pub fn generate() -> Result<String, StoreError> {
        let mut key = [0u8; 32];
        fill_random(&mut key)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(key))
    }

    /// The id of the key that encrypts, if any.
    pub fn primary_id(&self) -> Option<&str> {
        self.primary.as_ref().map(|k| k.id.as_str())
    }

    /// Whether secrets can be written.
    pub(crate) fn can_write(&self) -> bool {
        self.primary.is_some() || self.plaintext
    }

    /// Seals `plain` for the row `what` (table and id), with the primary key.
    pub(crate) fn seal(&self, what: &str, plain: &[u8]) -> Result<(String, Vec<u8>), StoreError> {
        match (&self.primary, self.plaintext) {
            (Some(key), _) => {
                let mut nonce = [0u8; NONCE];
                fill_random(&mut nonce)?;
                let sealed = key
                    .cipher
                    .encrypt(
                        &XNonce::from(nonce),
                        Payload {
                            msg: plain,
                            aad: aad(what).as_bytes(),
                        },
                    )
                    .map_err(|_| StoreError::Crypto {
                        what: what.to_owned(),
                    })?;
                let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
                out.push(FORMAT);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
                Ok((key.id.clone(), out))
            }
            (None, true) => Ok((PLAINTEXT.to_owned(), plain.to_vec())),
            (None, false) => Err(StoreError::NoKey),
        }
    }

    /// The content hash of a record (hex): keyed by the primary key when there is one.
    pub(crate) fn record_hash(&self, canonical: &[u8]) -> String {
        use hmac::Mac as _;
        match &self.primary {
            Some(key) => {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key.hash_key)
                    .expect("HMAC takes a key of any length");
                mac.update(canonical);
                hex::encode(mac.finalize().into_bytes())
            }
            None => {
                let mut h = sha2::Sha256::new();
                h.update(b"terapi-store/record-hash/plain\0");
                h.update(canonical);
                hex::encode(h.finalize())
            }
        }
    }

    /// Opens a value of the row `what` sealed with the key `key_id`.
    pub(crate) fn open(
        &self,
        what: &str,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        if key_id == PLAINTEXT {
            return if self.plaintext {
                Ok(sealed.to_vec())
            } else {
                Err(StoreError::Plaintext {
                    what: what.to_owned(),
                })
            };
        }
        let key = match &self.primary {
            Some(k) if k.id == key_id => k,
            _ => self.older.get(key_id).ok_or_else(|| {
                if self.primary.is_none() && self.older.is_empty() {
                    StoreError::NoKey
                } else {
                    StoreError::UnknownKey {
                        what: what.to_owned(),
                        key_id: key_id.to_owned(),
                    }
                }
            })?,
        };
        let corrupt = || StoreError::Crypto {
            what: what.to_owned(),
        };
        if sealed.len() < 1 + NONCE || sealed[0] != FORMAT {
            return Err(corrupt());
        }
        let nonce: [u8; NONCE] = sealed[1..1 + NONCE].try_into().map_err(|_| corrupt())?;
        key.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed[1 + NONCE..],
                    aad: aad(what).as_bytes(),
                },
            )
            .map_err(|_| corrupt())
    }
}

impl Key {
    fn new(id: &str, key: &[u8]) -> Result<Key, StoreError> {
        let valid_id = !id.is_empty()
            && id.len() <= 32
            && id != PLAINTEXT
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(StoreError::InvalidKey {
                reason: format!(
                    "a key id is 1 to 32 ASCII letters, digits, `-` or `_` (and not `{PLAINTEXT}`)"
                ),
            });
        }
        let cipher =
            XChaCha20Poly1305::new_from_slice(key).map_err(|_| StoreError::InvalidKey {
                reason: format!("key `{id}` has {} bytes; a key has 32", key.len()),
            })?;
        let mut derive = sha2::Sha256::new();
        derive.update(b"terapi-store/record-hash/1\0");
        derive.update(key);
        Ok(Key {
            id: id.to_owned(),
            cipher,
            hash_key: derive.finalize().into(),
        })
    }
}

/// The associated data of a row's sealed value.
fn aad(what: &str) -> String {
    format!("terapi-store/1/{what}")
}

fn decode_key(encoded: &str) -> Result<Vec<u8>, StoreError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())
        .ok_or_else(|| StoreError::InvalidKey {
            reason: "a key is 32 bytes in base64 (`terapi key generate` makes one)".to_owned(),
        })
}

/// `k` and the first 8 hex digits of the key's SHA-256: names a key without revealing it.
fn fingerprint(key: &[u8]) -> String {
    let digest = sha2::Sha256::digest(key);
    format!("k{}", hex::encode(&digest[..4]))
}

/// Fills `buf` from the operating system's generator (nothing is sealed without it).
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), StoreError> {
    getrandom::fill(buf).map_err(|e| StoreError::Random {
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_for_its_row_only() {
        let keys = Keys::new("a", &[7; 32]).unwrap();
        let (id, sealed) = keys.seal("connections/x", b"secret").unwrap();
        assert_eq!(id, "a");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(keys.open("connections/x", "a", &sealed).unwrap(), b"secret");
        assert!(matches!(
            keys.open("connections/y", "a", &sealed),
            Err(StoreError::Crypto { .. })
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            keys.open("connections/x", "a", &tampered),
            Err(StoreError::Crypto { .. })
        ));
        // Two seals of one value differ (random nonces).
        assert_ne!(keys.seal("connections/x", b"secret").unwrap().1, sealed);
    }

    #[test]
    fn rings_parse_rotate_and_refuse() {
        let old = Keys::generate().unwrap();
        let new = Keys::generate().unwrap();
        let ring = Keys::parse(&format!("new:{new}, {old}")).unwrap();
        assert_eq!(ring.primary_id(), Some("new"));
        let old_only = Keys::parse(&old).unwrap();
        let (old_id, sealed) = old_only.seal("t/1", b"v").unwrap();
        assert!(old_id.starts_with('k') && old_id.len() == 9);
        assert_eq!(ring.open("t/1", &old_id, &sealed).unwrap(), b"v");
        assert!(matches!(
            Keys::new("new", &[1; 32])
                .unwrap()
                .open("t/1", &old_id, &sealed),
            Err(StoreError::UnknownKey { .. })
        ));
        assert!(matches!(
            Keys::none().seal("t/1", b"v"),
            Err(StoreError::NoKey)
        ));
        assert!(matches!(
            Keys::none().open("t/1", &old_id, &sealed),
            Err(StoreError::NoKey)
        ));
        for bad in ["", "short", "a b:AAAA", &format!("plaintext:{new}")] {
            let e = Keys::parse(bad).unwrap_err().to_string();
            assert!(!e.contains(&new), "{e}");
        }
        assert!(format!("{ring:?}").contains("new") && !format!("{ring:?}").contains(&new));
        // A plaintext row is refused by an encrypting store.
        let (pid, clear) = Keys::unencrypted().seal("t/1", b"v").unwrap();
        assert_eq!(pid, PLAINTEXT);
        assert!(matches!(
            ring.open("t/1", &pid, &clear),
            Err(StoreError::Plaintext { .. })
        ));
    }
}

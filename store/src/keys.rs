//! The keys that encrypt a store's secrets, and the encryption: XChaCha20-Poly1305 (a random
//! 192-bit nonce per write, so nonces never repeat in practice), with a [`Binding`] as
//! associated data: the row's table, its ids and every column a decision depends on (a
//! connection's provider, a record's connection, model and id, ...), so a sealed value cannot
//! be moved to another row, nor its row's provider or ids changed, unnoticed.
//!
//! A value is stored as `[format byte][24-byte nonce][ciphertext and tag]`, beside the id of
//! the key that sealed it. A ring holds one primary key (for writing) and any number of older
//! keys (for reading rows not yet re-encrypted by `Store::rotate_key`).
//!
//! Format 2 binds the columns. Format 1 (terapi-store before bindings) bound only a label of
//! the row, so its rows' provider and ids could be changed by anyone with write access to the
//! database: such values are refused ([`StoreError::Legacy`]) and are re-sealed only on an
//! explicit request (`Store::rotate_key_with_legacy`), which trusts the columns as they are
//! then. Accepting them on any other path would let an attacker put back a format-1 value
//! (from an old backup) beside a changed provider: a downgrade.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Digest as _;

use crate::error::StoreError;

/// The key id of values a store opened with [`Keys::unencrypted`] wrote in clear.
pub(crate) const PLAINTEXT: &str = "plaintext";
/// The sealed format whose associated data is a [`Binding`].
const FORMAT: u8 = 2;
/// The format before bindings: the associated data was a label of the row.
const LEGACY_FORMAT: u8 = 1;
const NONCE: usize = 24;

/// What a sealed value is bound to: its table and the columns a decision depends on (the
/// associated data of format 2), and the row's label (for messages, and format 1's
/// associated data, for re-sealing such values).
pub(crate) struct Binding {
    /// The row, for messages (format 1's label of it).
    what: String,
    /// The table, then the bound columns.
    parts: Vec<String>,
}

impl Binding {
    fn new(what: String, parts: Vec<String>) -> Binding {
        Binding { what, parts }
    }

    /// A connection: its id and its provider (whose endpoints receive its secrets).
    pub(crate) fn connection(id: &str, provider: &str) -> Binding {
        Binding::new(
            format!("connection `{id}`"),
            vec!["terapi_connections".into(), id.into(), provider.into()],
        )
    }

    /// A pending authorization: its state's hash, the connection it saves and its provider.
    pub(crate) fn pending(state_hash: &str, connection: &str, provider: &str) -> Binding {
        Binding::new(
            format!(
                "pending authorization {}",
                state_hash.get(..12).unwrap_or(state_hash)
            ),
            vec![
                "terapi_pending".into(),
                state_hash.into(),
                connection.into(),
                provider.into(),
            ],
        )
    }

    /// A record: its connection, model and id.
    pub(crate) fn record(connection: &str, model: &str, id: &str) -> Binding {
        Binding::new(
            format!(
                "record `{}` of model `{model}` of connection `{connection}`",
                id.escape_default()
            ),
            vec![
                "terapi_records".into(),
                connection.into(),
                model.into(),
                id.into(),
            ],
        )
    }

    /// A webhook's token: the webhook, the connection its deliveries are applied to, and the
    /// token's hash (by which deliveries find it).
    pub(crate) fn webhook(id: &str, connection: &str, token_hash: &str) -> Binding {
        Binding::new(
            format!("webhook `{}`", id.escape_default()),
            vec![
                "terapi_webhooks".into(),
                id.into(),
                connection.into(),
                token_hash.into(),
            ],
        )
    }

    /// An event's body: its connection, subscription, dedupe key, name and time.
    pub(crate) fn event(
        connection: &str,
        webhook: &str,
        dedupe: &str,
        event_name: &str,
        occurred_at_ms: i64,
    ) -> Binding {
        Binding::new(
            format!("event `{dedupe}` of connection `{connection}`"),
            vec![
                "terapi_events".into(),
                connection.into(),
                webhook.into(),
                dedupe.into(),
                event_name.into(),
                occurred_at_ms.to_string(),
            ],
        )
    }

    /// A record set aside by a sync run for its id: its connection, model, run and place.
    pub(crate) fn quarantined(
        connection: &str,
        model: &str,
        run_started_ms: i64,
        page: u64,
        index: u64,
    ) -> Binding {
        Binding::new(
            format!(
                "quarantined record {page}/{index} of model `{model}` of connection `{connection}`"
            ),
            vec![
                "terapi_quarantine".into(),
                connection.into(),
                model.into(),
                run_started_ms.to_string(),
                page.to_string(),
                index.to_string(),
            ],
        )
    }

    /// The row, for messages.
    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    /// Format 2's associated data: a prefix, then each part as its length (4 bytes, big
    /// endian) and its bytes, so no two bindings give the same bytes.
    fn aad(&self) -> Vec<u8> {
        let mut out = b"terapi-store/2".to_vec();
        for part in &self.parts {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }

    /// Format 1's associated data.
    fn legacy_aad(&self) -> Vec<u8> {
        format!("terapi-store/1/{}", self.what).into_bytes()
    }
}

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

    /// Seals `plain` for `bound` (format 2), with the primary key.
    pub(crate) fn seal(
        &self,
        bound: &Binding,
        plain: &[u8],
    ) -> Result<(String, Vec<u8>), StoreError> {
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
                            aad: &bound.aad(),
                        },
                    )
                    .map_err(|_| StoreError::Crypto {
                        what: bound.what.clone(),
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

    /// Opens a value sealed for `bound` with the key `key_id`. A value of format 1 is
    /// refused ([`StoreError::Legacy`]): see the module's documentation.
    pub(crate) fn open(
        &self,
        bound: &Binding,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        match self.open_any(bound, key_id, sealed)? {
            (plain, false) => Ok(plain),
            (_, true) => Err(StoreError::Legacy {
                what: bound.what.clone(),
            }),
        }
    }

    /// Opens a value sealed for `bound` in either format; the value, and whether it was of
    /// format 1 (bound to a label of its row only). Only for re-sealing on request, and for
    /// checking that a row this store overwrites is one it could read.
    pub(crate) fn open_any(
        &self,
        bound: &Binding,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<(Vec<u8>, bool), StoreError> {
        let what = || bound.what.clone();
        if key_id == PLAINTEXT {
            return if self.plaintext {
                Ok((sealed.to_vec(), false))
            } else {
                Err(StoreError::Plaintext { what: what() })
            };
        }
        let key = match &self.primary {
            Some(k) if k.id == key_id => k,
            _ => self.older.get(key_id).ok_or_else(|| {
                if self.primary.is_none() && self.older.is_empty() {
                    StoreError::NoKey
                } else {
                    StoreError::UnknownKey {
                        what: what(),
                        key_id: key_id.to_owned(),
                    }
                }
            })?,
        };
        let corrupt = || StoreError::Crypto { what: what() };
        if sealed.len() < 1 + NONCE {
            return Err(corrupt());
        }
        let (aad, legacy) = match sealed[0] {
            FORMAT => (bound.aad(), false),
            LEGACY_FORMAT => (bound.legacy_aad(), true),
            _ => return Err(corrupt()),
        };
        let nonce: [u8; NONCE] = sealed[1..1 + NONCE].try_into().map_err(|_| corrupt())?;
        let plain = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed[1 + NONCE..],
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt())?;
        Ok((plain, legacy))
    }

    /// Whether `key_id` names a key of this ring (or `plaintext` for a store told to write in
    /// clear).
    pub(crate) fn has(&self, key_id: &str) -> bool {
        if key_id == PLAINTEXT {
            return self.plaintext;
        }
        self.primary.as_ref().is_some_and(|k| k.id == key_id) || self.older.contains_key(key_id)
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

    fn conn(id: &str) -> Binding {
        Binding::connection(id, "personio")
    }

    /// A value as terapi-store sealed it before bindings (format 1).
    fn seal_legacy(key: &[u8], what: &str, plain: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new_from_slice(key).unwrap();
        let nonce = [9u8; NONCE];
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: format!("terapi-store/1/{what}").as_bytes(),
                },
            )
            .unwrap();
        [&[LEGACY_FORMAT][..], &nonce, &sealed].concat()
    }

    #[test]
    fn seals_and_opens_for_its_row_only() {
        let keys = Keys::new("a", &[7; 32]).unwrap();
        let (id, sealed) = keys.seal(&conn("x"), b"secret").unwrap();
        assert_eq!(id, "a");
        assert_eq!(sealed[0], FORMAT);
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(keys.open(&conn("x"), "a", &sealed).unwrap(), b"secret");
        assert!(matches!(
            keys.open(&conn("y"), "a", &sealed),
            Err(StoreError::Crypto { .. })
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            keys.open(&conn("x"), "a", &tampered),
            Err(StoreError::Crypto { .. })
        ));
        // Two seals of one value differ (random nonces).
        assert_ne!(keys.seal(&conn("x"), b"secret").unwrap().1, sealed);
    }

    #[test]
    fn every_bound_column_counts() {
        let keys = Keys::new("a", &[7; 32]).unwrap();
        let pairs = [
            (
                Binding::connection("x", "personio"),
                Binding::connection("x", "personio-v2"),
            ),
            (
                Binding::pending("abc", "x", "acme"),
                Binding::pending("abc", "y", "acme"),
            ),
            (
                Binding::pending("abc", "x", "acme"),
                Binding::pending("abc", "x", "evil"),
            ),
            (
                Binding::record("x", "persons", "1"),
                Binding::record("y", "persons", "1"),
            ),
            (
                Binding::record("x", "persons", "1"),
                Binding::record("x", "employments", "1"),
            ),
            (
                Binding::webhook("w", "x", "h1"),
                Binding::webhook("w", "y", "h1"),
            ),
            (
                Binding::webhook("w", "x", "h1"),
                Binding::webhook("w", "x", "h2"),
            ),
            (
                Binding::event("x", "w", "d", "person.updated", 1),
                Binding::event("x", "w", "d", "person.deleted", 1),
            ),
            (
                Binding::event("x", "w", "d", "person.updated", 1),
                Binding::event("x", "w", "d", "person.updated", 2),
            ),
            (
                Binding::event("x", "w", "d", "person.updated", 1),
                Binding::event("x", "v", "d", "person.updated", 1),
            ),
            // Parts cannot be shifted into each other.
            (
                Binding::record("a", "b", "c/d"),
                Binding::record("a", "b/c", "d"),
            ),
        ];
        for (bound, changed) in pairs {
            let (_, sealed) = keys.seal(&bound, b"v").unwrap();
            assert_eq!(keys.open(&bound, "a", &sealed).unwrap(), b"v");
            let e = keys.open(&changed, "a", &sealed).unwrap_err();
            assert!(matches!(e, StoreError::Crypto { .. }), "{e}");
        }
    }

    #[test]
    fn legacy_values_are_refused_unless_asked_for() {
        let keys = Keys::new("a", &[7; 32]).unwrap();
        let legacy = seal_legacy(&[7; 32], "connection `x`", b"secret");
        let e = keys.open(&conn("x"), "a", &legacy).unwrap_err();
        assert!(matches!(e, StoreError::Legacy { .. }), "{e}");
        assert!(e.to_string().contains("rotate-key --legacy"), "{e}");
        // Format 1 bound only the label: any provider opens it, which is why it is refused.
        let opened = keys
            .open_any(&Binding::connection("x", "evil"), "a", &legacy)
            .unwrap();
        assert_eq!(opened, (b"secret".to_vec(), true));
        assert!(matches!(
            keys.open_any(&conn("y"), "a", &legacy),
            Err(StoreError::Crypto { .. })
        ));
        let mut unknown = legacy.clone();
        unknown[0] = 7;
        assert!(matches!(
            keys.open_any(&conn("x"), "a", &unknown),
            Err(StoreError::Crypto { .. })
        ));
    }

    #[test]
    fn rings_parse_rotate_and_refuse() {
        let old = Keys::generate().unwrap();
        let new = Keys::generate().unwrap();
        let ring = Keys::parse(&format!("new:{new}, {old}")).unwrap();
        assert_eq!(ring.primary_id(), Some("new"));
        let old_only = Keys::parse(&old).unwrap();
        let (old_id, sealed) = old_only.seal(&conn("t1"), b"v").unwrap();
        assert!(old_id.starts_with('k') && old_id.len() == 9);
        assert_eq!(ring.open(&conn("t1"), &old_id, &sealed).unwrap(), b"v");
        assert!(matches!(
            Keys::new("new", &[1; 32])
                .unwrap()
                .open(&conn("t1"), &old_id, &sealed),
            Err(StoreError::UnknownKey { .. })
        ));
        assert!(matches!(
            Keys::none().seal(&conn("t1"), b"v"),
            Err(StoreError::NoKey)
        ));
        assert!(matches!(
            Keys::none().open(&conn("t1"), &old_id, &sealed),
            Err(StoreError::NoKey)
        ));
        for bad in ["", "short", "a b:AAAA", &format!("plaintext:{new}")] {
            let e = Keys::parse(bad).unwrap_err().to_string();
            assert!(!e.contains(&new), "{e}");
        }
        assert!(format!("{ring:?}").contains("new") && !format!("{ring:?}").contains(&new));
        // A plaintext row is refused by an encrypting store.
        let (pid, clear) = Keys::unencrypted().seal(&conn("t1"), b"v").unwrap();
        assert_eq!(pid, PLAINTEXT);
        assert!(matches!(
            ring.open(&conn("t1"), &pid, &clear),
            Err(StoreError::Plaintext { .. })
        ));
    }
}

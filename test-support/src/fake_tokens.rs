//! A fake provider for the modes whose token the client makes or asks for with the
//! connection's credentials, on `127.0.0.1` and a random port:
//! - `POST /login` (TWO_STEP): a JSON body with the user's `username` and `password` and the
//!   catalog's `x-app` header; answers `data.jwt`, `data.refresh` and `data.expires` ("1h");
//! - `POST /refresh` (TWO_STEP): `{"refresh": ...}`; refresh tokens rotate;
//! - `POST /oauth2/token` (TWO_STEP with a signed JWT): a form with
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and `assertion`, whose RS256
//!   signature is verified here with the `rsa` crate against [`PUBLIC_KEY_PEM`], and its
//!   claims (`iss`, `aud`, `iat`, `exp`) checked;
//! - `GET /api/me`: a live token as `Authorization: Bearer`, or as `x-auth` (TWO_STEP), or a
//!   JWT the client signed itself (JWT mode: HS256 checked with `hmac`, RS256 with `rsa`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A catalog whose providers use the fake (through the origin override): TWO_STEP (a login
/// with its refresh request, a signed-JWT exchange, chained logins), JWT and BILL, the modes
/// whose token the client makes or asks for with the connection's credentials.
pub const CATALOG: &str = include_str!("../catalogs/token_modes.yaml");

/// A test key only: an RSA private key made for these tests with `openssl genpkey`.
pub const PRIVATE_KEY_PEM: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDOu5+wSMmMVToo
/7wcNmlFeKadhCqs4b7LNHv/+WzWH06Wj8EqnG1GEOtXGlMBHQ96ukDIPKYEo4x9
ogSE+u+KxsWGorrmaxrojgeppE/uahYJn8bJr64MOZpls6L20JFHSep8N2zgEEEO
2KSKBnORPxdI2l+lnw1Wy6EZ3WCaIJy11TJLFbCQw06C2BjBkEYuuTno9x7SVn/f
FrV+mwYQXuGhHgTdC47a+UMbA9tnXpiynn5ul1KD9Q7DOFLaEQCGJYZYSPCzJabH
RlAq5SbhBaNJyOfh04OXUVOM+e0r/zOhti/2WI8AcvlX9Orwi0YqiQHQR8cKZHek
OkZgNPyfAgMBAAECggEADOH8TYv7o1ccTLnDCy8I2F9wYph94FAhB6C5qXXtplpF
F3TV4MXmuVsMj10Aly0sbcV1jATbg6Z9dsbF6VOJ4egJHx687ub1wlA3ggbPRFgw
D2F5jc/41KIyUOwk16SfqQWeKyd5DW114Gr3tfI4+XApD00scLG8rw/5dhcpkfEh
ps8yJqCtTA4TVzYJhyv2hFU1YVbun/L/HEGG3Kz2BWvKfOjjb3QobLG39UyNy91M
jZNmBg+xLVvRZxQetLDn4LNDSyTbyBNh8T4Guotxl2wd65OWNEruaFAqrq/joyiT
Hh2Kg/3fYr5cZ5qYWMX6YXENIDjoIq2L0L4fpCnXQQKBgQDmOSnUN6PJerdOcco/
WSNJaoQG+r64GoRGjp608Lx78GVZPVgjG06fgGZecHYsPTmvcTv4QQLViKTvgl2M
S28bR1Fq3HkxoXRwWAyeH0HPJZwt+jHBdHEWSiH7lBD2EwCuZQF2vTP1YfAjh+Km
R59qLxCYfRZWJY6n7S4+RwsumQKBgQDl4SktEYM1RPk7qSnim/vM24sX8TWlOJjd
V3MK8mzJqYOxd16OvgCkFHwJFZXDstnqVDFnv2ZmmbcAOz40lCxD7CPXYjogC3ns
rek2JZQKE1AMxhfqgmAAR4Hl9b1xQ9tGYoaMfxLWQiGahClWwJhq7/jgmES5ogjO
ETCdZIqf9wKBgQDkEstSltBmwHCqgOYovcjMaX5kX7HjNznFoHKvtDI14mC0+KXB
GcNZFl3TvzwC9aCZIueTN+xz2Iv1TsQYQX7PmmaZI9PYjCeLSF8voq2SZqMDlXIH
QbDqsQRbdEMdVJP/MMczd5rqxFyfBnZN3nSaQAgD2R/wtgJOcBS4067LOQKBgHI2
QU/8AHWJ9E5ZCM9m8l7gwSW/GQkiqohmN2k78yLqjtywUxGWgxkCeHHHAKa/iJdt
BzLlnInjW1HJHWngKHICs/gB/KEJMqWN7m2RlBDBcac3EJDZ/7qDzJ0lT98jeKFq
uDC7ve8n4iwz95n7jH6tBbkIzjRwtfE0BzRbzKgXAoGAcXN+P0NJhGGmwMETA1bF
FiI/0CMw06P/wVMA2pZ4qMoXO6j/bhDZF9YCIYU+Uhxmd1hojIuuNvijrMdMSVBG
aU/QOPKx8LZmJrm4Et1C5S5nCSd2geSZTjoxiGKzBFc+22jwA4vZx9E/KcuogXGH
VpsHHhkT8XiY2SmPGCWrnXs=
-----END PRIVATE KEY-----
";
/// Its public key.
pub const PUBLIC_KEY_PEM: &str = r"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzrufsEjJjFU6KP+8HDZp
RXimnYQqrOG+yzR7//ls1h9Olo/BKpxtRhDrVxpTAR0PerpAyDymBKOMfaIEhPrv
isbFhqK65msa6I4HqaRP7moWCZ/Gya+uDDmaZbOi9tCRR0nqfDds4BBBDtikigZz
kT8XSNpfpZ8NVsuhGd1gmiCctdUySxWwkMNOgtgYwZBGLrk56Pce0lZ/3xa1fpsG
EF7hoR4E3QuO2vlDGwPbZ16Ysp5+bpdSg/UOwzhS2hEAhiWGWEjwsyWmx0ZQKuUm
4QWjScjn4dODl1FTjPntK/8zobYv9liPAHL5V/Tq8ItGKokB0EfHCmR3pDpGYDT8
nwIDAQAB
-----END PUBLIC KEY-----
";
/// `SHA256:` + Base64 of the SHA-256 of its SubjectPublicKeyInfo DER, as
/// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | base64` prints it.
pub const FINGERPRINT: &str = "SHA256:tkS9N45OnYmrbkWCtalzIllB/vWdWGxKjqJDYAZ29bA=";
/// A test key only: a P-256 private key (SEC1 PEM) made with `openssl ecparam`.
pub const EC_PRIVATE_KEY_PEM: &str = r"-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIdlp/ndYVloyczSksanRgSz+IAxG0sJyT8x9LlP1yjMoAoGCCqGSM49
AwEHoUQDQgAEED5Cg9J+6coqoLw4nAD7nNzUFu7sx/sbzlbuxONfPusFrvKyJxky
WdoNXEAjbvAZ5o+kkIgnx86NkMcVUG5gNw==
-----END EC PRIVATE KEY-----
";
/// Its public key.
pub const EC_PUBLIC_KEY_PEM: &str = r"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEED5Cg9J+6coqoLw4nAD7nNzUFu7s
x/sbzlbuxONfPusFrvKyJxkyWdoNXEAjbvAZ5o+kkIgnx86NkMcVUG5gNw==
-----END PUBLIC KEY-----
";
/// The HMAC secret of the JWT mode's Ghost-style key (`id:hexsecret`), hex.
pub const HMAC_SECRET_HEX: &str = "6b65792d666f722d68733235362d74657374732d6f6e6c792d313233343536";
/// The key id of that key.
pub const HMAC_KEY_ID: &str = "kid-5e1";

/// Bill's developer key.
pub const DEV_KEY: &str = "dev-key-77";

/// The user of the TWO_STEP login.
pub const USERNAME: &str = "ann@example.com";
/// Their password.
pub const PASSWORD: &str = "pw 9c+2f/71=&%41";

#[derive(Default)]
struct Inner {
    tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    counter: u64,
}

/// The fake's state.
#[derive(Clone, Default)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    /// Logins answered.
    pub logins: Arc<AtomicU64>,
    /// Refreshes answered.
    pub refreshes: Arc<AtomicU64>,
    /// JWT assertions verified at `/oauth2/token`.
    pub assertions: Arc<AtomicU64>,
    /// The claims of every JWT verified, in order.
    pub claims: Arc<Mutex<Vec<Value>>>,
}

/// A running fake; it stops when dropped.
pub struct FakeTokens {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// Its state.
    pub fake: Fake,
    _stop: oneshot::Sender<()>,
}

impl FakeTokens {
    /// Starts a fake on a random loopback port.
    pub async fn start() -> FakeTokens {
        let fake = Fake::default();
        let app = Router::new().fallback(handle).with_state(fake.clone());
        let (origin, stop) = super::loopback::serve(app).await;
        FakeTokens {
            origin,
            fake,
            _stop: stop,
        }
    }

    /// Forgets every token it issued (the next API call gets 401).
    pub fn revoke(&self) {
        self.fake.inner.lock().unwrap().tokens.clear();
    }
}

fn respond(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn issue(fake: &Fake, prefix: &str) -> String {
    let mut inner = fake.inner.lock().unwrap();
    inner.counter += 1;
    let token = format!(
        "{prefix}-{}-{:x}",
        inner.counter,
        inner.counter.wrapping_mul(0x9e37_79b9)
    );
    inner.tokens.insert(token.clone());
    token
}

async fn handle(State(fake): State<Fake>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let origin = format!("http://{}", header("host").unwrap_or_default());
    match path.as_str() {
        // A DocuWare-like chain: where the identity service is, its OpenID configuration, then
        // a password grant at the token endpoint that names.
        "/identity-info" => respond(
            StatusCode::OK,
            json!({"IdentityServiceUrl": format!("{origin}/identity")}),
        ),
        "/identity-info-userinfo" => respond(
            StatusCode::OK,
            json!({"IdentityServiceUrl": "https://user:pw@identity.example/identity"}),
        ),
        "/identity/.well-known/openid-configuration" => respond(
            StatusCode::OK,
            json!({"token_endpoint": format!("{origin}/identity/connect/token")}),
        ),
        "/identity/connect/token" => {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            if get("grant_type") != Some("password")
                || get("username") != Some(USERNAME)
                || get("password") != Some(PASSWORD)
            {
                return respond(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
            }
            fake.logins.fetch_add(1, Ordering::SeqCst);
            respond(
                StatusCode::OK,
                json!({"access_token": issue(&fake, "dw"), "expires_in": 3600}),
            )
        }
        "/login" => {
            let Ok(json) = serde_json::from_slice::<Value>(&body) else {
                return respond(StatusCode::BAD_REQUEST, json!({"message": "not JSON"}));
            };
            let ok = header("content-type").as_deref() == Some("application/json")
                && header("x-app").as_deref() == Some("terapi-tests")
                && json["username"] == USERNAME
                && json["password"] == PASSWORD
                && json["remember"] == true;
            if !ok {
                return respond(StatusCode::UNAUTHORIZED, json!({"message": "bad login"}));
            }
            fake.logins.fetch_add(1, Ordering::SeqCst);
            let token = issue(&fake, "ts");
            let refresh = issue(&fake, "tr");
            fake.inner
                .lock()
                .unwrap()
                .refresh_tokens
                .insert(refresh.clone());
            respond(
                StatusCode::OK,
                json!({"data": {"jwt": token, "refresh": refresh, "expires": "1h"}}),
            )
        }
        "/v3/login" => {
            let json: Value = serde_json::from_slice(&body).unwrap_or_default();
            let ok = json["username"] == USERNAME
                && json["password"] == PASSWORD
                && json["organizationId"] == "org-1"
                && json["devKey"] == DEV_KEY;
            if !ok {
                return respond(
                    StatusCode::BAD_REQUEST,
                    json!({"response_status": 1, "message": "bad login"}),
                );
            }
            fake.logins.fetch_add(1, Ordering::SeqCst);
            let session = issue(&fake, "session");
            respond(
                StatusCode::OK,
                json!({"sessionId": session, "organizationId": "org-1", "userId": "u-1"}),
            )
        }
        "/refresh" => {
            let json: Value = serde_json::from_slice(&body).unwrap_or_default();
            let given = json["refresh"].as_str().unwrap_or_default().to_owned();
            if !fake.inner.lock().unwrap().refresh_tokens.remove(&given) {
                return respond(
                    StatusCode::UNAUTHORIZED,
                    json!({"message": "refresh token unknown"}),
                );
            }
            fake.refreshes.fetch_add(1, Ordering::SeqCst);
            let token = issue(&fake, "ts");
            let refresh = issue(&fake, "tr");
            fake.inner
                .lock()
                .unwrap()
                .refresh_tokens
                .insert(refresh.clone());
            respond(
                StatusCode::OK,
                json!({"data": {"jwt": token, "refresh": refresh, "expires": 3600}}),
            )
        }
        "/oauth2/token" => {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            if get("grant_type") != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
                return respond(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "unsupported_grant_type"}),
                );
            }
            match get("assertion").map(verify_rs256) {
                Some(Ok(claims)) if claims["aud"] == "https://oauth2.example.com/token" => {
                    fake.assertions.fetch_add(1, Ordering::SeqCst);
                    fake.claims.lock().unwrap().push(claims);
                    let token = issue(&fake, "sa");
                    respond(
                        StatusCode::OK,
                        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
                    )
                }
                Some(Ok(_)) => respond(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "invalid_grant", "error_description": "audience"}),
                ),
                Some(Err(why)) => respond(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "invalid_grant", "error_description": why}),
                ),
                None => respond(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"})),
            }
        }
        "/api/me" => {
            let bearer =
                header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned));
            let ghost =
                header("authorization").and_then(|a| a.strip_prefix("Ghost ").map(str::to_owned));
            let live = |t: &Option<String>| {
                t.as_ref()
                    .is_some_and(|t| fake.inner.lock().unwrap().tokens.contains(t))
            };
            if let Some(jwt) = &ghost {
                return match verify_hs256(jwt) {
                    Ok(claims) => {
                        fake.claims.lock().unwrap().push(claims);
                        respond(StatusCode::OK, json!({"via": "ghost-jwt"}))
                    }
                    Err(why) => respond(StatusCode::UNAUTHORIZED, json!({"message": why})),
                };
            }
            if let Some(jwt) = bearer.as_ref().filter(|t| t.matches('.').count() == 2) {
                let verified = match split(jwt).map(|(h, ..)| h["alg"] == "ES256") {
                    Ok(true) => verify_es256(jwt),
                    _ => verify_rs256(jwt),
                };
                return match verified {
                    Ok(claims) => {
                        fake.claims.lock().unwrap().push(claims);
                        respond(StatusCode::OK, json!({"via": "bearer-jwt"}))
                    }
                    Err(why) => respond(StatusCode::UNAUTHORIZED, json!({"message": why})),
                };
            }
            if let Some(session) = header("sessionid") {
                let ok = live(&Some(session))
                    && header("devkey").as_deref() == Some(DEV_KEY)
                    && header("authorization").is_none();
                return if ok {
                    respond(StatusCode::OK, json!({"via": "bill-session"}))
                } else {
                    respond(StatusCode::UNAUTHORIZED, json!({"message": "session"}))
                };
            }
            let x_auth = header("x-auth");
            if live(&x_auth) && x_auth == bearer {
                return respond(StatusCode::OK, json!({"via": "x-auth"}));
            }
            if live(&bearer) {
                return respond(StatusCode::OK, json!({"via": "bearer"}));
            }
            respond(
                StatusCode::UNAUTHORIZED,
                json!({"message": "token unknown"}),
            )
        }
        _ => respond(StatusCode::NOT_FOUND, json!({"message": "not found"})),
    }
}

fn decode(part: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "not base64url".to_owned())
}

/// The header and claims of a compact JWT, and the signed input and signature.
fn split(jwt: &str) -> Result<(Value, Value, String, Vec<u8>), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("not a JWT".to_owned());
    };
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| "header not JSON")?;
    let claims: Value = serde_json::from_slice(&decode(c)?).map_err(|_| "claims not JSON")?;
    Ok((header, claims, format!("{h}.{c}"), decode(s)?))
}

fn check_times(claims: &Value) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return Err("iat and exp are required".to_owned());
    };
    if iat > now + 5 || exp <= now || exp <= iat {
        return Err(format!("bad times: iat {iat} exp {exp} now {now}"));
    }
    Ok(())
}

/// Verifies an RS256 JWT with the `rsa` crate against [`PUBLIC_KEY_PEM`].
pub fn verify_rs256(jwt: &str) -> Result<Value, String> {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    let (header, claims, input, signature) = split(jwt)?;
    if header["alg"] != "RS256" || header["typ"] != "JWT" {
        return Err(format!("header {header}"));
    }
    let key = rsa::PublicKey::from_public_key_pem(PUBLIC_KEY_PEM).map_err(|_| "test key")?;
    let verifying = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key);
    let signature =
        rsa::pkcs1v15::Signature::try_from(signature.as_slice()).map_err(|_| "signature shape")?;
    verifying
        .verify(input.as_bytes(), &signature)
        .map_err(|_| "bad RS256 signature".to_owned())?;
    check_times(&claims)?;
    Ok(claims)
}

/// Verifies a Ghost-style HS256 JWT with the `hmac` crate: `kid` is the key id and the key is
/// the hex-decoded secret.
pub fn verify_hs256(jwt: &str) -> Result<Value, String> {
    use hmac::{KeyInit as _, Mac as _};
    let (header, claims, input, signature) = split(jwt)?;
    if header["alg"] != "HS256" || header["kid"] != HMAC_KEY_ID {
        return Err(format!("header {header}"));
    }
    let key = hex::decode(HMAC_SECRET_HEX).map_err(|_| "test key")?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|_| "test key")?;
    mac.update(input.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| "bad HS256 signature".to_owned())?;
    check_times(&claims)?;
    Ok(claims)
}

/// Verifies an ES256 JWT with the `p256` crate against [`EC_PUBLIC_KEY_PEM`] (the signature
/// is the fixed-size `r || s` of RFC 7518 §3.4).
pub fn verify_es256(jwt: &str) -> Result<Value, String> {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let (header, claims, input, signature) = split(jwt)?;
    if header["alg"] != "ES256" || header["typ"] != "JWT" {
        return Err(format!("header {header}"));
    }
    let key = p256::ecdsa::VerifyingKey::from_public_key_pem(EC_PUBLIC_KEY_PEM)
        .map_err(|_| "test key")?;
    let signature =
        p256::ecdsa::Signature::from_slice(&signature).map_err(|_| "signature shape")?;
    key.verify(input.as_bytes(), &signature)
        .map_err(|_| "bad ES256 signature".to_owned())?;
    check_times(&claims)?;
    let mut claims = claims;
    claims["kid"] = header["kid"].clone();
    Ok(claims)
}

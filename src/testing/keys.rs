//! The server's signing keys (for ID Tokens and signed userinfo responses),
//! their rotation, the JWK Set endpoint (RFC 7517 §5, OIDC Core §10.1.1),
//! and verifying a JWS with a public JWK.

use std::sync::atomic::Ordering;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use serde_json::{json, Map, Value};
use url::Url;

use super::{Fault, MockAuthorizationServer, ServerState};
use crate::jose::{random_b64url, JwsAlgorithm};
use crate::PrivateKey;

/// The keys the server signs with: every key made since the last
/// retirement, the last one current.
pub(super) struct SigningKeys {
    alg: JwsAlgorithm,
    /// Oldest first; never empty.
    keys: Vec<PrivateKey>,
}

impl SigningKeys {
    /// One new key for `alg` (an HMAC algorithm is refused: the JWKS
    /// publishes public keys).
    pub(super) fn new(alg: JwsAlgorithm) -> crate::Result<Self> {
        Ok(SigningKeys {
            alg,
            keys: vec![new_key(alg)?],
        })
    }

    pub(super) fn alg(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The key new tokens are signed with.
    pub(super) fn current(&self) -> &PrivateKey {
        self.keys.last().expect("at least one signing key")
    }

    /// Makes a new key current, keeping the others; returns its `kid`.
    pub(super) fn rotate(&mut self) -> crate::Result<String> {
        let key = new_key(self.alg)?;
        let kid = key.kid().unwrap_or_default().to_owned();
        self.keys.push(key);
        Ok(kid)
    }

    /// Drops every key but the current one.
    pub(super) fn retire_old(&mut self) {
        let current = self.current().clone();
        self.keys = vec![current];
    }

    /// The published key with this `kid`.
    pub(super) fn find(&self, kid: &str) -> Option<&PrivateKey> {
        self.keys.iter().find(|k| k.kid() == Some(kid))
    }

    /// The JWK Set: the current key first, then the older ones, newest
    /// first.
    pub(super) fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .rev()
            .map(|k| Value::Object(jwks_entry(k)))
            .collect();
        json!({ "keys": keys })
    }
}

/// A key with a random `kid` (12 base64url characters).
pub(super) fn new_key(alg: JwsAlgorithm) -> crate::Result<PrivateKey> {
    Ok(PrivateKey::generate(alg)?.with_kid(random_b64url(9)?))
}

/// A key's member of the JWK Set: the public JWK (`kty`, the key, `alg`,
/// `kid`) with `use: "sig"`.
pub(super) fn jwks_entry(key: &PrivateKey) -> Map<String, Value> {
    let mut jwk = key.public_jwk().clone();
    jwk.insert("use".into(), "sig".into());
    jwk
}

/// `GET {issuer}/jwks`.
pub(super) fn jwks(state: &ServerState) -> Response {
    let body = state.signing.lock().expect("lock").jwks().to_string();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The three parts of a compact JWS and its decoded header.
pub(super) struct CompactJws<'a> {
    pub(super) header: Map<String, Value>,
    header_b64: &'a str,
    payload_b64: &'a str,
    signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes `jwt`; the error says what is wrong.
    pub(super) fn parse(jwt: &'a str) -> Result<Self, String> {
        let mut parts = jwt.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a compact JWS".into());
        };
        let header = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("the header is not base64url JSON")?;
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "the signature is not base64url")?;
        Ok(CompactJws {
            header,
            header_b64: h,
            payload_b64: p,
            signature,
        })
    }

    /// The payload as a JSON object.
    pub(super) fn claims(&self) -> Result<Map<String, Value>, String> {
        URL_SAFE_NO_PAD
            .decode(self.payload_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| "the payload is not a base64url JSON object".into())
    }

    /// Verifies the signature with `jwk` and the header's `alg`.
    fn verify(&self, jwk: &Map<String, Value>) -> Result<(), String> {
        self.verify_with(&Jwk::from_map(jwk.clone()).map_err(|e| e.to_string())?)
    }

    /// Verifies the signature with `jwk` and the header's `alg` (refused if
    /// the JWK names another `alg`).
    pub(super) fn verify_with(&self, jwk: &Jwk) -> Result<(), String> {
        let alg: JwsAlgorithm = self
            .header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .parse()
            .map_err(|_| "unsupported alg")?;
        verifier_for(alg, jwk)?
            .verify(
                format!("{}.{}", self.header_b64, self.payload_b64).as_bytes(),
                &self.signature,
            )
            .map_err(|_| "the signature does not verify".into())
    }
}

/// Verifies that `jwt` was signed by one of the keys the server publishes
/// now (by `kid`, else the current key) with that key's algorithm, and
/// returns its claims.
pub(super) fn verify_own_jwt(state: &ServerState, jwt: &str) -> Result<Map<String, Value>, String> {
    let jws = CompactJws::parse(jwt)?;
    let key = {
        let keys = state.signing.lock().expect("lock");
        match jws.header.get("kid").and_then(Value::as_str) {
            Some(kid) => keys
                .find(kid)
                .cloned()
                .ok_or_else(|| format!("no key with kid {kid:?}"))?,
            None => keys.current().clone(),
        }
    };
    if jws.header.get("alg").and_then(Value::as_str) != Some(key.algorithm().name()) {
        return Err(format!("alg is not {}", key.algorithm()));
    }
    jws.verify(key.public_jwk())?;
    jws.claims()
}

/// A verifier for `alg` with the public key `jwk`.
pub(super) fn verifier_for(alg: JwsAlgorithm, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, String> {
    use JwsAlgorithm::*;
    let e = |e: josekit::JoseError| e.to_string();
    Ok(match alg {
        RS256 => Box::new(jws::RS256.verifier_from_jwk(jwk).map_err(e)?),
        RS384 => Box::new(jws::RS384.verifier_from_jwk(jwk).map_err(e)?),
        RS512 => Box::new(jws::RS512.verifier_from_jwk(jwk).map_err(e)?),
        PS256 => Box::new(jws::PS256.verifier_from_jwk(jwk).map_err(e)?),
        PS384 => Box::new(jws::PS384.verifier_from_jwk(jwk).map_err(e)?),
        PS512 => Box::new(jws::PS512.verifier_from_jwk(jwk).map_err(e)?),
        ES256 => Box::new(jws::ES256.verifier_from_jwk(jwk).map_err(e)?),
        ES384 => Box::new(jws::ES384.verifier_from_jwk(jwk).map_err(e)?),
        ES512 => Box::new(jws::ES512.verifier_from_jwk(jwk).map_err(e)?),
        EdDSA => Box::new(jws::EdDSA.verifier_from_jwk(jwk).map_err(e)?),
        other => return Err(format!("{other} cannot verify with a public key")),
    })
}

/// Signing keys and the JWK Set endpoint.
impl MockAuthorizationServer {
    /// The JWK Set URL, `{issuer}/jwks` (`jwks_uri` in the discovery
    /// document).
    pub fn jwks_uri(&self) -> Url {
        self.endpoint("jwks")
    }

    /// The key that signs ID Tokens and signed userinfo responses now (the
    /// private key, to sign tokens of your own with the server's key).
    pub fn signing_key(&self) -> PrivateKey {
        self.state.signing.lock().expect("lock").current().clone()
    }

    /// The `kid` of the current signing key.
    pub fn signing_key_id(&self) -> String {
        self.signing_key().kid().unwrap_or_default().to_owned()
    }

    /// Makes a new signing key (same algorithm, new random `kid`) current
    /// and returns its `kid`. The JWK Set then serves the new key and every
    /// older one still kept, so tokens signed before still verify (OIDC Core
    /// §10.1.1), until [`retire_old_signing_keys`](Self::retire_old_signing_keys).
    ///
    /// # Panics
    /// If the key cannot be generated (OpenSSL failing).
    pub fn rotate_signing_key(&self) -> String {
        self.state
            .signing
            .lock()
            .expect("lock")
            .rotate()
            .expect("a new signing key")
    }

    /// Drops every signing key but the current one from the JWK Set: tokens
    /// signed with them no longer verify (nor are accepted as
    /// `id_token_hint`).
    pub fn retire_old_signing_keys(&self) {
        self.state.signing.lock().expect("lock").retire_old();
    }

    /// How many requests reached the JWK Set endpoint.
    pub fn jwks_request_count(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// Answers the next JWK Set request with `fault` instead of normally.
    pub fn fail_next_jwks_request(&self, fault: Fault) {
        self.state
            .jwks_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }
}

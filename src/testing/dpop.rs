//! DPoP (RFC 9449): proof verification and server-provided nonces.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jwk::Jwk;
use serde_json::Value;

use super::keys::verifier_for;
use super::ServerState;
use crate::clock::unix_seconds;
use crate::jose::JwsAlgorithm;

impl ServerState {
    pub(super) fn add_nonce_header(&self, response: &mut Response) {
        if self.require_dpop_nonce {
            let nonce = self.dpop_nonce.lock().expect("lock").clone();
            if let Ok(v) = HeaderValue::from_str(&nonce) {
                response.headers_mut().insert("dpop-nonce", v);
            }
        }
    }
}

/// Why a DPoP proof was refused.
pub(super) enum DPoPFailure {
    /// The proof lacks the current nonce.
    Nonce,
    /// Anything else.
    Invalid(String),
}

/// The DPoP proof of a `POST` to `url` (the token or PAR endpoint), if one
/// is sent: verified, the thumbprint of its key; or the error code and
/// description of the 400 that refuses it (`use_dpop_nonce`,
/// `invalid_dpop_proof`; RFC 9449 §4.3, §8).
pub(super) fn optional_proof(
    state: &ServerState,
    headers: &HeaderMap,
    url: &str,
) -> Result<Option<String>, (&'static str, String)> {
    match headers.get_all("dpop").iter().count() {
        0 => Ok(None),
        1 => match verify_dpop_proof(state, headers, "POST", url, None) {
            Ok(jkt) => Ok(Some(jkt)),
            Err(DPoPFailure::Nonce) => Err((
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof".into(),
            )),
            Err(DPoPFailure::Invalid(why)) => Err(("invalid_dpop_proof", why)),
        },
        _ => Err(("invalid_dpop_proof", "several DPoP headers".into())),
    }
}

/// Verifies a DPoP proof as RFC 9449 §4.3 says, returning the thumbprint of
/// its key.
pub(super) fn verify_dpop_proof(
    state: &ServerState,
    headers: &HeaderMap,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<String, DPoPFailure> {
    let invalid = |m: &str| DPoPFailure::Invalid(m.to_owned());
    let proof = headers
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| invalid("no DPoP proof"))?;
    let mut parts = proof.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the proof is not a compact JWS"));
    };
    let decode = |part: &str| -> Result<Value, DPoPFailure> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| invalid("bad base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| invalid("bad JSON"))
    };
    let header = decode(h)?;
    if header["typ"] != "dpop+jwt" {
        return Err(invalid("typ must be dpop+jwt"));
    }
    let alg: JwsAlgorithm = header["alg"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| invalid("unsupported alg"))?;
    let jwk_map = header["jwk"].as_object().ok_or_else(|| invalid("no jwk"))?;
    if jwk_map.contains_key("d") {
        return Err(invalid("the jwk contains a private key"));
    }
    let jwk = Jwk::from_map(jwk_map.clone()).map_err(|_| invalid("bad jwk"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid("bad signature encoding"))?;
    verifier_for(alg, &jwk)
        .map_err(|e| invalid(&e))?
        .verify(format!("{h}.{p}").as_bytes(), &signature)
        .map_err(|_| invalid("the proof signature does not verify"))?;
    let claims = decode(p)?;
    if claims["htm"] != htm {
        return Err(invalid("htm does not match"));
    }
    if claims["htu"] != htu {
        return Err(invalid("htu does not match"));
    }
    let now = unix_seconds(state.clock.now()) as i64;
    let iat = claims["iat"].as_i64().ok_or_else(|| invalid("no iat"))?;
    if (iat - now).abs() > 60 {
        return Err(invalid("iat is outside the acceptable window"));
    }
    if let Some(token) = access_token {
        let expected = URL_SAFE_NO_PAD.encode(
            openssl::hash::hash(openssl::hash::MessageDigest::sha256(), token.as_bytes())
                .map_err(|e| invalid(&e.to_string()))?,
        );
        if claims["ath"] != expected.as_str() {
            return Err(invalid("ath does not match the access token"));
        }
    }
    if state.require_dpop_nonce {
        let nonce = state.dpop_nonce.lock().expect("lock").clone();
        if claims["nonce"] != nonce.as_str() {
            return Err(DPoPFailure::Nonce);
        }
    }
    let jti = claims["jti"].as_str().ok_or_else(|| invalid("no jti"))?;
    if !state
        .seen_dpop_jti
        .lock()
        .expect("lock")
        .insert(jti.to_owned())
    {
        return Err(invalid("jti replayed"));
    }
    crate::jose::jwk_thumbprint(jwk_map).map_err(|e| invalid(&e.to_string()))
}

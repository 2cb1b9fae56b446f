//! Request objects: the `request` parameter of JWT-Secured Authorization
//! Requests (JAR, RFC 9101), at the authorization endpoint and inside a
//! pushed authorization request (RFC 9126 §3).

use serde_json::{Map, Value};

use super::client::MockClient;
use super::keys::CompactJws;
use super::ServerState;

/// The algorithms request objects may be signed with
/// (`request_object_signing_alg_values_supported`).
pub(super) const REQUEST_OBJECT_ALGS: [&str; 4] = ["ES256", "PS256", "RS256", "EdDSA"];

/// The `typ` a request object may have (RFC 9101 §4, §10.8).
const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";

/// The longest lifetime accepted, `exp` minus `nbf` (else `iat`, else now),
/// in seconds.
const MAX_LIFETIME: i64 = 3600;

/// How far in the future an `nbf` may be, for clock skew, in seconds.
const SKEW: i64 = 5;

/// The claims of a JWT that are not authorization request parameters.
const JWT_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "iat", "nbf", "jti"];

/// Verifies `client`'s request object `jwt` (RFC 9101 §6) and returns the
/// authorization request parameters it carries; the error says why it is
/// refused (an `invalid_request_object`).
///
/// - The JWS (§6.2) verifies with the client's key
///   ([`MockClient::request_object_key`], else its `private_key_jwt` key)
///   and one of [`REQUEST_OBJECT_ALGS`]: never `none`, never an HMAC.
/// - `typ`, when present, is `oauth-authz-req+jwt` (§4, §10.8).
/// - `iss` is the client, `aud` the issuer (§4, §10.2); `exp` is in the
///   future and at most an hour after `nbf` (else `iat`); `nbf`, when
///   present, is not in the future.
/// - The `client_id` claim is the client's (§5, §6.3); there is no
///   `request` or `request_uri` inside (§4).
///
/// Each remaining claim is a parameter (§4, §6.3): a string as it is, any
/// other value as its JSON text (so `max_age: 300` is `"300"`).
pub(super) fn request_object_params(
    state: &ServerState,
    client: &MockClient,
    jwt: &str,
) -> Result<Vec<(String, String)>, String> {
    let jws = CompactJws::parse(jwt).map_err(|e| format!("the request object: {e}"))?;
    let alg = jws
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if alg == "none" {
        return Err("the request object is unsigned (alg none, RFC 9101 §6.2)".into());
    }
    if !REQUEST_OBJECT_ALGS.contains(&alg) {
        return Err(format!(
            "the request object's alg {alg:?} is not one of {REQUEST_OBJECT_ALGS:?}"
        ));
    }
    match jws.header.get("typ") {
        None => {}
        Some(typ) if typ == REQUEST_OBJECT_TYP => {}
        Some(typ) => {
            return Err(format!(
                "the request object's typ is {typ}, not {REQUEST_OBJECT_TYP} (RFC 9101 §4)"
            ))
        }
    }
    let key = client.request_object_jwk().ok_or_else(|| {
        format!(
            "client {:?} registered no key for request objects",
            client.client_id
        )
    })?;
    if let (Some(kid), Some(key_kid)) =
        (jws.header.get("kid").and_then(Value::as_str), key.key_id())
    {
        if kid != key_kid {
            return Err(format!(
                "the request object's kid {kid:?} is not the client's key"
            ));
        }
    }
    jws.verify_with(key)
        .map_err(|e| format!("the request object: {e} (RFC 9101 §6.2)"))?;
    let claims = jws
        .claims()
        .map_err(|e| format!("the request object: {e}"))?;
    check_claims(state, client, &claims)?;
    Ok(claims
        .into_iter()
        .filter(|(name, _)| !JWT_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| match value {
            Value::String(s) => (name, s),
            other => (name, other.to_string()),
        })
        .collect())
}

/// The claim rules of a verified request object.
fn check_claims(
    state: &ServerState,
    client: &MockClient,
    claims: &Map<String, Value>,
) -> Result<(), String> {
    let id = client.client_id.as_str();
    if claims.get("iss").and_then(Value::as_str) != Some(id) {
        return Err(format!(
            "the request object's iss must be the client_id {id:?} (RFC 9101 §10.2)"
        ));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == state.issuer,
        Some(Value::Array(list)) => list.iter().any(|a| *a == state.issuer.as_str()),
        _ => false,
    };
    if !aud_ok {
        return Err(format!(
            "the request object's aud must be the issuer {:?} (RFC 9101 §4)",
            state.issuer
        ));
    }
    let now = state.now() as i64;
    let time = |name: &str| -> Result<Option<i64>, String> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("the request object's {name} is not a number")),
        }
    };
    let exp = time("exp")?.ok_or("the request object has no exp")?;
    if exp <= now {
        return Err("the request object expired (exp)".into());
    }
    let nbf = time("nbf")?;
    if nbf.is_some_and(|nbf| nbf > now + SKEW) {
        return Err("the request object is not valid yet (nbf)".into());
    }
    let start = nbf.or(time("iat")?).unwrap_or(now);
    if exp - start > MAX_LIFETIME {
        return Err(format!(
            "the request object lives {} s; at most {MAX_LIFETIME} are accepted",
            exp - start
        ));
    }
    match claims.get("client_id") {
        Some(Value::String(c)) if c == id => {}
        Some(_) => {
            return Err(format!(
                "the request object's client_id is not the request's {id:?} (RFC 9101 §6.3)"
            ))
        }
        None => return Err("the request object has no client_id (RFC 9101 §5)".into()),
    }
    for name in ["request", "request_uri"] {
        if claims.contains_key(name) {
            return Err(format!(
                "the request object contains {name} (RFC 9101 §4 forbids it)"
            ));
        }
    }
    Ok(())
}

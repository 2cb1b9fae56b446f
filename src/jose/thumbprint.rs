//! JWK thumbprints ([RFC 7638](https://www.rfc-editor.org/rfc/rfc7638)).

use serde_json::{Map, Value};

use super::{b64url, sha256};
use crate::error::{Error, Result};

/// The JWK SHA-256 thumbprint of a public key
/// ([RFC 7638 §3](https://www.rfc-editor.org/rfc/rfc7638#section-3)):
/// base64url(SHA-256(the required members, sorted, without whitespace)).
///
/// This is the `jkt` a DPoP-bound access token's `cnf` claim carries
/// (RFC 9449 §6.1).
///
/// ```
/// // RFC 7638 §3.1's example key.
/// let jwk = serde_json::json!({
///     "kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
///     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
/// });
/// let thumbprint = oidckit::jwk_thumbprint(jwk.as_object().unwrap())?;
/// assert_eq!(thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
/// # Ok::<_, oidckit::Error>(())
/// ```
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or_default();
    // RFC 7638 §3.2: the required members of each key type, in
    // lexicographic order.
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        other => {
            return Err(Error::invalid_key(format!(
                "no thumbprint for kty {:?}",
                crate::error::server_text(other, 32)
            )))
        }
    };
    let mut canonical = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk
            .get(*name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid_key(format!("JWK member {name:?} is missing")))?;
        if i > 0 {
            canonical.push(',');
        }
        // serde_json writes a string with exactly the escaping RFC 7638 §3.3 asks for.
        canonical.push_str(&Value::String((*name).to_owned()).to_string());
        canonical.push(':');
        canonical.push_str(&Value::String(value.to_owned()).to_string());
    }
    canonical.push('}');
    Ok(b64url(&sha256(canonical.as_bytes())))
}

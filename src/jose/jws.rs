//! JWS compact serialization and the signatures this crate computes itself.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::{b64url, JwsAlgorithm};
use crate::error::{Error, ErrorKind, Result};

/// Signs with an HMAC algorithm and a shared secret of any length.
///
/// josekit refuses secrets shorter than the hash output (RFC 7518 §3.2's
/// advice), but real client secrets are often shorter and authorization
/// servers accept them, so the MAC is computed here with OpenSSL directly.
pub(crate) fn sign_hmac_jwt(
    alg: JwsAlgorithm,
    secret: &[u8],
    claims: Map<String, Value>,
) -> Result<String> {
    let digest = match alg {
        JwsAlgorithm::HS256 => openssl::hash::MessageDigest::sha256(),
        JwsAlgorithm::HS384 => openssl::hash::MessageDigest::sha384(),
        JwsAlgorithm::HS512 => openssl::hash::MessageDigest::sha512(),
        other => {
            return Err(Error::new(
                ErrorKind::UnsupportedAlgorithm,
                format!("{other} is not an HMAC algorithm"),
            ))
        }
    };
    let header = serde_json::json!({ "alg": alg.name(), "typ": "JWT" });
    let payload = Value::Object(claims).to_string();
    compact_jws(
        &b64url(header.to_string().as_bytes()),
        payload.as_bytes(),
        |input| {
            let failed = |e| Error::signing(format!("cannot compute the {alg} MAC")).with_source(e);
            let key = openssl::pkey::PKey::hmac(secret).map_err(failed)?;
            let mut signer = openssl::sign::Signer::new(digest, &key).map_err(failed)?;
            signer.update(input).map_err(failed)?;
            signer.sign_to_vec().map_err(failed)
        },
    )
}

/// An ECDSA JWS signature: `r || s`, each left-padded to the curve's size
/// (RFC 7518 §3.4).
pub(super) fn ecdsa_sign(
    alg: JwsAlgorithm,
    key: &openssl::ec::EcKey<openssl::pkey::Private>,
    input: &[u8],
) -> Result<Vec<u8>> {
    let (digest, size): (Vec<u8>, i32) = match alg {
        JwsAlgorithm::ES256 => (openssl::sha::sha256(input).to_vec(), 32),
        JwsAlgorithm::ES384 => (openssl::sha::sha384(input).to_vec(), 48),
        JwsAlgorithm::ES512 => (openssl::sha::sha512(input).to_vec(), 66),
        other => {
            return Err(Error::new(
                ErrorKind::UnsupportedAlgorithm,
                format!("{other} is not ECDSA"),
            ))
        }
    };
    let failed = |e| Error::signing(format!("cannot sign with the {alg} key")).with_source(e);
    let sig = openssl::ecdsa::EcdsaSig::sign(&digest, key).map_err(failed)?;
    let mut out = sig.r().to_vec_padded(size).map_err(failed)?;
    out.extend(sig.s().to_vec_padded(size).map_err(failed)?);
    Ok(out)
}

/// `header_b64 . base64url(payload) . base64url(sign(signing input))`: the
/// compact serialization (RFC 7515 §7.1), built in one buffer.
pub(super) fn compact_jws(
    header_b64: &str,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<String> {
    let mut jws = String::with_capacity(header_b64.len() + payload.len() * 4 / 3 + 200);
    jws.push_str(header_b64);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
    let signature = sign(jws.as_bytes())?;
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
    Ok(jws)
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::{jws, jwt};

    #[test]
    fn hmac_accepts_short_secrets_and_verifies() {
        let jwt = sign_hmac_jwt(JwsAlgorithm::HS256, b"short", Map::new()).unwrap();
        let verifier = jws::HS256.verifier_from_bytes(vec![0u8; 32]).unwrap();
        assert!(jwt::decode_with_verifier(&jwt, &verifier).is_err());
        let parts: Vec<_> = jwt.split('.').collect();
        let key = openssl::pkey::PKey::hmac(b"short").unwrap();
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
        s.update(format!("{}.{}", parts[0], parts[1]).as_bytes())
            .unwrap();
        assert_eq!(b64url(&s.sign_to_vec().unwrap()), parts[2]);
    }
}

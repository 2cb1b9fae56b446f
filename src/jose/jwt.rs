//! Reading and verifying a signed JWT (a JWS in the compact serialization,
//! RFC 7515 §7.1, carrying a JSON claims set, RFC 7519): the structural
//! rules first (size, parts, header), then the signature with a public key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde_json::{Map, Value};

use super::JwsAlgorithm;
use crate::error::{server_text, Error, ErrorKind, Result};

/// The longest JWT accepted, in bytes. ID Tokens and signed userinfo are a
/// few KB; a longer one is refused before any decoding.
pub(crate) const MAX_JWT_LEN: usize = 128 * 1024;

/// A signed JWT, decoded but not yet verified.
#[derive(Debug)]
pub(crate) struct SignedJwt<'a> {
    /// The header's `alg` (never `none`).
    pub alg: JwsAlgorithm,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The header's `typ`, if any.
    pub typ: Option<String>,
    /// The claims set.
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) . BASE64URL(payload)`: what the signature covers.
    signing_input: &'a str,
    signature: Vec<u8>,
    /// The whole header.
    header: Map<String, Value>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidJwt, message)
}

/// Decodes `jwt` (`what` names it in errors, e.g. "the ID Token").
pub(crate) fn decode<'a>(jwt: &'a str, what: &str) -> Result<SignedJwt<'a>> {
    if jwt.len() > MAX_JWT_LEN {
        return Err(invalid(format!(
            "{what} is {} bytes long; at most {MAX_JWT_LEN} are accepted",
            jwt.len()
        )));
    }
    let parts: Vec<&str> = jwt.split('.').collect();
    match parts.len() {
        3 => {}
        // RFC 7516 §7.1: five parts make a JWE.
        5 => {
            return Err(Error::new(
                ErrorKind::UnsupportedOperation,
                format!("{what} is encrypted (a JWE); encrypted JWTs are not supported"),
            ))
        }
        n => {
            return Err(invalid(format!(
                "{what} is not a compact JWS ({n} parts instead of 3)"
            )))
        }
    }
    let header = object(parts[0], what, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) if alg == "none" => {
            // RFC 7519 §6: an unsecured JWT proves nothing.
            return Err(Error::new(
                ErrorKind::UnsupportedAlgorithm,
                format!("{what} is unsigned (`alg: none`), which is never accepted"),
            ));
        }
        Some(Value::String(alg)) => alg.parse::<JwsAlgorithm>()?,
        _ => return Err(invalid(format!("{what}'s header has no `alg` string"))),
    };
    // RFC 7515 §4.1.11: a recipient must refuse extensions it does not
    // understand, and this crate understands none.
    if header.contains_key("crit") {
        return Err(invalid(format!(
            "{what}'s header has a `crit` member, and no extension is understood"
        )));
    }
    let text = |name: &str| header.get(name).and_then(Value::as_str).map(str::to_owned);
    let claims = object(parts[1], what, "payload")?;
    let signature = URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|_| invalid(format!("{what}'s signature is not base64url")))?;
    Ok(SignedJwt {
        alg,
        kid: text("kid"),
        typ: text("typ"),
        claims,
        signing_input: &jwt[..parts[0].len() + 1 + parts[1].len()],
        signature,
        header,
    })
}

/// The algorithm rule of a server's JWT (ID Token, signed userinfo): the
/// client's registered `alg`, else one the server lists, else RS256 (OIDC
/// Registration §2); never an HMAC (no shared secret signs these here) and
/// never `none` (refused by [`decode`]).
pub(crate) fn check_allowed_algorithm(
    ctx: &crate::EndpointContext<'_>,
    alg: JwsAlgorithm,
    registered: Option<&str>,
    supported: Option<&[String]>,
    what: &str,
) -> Result<()> {
    if ctx.fapi2 {
        crate::fapi::check_algorithm(alg, what)?;
    }
    let allowed: Vec<&str> = match (registered, supported) {
        (Some(registered), _) => vec![registered],
        (None, Some(supported)) if !supported.is_empty() => {
            supported.iter().map(String::as_str).collect()
        }
        _ => vec!["RS256"],
    };
    if alg.is_symmetric() || !allowed.contains(&alg.name()) {
        return Err(Error::new(
            ErrorKind::UnsupportedAlgorithm,
            format!(
                "{what} is signed with {alg}, which is not allowed here (allowed: {})",
                allowed
                    .iter()
                    .map(|a| server_text(a, 16))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// A base64url part that must hold a JSON object with unique members.
fn object(part: &str, what: &str, name: &str) -> Result<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid(format!("{what}'s {name} is not base64url")))?;
    crate::transport::json_object(&Default::default(), &bytes).map_err(|e| {
        invalid(format!(
            "{what}'s {name} is not a JSON object: {}",
            server_text(&e.to_string(), 120)
        ))
    })
}

impl SignedJwt<'_> {
    /// Explicit typing (RFC 8725 §3.11): `typ` must be one of `types`
    /// (media types without their optional `application/` prefix, compared
    /// without regard to case, RFC 7515 §4.1.9; `""` accepts a JWT without
    /// `typ`). `rfc` names the rule in the error.
    pub(crate) fn check_type(&self, types: &[&str], what: &str, rfc: &str) -> Result<()> {
        let found = self.typ.as_deref().map_or(String::new(), |t| {
            let t = t.to_ascii_lowercase();
            t.strip_prefix("application/")
                .map(str::to_owned)
                .unwrap_or(t)
        });
        if types.iter().any(|t| t.eq_ignore_ascii_case(&found)) {
            return Ok(());
        }
        let wanted: Vec<String> = types.iter().map(|t| format!("{t:?}")).collect();
        Err(invalid(format!(
            "{what}'s `typ` is {}, not {} ({rfc})",
            self.typ
                .as_deref()
                .map_or("missing".into(), |t| format!("{:?}", server_text(t, 32))),
            wanted.join(" or ")
        )))
    }

    /// [`check_type`](Self::check_type), and `alg` one of `allowed`, never a
    /// MAC (these JWTs are verified with public keys).
    pub(crate) fn check_type_and_algorithm(
        &self,
        types: &[&str],
        allowed: &[JwsAlgorithm],
        what: &str,
        rfc: &str,
    ) -> Result<()> {
        self.check_type(types, what, rfc)?;
        if self.alg.is_symmetric() || !allowed.contains(&self.alg) {
            return Err(Error::new(
                ErrorKind::UnsupportedAlgorithm,
                format!("{what} is signed with {}, which is not accepted", self.alg),
            ));
        }
        Ok(())
    }

    /// A header member by name (e.g. a DPoP proof's `jwk`).
    pub(crate) fn header_member(&self, name: &str) -> Option<&Value> {
        self.header.get(name)
    }

    /// Verifies the signature with `key`, whose type must fit `alg` (the
    /// key selection sees to it; checked again here so that no path can
    /// verify, say, an RS256 signature with an EC key).
    pub(crate) fn verify(&self, key: &PKey<Public>, what: &str) -> Result<()> {
        let ok = verify_signature(
            self.alg,
            key,
            self.signing_input.as_bytes(),
            &self.signature,
        )?;
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::SignatureVerification,
                format!("{what}'s {} signature does not verify", self.alg),
            ))
        }
    }
}

/// Whether `signature` is a valid `alg` signature of `input` under `key`.
pub(crate) fn verify_signature(
    alg: JwsAlgorithm,
    key: &PKey<Public>,
    input: &[u8],
    signature: &[u8],
) -> Result<bool> {
    use JwsAlgorithm::*;
    let wrong_key = || {
        Error::new(
            ErrorKind::KeySelection,
            format!("a {:?} key cannot verify {alg}", key.id()),
        )
    };
    let failed = |e: openssl::error::ErrorStack| {
        Error::new(
            ErrorKind::SignatureVerification,
            format!("{alg} verification failed"),
        )
        .with_source(e)
    };
    let digest = match alg {
        RS256 | PS256 | ES256 => MessageDigest::sha256(),
        RS384 | PS384 | ES384 => MessageDigest::sha384(),
        RS512 | PS512 | ES512 => MessageDigest::sha512(),
        EdDSA => {
            if key.id() != Id::ED25519 {
                return Err(wrong_key());
            }
            let mut verifier = Verifier::new_without_digest(key).map_err(failed)?;
            return verifier.verify_oneshot(signature, input).or(Ok(false));
        }
        // Never: a symmetric algorithm verified with a public key is the
        // key-confusion attack (the "secret" being public).
        HS256 | HS384 | HS512 => {
            return Err(Error::new(
                ErrorKind::UnsupportedAlgorithm,
                format!("{alg} (a shared-secret MAC) is not accepted for a server's JWT"),
            ))
        }
    };
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            if key.id() != Id::RSA {
                return Err(wrong_key());
            }
            let mut verifier = Verifier::new(digest, key).map_err(failed)?;
            if matches!(alg, PS256 | PS384 | PS512) {
                // RFC 7518 §3.5: MGF1 with the same hash, salt as long as it.
                verifier
                    .set_rsa_padding(Padding::PKCS1_PSS)
                    .map_err(failed)?;
                verifier
                    .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                    .map_err(failed)?;
                verifier.set_rsa_mgf1_md(digest).map_err(failed)?;
            } else {
                verifier.set_rsa_padding(Padding::PKCS1).map_err(failed)?;
            }
            verifier.update(input).map_err(failed)?;
            Ok(verifier.verify(signature).unwrap_or(false))
        }
        _ => {
            // ES*: RFC 7518 §3.4, R and S as fixed-size big-endian
            // integers, concatenated; OpenSSL wants them DER-encoded.
            if key.id() != Id::EC {
                return Err(wrong_key());
            }
            let size = match alg {
                ES256 => 32,
                ES384 => 48,
                _ => 66,
            };
            if signature.len() != 2 * size {
                return Ok(false);
            }
            let r = BigNum::from_slice(&signature[..size]).map_err(failed)?;
            let s = BigNum::from_slice(&signature[size..]).map_err(failed)?;
            let der = EcdsaSig::from_private_components(r, s)
                .and_then(|sig| sig.to_der())
                .map_err(failed)?;
            let mut verifier = Verifier::new(digest, key).map_err(failed)?;
            verifier.update(input).map_err(failed)?;
            Ok(verifier.verify(&der).unwrap_or(false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64url;
    use crate::PrivateKey;
    use serde_json::json;

    fn public(key: &PrivateKey) -> PKey<Public> {
        let jwks = crate::jose::JwkSet::from_json(
            json!({ "keys": [key.public_jwk()] }).to_string().as_bytes(),
        )
        .unwrap();
        jwks.select(key.algorithm(), key.kid()).unwrap().clone()
    }

    fn claims() -> Map<String, Value> {
        json!({"iss": "https://as.example", "sub": "alice"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn every_asymmetric_algorithm_verifies_and_detects_tampering() {
        use JwsAlgorithm::*;
        for alg in [
            RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA,
        ] {
            let key = PrivateKey::generate(alg).unwrap().with_kid("k");
            let jwt = key.sign_jwt(Some("JWT"), &[], claims()).unwrap();
            let decoded = decode(&jwt, "the token").unwrap();
            assert_eq!((decoded.alg, decoded.kid.as_deref()), (alg, Some("k")));
            decoded.verify(&public(&key), "the token").unwrap();

            // Another key of the same type does not verify it.
            let other = PrivateKey::generate(alg).unwrap();
            let e = decoded.verify(&public(&other), "the token").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::SignatureVerification, "{alg}");

            // Nor does the same signature over other claims.
            let (head, rest) = jwt.split_once('.').unwrap();
            let sig = rest.split_once('.').unwrap().1;
            let forged = format!(
                "{head}.{}.{sig}",
                b64url(
                    json!({"iss": "https://as.example", "sub": "mallory"})
                        .to_string()
                        .as_bytes()
                )
            );
            let e = decode(&forged, "the token")
                .unwrap()
                .verify(&public(&key), "the token")
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::SignatureVerification, "{alg}");
        }
    }

    fn unsigned(header: Value, claims: Value) -> String {
        format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes()),
            b64url(b"sig")
        )
    }

    #[test]
    fn structural_rules() {
        let kind = |jwt: &str| decode(jwt, "the token").unwrap_err().kind();
        assert_eq!(
            kind(&unsigned(json!({"alg": "none"}), json!({}))),
            ErrorKind::UnsupportedAlgorithm
        );
        assert_eq!(
            kind(&unsigned(
                json!({"alg": "ES256", "crit": ["exp"]}),
                json!({})
            )),
            ErrorKind::InvalidJwt
        );
        assert_eq!(kind("a.b.c.d.e"), ErrorKind::UnsupportedOperation);
        assert_eq!(kind("a.b"), ErrorKind::InvalidJwt);
        assert_eq!(kind("!!.e30.e30"), ErrorKind::InvalidJwt);
        assert_eq!(
            kind(&unsigned(json!({"typ": "JWT"}), json!({}))),
            ErrorKind::InvalidJwt
        );
        assert_eq!(
            kind(&unsigned(json!({"alg": "ES256"}), json!([1]))),
            ErrorKind::InvalidJwt
        );
        let duplicate = format!(
            "{}.{}.c2ln",
            b64url(br#"{"alg":"ES256"}"#),
            b64url(br#"{"sub":"a","sub":"b"}"#)
        );
        assert_eq!(kind(&duplicate), ErrorKind::InvalidJwt);
        let huge = "a".repeat(10 * 1024 * 1024);
        let e = decode(&huge, "the ID Token").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidJwt);
        assert!(e.to_string().contains("10485760 bytes"), "{e}");
    }

    #[test]
    fn hmac_is_never_verified_with_a_public_key() {
        let key = PrivateKey::generate(JwsAlgorithm::RS256).unwrap();
        let e = verify_signature(JwsAlgorithm::HS256, &public(&key), b"x", b"y").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm);
    }

    #[test]
    fn a_key_of_the_wrong_type_is_refused() {
        let ec = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
        let e = verify_signature(JwsAlgorithm::RS256, &public(&ec), b"x", b"y").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeySelection);
    }
}

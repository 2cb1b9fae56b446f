//! Public keys from JSON Web Keys (RFC 7517), JWK Sets, and the choice of
//! the one key that verifies a JWT.
//!
//! A [`JwkSet`] is parsed once (when fetched) into OpenSSL public keys, so
//! verifying a signature costs the signature check and nothing more. Keys
//! this crate cannot use (symmetric keys, unknown curves, RSA under 2048
//! bits) are kept with the reason, so that a JWT naming one fails with that
//! reason rather than "no key".

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use serde_json::{Map, Value};

use super::JwsAlgorithm;
use crate::error::{server_text, Error, ErrorKind, Result};

/// The smallest RSA modulus accepted for verification, in bits (RFC 7518
/// §3.3 asks for 2048 or larger).
const MIN_RSA_BITS: u32 = 2048;

/// A JSON Web Key Set ([RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)),
/// such as an authorization server publishes at its `jwks_uri`: the public
/// keys ID Tokens and other JWTs of that server are verified with.
#[derive(Clone)]
pub struct JwkSet {
    keys: Vec<PublicJwk>,
    /// The document as received, for export (a cache snapshot).
    json: Map<String, Value>,
}

impl fmt::Debug for JwkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}

/// One key of a [`JwkSet`]: its JWK members that matter for selection and
/// the OpenSSL public key (or why it cannot be used).
#[derive(Clone)]
struct PublicJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    key: std::result::Result<PKey<Public>, String>,
}

impl fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("crv", &self.crv)
            .field("usable", &self.key.is_ok())
            .finish()
    }
}

impl JwkSet {
    /// Reads a JWK Set document (`{"keys": [...]}`, duplicate members
    /// refused). Keys of a type this crate cannot verify with are kept but
    /// never selected.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let map = crate::transport::json_object(&Default::default(), json)?;
        Self::from_map(map)
    }

    pub(crate) fn from_map(map: Map<String, Value>) -> Result<Self> {
        let Some(Value::Array(keys)) = map.get("keys") else {
            return Err(Error::invalid_response(
                "the JWK Set has no `keys` array (RFC 7517 §5)",
            ));
        };
        let keys = keys
            .iter()
            .map(|k| match k {
                Value::Object(jwk) => PublicJwk::from_jwk(jwk),
                _ => Err(Error::invalid_response(
                    "a member of the JWK Set's `keys` is not a JSON object",
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(JwkSet { keys, json: map })
    }

    /// The number of keys in the set (usable or not).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True for a set without keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The document as received.
    pub fn to_json(&self) -> &Map<String, Value> {
        &self.json
    }

    /// The one key for a JWT with this header `alg` and `kid`: openid-client's
    /// rules (`kty` and `crv` fit the algorithm; `kid`, `alg`, `use` and
    /// `key_ops` match when the key has them). No key, or several, is a
    /// [`KeySelection`](ErrorKind::KeySelection) error.
    pub(crate) fn select(&self, alg: JwsAlgorithm, kid: Option<&str>) -> Result<&PKey<Public>> {
        let mut candidates = self.keys.iter().filter(|k| k.fits(alg, kid));
        let Some(key) = candidates.next() else {
            return Err(Error::new(
                ErrorKind::KeySelection,
                match kid {
                    Some(kid) => format!(
                        "no {alg} key with kid {:?} in the JWK Set",
                        server_text(kid, 64)
                    ),
                    None => format!("no {alg} key in the JWK Set"),
                },
            ));
        };
        if candidates.next().is_some() {
            return Err(Error::new(
                ErrorKind::KeySelection,
                match kid {
                    Some(kid) => format!(
                        "several {alg} keys with kid {:?} in the JWK Set",
                        server_text(kid, 64)
                    ),
                    None => format!(
                        "several {alg} keys in the JWK Set and no `kid` in the JWT header to choose"
                    ),
                },
            ));
        }
        key.key.as_ref().map_err(|why| {
            Error::new(
                ErrorKind::KeySelection,
                format!("the JWK Set's {alg} key cannot be used: {why}"),
            )
        })
    }
}

impl PublicJwk {
    fn from_jwk(jwk: &Map<String, Value>) -> Result<Self> {
        let text = |name: &str| jwk.get(name).and_then(Value::as_str).map(str::to_owned);
        let Some(kty) = text("kty") else {
            return Err(Error::invalid_response(
                "a key of the JWK Set has no `kty` (RFC 7517 §4.1)",
            ));
        };
        let key_ops = jwk.get("key_ops").and_then(Value::as_array).map(|ops| {
            ops.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
        let crv = text("crv");
        let key = public_key(&kty, crv.as_deref(), jwk);
        Ok(PublicJwk {
            kid: text("kid"),
            alg: text("alg"),
            use_: text("use"),
            key_ops,
            crv,
            kty,
            key,
        })
    }

    /// Whether this key may verify a JWT with `alg` and `kid` (openid-client's
    /// `selectJwk`, oauth4webapi `getPublicSigKeyFromIssuerJwksUri`).
    fn fits(&self, alg: JwsAlgorithm, kid: Option<&str>) -> bool {
        let (kty, crv) = key_type(alg);
        self.kty == kty
            && crv.is_none_or(|crv| self.crv.as_deref() == Some(crv))
            && kid.is_none_or(|kid| self.kid.as_deref() == Some(kid))
            && self.alg.as_deref().is_none_or(|a| a == alg.name())
            && self.use_.as_deref().is_none_or(|u| u == "sig")
            && self
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|op| op == "verify"))
    }
}

/// The `kty` (and `crv`, where the algorithm fixes it) of a verification key.
fn key_type(alg: JwsAlgorithm) -> (&'static str, Option<&'static str>) {
    use JwsAlgorithm::*;
    match alg {
        HS256 | HS384 | HS512 => ("oct", None),
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => ("RSA", None),
        ES256 => ("EC", Some("P-256")),
        ES384 => ("EC", Some("P-384")),
        ES512 => ("EC", Some("P-521")),
        EdDSA => ("OKP", Some("Ed25519")),
    }
}

/// Checks that one JWK can verify `alg` (a DPoP proof's embedded `jwk`,
/// RFC 9449 §4.2): its `kty` and `crv` fit the algorithm, and it holds no
/// private member.
pub(crate) fn check_public_jwk(alg: JwsAlgorithm, jwk: &Map<String, Value>) -> Result<()> {
    const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(Error::invalid_key(format!(
            "the JWK has the private member `{member}`; only a public key may be sent"
        )));
    }
    let (kty, crv) = key_type(alg);
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("kty") != Some(kty) || crv.is_some_and(|crv| text("crv") != Some(crv)) {
        return Err(Error::new(
            ErrorKind::KeySelection,
            format!(
                "the JWK ({} {}) cannot verify {alg}",
                server_text(text("kty").unwrap_or("no kty"), 16),
                server_text(text("crv").unwrap_or(""), 16)
            ),
        ));
    }
    Ok(())
}

/// The OpenSSL public key of one JWK that must verify `alg`, checked as
/// [`check_public_jwk`] says.
pub(crate) fn public_key_for(alg: JwsAlgorithm, jwk: &Map<String, Value>) -> Result<PKey<Public>> {
    check_public_jwk(alg, jwk)?;
    let (kty, crv) = key_type(alg);
    public_key(kty, crv, jwk).map_err(|why| Error::invalid_key(format!("the JWK is {why}")))
}

/// The public key at (`x`, `y`) of a NIST curve, refused unless the point
/// is on the curve with coordinates below the field prime. For these
/// curves (cofactor 1) that is the whole validation (SP 800-56A
/// §5.6.2.3.4): OpenSSL's full key check adds a scalar multiplication by
/// the group order — as costly as a signature check — which DPoP, parsing
/// a key per proof, should not pay.
fn ec_public_key(
    group: &EcGroup,
    x: &BigNum,
    y: &BigNum,
) -> std::result::Result<PKey<Public>, String> {
    let bad = |e: openssl::error::ErrorStack| format!("not a valid key ({e})");
    let mut ctx = BigNumContext::new().map_err(bad)?;
    let (mut p, mut a, mut b) = (
        BigNum::new().map_err(bad)?,
        BigNum::new().map_err(bad)?,
        BigNum::new().map_err(bad)?,
    );
    group
        .components_gfp(&mut p, &mut a, &mut b, &mut ctx)
        .map_err(bad)?;
    if x >= &p || y >= &p {
        return Err("not a point of the curve (a coordinate beyond the field)".into());
    }
    let mut point = EcPoint::new(group).map_err(bad)?;
    // OpenSSL 3 refuses coordinates off the curve here already.
    point
        .set_affine_coordinates_gfp(group, x, y, &mut ctx)
        .map_err(|_| "not a point of the curve".to_owned())?;
    if !point.is_on_curve(group, &mut ctx).map_err(bad)? {
        return Err("not a point of the curve".into());
    }
    let ec = EcKey::from_public_key(group, &point).map_err(bad)?;
    PKey::from_ec_key(ec).map_err(bad)
}

/// The OpenSSL public key of a JWK, or why it cannot be used.
fn public_key(
    kty: &str,
    crv: Option<&str>,
    jwk: &Map<String, Value>,
) -> std::result::Result<PKey<Public>, String> {
    let bytes = |name: &str| -> std::result::Result<Vec<u8>, String> {
        let text = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no `{name}`"))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| format!("`{name}` is not base64url"))
    };
    let bad = |e: openssl::error::ErrorStack| format!("not a valid key ({e})");
    match (kty, crv) {
        ("RSA", _) => {
            let n = BigNum::from_slice(&bytes("n")?).map_err(bad)?;
            let e = BigNum::from_slice(&bytes("e")?).map_err(bad)?;
            if n.num_bits() < MIN_RSA_BITS as i32 {
                return Err(format!(
                    "an RSA key of {} bits (at least {MIN_RSA_BITS} are required)",
                    n.num_bits()
                ));
            }
            let rsa = Rsa::from_public_components(n, e).map_err(bad)?;
            PKey::from_rsa(rsa).map_err(bad)
        }
        ("EC", Some(crv)) => {
            let nid = match crv {
                "P-256" => Nid::X9_62_PRIME256V1,
                "P-384" => Nid::SECP384R1,
                "P-521" => Nid::SECP521R1,
                other => return Err(format!("the curve {:?}", server_text(other, 32))),
            };
            let group = EcGroup::from_curve_name(nid).map_err(bad)?;
            let x = BigNum::from_slice(&bytes("x")?).map_err(bad)?;
            let y = BigNum::from_slice(&bytes("y")?).map_err(bad)?;
            ec_public_key(&group, &x, &y)
        }
        ("OKP", Some("Ed25519")) => {
            let x = bytes("x")?;
            PKey::public_key_from_raw_bytes(&x, openssl::pkey::Id::ED25519).map_err(bad)
        }
        ("oct", _) => Err("a symmetric key (never used to verify a server's JWT)".into()),
        (kty, crv) => Err(format!(
            "the key type {:?}{}",
            server_text(kty, 16),
            crv.map(|c| format!(" with curve {:?}", server_text(c, 16)))
                .unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateKey;
    use serde_json::json;

    fn set(keys: Vec<Value>) -> JwkSet {
        JwkSet::from_json(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    fn public(alg: JwsAlgorithm, kid: &str) -> Value {
        let key = PrivateKey::generate(alg).unwrap().with_kid(kid);
        Value::Object(key.public_jwk().clone())
    }

    #[test]
    fn selects_by_kid_and_type() {
        let jwks = set(vec![
            public(JwsAlgorithm::ES256, "a"),
            public(JwsAlgorithm::ES256, "b"),
            public(JwsAlgorithm::EdDSA, "c"),
        ]);
        assert!(jwks.select(JwsAlgorithm::ES256, Some("a")).is_ok());
        assert!(jwks.select(JwsAlgorithm::EdDSA, None).is_ok());
        let e = jwks.select(JwsAlgorithm::ES256, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeySelection);
        assert!(e.to_string().contains("no `kid`"), "{e}");
        let e = jwks.select(JwsAlgorithm::ES256, Some("zz")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeySelection);
        // The curve is part of the choice: no P-384 key here.
        assert!(jwks.select(JwsAlgorithm::ES384, Some("a")).is_err());
        // Nor does an EC key verify RS256.
        assert!(jwks.select(JwsAlgorithm::RS256, Some("a")).is_err());
    }

    #[test]
    fn alg_use_and_key_ops_are_honoured() {
        let mut enc = public(JwsAlgorithm::ES256, "k");
        enc["use"] = "enc".into();
        assert!(set(vec![enc])
            .select(JwsAlgorithm::ES256, Some("k"))
            .is_err());
        let mut ops = public(JwsAlgorithm::ES256, "k");
        ops["key_ops"] = json!(["sign"]);
        assert!(set(vec![ops])
            .select(JwsAlgorithm::ES256, Some("k"))
            .is_err());
        let mut rsa = public(JwsAlgorithm::RS256, "k");
        rsa["alg"] = "PS256".into();
        let jwks = set(vec![rsa]);
        assert!(jwks.select(JwsAlgorithm::RS256, Some("k")).is_err());
        assert!(jwks.select(JwsAlgorithm::PS256, Some("k")).is_ok());
    }

    #[test]
    fn duplicate_kids_are_ambiguous() {
        let jwks = set(vec![
            public(JwsAlgorithm::ES256, "same"),
            public(JwsAlgorithm::ES256, "same"),
        ]);
        let e = jwks.select(JwsAlgorithm::ES256, Some("same")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeySelection);
        assert!(e.to_string().contains("several"), "{e}");
    }

    #[test]
    fn small_rsa_keys_and_symmetric_keys_are_refused_with_the_reason() {
        let rsa = Rsa::generate(1024).unwrap();
        let small = json!({
            "kty": "RSA", "kid": "small",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
            "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
        });
        let oct = json!({"kty": "oct", "kid": "o", "k": "c2VjcmV0"});
        let jwks = set(vec![small, oct]);
        let e = jwks.select(JwsAlgorithm::RS256, Some("small")).unwrap_err();
        assert!(e.to_string().contains("1024 bits"), "{e}");
        let e = jwks.select(JwsAlgorithm::HS256, Some("o")).unwrap_err();
        assert!(e.to_string().contains("symmetric"), "{e}");
    }

    #[test]
    fn malformed_sets_are_refused() {
        for doc in [
            &b"<html>"[..],
            br#"{"keys": {}}"#,
            br#"{"keys": [1]}"#,
            br#"{"keys": [{"kid": "x"}]}"#,
            br#"{"keys": [], "keys": []}"#,
        ] {
            assert!(
                JwkSet::from_json(doc).is_err(),
                "{:?}",
                String::from_utf8_lossy(doc)
            );
        }
        // A point off the curve is kept, but unusable.
        let mut bad = public(JwsAlgorithm::ES256, "p");
        bad["y"] = bad["x"].clone();
        let e = set(vec![bad])
            .select(JwsAlgorithm::ES256, Some("p"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeySelection);
        // A coordinate equal to the field prime (P-256's p): beyond the field.
        let p = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
        let p: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&p[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let mut beyond = public(JwsAlgorithm::ES256, "q");
        beyond["x"] = URL_SAFE_NO_PAD.encode(p).into();
        let e = set(vec![beyond])
            .select(JwsAlgorithm::ES256, Some("q"))
            .unwrap_err();
        assert!(e.to_string().contains("beyond the field"), "{e}");
    }
}

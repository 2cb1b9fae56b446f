//! Keys, JWS algorithms and JWT signing (via josekit over OpenSSL).
//!
//! Used for client assertions (RFC 7523, `client_secret_jwt` and
//! `private_key_jwt`) and, later, DPoP proofs (RFC 9449). Key material never
//! appears in `Debug` output.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{self, JwsSigner};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A JWS signature algorithm ([RFC 7518 §3.1](https://www.rfc-editor.org/rfc/rfc7518#section-3.1),
/// [RFC 8037](https://www.rfc-editor.org/rfc/rfc8037) for `EdDSA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(clippy::upper_case_acronyms)]
pub enum JwsAlgorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// ECDSA with P-384 and SHA-384.
    ES384,
    /// ECDSA with P-521 and SHA-512.
    ES512,
    /// Edwards-curve signatures with Ed25519.
    EdDSA,
}

impl JwsAlgorithm {
    /// The `alg` header value, e.g. `"ES256"`.
    pub fn name(self) -> &'static str {
        use JwsAlgorithm::*;
        match self {
            HS256 => "HS256",
            HS384 => "HS384",
            HS512 => "HS512",
            RS256 => "RS256",
            RS384 => "RS384",
            RS512 => "RS512",
            PS256 => "PS256",
            PS384 => "PS384",
            PS512 => "PS512",
            ES256 => "ES256",
            ES384 => "ES384",
            ES512 => "ES512",
            EdDSA => "EdDSA",
        }
    }

    /// True for the HMAC algorithms, which use a shared secret.
    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            JwsAlgorithm::HS256 | JwsAlgorithm::HS384 | JwsAlgorithm::HS512
        )
    }

    const ALL: [JwsAlgorithm; 13] = {
        use JwsAlgorithm::*;
        [
            HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512,
            EdDSA,
        ]
    };
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for JwsAlgorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        // "Ed25519" is the fully-specified name (RFC 9864) for what JOSE
        // called EdDSA over Ed25519.
        if s == "Ed25519" {
            return Ok(JwsAlgorithm::EdDSA);
        }
        JwsAlgorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| Error::Jose(format!("unsupported JWS algorithm {s:?}")))
    }
}

/// An asymmetric private key with its algorithm, for `private_key_jwt`
/// client assertions and DPoP proofs.
///
/// Cheap to clone; `Debug` shows the algorithm and key id, never key material.
///
/// ```
/// use oidckit::{JwsAlgorithm, PrivateKey};
///
/// let key = PrivateKey::generate(JwsAlgorithm::ES256)?.with_kid("key-1");
/// // The public half, to register with the authorization server:
/// let jwk = key.public_jwk();
/// assert_eq!(jwk["kty"], "EC");
/// assert!(jwk.get("d").is_none());
/// # Ok::<_, oidckit::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    inner: Arc<KeyInner>,
}

struct KeyInner {
    alg: JwsAlgorithm,
    kid: Option<String>,
    signer: Box<dyn JwsSigner>,
    public_jwk: Map<String, Value>,
    /// For ES256/384/512: the key as OpenSSL's EC key, signed with directly
    /// (no per-signature context set-up), as DPoP proofs are on hot paths.
    ecdsa: Option<openssl::ec::EcKey<openssl::pkey::Private>>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.inner.alg)
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a new key pair for `alg` (RSA keys are 2048 bits, `EdDSA`
    /// uses Ed25519).
    pub fn generate(alg: JwsAlgorithm) -> Result<Self> {
        use JwsAlgorithm::*;
        let pair: Box<dyn KeyPair> = match alg {
            ES256 => Box::new(jws::ES256.generate_key_pair().map_err(Error::jose)?),
            ES384 => Box::new(jws::ES384.generate_key_pair().map_err(Error::jose)?),
            ES512 => Box::new(jws::ES512.generate_key_pair().map_err(Error::jose)?),
            RS256 | RS384 | RS512 => {
                Box::new(jws::RS256.generate_key_pair(2048).map_err(Error::jose)?)
            }
            PS256 | PS384 | PS512 => {
                Box::new(jws::RS256.generate_key_pair(2048).map_err(Error::jose)?)
            }
            EdDSA => Box::new(
                jws::EdDSA
                    .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
                    .map_err(Error::jose)?,
            ),
            HS256 | HS384 | HS512 => {
                return Err(Error::Jose(format!(
                    "{alg} is symmetric: use a client secret, not a private key"
                )))
            }
        };
        Self::from_key_pair(pair.as_ref(), alg)
    }

    /// Reads a private key from a JWK (JSON text). The algorithm is the JWK's
    /// `alg` member when present, else inferred from the key: `ES256`/`ES384`/
    /// `ES512` by curve, `EdDSA` for Ed25519, `RS256` for RSA. The JWK's `kid`
    /// is kept.
    pub fn from_jwk_json(jwk_json: &str) -> Result<Self> {
        let jwk = Jwk::from_bytes(jwk_json.as_bytes()).map_err(Error::jose)?;
        Self::from_jwk(&jwk, None)
    }

    /// Like [`PrivateKey::from_jwk_json`], with the algorithm given.
    pub fn from_jwk_json_with_alg(jwk_json: &str, alg: JwsAlgorithm) -> Result<Self> {
        let jwk = Jwk::from_bytes(jwk_json.as_bytes()).map_err(Error::jose)?;
        Self::from_jwk(&jwk, Some(alg))
    }

    /// Reads a PEM private key (PKCS#8 `PRIVATE KEY`, or the traditional
    /// `EC PRIVATE KEY` / `RSA PRIVATE KEY`) for `alg`.
    pub fn from_pem(pem: &[u8], alg: JwsAlgorithm) -> Result<Self> {
        use JwsAlgorithm::*;
        let pair: Box<dyn KeyPair> = match alg {
            ES256 => Box::new(jws::ES256.key_pair_from_pem(pem).map_err(Error::jose)?),
            ES384 => Box::new(jws::ES384.key_pair_from_pem(pem).map_err(Error::jose)?),
            ES512 => Box::new(jws::ES512.key_pair_from_pem(pem).map_err(Error::jose)?),
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
                Box::new(jws::RS256.key_pair_from_pem(pem).map_err(Error::jose)?)
            }
            EdDSA => Box::new(jws::EdDSA.key_pair_from_pem(pem).map_err(Error::jose)?),
            HS256 | HS384 | HS512 => {
                return Err(Error::Jose(format!("{alg} is not a private-key algorithm")))
            }
        };
        Self::from_key_pair(pair.as_ref(), alg)
    }

    /// josekit tags a key pair with the algorithm it was made for (RS256 for
    /// every RSA key); the caller's `alg` decides here, so the tag is dropped.
    fn from_key_pair(pair: &dyn KeyPair, alg: JwsAlgorithm) -> Result<Self> {
        let mut jwk = pair.to_jwk_key_pair();
        jwk.set_parameter("alg", None).map_err(Error::jose)?;
        Self::from_jwk(&jwk, Some(alg))
    }

    /// Sets the key id sent as the JWS `kid` header.
    #[must_use]
    pub fn with_kid(self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        let mut public_jwk = self.inner.public_jwk.clone();
        public_jwk.insert("kid".into(), Value::String(kid.clone()));
        PrivateKey {
            inner: Arc::new(KeyInner {
                alg: self.inner.alg,
                kid: Some(kid),
                signer: self.inner.signer.box_clone(),
                public_jwk,
                ecdsa: self.inner.ecdsa.clone(),
            }),
        }
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.inner.alg
    }

    /// The key id, if known.
    pub fn kid(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    /// The public key as a JWK object (with `alg` and, when known, `kid`; no
    /// private members).
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.inner.public_jwk
    }

    /// The RFC 7638 JWK SHA-256 thumbprint of the public key.
    pub fn thumbprint(&self) -> Result<String> {
        jwk_thumbprint(&self.inner.public_jwk)
    }

    fn from_jwk(jwk: &Jwk, alg: Option<JwsAlgorithm>) -> Result<Self> {
        let alg = match alg {
            Some(a) => a,
            None => match jwk.algorithm() {
                Some(a) => a.parse()?,
                None => infer_algorithm(jwk)?,
            },
        };
        let signer = signer_from_jwk(jwk, alg)?;
        let ecdsa = match alg {
            JwsAlgorithm::ES256 | JwsAlgorithm::ES384 | JwsAlgorithm::ES512 => Some(ec_key(jwk)?),
            _ => None,
        };
        let public = jwk.to_public_key().map_err(Error::jose)?;
        let mut public_jwk = public_members(&public);
        public_jwk.insert("alg".into(), Value::String(alg.name().into()));
        let kid = jwk.key_id().map(str::to_owned);
        if let Some(kid) = &kid {
            public_jwk.insert("kid".into(), Value::String(kid.clone()));
        }
        Ok(PrivateKey {
            inner: Arc::new(KeyInner {
                alg,
                kid,
                signer,
                public_jwk,
                ecdsa,
            }),
        })
    }

    /// Signs `header_b64 . base64url(payload)` and returns the compact JWS.
    /// For callers that prebuild the (constant) header, like DPoP proofs.
    pub(crate) fn sign_compact(&self, header_b64: &str, payload: &[u8]) -> Result<String> {
        compact_jws(header_b64, payload, |input| match &self.inner.ecdsa {
            Some(key) => ecdsa_sign(self.inner.alg, key, input),
            None => self.inner.signer.sign(input).map_err(Error::jose),
        })
    }

    /// Signs `claims` as a compact JWT with `typ` (if given) and this key's
    /// `alg`/`kid` in the header; `extra_header` members are added too.
    pub(crate) fn sign_jwt(
        &self,
        typ: Option<&str>,
        extra_header: &[(&str, Value)],
        claims: Map<String, Value>,
    ) -> Result<String> {
        let header_b64 = b64url(self.jws_header(typ, extra_header).to_string().as_bytes());
        let payload = Value::Object(claims).to_string();
        self.sign_compact(&header_b64, payload.as_bytes())
    }

    /// The JWS header: `alg`, `typ` (if given), `kid` (when known), and
    /// `extra` members.
    pub(crate) fn jws_header(&self, typ: Option<&str>, extra: &[(&str, Value)]) -> Value {
        let mut header = Map::new();
        header.insert("alg".into(), self.inner.alg.name().into());
        if let Some(typ) = typ {
            header.insert("typ".into(), typ.into());
        }
        if let Some(kid) = &self.inner.kid {
            header.insert("kid".into(), kid.clone().into());
        }
        for (name, value) in extra {
            header.insert((*name).to_owned(), value.clone());
        }
        Value::Object(header)
    }
}

/// The EC private key of a JWK, as OpenSSL's type.
fn ec_key(jwk: &Jwk) -> Result<openssl::ec::EcKey<openssl::pkey::Private>> {
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey, EcPoint};
    use openssl::nid::Nid;
    let member = |name: &str| -> Result<BigNum> {
        let text = jwk
            .parameter(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Jose(format!("EC JWK without {name}")))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| Error::Jose(format!("EC JWK {name} is not base64url")))?;
        BigNum::from_slice(&bytes).map_err(Error::jose)
    };
    let nid = match jwk.curve() {
        Some("P-256") => Nid::X9_62_PRIME256V1,
        Some("P-384") => Nid::SECP384R1,
        Some("P-521") => Nid::SECP521R1,
        other => return Err(Error::Jose(format!("unsupported EC curve {other:?}"))),
    };
    let group = EcGroup::from_curve_name(nid).map_err(Error::jose)?;
    let mut ctx = BigNumContext::new().map_err(Error::jose)?;
    let mut point = EcPoint::new(&group).map_err(Error::jose)?;
    let (x, y, d) = (member("x")?, member("y")?, member("d")?);
    point
        .set_affine_coordinates_gfp(&group, &x, &y, &mut ctx)
        .map_err(Error::jose)?;
    let key = EcKey::from_private_components(&group, &d, &point).map_err(Error::jose)?;
    key.check_key().map_err(Error::jose)?;
    Ok(key)
}

/// An ECDSA JWS signature: `r || s`, each left-padded to the curve's size
/// (RFC 7518 §3.4).
fn ecdsa_sign(
    alg: JwsAlgorithm,
    key: &openssl::ec::EcKey<openssl::pkey::Private>,
    input: &[u8],
) -> Result<Vec<u8>> {
    let (digest, size): (Vec<u8>, i32) = match alg {
        JwsAlgorithm::ES256 => (openssl::sha::sha256(input).to_vec(), 32),
        JwsAlgorithm::ES384 => (openssl::sha::sha384(input).to_vec(), 48),
        JwsAlgorithm::ES512 => (openssl::sha::sha512(input).to_vec(), 66),
        other => return Err(Error::Jose(format!("{other} is not ECDSA"))),
    };
    let sig = openssl::ecdsa::EcdsaSig::sign(&digest, key).map_err(Error::jose)?;
    let mut out = sig.r().to_vec_padded(size).map_err(Error::jose)?;
    out.extend(sig.s().to_vec_padded(size).map_err(Error::jose)?);
    Ok(out)
}

/// The members of a public JWK that describe the key (no `d`, `p`, `q`, …),
/// as josekit's `to_public_key` keeps them.
fn public_members(public: &Jwk) -> Map<String, Value> {
    let map: &Map<String, Value> = public.as_ref();
    map.iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "kty" | "crv" | "x" | "y" | "n" | "e" | "use" | "key_ops"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn infer_algorithm(jwk: &Jwk) -> Result<JwsAlgorithm> {
    match (jwk.key_type(), jwk.curve()) {
        ("EC", Some("P-256")) => Ok(JwsAlgorithm::ES256),
        ("EC", Some("P-384")) => Ok(JwsAlgorithm::ES384),
        ("EC", Some("P-521")) => Ok(JwsAlgorithm::ES512),
        ("OKP", Some("Ed25519")) => Ok(JwsAlgorithm::EdDSA),
        ("RSA", _) => Ok(JwsAlgorithm::RS256),
        (kty, crv) => Err(Error::Jose(format!(
            "cannot infer a signature algorithm for a JWK with kty {kty:?} and crv {crv:?}"
        ))),
    }
}

fn signer_from_jwk(jwk: &Jwk, alg: JwsAlgorithm) -> Result<Box<dyn JwsSigner>> {
    use JwsAlgorithm::*;
    let signer: Box<dyn JwsSigner> = match alg {
        ES256 => Box::new(jws::ES256.signer_from_jwk(jwk).map_err(Error::jose)?),
        ES384 => Box::new(jws::ES384.signer_from_jwk(jwk).map_err(Error::jose)?),
        ES512 => Box::new(jws::ES512.signer_from_jwk(jwk).map_err(Error::jose)?),
        RS256 => Box::new(jws::RS256.signer_from_jwk(jwk).map_err(Error::jose)?),
        RS384 => Box::new(jws::RS384.signer_from_jwk(jwk).map_err(Error::jose)?),
        RS512 => Box::new(jws::RS512.signer_from_jwk(jwk).map_err(Error::jose)?),
        PS256 => Box::new(jws::PS256.signer_from_jwk(jwk).map_err(Error::jose)?),
        PS384 => Box::new(jws::PS384.signer_from_jwk(jwk).map_err(Error::jose)?),
        PS512 => Box::new(jws::PS512.signer_from_jwk(jwk).map_err(Error::jose)?),
        EdDSA => Box::new(jws::EdDSA.signer_from_jwk(jwk).map_err(Error::jose)?),
        HS256 | HS384 | HS512 => {
            return Err(Error::Jose(format!("{alg} is not a private-key algorithm")))
        }
    };
    Ok(signer)
}

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
        other => return Err(Error::Jose(format!("{other} is not an HMAC algorithm"))),
    };
    let header = serde_json::json!({ "alg": alg.name(), "typ": "JWT" });
    let payload = Value::Object(claims).to_string();
    compact_jws(
        &b64url(header.to_string().as_bytes()),
        payload.as_bytes(),
        |input| {
            let key = openssl::pkey::PKey::hmac(secret).map_err(Error::jose)?;
            let mut signer = openssl::sign::Signer::new(digest, &key).map_err(Error::jose)?;
            signer.update(input).map_err(Error::jose)?;
            signer.sign_to_vec().map_err(Error::jose)
        },
    )
}

/// `header_b64 . base64url(payload) . base64url(sign(signing input))`: the
/// compact serialization (RFC 7515 §7.1), built in one buffer.
fn compact_jws(
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
        other => return Err(Error::Jose(format!("no thumbprint for kty {other:?}"))),
    };
    let mut canonical = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk
            .get(*name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Jose(format!("JWK member {name:?} is missing")))?;
        if i > 0 {
            canonical.push(',');
        }
        // serde_json writes a string with exactly the escaping RFC 7638 §3.3 asks for.
        canonical.push_str(&Value::String((*name).to_owned()).to_string());
        canonical.push(':');
        canonical.push_str(&Value::String(value.to_owned()).to_string());
    }
    canonical.push('}');
    Ok(b64url(&sha256(canonical.as_bytes())?))
}

/// SHA-256 with OpenSSL.
pub(crate) fn sha256(data: &[u8]) -> Result<Vec<u8>> {
    openssl::hash::hash(openssl::hash::MessageDigest::sha256(), data)
        .map(|d| d.to_vec())
        .map_err(Error::jose)
}

/// Base64url without padding (RFC 7515 §2).
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` bytes from OpenSSL's CSPRNG, base64url-encoded.
pub(crate) fn random_b64url(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf).map_err(Error::jose)?;
    Ok(b64url(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwt;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in JwsAlgorithm::ALL {
            assert_eq!(alg.name().parse::<JwsAlgorithm>().unwrap(), alg);
        }
        assert_eq!(
            "Ed25519".parse::<JwsAlgorithm>().unwrap(),
            JwsAlgorithm::EdDSA
        );
        assert!("none".parse::<JwsAlgorithm>().is_err());
    }

    #[test]
    fn generated_keys_sign_and_hide_private_parts() {
        for alg in [
            JwsAlgorithm::ES256,
            JwsAlgorithm::ES384,
            JwsAlgorithm::ES512,
            JwsAlgorithm::RS256,
            JwsAlgorithm::PS256,
            JwsAlgorithm::EdDSA,
        ] {
            let key = PrivateKey::generate(alg).unwrap().with_kid("k1");
            let jwt = key.sign_jwt(None, &[], Map::new()).unwrap();
            let header = jwt::decode_header(&jwt).unwrap();
            assert_eq!(header.claim("alg").unwrap(), alg.name());
            assert_eq!(header.claim("kid").unwrap(), "k1");
            let jwk = key.public_jwk();
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(
                    !jwk.contains_key(private),
                    "{alg}: public JWK has {private}"
                );
            }
            let debug = format!("{key:?}");
            assert!(!debug.contains("\"d\""), "{debug}");
        }
    }

    #[test]
    fn ecdsa_fast_path_signatures_verify() {
        for (alg, verifier_alg) in [
            (JwsAlgorithm::ES256, jws::ES256),
            (JwsAlgorithm::ES384, jws::ES384),
            (JwsAlgorithm::ES512, jws::ES512),
        ] {
            let key = PrivateKey::generate(alg).unwrap();
            let jwt = key.sign_jwt(Some("JWT"), &[], Map::new()).unwrap();
            let public = Jwk::from_map(key.public_jwk().clone()).unwrap();
            let verifier = verifier_alg.verifier_from_jwk(&public).unwrap();
            jwt::decode_with_verifier(&jwt, &verifier).unwrap_or_else(|e| panic!("{alg}: {e}"));
        }
    }

    #[test]
    fn pem_and_jwk_import() {
        let pair = jws::ES256.generate_key_pair().unwrap();
        let pem = pair.to_pem_private_key();
        let key = PrivateKey::from_pem(&pem, JwsAlgorithm::ES256).unwrap();
        assert_eq!(key.algorithm(), JwsAlgorithm::ES256);
        let jwk = pair.to_jwk_key_pair().to_string();
        let key = PrivateKey::from_jwk_json(&jwk).unwrap();
        assert_eq!(key.algorithm(), JwsAlgorithm::ES256);
        assert!(PrivateKey::from_pem(b"not a key", JwsAlgorithm::ES256).is_err());
        assert!(PrivateKey::from_jwk_json("{}").is_err());
    }

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

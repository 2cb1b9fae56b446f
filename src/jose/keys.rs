//! Private keys: generating, loading (JWK, PEM) and the rules that tie a key
//! type to the algorithms it can sign with.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{self, JwsSigner};
use openssl::pkey::{Id, PKey, Private};
use serde_json::{Map, Value};

use super::jws::{compact_jws, ecdsa_sign};
use super::{b64url, JwsAlgorithm};
use crate::error::{Error, ErrorKind, Result};

/// The smallest RSA key accepted (RFC 7518 §3.3 and §3.5).
const MIN_RSA_BITS: u32 = 2048;

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

/// The type of a key, as far as JWS cares: which algorithms it can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    EcP256,
    EcP384,
    EcP521,
    Ed25519,
}

impl KeyType {
    fn describe(self) -> &'static str {
        match self {
            KeyType::Rsa => "an RSA key",
            KeyType::EcP256 => "an EC P-256 key",
            KeyType::EcP384 => "an EC P-384 key",
            KeyType::EcP521 => "an EC P-521 key",
            KeyType::Ed25519 => "an Ed25519 key",
        }
    }

    /// The algorithm the key fixes, if it fixes one: an EC curve has one
    /// ECDSA algorithm and Ed25519 one EdDSA; an RSA key signs RS* and PS*.
    fn fixed_algorithm(self) -> Option<JwsAlgorithm> {
        match self {
            KeyType::EcP256 => Some(JwsAlgorithm::ES256),
            KeyType::EcP384 => Some(JwsAlgorithm::ES384),
            KeyType::EcP521 => Some(JwsAlgorithm::ES512),
            KeyType::Ed25519 => Some(JwsAlgorithm::EdDSA),
            KeyType::Rsa => None,
        }
    }

    /// The key type `alg` signs with; `None` for HMAC.
    fn for_algorithm(alg: JwsAlgorithm) -> Option<KeyType> {
        use JwsAlgorithm::*;
        match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Some(KeyType::Rsa),
            ES256 => Some(KeyType::EcP256),
            ES384 => Some(KeyType::EcP384),
            ES512 => Some(KeyType::EcP521),
            EdDSA => Some(KeyType::Ed25519),
            HS256 | HS384 | HS512 => None,
        }
    }

    fn of_jwk(jwk: &Jwk) -> Result<KeyType> {
        match (jwk.key_type(), jwk.curve()) {
            ("RSA", _) => Ok(KeyType::Rsa),
            ("EC", Some("P-256")) => Ok(KeyType::EcP256),
            ("EC", Some("P-384")) => Ok(KeyType::EcP384),
            ("EC", Some("P-521")) => Ok(KeyType::EcP521),
            ("OKP", Some("Ed25519")) => Ok(KeyType::Ed25519),
            (kty, crv) => Err(Error::invalid_key(format!(
                "unsupported key: a JWK with kty {kty:?} and crv {crv:?} (supported: RSA, EC P-256/P-384/P-521, OKP Ed25519)"
            ))),
        }
    }

    fn of_pkey(key: &PKey<Private>) -> Result<KeyType> {
        use openssl::nid::Nid;
        match key.id() {
            Id::RSA => Ok(KeyType::Rsa),
            Id::ED25519 => Ok(KeyType::Ed25519),
            Id::EC => {
                let curve = key.ec_key().ok().and_then(|k| k.group().curve_name());
                match curve {
                    Some(Nid::X9_62_PRIME256V1) => Ok(KeyType::EcP256),
                    Some(Nid::SECP384R1) => Ok(KeyType::EcP384),
                    Some(Nid::SECP521R1) => Ok(KeyType::EcP521),
                    other => Err(Error::invalid_key(format!(
                        "unsupported EC curve {}",
                        other
                            .and_then(|n| n.short_name().ok())
                            .unwrap_or("(unnamed)")
                    ))),
                }
            }
            other => Err(Error::invalid_key(format!(
                "unsupported key type {other:?} (supported: RSA, EC P-256/P-384/P-521, Ed25519)"
            ))),
        }
    }

    /// The algorithm to sign with: `alg` when given (and the key fits it),
    /// else the one the key fixes.
    fn algorithm(self, alg: Option<JwsAlgorithm>, loader: &str) -> Result<JwsAlgorithm> {
        match alg {
            Some(alg) => match KeyType::for_algorithm(alg) {
                None => Err(Error::new(
                    ErrorKind::UnsupportedAlgorithm,
                    format!("{alg} is symmetric: use a client secret, not a private key"),
                )),
                Some(needed) if needed != self => Err(Error::invalid_key(format!(
                    "the key is {}, but {alg} needs {}",
                    self.describe(),
                    needed.describe()
                ))),
                Some(_) => Ok(alg),
            },
            None => self.fixed_algorithm().ok_or_else(|| {
                Error::invalid_key(format!(
                    "{} can sign RS256, RS384, RS512, PS256, PS384 or PS512: name the algorithm with {loader}",
                    self.describe()
                ))
            }),
        }
    }
}

fn key_error(what: &str) -> impl FnOnce(josekit::JoseError) -> Error + '_ {
    move |e| Error::invalid_key(format!("cannot read {what}")).with_source(e)
}

impl PrivateKey {
    /// Generates a new key pair for `alg` (RSA keys are 2048 bits, `EdDSA`
    /// uses Ed25519).
    pub fn generate(alg: JwsAlgorithm) -> Result<Self> {
        use JwsAlgorithm::*;
        let failed = |e| {
            Error::new(
                ErrorKind::InvalidKey,
                format!("cannot generate an {alg} key"),
            )
            .with_source(e)
        };
        let pair: Box<dyn KeyPair> = match alg {
            ES256 => Box::new(jws::ES256.generate_key_pair().map_err(failed)?),
            ES384 => Box::new(jws::ES384.generate_key_pair().map_err(failed)?),
            ES512 => Box::new(jws::ES512.generate_key_pair().map_err(failed)?),
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
                Box::new(jws::RS256.generate_key_pair(MIN_RSA_BITS).map_err(failed)?)
            }
            EdDSA => Box::new(
                jws::EdDSA
                    .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
                    .map_err(failed)?,
            ),
            HS256 | HS384 | HS512 => {
                return Err(Error::new(
                    ErrorKind::UnsupportedAlgorithm,
                    format!("{alg} is symmetric: use a client secret, not a private key"),
                ))
            }
        };
        Self::from_key_pair(pair.as_ref(), alg)
    }

    /// Reads a private key from a JWK (JSON text). The algorithm is the JWK's
    /// `alg` member when present, else the one the key fixes: `ES256`/`ES384`/
    /// `ES512` by curve, `EdDSA` for Ed25519. An RSA key without `alg` can
    /// sign several algorithms: name one with
    /// [`from_jwk_json_with_alg`](Self::from_jwk_json_with_alg). The JWK's
    /// `kid` is kept.
    pub fn from_jwk_json(jwk_json: &str) -> Result<Self> {
        let jwk = Jwk::from_bytes(jwk_json.as_bytes()).map_err(key_error("the JWK"))?;
        let alg = match jwk.algorithm() {
            Some(a) => Some(a.parse()?),
            None => None,
        };
        Self::from_jwk(&jwk, alg, "from_jwk_json_with_alg")
    }

    /// Like [`PrivateKey::from_jwk_json`], with the algorithm given; the key
    /// must fit it.
    pub fn from_jwk_json_with_alg(jwk_json: &str, alg: JwsAlgorithm) -> Result<Self> {
        let jwk = Jwk::from_bytes(jwk_json.as_bytes()).map_err(key_error("the JWK"))?;
        Self::from_jwk(&jwk, Some(alg), "from_jwk_json_with_alg")
    }

    /// Reads a PEM private key (PKCS#8 `PRIVATE KEY`, or the traditional
    /// `EC PRIVATE KEY` / `RSA PRIVATE KEY`). The algorithm is the one the
    /// key fixes: `ES256`/`ES384`/`ES512` by curve, `EdDSA` for Ed25519. An
    /// RSA key can sign several: use
    /// [`from_pem_with_alg`](Self::from_pem_with_alg).
    ///
    /// ```
    /// use oidckit::{ErrorKind, JwsAlgorithm, PrivateKey};
    /// use openssl::{ec::{EcGroup, EcKey}, nid::Nid};
    ///
    /// let p384 = EcGroup::from_curve_name(Nid::SECP384R1)?;
    /// let pem = EcKey::generate(&p384)?.private_key_to_pem()?;
    /// assert_eq!(PrivateKey::from_pem(&pem)?.algorithm(), JwsAlgorithm::ES384);
    ///
    /// let err = PrivateKey::from_pem_with_alg(&pem, JwsAlgorithm::RS256).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidKey);
    /// assert_eq!(err.to_string(), "the key is an EC P-384 key, but RS256 needs an RSA key");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        Self::load_pem(pem, None)
    }

    /// Reads a PEM private key for `alg`; the key must fit it (an RSA key
    /// for RS*/PS*, the matching curve for ES*, Ed25519 for EdDSA).
    pub fn from_pem_with_alg(pem: &[u8], alg: JwsAlgorithm) -> Result<Self> {
        Self::load_pem(pem, Some(alg))
    }

    fn load_pem(pem: &[u8], alg: Option<JwsAlgorithm>) -> Result<Self> {
        let key = PKey::private_key_from_pem(pem)
            .map_err(|e| Error::invalid_key("cannot read the PEM private key").with_source(e))?;
        let key_type = KeyType::of_pkey(&key)?;
        let alg = key_type.algorithm(alg, "from_pem_with_alg")?;
        if key_type == KeyType::Rsa {
            check_rsa_bits(key.bits())?;
        }
        use JwsAlgorithm::*;
        let read = key_error("the PEM private key");
        let pair: Box<dyn KeyPair> = match alg {
            ES256 => Box::new(jws::ES256.key_pair_from_pem(pem).map_err(read)?),
            ES384 => Box::new(jws::ES384.key_pair_from_pem(pem).map_err(read)?),
            ES512 => Box::new(jws::ES512.key_pair_from_pem(pem).map_err(read)?),
            EdDSA => Box::new(jws::EdDSA.key_pair_from_pem(pem).map_err(read)?),
            // RSA (HMAC was refused by `algorithm`).
            _ => Box::new(jws::RS256.key_pair_from_pem(pem).map_err(read)?),
        };
        Self::from_key_pair(pair.as_ref(), alg)
    }

    /// josekit tags a key pair with the algorithm it was made for (RS256 for
    /// every RSA key); the caller's `alg` decides here, so the tag is dropped.
    fn from_key_pair(pair: &dyn KeyPair, alg: JwsAlgorithm) -> Result<Self> {
        let mut jwk = pair.to_jwk_key_pair();
        jwk.set_parameter("alg", None)
            .map_err(key_error("the key pair"))?;
        Self::from_jwk(&jwk, Some(alg), "from_jwk_json_with_alg")
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
        super::jwk_thumbprint(&self.inner.public_jwk)
    }

    fn from_jwk(jwk: &Jwk, alg: Option<JwsAlgorithm>, loader: &str) -> Result<Self> {
        let key_type = KeyType::of_jwk(jwk)?;
        let alg = key_type.algorithm(alg, loader)?;
        if key_type == KeyType::Rsa {
            check_rsa_size(jwk)?;
        }
        let signer = signer_from_jwk(jwk, alg)?;
        let ecdsa = match key_type {
            KeyType::EcP256 | KeyType::EcP384 | KeyType::EcP521 => Some(ec_key(jwk)?),
            _ => None,
        };
        let public = jwk
            .to_public_key()
            .map_err(key_error("the public half of the key"))?;
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
            None => self.inner.signer.sign(input).map_err(|e| {
                Error::signing(format!("cannot sign with the {} key", self.inner.alg))
                    .with_source(e)
            }),
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

/// RSA keys below 2048 bits are refused (RFC 7518 §3.3).
fn check_rsa_size(jwk: &Jwk) -> Result<()> {
    let n = jwk
        .parameter("n")
        .and_then(Value::as_str)
        .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok())
        .ok_or_else(|| Error::invalid_key("the RSA JWK has no usable modulus `n`"))?;
    let leading_zeros = n.iter().take_while(|b| **b == 0).count();
    check_rsa_bits((n.len() - leading_zeros) as u32 * 8)
}

fn check_rsa_bits(bits: u32) -> Result<()> {
    if bits < MIN_RSA_BITS {
        return Err(Error::invalid_key(format!(
            "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    Ok(())
}

/// The EC private key of a JWK, as OpenSSL's type.
fn ec_key(jwk: &Jwk) -> Result<openssl::ec::EcKey<openssl::pkey::Private>> {
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey, EcPoint};
    use openssl::nid::Nid;
    let unusable = |e| Error::invalid_key("the EC JWK is not a valid key").with_source(e);
    let member = |name: &str| -> Result<BigNum> {
        let text = jwk
            .parameter(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid_key(format!("the EC JWK has no {name}")))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| Error::invalid_key(format!("the EC JWK's {name} is not base64url")))?;
        BigNum::from_slice(&bytes).map_err(unusable)
    };
    let nid = match jwk.curve() {
        Some("P-256") => Nid::X9_62_PRIME256V1,
        Some("P-384") => Nid::SECP384R1,
        Some("P-521") => Nid::SECP521R1,
        other => {
            return Err(Error::invalid_key(format!(
                "unsupported EC curve {other:?}"
            )))
        }
    };
    let group = EcGroup::from_curve_name(nid).map_err(unusable)?;
    let mut ctx = BigNumContext::new().map_err(unusable)?;
    let mut point = EcPoint::new(&group).map_err(unusable)?;
    let (x, y, d) = (member("x")?, member("y")?, member("d")?);
    point
        .set_affine_coordinates_gfp(&group, &x, &y, &mut ctx)
        .map_err(unusable)?;
    let key = EcKey::from_private_components(&group, &d, &point).map_err(unusable)?;
    key.check_key().map_err(unusable)?;
    Ok(key)
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

fn signer_from_jwk(jwk: &Jwk, alg: JwsAlgorithm) -> Result<Box<dyn JwsSigner>> {
    use JwsAlgorithm::*;
    let read = key_error("the private key");
    let signer: Box<dyn JwsSigner> = match alg {
        ES256 => Box::new(jws::ES256.signer_from_jwk(jwk).map_err(read)?),
        ES384 => Box::new(jws::ES384.signer_from_jwk(jwk).map_err(read)?),
        ES512 => Box::new(jws::ES512.signer_from_jwk(jwk).map_err(read)?),
        RS256 => Box::new(jws::RS256.signer_from_jwk(jwk).map_err(read)?),
        RS384 => Box::new(jws::RS384.signer_from_jwk(jwk).map_err(read)?),
        RS512 => Box::new(jws::RS512.signer_from_jwk(jwk).map_err(read)?),
        PS256 => Box::new(jws::PS256.signer_from_jwk(jwk).map_err(read)?),
        PS384 => Box::new(jws::PS384.signer_from_jwk(jwk).map_err(read)?),
        PS512 => Box::new(jws::PS512.signer_from_jwk(jwk).map_err(read)?),
        EdDSA => Box::new(jws::EdDSA.signer_from_jwk(jwk).map_err(read)?),
        HS256 | HS384 | HS512 => {
            return Err(Error::new(
                ErrorKind::UnsupportedAlgorithm,
                format!("{alg} is not a private-key algorithm"),
            ))
        }
    };
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwt;

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
        let e = PrivateKey::generate(JwsAlgorithm::HS256).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm);
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
    fn pem_and_jwk_import_infer_the_algorithm_the_key_fixes() {
        for (alg, pair) in [
            (
                JwsAlgorithm::ES256,
                Box::new(jws::ES256.generate_key_pair().unwrap()) as Box<dyn KeyPair>,
            ),
            (
                JwsAlgorithm::ES512,
                Box::new(jws::ES512.generate_key_pair().unwrap()),
            ),
            (
                JwsAlgorithm::EdDSA,
                Box::new(
                    jws::EdDSA
                        .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
                        .unwrap(),
                ),
            ),
        ] {
            let pem = pair.to_pem_private_key();
            assert_eq!(PrivateKey::from_pem(&pem).unwrap().algorithm(), alg);
            let mut jwk = pair.to_jwk_key_pair();
            jwk.set_parameter("alg", None).unwrap();
            let key = PrivateKey::from_jwk_json(&jwk.to_string()).unwrap();
            assert_eq!(key.algorithm(), alg);
        }
        assert_eq!(
            PrivateKey::from_pem(b"not a key").unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
        assert_eq!(
            PrivateKey::from_jwk_json("{}").unwrap_err().kind(),
            ErrorKind::InvalidKey
        );
    }

    #[test]
    fn rsa_needs_an_algorithm_and_keys_must_fit_theirs() {
        let rsa = jws::RS256.generate_key_pair(2048).unwrap();
        let pem = rsa.to_pem_private_key();
        let e = PrivateKey::from_pem(&pem).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidKey);
        assert!(e.to_string().contains("from_pem_with_alg"), "{e}");
        let key = PrivateKey::from_pem_with_alg(&pem, JwsAlgorithm::PS256).unwrap();
        assert_eq!(key.algorithm(), JwsAlgorithm::PS256);

        let e = PrivateKey::from_pem_with_alg(&pem, JwsAlgorithm::ES256).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key is an RSA key, but ES256 needs an EC P-256 key"
        );
        let p384 = jws::ES384.generate_key_pair().unwrap().to_pem_private_key();
        let e = PrivateKey::from_pem_with_alg(&p384, JwsAlgorithm::ES256).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key is an EC P-384 key, but ES256 needs an EC P-256 key"
        );
        let e = PrivateKey::from_pem_with_alg(&p384, JwsAlgorithm::HS256).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm);

        let mut jwk = rsa.to_jwk_key_pair();
        jwk.set_parameter("alg", None).unwrap();
        let e = PrivateKey::from_jwk_json(&jwk.to_string()).unwrap_err();
        assert!(e.to_string().contains("from_jwk_json_with_alg"), "{e}");
        let key =
            PrivateKey::from_jwk_json_with_alg(&jwk.to_string(), JwsAlgorithm::RS384).unwrap();
        assert_eq!(key.algorithm(), JwsAlgorithm::RS384);
        // A JWK's own `alg` fixes it.
        jwk.set_parameter("alg", Some("PS512".into())).unwrap();
        let key = PrivateKey::from_jwk_json(&jwk.to_string()).unwrap();
        assert_eq!(key.algorithm(), JwsAlgorithm::PS512);
    }

    #[test]
    fn short_rsa_keys_are_refused() {
        let small = openssl::rsa::Rsa::generate(1024).unwrap();
        let pem = small.private_key_to_pem().unwrap();
        let e = PrivateKey::from_pem_with_alg(&pem, JwsAlgorithm::RS256).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidKey);
        assert!(e.to_string().contains("1024 bits"), "{e}");
    }
}

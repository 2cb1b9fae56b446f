//! JOSE: keys, JWS algorithms, signing, verification, thumbprints
//! (josekit and OpenSSL).
//!
//! Used for client assertions (RFC 7523, `client_secret_jwt` and
//! `private_key_jwt`) and DPoP proofs (RFC 9449); JWT verification (ID
//! Tokens, signed userinfo) with the keys of a JWK Set. Key material never appears in `Debug`
//! output.
//!
//! - `keys`: [`PrivateKey`], loading (JWK, PEM) and the key-type rules;
//! - `jws`: the compact serialization, HMAC and ECDSA signatures;
//! - `jwk`: public keys from JWKs, [`JwkSet`] and key selection;
//! - `jwt`: reading a signed JWT and verifying its signature;
//! - `thumbprint`: RFC 7638 thumbprints.

pub(crate) mod claims;
pub(crate) mod jwk;
mod jws;
pub(crate) mod jwt;
mod keys;
mod thumbprint;

pub use jwk::JwkSet;
pub(crate) use jws::sign_hmac_jwt;
pub use keys::PrivateKey;
pub use thumbprint::jwk_thumbprint;

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::{Error, ErrorKind, Result};

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
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnsupportedAlgorithm,
                    format!(
                        "unsupported JWS algorithm {:?}",
                        crate::error::server_text(s, 64)
                    ),
                )
            })
    }
}

/// SHA-256 with OpenSSL (cannot fail).
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

/// Base64url without padding (RFC 7515 §2).
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` bytes from OpenSSL's CSPRNG, base64url-encoded.
pub(crate) fn random_b64url(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    openssl::rand::rand_bytes(&mut buf)
        .map_err(|e| Error::signing("the random number generator failed").with_source(e))?;
    Ok(b64url(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in JwsAlgorithm::ALL {
            assert_eq!(alg.name().parse::<JwsAlgorithm>().unwrap(), alg);
        }
        assert_eq!(
            "Ed25519".parse::<JwsAlgorithm>().unwrap(),
            JwsAlgorithm::EdDSA
        );
        let e = "none".parse::<JwsAlgorithm>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm);
    }
}

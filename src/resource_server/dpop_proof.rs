//! Verifying a DPoP proof at the resource server
//! ([RFC 9449 §4.3](https://www.rfc-editor.org/rfc/rfc9449#section-4.3),
//! §7): the proof is a JWT the client signs with the key its token is bound
//! to, for one request (`htm`, `htu`), one token (`ath`) and one moment
//! (`iat`, and the server's `nonce` when it asks for one).
//!
//! [`verify_dpop_proof`] is the sans-IO step: the `DPoP` header value, the
//! request and the expectations in, the verified proof (with its key's
//! RFC 7638 thumbprint, to compare with the token's `cnf.jkt`) out. It
//! records the proof's `jti` in a [`ReplayCache`] last, once everything
//! else has passed, so a proof that fails a check cannot use up a `jti`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use openssl::pkey::{PKey, Public};

use serde_json::{Map, Value};
use url::Url;

use super::replay::ReplayCache;
use crate::clock::unix_seconds;
use crate::error::{server_text, Error, ErrorKind, Result};
use crate::jose::jwk::{check_public_jwk, public_key_for};
use crate::jose::jwt;
use crate::jose::{b64url, jwk_thumbprint, sha256, JwsAlgorithm};

const WHAT: &str = "the DPoP proof";

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
const DPOP_TYP: &str = "dpop+jwt";

/// The signature algorithms a resource server accepts in DPoP proofs by
/// default: every asymmetric one this crate verifies (RFC 9449 §4.2: not
/// `none`, no MAC).
pub const DEFAULT_DPOP_ALGORITHMS: [JwsAlgorithm; 10] = [
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::ES512,
    JwsAlgorithm::PS256,
    JwsAlgorithm::PS384,
    JwsAlgorithm::PS512,
    JwsAlgorithm::RS256,
    JwsAlgorithm::RS384,
    JwsAlgorithm::RS512,
    JwsAlgorithm::EdDSA,
];

/// How old a proof may be, by its `iat`, when the server gave no nonce
/// (RFC 9449 §11.1 leaves the window to the server).
pub const DEFAULT_PROOF_MAX_AGE: Duration = Duration::from_secs(60);

/// What a DPoP proof must match: the request it came with and, for a
/// protected resource, the access token and its binding.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DPoPProofChecks<'a> {
    /// The request's method (`htm`), e.g. `GET`.
    pub method: &'a str,
    /// The request's URL as the client addressed it (`htu`; query and
    /// fragment are ignored, RFC 9449 §4.3 item 9).
    pub url: &'a Url,
    /// The access token sent with the proof: its hash must be the proof's
    /// `ath` (§4.3 item 12).
    pub access_token: Option<&'a str>,
    /// The thumbprint the token is bound to (`cnf.jkt`, §6.1): the proof's
    /// key must have it.
    pub jkt: Option<&'a str>,
    /// The algorithms accepted (default: [`DEFAULT_DPOP_ALGORITHMS`]).
    pub algorithms: &'a [JwsAlgorithm],
    /// How far in the past `iat` may be.
    pub max_age: Duration,
    /// How far in the future `iat` may be (clock differences).
    pub clock_tolerance: Duration,
    /// "Now".
    pub now: SystemTime,
}

impl<'a> DPoPProofChecks<'a> {
    /// Checks for a proof of a `method` request to `url` at `now`, with the
    /// default algorithms and windows (60 s old, 5 s ahead); no token.
    pub fn new(method: &'a str, url: &'a Url, now: SystemTime) -> Self {
        DPoPProofChecks {
            method,
            url,
            access_token: None,
            jkt: None,
            algorithms: &DEFAULT_DPOP_ALGORITHMS,
            max_age: DEFAULT_PROOF_MAX_AGE,
            clock_tolerance: Duration::from_secs(5),
            now,
        }
    }
}

/// A verified DPoP proof.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedDPoPProof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat` (seconds since the epoch).
    pub issued_at: u64,
    /// The proof's `nonce`, if any: compare it with the ones the server
    /// issued (see [`DPoPNonces`](super::DPoPNonces)).
    pub nonce: Option<String>,
    /// The signature algorithm.
    pub alg: JwsAlgorithm,
    /// Every claim of the proof.
    pub claims: Map<String, Value>,
}

/// Verifies `proof` (the `DPoP` header's value) against `checks`, and
/// records its `jti` in `replay` (a `jti` seen before within the window is
/// refused, §11.1). Every failure is an [`Error`] whose kind says which
/// rule: [`InvalidJwt`](ErrorKind::InvalidJwt) (not a proof, wrong `typ`,
/// missing claims), [`UnsupportedAlgorithm`](ErrorKind::UnsupportedAlgorithm),
/// [`InvalidKey`](ErrorKind::InvalidKey) (a private key in `jwk`),
/// [`SignatureVerification`](ErrorKind::SignatureVerification),
/// [`ClaimComparison`](ErrorKind::ClaimComparison) (`htm`, `htu`, `ath`,
/// `cnf.jkt`, a replayed `jti`), [`TimestampCheck`](ErrorKind::TimestampCheck)
/// (`iat` outside the window).
///
/// ```
/// use std::time::SystemTime;
/// use oidckit::{verify_dpop_proof, DPoPProofChecks, InMemoryReplayCache, JwsAlgorithm, PrivateKey};
///
/// # fn run(proof: &str, access_token: &str, jkt: &str) -> Result<(), oidckit::Error> {
/// let replay = InMemoryReplayCache::new(100_000);
/// let url = "https://api.example.com/orders".parse().unwrap();
/// let mut checks = DPoPProofChecks::new("GET", &url, SystemTime::now());
/// checks.access_token = Some(access_token);
/// checks.jkt = Some(jkt);
/// let verified = verify_dpop_proof(proof, &checks, &replay)?;
/// # Ok(()) }
/// ```
pub fn verify_dpop_proof(
    proof: &str,
    checks: &DPoPProofChecks<'_>,
    replay: &dyn ReplayCache,
) -> Result<VerifiedDPoPProof> {
    let jwt = jwt::decode(proof, WHAT)?;
    // §4.3 items 4, 5: `typ` dpop+jwt; an allowed asymmetric algorithm.
    jwt.check_type_and_algorithm(&[DPOP_TYP], checks.algorithms, WHAT, "RFC 9449 §4.2")?;
    // §4.3 items 6, 7: the embedded public key verifies the signature.
    let jwk = jwt
        .header_member("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(format!("{WHAT}'s header has no `jwk` object")))?;
    check_public_jwk(jwt.alg, jwk)?;
    let jkt = jwk_thumbprint(jwk)?;
    let key = proof_key(jwt.alg, jwk, &jkt)?;
    jwt.verify(&key, WHAT)?;
    let claims = &jwt.claims;

    let jti = required_string(claims, "jti")?;
    let htm = required_string(claims, "htm")?;
    let htu = required_string(claims, "htu")?;
    let issued_at = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid(format!("{WHAT} has no numeric `iat`")))?;

    // §4.3 item 8: the method, exactly (methods are case-sensitive).
    if htm != checks.method {
        return Err(mismatch(format!(
            "{WHAT} is for {:?}, not this {} request (`htm`)",
            server_text(htm, 16),
            checks.method
        )));
    }
    // §4.3 item 9: the URI without query and fragment, after syntax- and
    // scheme-based normalisation (RFC 3986 §6.2.2, §6.2.3), which parsing
    // with `url` does (case of scheme and host, default port, dot
    // segments, percent-encoding).
    if !same_target(htu, checks.url) {
        return Err(mismatch(format!(
            "{WHAT} is for {:?}, not {} (`htu`)",
            server_text(htu, 120),
            without_query(checks.url)
        )));
    }
    // §4.3 item 11 and §11.1: `iat` within the window.
    let now = unix_seconds(checks.now);
    if issued_at > now.saturating_add(checks.clock_tolerance.as_secs()) {
        return Err(timestamp(format!(
            "{WHAT} was issued {} s in the future (`iat`)",
            issued_at - now
        )));
    }
    if now.saturating_sub(issued_at) > checks.max_age.as_secs() {
        return Err(timestamp(format!(
            "{WHAT} was issued {} s ago (`iat`); at most {} s are accepted",
            now - issued_at,
            checks.max_age.as_secs()
        )));
    }
    // §4.3 item 12: bound to this token, by `ath` and by the key.
    if let Some(token) = checks.access_token {
        let ath = claims.get("ath").and_then(Value::as_str);
        if ath != Some(b64url(&sha256(token.as_bytes())).as_str()) {
            return Err(mismatch(match ath {
                None => format!("{WHAT} has no `ath` for the access token"),
                Some(_) => format!("{WHAT}'s `ath` is not the access token's hash"),
            }));
        }
    }
    if let Some(expected) = checks.jkt {
        if jkt != expected {
            return Err(mismatch(format!(
                "{WHAT} is signed by another key than the one the access token is bound to (`cnf.jkt`)"
            )));
        }
    }
    // Last: a proof that failed a check above does not use up its jti. The
    // entry lives as long as the proof is acceptable.
    let expires = checks.now + checks.max_age + checks.clock_tolerance;
    if !replay.insert_if_absent(&replay_key(&jkt, jti), checks.now, expires) {
        return Err(mismatch(format!(
            "{WHAT}'s `jti` was seen before: a replayed proof (RFC 9449 §11.1)"
        )));
    }
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(VerifiedDPoPProof {
        jkt,
        jti: jti.to_owned(),
        issued_at,
        nonce,
        alg: jwt.alg,
        claims: jwt.claims,
    })
}

/// The most parsed proof keys remembered.
const PROOF_KEYS: usize = 1024;

/// The public key of a proof, parsed once per key: a client signs many
/// proofs with one key, and OpenSSL's first verification with a freshly
/// parsed key costs a third more than the next ones. A memo of public keys
/// by RFC 7638 thumbprint (which fixes every member that makes the key),
/// bounded, process-wide: nothing secret is kept, and the result is the
/// same with or without it.
fn proof_key(alg: JwsAlgorithm, jwk: &Map<String, Value>, jkt: &str) -> Result<PKey<Public>> {
    static KEYS: OnceLock<Mutex<HashMap<String, PKey<Public>>>> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let lock = || keys.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(key) = lock().get(jkt) {
        return Ok(key.clone());
    }
    let key = public_key_for(alg, jwk)?;
    let mut keys = lock();
    if keys.len() >= PROOF_KEYS {
        keys.clear();
    }
    keys.insert(jkt.to_owned(), key.clone());
    Ok(key)
}

/// The replay cache key of a proof: a hash of its key and `jti` (a `jti`
/// is unique per key; the hash keeps entries small and fixed-size).
fn replay_key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(jkt.len() + jti.len() + 1);
    input.extend_from_slice(jkt.as_bytes());
    input.push(0);
    input.extend_from_slice(jti.as_bytes());
    sha256(&input)
}

fn same_target(htu: &str, url: &Url) -> bool {
    match Url::parse(htu) {
        Ok(htu) => without_query(&htu) == without_query(url),
        Err(_) => false,
    }
}

fn without_query(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url
}

fn required_string<'m>(claims: &'m Map<String, Value>, name: &str) -> Result<&'m str> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(invalid(format!("{WHAT} has no `{name}` string"))),
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidJwt, message)
}

fn mismatch(message: String) -> Error {
    Error::new(ErrorKind::ClaimComparison, message)
}

fn timestamp(message: String) -> Error {
    Error::new(ErrorKind::TimestampCheck, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource_server::replay::InMemoryReplayCache;
    use crate::PrivateKey;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const TOKEN: &str = "an-access-token";

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn key() -> PrivateKey {
        PrivateKey::generate(JwsAlgorithm::ES256).unwrap()
    }

    /// A proof signed by `key` with these claims and header changes.
    fn proof(key: &PrivateKey, claims: Value, header: &[(&str, Value)]) -> String {
        let mut extra: Vec<(&str, Value)> = vec![("jwk", Value::Object(key.public_jwk().clone()))];
        extra.extend(header.iter().cloned());
        let typ = header
            .iter()
            .find(|(n, _)| *n == "typ")
            .map(|(_, v)| v.as_str().unwrap_or("").to_owned());
        let extra: Vec<(&str, Value)> = extra.into_iter().filter(|(n, _)| *n != "typ").collect();
        key.sign_jwt(
            Some(typ.as_deref().unwrap_or(DPOP_TYP)),
            &extra,
            claims.as_object().unwrap().clone(),
        )
        .unwrap()
    }

    fn claims(jti: &str) -> Value {
        json!({
            "jti": jti, "htm": "GET", "htu": "https://api.example/orders",
            "iat": NOW, "ath": b64url(&sha256(TOKEN.as_bytes())),
        })
    }

    fn url() -> Url {
        "https://API.example:443/a/../orders?page=2"
            .parse()
            .unwrap()
    }

    fn verify(
        proof: &str,
        key: &PrivateKey,
        replay: &InMemoryReplayCache,
    ) -> Result<VerifiedDPoPProof> {
        let url = url();
        let jkt = key.thumbprint().unwrap();
        let mut checks = DPoPProofChecks::new("GET", &url, at(NOW + 10));
        checks.access_token = Some(TOKEN);
        checks.jkt = Some(&jkt);
        verify_dpop_proof(proof, &checks, replay)
    }

    #[test]
    fn a_good_proof_and_its_replay() {
        let key = key();
        let replay = InMemoryReplayCache::new(16);
        let p = proof(&key, claims("1"), &[]);
        let verified = verify(&p, &key, &replay).unwrap();
        assert_eq!(verified.jkt, key.thumbprint().unwrap());
        assert_eq!(verified.issued_at, NOW);
        let e = verify(&p, &key, &replay).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ClaimComparison);
        assert!(e.to_string().contains("replayed"), "{e}");
    }

    #[test]
    fn every_rule() {
        let key = key();
        let other = self::key();
        let replay = InMemoryReplayCache::new(64);
        let with = |change: &dyn Fn(&mut Map<String, Value>)| {
            let mut c = claims(&format!("{:?}", std::time::Instant::now()));
            change(c.as_object_mut().unwrap());
            c
        };
        let cases: Vec<(String, ErrorKind, &str)> = vec![
            (
                proof(&key, claims("a"), &[("typ", json!("jwt"))]),
                ErrorKind::InvalidJwt,
                "typ",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.remove("jti");
                    }),
                    &[],
                ),
                ErrorKind::InvalidJwt,
                "jti",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.insert("htm".into(), json!("POST"));
                    }),
                    &[],
                ),
                ErrorKind::ClaimComparison,
                "htm",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.insert("htu".into(), json!("https://api.example/other"));
                    }),
                    &[],
                ),
                ErrorKind::ClaimComparison,
                "htu",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.insert("htu".into(), json!("http://api.example/orders"));
                    }),
                    &[],
                ),
                ErrorKind::ClaimComparison,
                "htu",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.insert("iat".into(), json!(NOW - 120));
                    }),
                    &[],
                ),
                ErrorKind::TimestampCheck,
                "iat",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.insert("iat".into(), json!(NOW + 60));
                    }),
                    &[],
                ),
                ErrorKind::TimestampCheck,
                "future",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.insert("ath".into(), json!("wrong"));
                    }),
                    &[],
                ),
                ErrorKind::ClaimComparison,
                "ath",
            ),
            (
                proof(
                    &key,
                    with(&|c| {
                        c.remove("ath");
                    }),
                    &[],
                ),
                ErrorKind::ClaimComparison,
                "ath",
            ),
            // Signed by another key than the token's.
            (
                proof(&other, claims("b"), &[]),
                ErrorKind::ClaimComparison,
                "cnf.jkt",
            ),
            // A header jwk that is not the signing key.
            (
                proof(
                    &key,
                    claims("c"),
                    &[("jwk", Value::Object(other.public_jwk().clone()))],
                ),
                ErrorKind::SignatureVerification,
                "signature",
            ),
            // A private key in the header.
            (
                proof(
                    &key,
                    claims("d"),
                    &[("jwk", {
                        let mut jwk = key.public_jwk().clone();
                        jwk.insert("d".into(), json!("c2VjcmV0"));
                        Value::Object(jwk)
                    })],
                ),
                ErrorKind::InvalidKey,
                "private",
            ),
            (
                proof(&key, claims("e"), &[("jwk", json!("not an object"))]),
                ErrorKind::InvalidJwt,
                "jwk",
            ),
            ("not.a.jwt".into(), ErrorKind::InvalidJwt, ""),
        ];
        for (p, kind, says) in cases {
            let e = verify(&p, &key, &replay).unwrap_err();
            assert_eq!(e.kind(), kind, "{e}");
            assert!(e.to_string().contains(says), "{says:?} not in {e}");
        }
        // None of those used up a jti: a good proof still works.
        verify(&proof(&key, claims("a"), &[]), &key, &replay).unwrap();
    }

    #[test]
    fn algorithms() {
        let key = PrivateKey::generate(JwsAlgorithm::EdDSA).unwrap();
        let replay = InMemoryReplayCache::new(4);
        verify(&proof(&key, claims("1"), &[]), &key, &replay).unwrap();
        let url = url();
        let mut checks = DPoPProofChecks::new("GET", &url, at(NOW));
        checks.algorithms = &[JwsAlgorithm::ES256];
        let e = verify_dpop_proof(&proof(&key, claims("2"), &[]), &checks, &replay).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm);
        // An alg that does not fit the key type.
        let ec = self::key();
        let p = proof(
            &ec,
            claims("3"),
            &[("jwk", Value::Object(key.public_jwk().clone()))],
        );
        assert_eq!(
            verify(&p, &ec, &replay).unwrap_err().kind(),
            ErrorKind::KeySelection
        );
    }
}

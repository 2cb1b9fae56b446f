//! The receiving end's parsers: arbitrary text as a JWT access token
//! (`validate_jwt_access_token`, against keys of every type) and as a DPoP
//! proof (`verify_dpop_proof`, which takes its key from the proof itself).
//! Nothing here is signed by a key the checks trust, so nothing may be
//! accepted: an access token would be a forgery; a proof would need a
//! signature that verifies with its own embedded key, which random input
//! does not carry.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use oidckit::{
    validate_jwt_access_token, verify_dpop_proof, AccessTokenChecks, DPoPProofChecks,
    InMemoryReplayCache, JwkSet, JwsAlgorithm, PrivateKey, Url,
};

fn jwks() -> &'static JwkSet {
    static JWKS: OnceLock<JwkSet> = OnceLock::new();
    JWKS.get_or_init(|| {
        let keys: Vec<_> = [
            (JwsAlgorithm::RS256, "rs"),
            (JwsAlgorithm::ES256, "es"),
            (JwsAlgorithm::EdDSA, "ed"),
        ]
        .into_iter()
        .map(|(alg, kid)| {
            serde_json::Value::Object(
                PrivateKey::generate(alg).unwrap().with_kid(kid).public_jwk().clone(),
            )
        })
        .collect();
        JwkSet::from_json(serde_json::json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let checks = AccessTokenChecks::new("https://as.example", "https://api.example", now);
    assert!(validate_jwt_access_token(&text, jwks(), &checks).is_err());

    let url: Url = "https://api.example/items".parse().unwrap();
    let mut proof = DPoPProofChecks::new("GET", &url, now);
    proof.access_token = Some("token");
    let replay = InMemoryReplayCache::new(16);
    if let Ok(verified) = verify_dpop_proof(&text, &proof, &replay) {
        // Only a real signature gets here; then the rules must have held.
        assert!(!verified.jti.is_empty());
        assert!(verify_dpop_proof(&text, &proof, &replay).is_err(), "replayed");
    }
});

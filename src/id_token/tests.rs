use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::*;
use crate::jose::sign_hmac_jwt;
use crate::{ClientAuth, ClientMetadata, ManualClock, PrivateKey, ServerMetadata};

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://as.example";

struct Fixture {
    server: ServerMetadata,
    client: ClientMetadata,
    auth: ClientAuth,
    key: PrivateKey,
    jwks: JwkSet,
}

impl Fixture {
    fn new(alg: JwsAlgorithm) -> Self {
        let mut server = ServerMetadata::new(ISSUER, "https://as.example/token".parse().unwrap());
        server.id_token_signing_alg_values_supported = Some(vec![alg.name().into()]);
        let key = PrivateKey::generate(alg).unwrap().with_kid("k1");
        let jwks = JwkSet::from_json(json!({ "keys": [key.public_jwk()] }).to_string().as_bytes())
            .unwrap();
        Fixture {
            server,
            client: ClientMetadata::new("client"),
            auth: ClientAuth::none(),
            key,
            jwks,
        }
    }

    fn ctx(&self) -> EndpointContext<'_> {
        EndpointContext::new(&self.server, &self.client, &self.auth).clock(Arc::new(
            ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW)),
        ))
    }

    fn sign(&self, claims: Value) -> String {
        self.key
            .sign_jwt(Some("JWT"), &[], claims.as_object().unwrap().clone())
            .unwrap()
    }

    fn validate(&self, claims: Value, checks: &IdTokenChecks<'_>) -> Result<IdTokenClaims> {
        validate_id_token(&self.ctx(), &self.sign(claims), &self.jwks, checks)
    }
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": "client",
        "exp": NOW + 300, "iat": NOW, "auth_time": NOW - 10,
        "nonce": "n1", "email": "alice@example.com", "email_verified": true,
    })
}

fn with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

const NONCE: IdTokenChecks<'static> = IdTokenChecks {
    nonce: Some("n1"),
    max_age: None,
    access_token: None,
    code: None,
    state: None,
    subject: None,
    skip_nonce_check: false,
};

#[test]
fn a_valid_token_gives_typed_claims_for_every_algorithm() {
    for alg in [
        JwsAlgorithm::RS256,
        JwsAlgorithm::PS256,
        JwsAlgorithm::ES256,
        JwsAlgorithm::EdDSA,
    ] {
        let f = Fixture::new(alg);
        let claims = f.validate(claims(), &NONCE).unwrap();
        assert_eq!(claims.subject(), "alice");
        assert_eq!(claims.issuer(), ISSUER);
        assert_eq!(claims.audiences(), ["client"]);
        assert_eq!(claims.nonce(), Some("n1"));
        assert_eq!(claims.email(), Some("alice@example.com"));
        assert_eq!(claims.email_verified(), Some(true));
        assert_eq!(
            claims.auth_time(),
            Some(UNIX_EPOCH + Duration::from_secs(NOW - 10))
        );
        assert_eq!(claims.get("email_verified"), Some(&Value::Bool(true)));
    }
}

fn kind(f: &Fixture, claims: Value, checks: &IdTokenChecks<'_>) -> ErrorKind {
    f.validate(claims, checks).unwrap_err().kind()
}

#[test]
fn claim_rules() {
    let f = Fixture::new(JwsAlgorithm::ES256);
    use ErrorKind::{ClaimComparison as Claim, TimestampCheck as Time};
    let cases: Vec<(Value, ErrorKind)> = vec![
        (with(json!({"iss": "https://other.example"})), Claim),
        (with(json!({"iss": null})), Claim),
        (with(json!({"sub": null})), Claim),
        (with(json!({"sub": 5})), Claim),
        (with(json!({"aud": "someone-else"})), Claim),
        (with(json!({"aud": null})), Claim),
        (with(json!({"aud": []})), Claim),
        // Several audiences need `azp`, and `azp` must be this client.
        (with(json!({"aud": ["client", "api"]})), Claim),
        (with(json!({"aud": ["client", "api"], "azp": "api"})), Claim),
        (with(json!({"azp": "api"})), Claim),
        (with(json!({"exp": null})), Claim),
        (with(json!({"iat": null})), Claim),
        // Expired, beyond the 30 s tolerance; issued in the future beyond it.
        (with(json!({"exp": NOW - 31})), Time),
        (with(json!({"iat": NOW + 31})), Time),
        (with(json!({"nbf": NOW + 31})), Time),
        (with(json!({"exp": "soon"})), Time),
        // Nonce: exact, and required when one was sent.
        (with(json!({"nonce": "other"})), Claim),
        (with(json!({"nonce": null})), Claim),
    ];
    for (claims, expected) in cases {
        assert_eq!(kind(&f, claims.clone(), &NONCE), expected, "{claims}");
    }
    // Within the tolerance.
    f.validate(
        with(json!({"exp": NOW - 29, "iat": NOW + 29, "nbf": NOW + 29})),
        &NONCE,
    )
    .unwrap();
    f.validate(
        with(json!({"aud": ["client", "api"], "azp": "client"})),
        &NONCE,
    )
    .unwrap();
    // No nonce sent: none may come back.
    let none = IdTokenChecks::default();
    assert_eq!(kind(&f, claims(), &none), Claim);
    f.validate(with(json!({"nonce": null})), &none).unwrap();
}

#[test]
fn auth_time_and_max_age() {
    let mut f = Fixture::new(JwsAlgorithm::ES256);
    let max_age = |m| IdTokenChecks {
        max_age: Some(m),
        ..NONCE
    };
    f.validate(claims(), &max_age(60)).unwrap();
    let e = f
        .validate(with(json!({"auth_time": NOW - 100})), &max_age(60))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimestampCheck, "{e}");
    assert_eq!(
        kind(&f, with(json!({"auth_time": null})), &max_age(60)),
        ErrorKind::ClaimComparison
    );
    // The client's default_max_age and require_auth_time apply too.
    f.client.default_max_age = Some(5);
    assert_eq!(
        kind(&f, with(json!({"auth_time": NOW - 100})), &NONCE),
        ErrorKind::TimestampCheck
    );
    f.client.default_max_age = None;
    f.client.require_auth_time = Some(true);
    assert_eq!(
        kind(&f, with(json!({"auth_time": null})), &NONCE),
        ErrorKind::ClaimComparison
    );
}

#[test]
fn at_hash_and_c_hash_are_checked_when_present() {
    for alg in [
        JwsAlgorithm::ES256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::EdDSA,
    ] {
        let f = Fixture::new(alg);
        let at_hash = left_half_hash(alg, "access-1").unwrap();
        let c_hash = left_half_hash(alg, "code-1").unwrap();
        let checks = IdTokenChecks {
            access_token: Some("access-1"),
            code: Some("code-1"),
            ..NONCE
        };
        f.validate(with(json!({"at_hash": at_hash, "c_hash": c_hash})), &checks)
            .unwrap();
        // Absent: nothing to check.
        f.validate(claims(), &checks).unwrap();
        let wrong = IdTokenChecks {
            access_token: Some("access-2"),
            ..checks
        };
        assert_eq!(
            kind(&f, with(json!({"at_hash": at_hash})), &wrong),
            ErrorKind::ClaimComparison
        );
        let wrong = IdTokenChecks {
            code: Some("code-2"),
            ..checks
        };
        assert_eq!(
            kind(&f, with(json!({"c_hash": c_hash})), &wrong),
            ErrorKind::ClaimComparison
        );
    }
    // The example of OIDC Core §A.3 (RS256): at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y".
    assert_eq!(
        left_half_hash(
            JwsAlgorithm::RS256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        )
        .unwrap(),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
}

#[test]
fn the_subject_must_stay_the_same_after_a_refresh() {
    let f = Fixture::new(JwsAlgorithm::ES256);
    let checks = IdTokenChecks {
        subject: Some("bob"),
        ..NONCE
    };
    assert_eq!(kind(&f, claims(), &checks), ErrorKind::ClaimComparison);
}

#[test]
fn algorithms_outside_the_allowed_ones_are_refused() {
    let mut f = Fixture::new(JwsAlgorithm::ES256);
    f.server.id_token_signing_alg_values_supported = Some(vec!["RS256".into()]);
    assert_eq!(kind(&f, claims(), &NONCE), ErrorKind::UnsupportedAlgorithm);
    // The client's registered alg wins over the server's list.
    f.client.id_token_signed_response_alg = Some("ES256".into());
    f.validate(claims(), &NONCE).unwrap();
    // Neither list: RS256 only.
    f.client.id_token_signed_response_alg = None;
    f.server.id_token_signing_alg_values_supported = None;
    assert_eq!(kind(&f, claims(), &NONCE), ErrorKind::UnsupportedAlgorithm);
}

#[test]
fn key_confusion_and_forgeries_fail() {
    let mut f = Fixture::new(JwsAlgorithm::RS256);
    // HS256 signed with the server's public key as the secret, even when
    // the server claims to support HS256.
    f.server.id_token_signing_alg_values_supported = Some(vec!["RS256".into(), "HS256".into()]);
    let public = serde_json::to_string(f.key.public_jwk()).unwrap();
    let forged = sign_hmac_jwt(
        JwsAlgorithm::HS256,
        public.as_bytes(),
        claims().as_object().unwrap().clone(),
    )
    .unwrap();
    let e = validate_id_token(&f.ctx(), &forged, &f.jwks, &NONCE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm, "{e}");

    // Signed by another key with the same kid.
    let other = PrivateKey::generate(JwsAlgorithm::RS256)
        .unwrap()
        .with_kid("k1");
    let token = other
        .sign_jwt(Some("JWT"), &[], claims().as_object().unwrap().clone())
        .unwrap();
    let e = validate_id_token(&f.ctx(), &token, &f.jwks, &NONCE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SignatureVerification);

    // An unknown kid.
    let other = PrivateKey::generate(JwsAlgorithm::RS256)
        .unwrap()
        .with_kid("k2");
    let token = other
        .sign_jwt(Some("JWT"), &[], claims().as_object().unwrap().clone())
        .unwrap();
    let e = validate_id_token(&f.ctx(), &token, &f.jwks, &NONCE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeySelection);
}

#[test]
fn a_token_checked_now_uses_the_context_clock_and_skew() {
    let f = Fixture::new(JwsAlgorithm::ES256);
    let token = f.sign(claims());
    let late = f.ctx().clock(Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + 400),
    )));
    let e = validate_id_token(&late, &token, &f.jwks, &NONCE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimestampCheck);
    let skewed = f.ctx().clock_skew(400);
    let e = validate_id_token(&skewed, &token, &f.jwks, &NONCE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimestampCheck);
}

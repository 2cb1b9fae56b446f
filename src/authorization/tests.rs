//! Hybrid and implicit responses, with the JWKS cache warmed by an import
//! (so nothing is fetched; a code redemption that gets past the checks
//! fails at the unreachable token endpoint, which shows it got that far).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::clock::unix_seconds;
use crate::id_token::left_half_hash;
use crate::jwks::JwksCacheSnapshot;
use crate::{
    authorization_code_grant, implicit_authentication, AuthorizationChecks, ClientAuth,
    Configuration, ErrorKind, JwsAlgorithm, ManualClock, PrivateKey, ServerMetadata, Url,
};

const NOW: u64 = 1_800_000_000;

struct Fixture {
    config: Configuration,
    key: PrivateKey,
}

fn fixture() -> Fixture {
    let mut server = ServerMetadata::new(
        "https://as.example",
        "https://127.0.0.1:1/token".parse().unwrap(),
    );
    server.jwks_uri = Some("https://127.0.0.1:1/jwks".parse().unwrap());
    server.id_token_signing_alg_values_supported = Some(vec!["ES256".into()]);
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW)));
    let config = Configuration::builder(server, "app", ClientAuth::none())
        .clock(clock)
        .build()
        .unwrap();
    let key = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("k");
    config
        .import_jwks_cache(JwksCacheSnapshot {
            jwks: json!({ "keys": [key.public_jwk()] })
                .as_object()
                .unwrap()
                .clone(),
            fetched_at: unix_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)),
        })
        .unwrap();
    Fixture { config, key }
}

impl Fixture {
    fn id_token(&self, changes: Value) -> String {
        let mut claims = json!({
            "iss": "https://as.example", "sub": "alice", "aud": "app",
            "exp": NOW + 300, "iat": NOW, "nonce": "n1",
            "c_hash": left_half_hash(JwsAlgorithm::ES256, "c0de").unwrap(),
            "s_hash": left_half_hash(JwsAlgorithm::ES256, "s1").unwrap(),
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        self.key
            .sign_jwt(Some("JWT"), &[], claims.as_object().unwrap().clone())
            .unwrap()
    }
}

fn callback(fragment: &str) -> Url {
    format!("https://app.example/cb#{fragment}")
        .parse()
        .unwrap()
}

fn checks() -> AuthorizationChecks {
    AuthorizationChecks::new()
        .expected_state("s1")
        .expected_nonce("n1")
}

#[tokio::test]
async fn implicit_sign_in_validates_the_front_channel_id_token() {
    let f = fixture();
    let token = f.id_token(json!({"c_hash": null}));
    let claims = implicit_authentication(
        &f.config,
        &callback(&format!("id_token={token}&state=s1")),
        &checks(),
    )
    .await
    .unwrap();
    assert_eq!(claims.subject(), "alice");

    let cases = [
        (
            format!("id_token={}&state=s1", f.id_token(json!({"nonce": "n2"}))),
            ErrorKind::ClaimComparison,
        ),
        (
            format!(
                "id_token={}&state=s1",
                f.id_token(json!({"s_hash": "AAAA"}))
            ),
            ErrorKind::ClaimComparison,
        ),
        (
            format!("id_token={token}&state=s2"),
            ErrorKind::ClaimComparison,
        ),
        (
            format!("id_token={token}&state=s1&access_token=x&token=x"),
            ErrorKind::UnsupportedOperation,
        ),
        (
            format!("id_token={token}&state=s1&code=c"),
            ErrorKind::UnsupportedOperation,
        ),
        ("state=s1".to_owned(), ErrorKind::InvalidResponse),
    ];
    for (fragment, kind) in cases {
        let e = implicit_authentication(&f.config, &callback(&fragment), &checks())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{fragment}: {e}");
    }
    // No nonce expected: refused, implicit sign-in needs one.
    let e = implicit_authentication(
        &f.config,
        &callback(&format!("id_token={token}&state=s1")),
        &AuthorizationChecks::new().expected_state("s1"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn hybrid_responses_check_the_id_token_before_the_code_is_redeemed() {
    let f = fixture();
    let hybrid = || checks().hybrid();
    let run = |fragment: String| {
        let f = &f;
        async move {
            authorization_code_grant(&f.config, &callback(&fragment), &hybrid())
                .await
                .unwrap_err()
        }
    };
    // Every check passes: the redemption is attempted (and the token
    // endpoint is unreachable).
    let good = f.id_token(json!({}));
    let e = run(format!("code=c0de&id_token={good}&state=s1")).await;
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");

    let cases = [
        (
            format!(
                "code=c0de&id_token={}&state=s1",
                f.id_token(json!({"c_hash": null}))
            ),
            ErrorKind::ClaimComparison,
        ),
        (
            format!("code=other&id_token={good}&state=s1"),
            ErrorKind::ClaimComparison,
        ),
        (
            format!(
                "code=c0de&id_token={}&state=s1",
                f.id_token(json!({"nonce": null}))
            ),
            ErrorKind::ClaimComparison,
        ),
        ("code=c0de&state=s1".to_owned(), ErrorKind::InvalidResponse),
        (
            format!("code=c0de&id_token={good}&state=s1&token=x"),
            ErrorKind::UnsupportedOperation,
        ),
        (
            format!("code=c0de&id_token={good}&state=s1&access_token=x&token_type=Bearer"),
            ErrorKind::UnsupportedOperation,
        ),
    ];
    for (fragment, kind) in cases {
        let e = run(fragment.clone()).await;
        assert_eq!(e.kind(), kind, "{fragment}: {e}");
    }
    // Without hybrid(), an id_token in the response is refused outright.
    let e = authorization_code_grant(
        &f.config,
        &callback(&format!("code=c0de&id_token={good}&state=s1")),
        &checks(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedOperation);
}

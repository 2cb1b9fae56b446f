//! Signing in with the client API against the mock OpenID Provider: the
//! code flow with PKCE, state, nonce and max_age; every check of the
//! authorization response and the ID Token with a typed error; the JWKS
//! cache (single flight, max age, unknown-kid refetch at most once a minute,
//! rotation, export/import, bad JWK Sets); refresh; userinfo; logout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oidckit::testing::{
    AuthorizationResponseFault, Fault, IdTokenFault, MockAuthorizationServer, MockClient,
    MockServerBuilder,
};
use oidckit::{
    authorization_code_grant, build_authorization_url, build_end_session_url,
    calculate_pkce_code_challenge, discovery, fetch_userinfo, id_token_claims, random_nonce,
    random_pkce_code_verifier, random_state, refresh_token_grant, AuthorizationChecks, Callback,
    ClientAuth, ClientMetadata, Configuration, ErrorKind, IdTokenChecks, JwsAlgorithm, ManualClock,
    TokenEndpointResponse, Url,
};
use serde_json::json;

const REDIRECT: &str = "https://app.example/cb";
const T0: u64 = 1_800_000_000;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(T0),
    ))
}

fn builder(clock: &Arc<ManualClock>) -> MockServerBuilder {
    MockAuthorizationServer::builder()
        .client(
            MockClient::client_secret_basic("app", "s3cr3t")
                .redirect_uris([REDIRECT])
                .post_logout_redirect_uris(["https://app.example/bye"]),
        )
        .subject("alice")
        .user_claims(json!({"email": "alice@example.com", "email_verified": true, "name": "Alice"}))
        .clock(clock.clone())
}

async fn configure(server: &MockAuthorizationServer, clock: &Arc<ManualClock>) -> Configuration {
    discovery(
        server.issuer(),
        "app",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .clock(clock.clone())
    .await
    .unwrap()
}

/// What the application keeps in the user's session between the redirect
/// and the callback.
struct Pending {
    verifier: String,
    state: String,
    nonce: String,
    url: Url,
}

fn start(config: &Configuration, extra: &[(&str, &str)]) -> Pending {
    let verifier = random_pkce_code_verifier();
    let (state, nonce) = (random_state(), random_nonce());
    let challenge = calculate_pkce_code_challenge(&verifier);
    let mut params = vec![
        ("redirect_uri", REDIRECT),
        ("scope", "openid email offline_access"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", state.as_str()),
        ("nonce", nonce.as_str()),
    ];
    params.extend_from_slice(extra);
    let url = build_authorization_url(config, &params).unwrap();
    Pending {
        verifier,
        state,
        nonce,
        url,
    }
}

impl Pending {
    fn checks(&self) -> AuthorizationChecks {
        AuthorizationChecks::new()
            .pkce_code_verifier(&self.verifier)
            .expected_state(&self.state)
            .expected_nonce(&self.nonce)
    }
}

async fn sign_in(
    server: &MockAuthorizationServer,
    config: &Configuration,
) -> oidckit::Result<TokenEndpointResponse> {
    let pending = start(config, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    authorization_code_grant(config, &callback, &pending.checks()).await
}

#[tokio::test]
async fn the_code_flow_signs_the_user_in_with_every_algorithm() {
    for alg in [
        JwsAlgorithm::ES256,
        JwsAlgorithm::RS256,
        JwsAlgorithm::PS256,
        JwsAlgorithm::EdDSA,
    ] {
        let clock = clock();
        let server = builder(&clock).signing_alg(alg).start().await.unwrap();
        let config = configure(&server, &clock).await;
        let pending = start(&config, &[("max_age", "600")]);
        let callback = server.authorize(&pending.url).await.unwrap();
        // RFC 9207: the server says who it is.
        assert!(callback
            .query_pairs()
            .any(|(k, v)| k == "iss" && v == server.issuer().as_str().trim_end_matches('/')));
        let tokens = authorization_code_grant(&config, &callback, &pending.checks().max_age(600))
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let claims = tokens.claims().expect("validated claims");
        assert_eq!(claims.subject(), "alice");
        assert_eq!(claims.nonce(), Some(pending.nonce.as_str()));
        assert_eq!(claims.email(), Some("alice@example.com"));
        assert!(claims.auth_time().is_some());
        // The code went with the verifier and the callback's redirect_uri.
        let request = server.last_token_request().unwrap();
        assert_eq!(
            request.param("code_verifier"),
            Some(pending.verifier.as_str())
        );
        assert_eq!(request.param("redirect_uri"), Some(REDIRECT));
        assert_eq!(server.jwks_request_count(), 1, "{alg}");
    }
}

#[tokio::test]
async fn form_post_callbacks_work_too() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let pending = start(&config, &[("response_mode", "form_post")]);
    let (action, params) = server.authorize_form_post(&pending.url).await.unwrap();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let tokens = authorization_code_grant(
        &config,
        Callback::form_post(&action, body.as_bytes()),
        &pending.checks(),
    )
    .await
    .unwrap();
    assert_eq!(tokens.claims().unwrap().subject(), "alice");
}

#[tokio::test]
async fn authorization_response_attacks_are_typed_errors() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let cases = [
        (
            AuthorizationResponseFault::WrongIssuer("https://evil.example".into()),
            ErrorKind::IssuerMismatch,
        ),
        (
            AuthorizationResponseFault::NoIssuer,
            ErrorKind::IssuerMismatch,
        ),
        (
            AuthorizationResponseFault::DuplicateState,
            ErrorKind::InvalidResponse,
        ),
        (
            AuthorizationResponseFault::WrongState,
            ErrorKind::ClaimComparison,
        ),
        (
            AuthorizationResponseFault::ExtraParam("id_token".into(), "eyJ".into()),
            ErrorKind::UnsupportedOperation,
        ),
        (
            AuthorizationResponseFault::Error {
                error: "access_denied".into(),
                description: Some("the user said no".into()),
            },
            ErrorKind::OAuth,
        ),
    ];
    for (fault, kind) in cases {
        let label = format!("{fault:?}");
        server.tamper_next_authorization_response(fault);
        let pending = start(&config, &[]);
        let callback = server.authorize(&pending.url).await.unwrap();
        let e = authorization_code_grant(&config, &callback, &pending.checks())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{label}: {e}");
        if kind == ErrorKind::OAuth {
            let oauth = e.oauth_error().unwrap();
            assert_eq!(oauth.error, "access_denied");
            assert_eq!(oauth.state.as_deref(), Some(pending.state.as_str()));
        }
    }
    // No code was redeemed for any of them.
    assert_eq!(server.token_request_count(), 0);
}

#[tokio::test]
async fn bad_id_tokens_are_typed_errors() {
    let clock = clock();
    let server = builder(&clock)
        .signing_alg(JwsAlgorithm::RS256)
        .start()
        .await
        .unwrap();
    let config = configure(&server, &clock).await;
    let claims = |v| IdTokenFault::claims(v);
    let cases = [
        (IdTokenFault::AlgNone, ErrorKind::UnsupportedAlgorithm),
        (
            IdTokenFault::HmacWithPublicKey,
            ErrorKind::UnsupportedAlgorithm,
        ),
        (IdTokenFault::UnknownKid, ErrorKind::KeySelection),
        (IdTokenFault::Crit, ErrorKind::InvalidJwt),
        (IdTokenFault::Encrypted, ErrorKind::UnsupportedOperation),
        (IdTokenFault::Signature, ErrorKind::SignatureVerification),
        (claims(json!({"exp": T0 - 60})), ErrorKind::TimestampCheck),
        (claims(json!({"iat": T0 + 120})), ErrorKind::TimestampCheck),
        (
            claims(json!({"aud": "someone-else"})),
            ErrorKind::ClaimComparison,
        ),
        (
            claims(json!({"aud": ["app", "api"], "azp": null})),
            ErrorKind::ClaimComparison,
        ),
        (claims(json!({"nonce": null})), ErrorKind::ClaimComparison),
        (
            claims(json!({"nonce": "another"})),
            ErrorKind::ClaimComparison,
        ),
        (
            claims(json!({"iss": "https://evil.example"})),
            ErrorKind::ClaimComparison,
        ),
        (claims(json!({"sub": null})), ErrorKind::ClaimComparison),
        (
            claims(json!({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"})),
            ErrorKind::ClaimComparison,
        ),
    ];
    for (fault, kind) in cases {
        let label = format!("{fault:?}");
        server.tamper_next_id_token(fault);
        let e = sign_in(&server, &config).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{label}: {e}");
    }
    // max_age: an authentication older than allowed.
    let old = builder(&clock)
        .auth_time(Some(T0 - 7200))
        .start()
        .await
        .unwrap();
    let config = configure(&old, &clock).await;
    let pending = start(&config, &[("max_age", "3600")]);
    let callback = old.authorize(&pending.url).await.unwrap();
    let e = authorization_code_grant(&config, &callback, &pending.checks().max_age(3600))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimestampCheck, "{e}");
}

#[tokio::test]
async fn ten_thousand_validations_share_one_jwks_fetch() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    // 20 real sign-ins first (the server's codes are single-use) …
    let mut tokens = Vec::new();
    for _ in 0..20 {
        let pending = start(&config, &[]);
        let callback = server.authorize(&pending.url).await.unwrap();
        tokens.push((callback, pending));
    }
    // … then all their code redemptions at once, on a cold cache.
    let mut redemptions = Vec::new();
    for (callback, pending) in tokens {
        let config = config.clone();
        redemptions.push(tokio::spawn(async move {
            authorization_code_grant(&config, &callback, &pending.checks()).await
        }));
    }
    for redemption in redemptions {
        redemption.await.unwrap().unwrap();
    }
    assert_eq!(server.jwks_request_count(), 1);

    // 10,000 concurrent key lookups on a cold configuration: one fetch.
    let cold = configure(&server, &clock).await;
    let id_token = sign_in(&server, &config)
        .await
        .unwrap()
        .id_token()
        .unwrap()
        .to_owned();
    let before = server.jwks_request_count();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..10_000 {
        let (cold, id_token, done) = (cold.clone(), id_token.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            id_token_claims(&cold, &id_token, &IdTokenChecks::default())
                .await
                .map(|_| done.fetch_add(1, Ordering::Relaxed))
        }));
    }
    for task in tasks {
        // The nonce of that sign-in is not given: every validation reaches
        // the claim checks (so it found the key) and fails on the nonce.
        let e = task.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{e}");
    }
    assert_eq!(server.jwks_request_count() - before, 1);
}

#[tokio::test]
async fn the_jwks_is_refetched_after_max_age_and_on_rotation_at_most_once_a_minute() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    sign_in(&server, &config).await.unwrap();
    sign_in(&server, &config).await.unwrap();
    assert_eq!(server.jwks_request_count(), 1);

    // Rotated: the next ID Token names a key the cache lacks, and the cache
    // is older than a minute: one refetch, and the sign-in succeeds.
    clock.advance(Duration::from_secs(61));
    server.rotate_signing_key();
    sign_in(&server, &config).await.unwrap();
    assert_eq!(server.jwks_request_count(), 2);

    // Rotated again within the minute: no refetch, a typed error.
    clock.advance(Duration::from_secs(10));
    server.rotate_signing_key();
    let e = sign_in(&server, &config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeySelection, "{e}");
    // Forged kids do not make the client hammer the server either.
    for _ in 0..5 {
        server.tamper_next_id_token(IdTokenFault::UnknownKid);
        assert_eq!(
            sign_in(&server, &config).await.unwrap_err().kind(),
            ErrorKind::KeySelection
        );
    }
    assert_eq!(server.jwks_request_count(), 2);
    // A minute on, the new key is picked up.
    clock.advance(Duration::from_secs(60));
    sign_in(&server, &config).await.unwrap();
    assert_eq!(server.jwks_request_count(), 3);

    // Past max_age (300 s), the keys are fetched again even when they match.
    clock.advance(Duration::from_secs(301));
    sign_in(&server, &config).await.unwrap();
    assert_eq!(server.jwks_request_count(), 4);
}

#[tokio::test]
async fn the_jwks_cache_exports_and_imports() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    assert!(config.export_jwks_cache().is_none());
    sign_in(&server, &config).await.unwrap();
    let snapshot = config.export_jwks_cache().unwrap();
    assert_eq!(snapshot.fetched_at, T0);
    // Through JSON, as a process would store it.
    let stored = serde_json::to_string(&snapshot).unwrap();

    let warm = configure(&server, &clock).await;
    warm.import_jwks_cache(serde_json::from_str(&stored).unwrap())
        .unwrap();
    sign_in(&server, &warm).await.unwrap();
    assert_eq!(server.jwks_request_count(), 1, "the import saved the fetch");
    // Clones share the cache.
    let clone = warm.clone();
    sign_in(&server, &clone).await.unwrap();
    assert_eq!(server.jwks_request_count(), 1);
    // Garbage is refused.
    let e = warm
        .import_jwks_cache(
            serde_json::from_value(json!({"jwks": {"keys": 1}, "fetched_at": 0})).unwrap(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn bad_jwk_sets_are_typed_errors() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let kid = server.signing_key_id();
    let public = serde_json::Value::Object(server.signing_key().public_jwk().clone());
    let cases = [
        (
            Fault::body(200, "text/html", "<html>login</html>"),
            ErrorKind::InvalidResponse,
        ),
        (
            Fault::json(500, json!({"error": "server_error"})),
            ErrorKind::OAuth,
        ),
        (
            Fault::Redirect {
                status: 302,
                location: "https://evil.example/jwks".into(),
            },
            ErrorKind::Redirect,
        ),
        (
            Fault::json(200, json!({"keys": [public.clone(), public.clone()]})),
            ErrorKind::KeySelection,
        ),
        (
            Fault::json(200, json!({"keys": "none"})),
            ErrorKind::InvalidResponse,
        ),
        (Fault::LargeBody { bytes: 3 << 20 }, ErrorKind::BodyTooLarge),
    ];
    for (fault, kind) in cases {
        let label = format!("{fault:?}");
        // A fresh configuration each time: a cold cache.
        let config = configure(&server, &clock).await;
        server.fail_next_jwks_request(fault);
        let e = sign_in(&server, &config).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{label}: {e}");
    }
    let _ = kid;
}

#[tokio::test]
async fn refresh_validates_the_new_id_token_and_its_subject() {
    let clock = clock();
    let server = builder(&clock)
        .issue_refresh_tokens(true)
        .start()
        .await
        .unwrap();
    let config = configure(&server, &clock).await;
    let tokens = sign_in(&server, &config).await.unwrap();
    assert!(tokens.refresh_token().is_some());
    let refreshed = refresh_token_grant(&config, &tokens, &[] as &[(&str, &str)], None)
        .await
        .unwrap();
    let claims = refreshed
        .claims()
        .expect("a validated ID Token after refresh");
    assert_eq!(claims.subject(), "alice");
    assert_eq!(claims.nonce(), None);

    // Another user's ID Token in the refresh response.
    server.tamper_next_id_token(IdTokenFault::claims(json!({"sub": "mallory"})));
    let e = refresh_token_grant(&config, &refreshed, &[] as &[(&str, &str)], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{e}");
}

#[tokio::test]
async fn userinfo_as_json_and_as_a_signed_jwt() {
    for signed in [false, true] {
        let clock = clock();
        let server = builder(&clock)
            .userinfo_signed_response(signed)
            .start()
            .await
            .unwrap();
        let config = configure(&server, &clock).await;
        let tokens = sign_in(&server, &config).await.unwrap();
        let sub = tokens.claims().unwrap().subject().to_owned();
        let me = fetch_userinfo(&config, tokens.access_token(), Some(&sub))
            .await
            .unwrap_or_else(|e| panic!("signed={signed}: {e}"));
        assert_eq!(me.subject(), "alice");
        assert_eq!(me.email(), Some("alice@example.com"));
        assert_eq!(me.name(), Some("Alice"));
        // Another user's claims are refused.
        let e = fetch_userinfo(&config, tokens.access_token(), Some("bob"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ClaimComparison);
        // A revoked token: the RFC 6750 challenge, typed.
        server.revoke(tokens.access_token().secret());
        let e = fetch_userinfo(&config, tokens.access_token(), Some(&sub))
            .await
            .unwrap_err();
        assert_eq!(
            e.oauth_error().map(|o| o.error.as_str()),
            Some("invalid_token"),
            "{e}"
        );
        assert_eq!(e.challenges()[0].scheme(), "bearer");
    }
}

#[tokio::test]
async fn a_client_that_registered_signed_userinfo_refuses_json() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let mut client = ClientMetadata::new("app");
    client.userinfo_signed_response_alg = Some("ES256".into());
    let config = discovery(
        server.issuer(),
        "app",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .clock(clock.clone())
    .client_metadata(client)
    .await
    .unwrap();
    let tokens = sign_in(&server, &config).await.unwrap();
    let e = fetch_userinfo(&config, tokens.access_token(), Some("alice"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
}

#[tokio::test]
async fn logout_goes_to_the_end_session_endpoint() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let tokens = sign_in(&server, &config).await.unwrap();
    let url = build_end_session_url(
        &config,
        &[
            ("id_token_hint", tokens.id_token().unwrap()),
            ("post_logout_redirect_uri", "https://app.example/bye"),
            ("state", "bye-1"),
        ],
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://app.example/bye?state=bye-1"
    );
    assert_eq!(server.logout_count(), 1);
}

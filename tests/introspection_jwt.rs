//! JWT introspection responses (RFC 9701) against the mock server over
//! HTTP: a client that registered `introspection_signed_response_alg` asks
//! for a JWT and validates it; every refusal.

mod support;

use oidckit::reqwest::StatusCode;
use oidckit::testing::{Fault, IntrospectionFault, MockAuthorizationServer, MockClient};
use oidckit::{
    build_introspection_request, client_credentials_grant, process_introspection_response,
    process_jwks_response, token_introspection, ClientAuth, ClientMetadata, Configuration,
    EndpointResponse, ErrorKind, JwkSet, JwsAlgorithm, TOKEN_INTROSPECTION_JWT_MEDIA_TYPE,
};
use serde_json::json;

struct Setup {
    server: MockAuthorizationServer,
    /// The resource server, which introspects with signed answers.
    rs: Configuration,
    /// An access token of another client.
    token: String,
}

fn registered(alg: &str) -> ClientMetadata {
    let mut metadata = ClientMetadata::new("rs");
    metadata.introspection_signed_response_alg = Some(alg.into());
    metadata
}

async fn setup(config_alg: &str) -> Setup {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s"))
        .client(
            MockClient::client_secret_basic("rs", "rs-secret")
                .introspection_signed_response_alg(JwsAlgorithm::ES256),
        )
        .start()
        .await
        .unwrap();
    let svc = support::config(&server, "svc", ClientAuth::client_secret_basic("s"));
    let token = client_credentials_grant(&svc, &[("scope", "read")], None)
        .await
        .unwrap()
        .access_token()
        .secret()
        .clone();
    let rs = Configuration::builder(
        server.server_metadata(),
        "rs",
        ClientAuth::client_secret_basic("rs-secret"),
    )
    .client_metadata(registered(config_alg))
    .allow_insecure_requests(true)
    .build()
    .unwrap();
    Setup { server, rs, token }
}

fn last_introspection_accept(server: &MockAuthorizationServer) -> String {
    let request = server
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/introspect")
        .unwrap();
    request.headers["accept"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_signed_answer_is_asked_for_and_validated() {
    let s = setup("ES256").await;
    let answer = token_introspection(&s.rs, &s.token, Some("access_token"))
        .await
        .unwrap();
    assert!(answer.active);
    assert_eq!(answer.client_id.as_deref(), Some("svc"));
    assert_eq!(answer.iss.as_deref(), Some(s.rs.issuer()));
    assert_eq!(answer.scope.as_deref(), Some("read"));
    assert_eq!(
        last_introspection_accept(&s.server),
        TOKEN_INTROSPECTION_JWT_MEDIA_TYPE
    );
    // Inactive tokens are signed too.
    let answer = token_introspection(&s.rs, "unknown", None).await.unwrap();
    assert!(!answer.active);
    // The keys came from the cache after the first fetch.
    assert_eq!(s.server.jwks_request_count(), 1);
}

#[tokio::test]
async fn a_client_without_the_registration_asks_for_json() {
    let s = setup("ES256").await;
    let plain = support::config(
        &s.server,
        "rs",
        ClientAuth::client_secret_basic("rs-secret"),
    );
    let answer = token_introspection(&plain, &s.token, None).await.unwrap();
    assert!(answer.active);
    assert_eq!(last_introspection_accept(&s.server), "application/json");
    assert_eq!(s.server.jwks_request_count(), 0);
}

#[tokio::test]
async fn every_spoiled_jwt_is_refused() {
    let s = setup("ES256").await;
    let cases = [
        (
            IntrospectionFault::Typ(Some("JWT".into())),
            ErrorKind::InvalidJwt,
        ),
        (IntrospectionFault::Typ(None), ErrorKind::InvalidJwt),
        (
            IntrospectionFault::Typ(Some("at+jwt".into())),
            ErrorKind::InvalidJwt,
        ),
        (
            IntrospectionFault::claims(json!({"iss": "https://evil.example"})),
            ErrorKind::ClaimComparison,
        ),
        (
            IntrospectionFault::claims(json!({"iss": null})),
            ErrorKind::ClaimComparison,
        ),
        (
            IntrospectionFault::claims(json!({"aud": "someone-else"})),
            ErrorKind::ClaimComparison,
        ),
        (
            IntrospectionFault::claims(json!({"aud": ["a", "b"]})),
            ErrorKind::ClaimComparison,
        ),
        (
            IntrospectionFault::claims(json!({"aud": null})),
            ErrorKind::ClaimComparison,
        ),
        (
            IntrospectionFault::claims(json!({"iat": null})),
            ErrorKind::ClaimComparison,
        ),
        (
            IntrospectionFault::claims(json!({"iat": "now"})),
            ErrorKind::ClaimComparison,
        ),
        (
            IntrospectionFault::claims(json!({"token_introspection": null})),
            ErrorKind::InvalidResponse,
        ),
        (
            IntrospectionFault::claims(json!({"token_introspection": "{\"active\":true}"})),
            ErrorKind::InvalidResponse,
        ),
        (
            IntrospectionFault::claims(json!({"token_introspection": {"active": "yes"}})),
            ErrorKind::InvalidResponse,
        ),
        (IntrospectionFault::AlgNone, ErrorKind::UnsupportedAlgorithm),
        (
            IntrospectionFault::HmacWithPublicKey,
            ErrorKind::UnsupportedAlgorithm,
        ),
        (IntrospectionFault::UnknownKid, ErrorKind::KeySelection),
        (
            IntrospectionFault::Signature,
            ErrorKind::SignatureVerification,
        ),
    ];
    for (fault, kind) in cases {
        s.server.tamper_next_introspection_response(fault.clone());
        let e = token_introspection(&s.rs, &s.token, None)
            .await
            .expect_err("a spoiled answer must be refused");
        assert_eq!(e.kind(), kind, "{fault:?}: {e}");
        assert!(e.url().is_some(), "{fault:?}: {e:?}");
        // Nothing of the token leaks into the error.
        assert!(!format!("{e} {e:?}").contains(&s.token), "{fault:?}");
    }
    // A audience list with this client in it is fine.
    s.server
        .tamper_next_introspection_response(IntrospectionFault::claims(
            json!({"aud": ["x", "rs"]}),
        ));
    assert!(
        token_introspection(&s.rs, &s.token, None)
            .await
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn json_when_a_jwt_was_asked_for_is_refused() {
    let s = setup("ES256").await;
    s.server
        .fail_next_endpoint_request(Fault::json(200, json!({"active": true, "sub": "admin"})));
    let e = token_introspection(&s.rs, &s.token, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(
        e.to_string().contains("introspection_signed_response_alg"),
        "{e}"
    );
    // A JWT under another media type is no signed answer either.
    s.server
        .fail_next_endpoint_request(Fault::body(200, "application/jwt", "a.b.c"));
    let e = token_introspection(&s.rs, &s.token, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
}

#[tokio::test]
async fn only_the_registered_algorithm_is_accepted() {
    // The server signs with ES256; the client registered RS256.
    let s = setup("RS256").await;
    let e = token_introspection(&s.rs, &s.token, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm, "{e}");
    assert!(e.to_string().contains("ES256"), "{e}");
    assert_eq!(s.server.jwks_request_count(), 0, "refused before any key");
}

#[tokio::test]
async fn server_errors_are_still_errors() {
    let s = setup("ES256").await;
    let wrong = Configuration::builder(
        s.server.server_metadata(),
        "rs",
        ClientAuth::client_secret_basic("wrong"),
    )
    .client_metadata(registered("ES256"))
    .allow_insecure_requests(true)
    .build()
    .unwrap();
    let e = token_introspection(&wrong, &s.token, None)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client", "{e}");
}

#[tokio::test]
async fn the_low_level_pair_takes_the_keys() {
    let s = setup("ES256").await;
    let ctx = s.rs.context();
    let request = build_introspection_request(&ctx, &s.token, None, [("a", "b")]).unwrap();
    assert_eq!(
        request.headers()["accept"],
        TOKEN_INTROSPECTION_JWT_MEDIA_TYPE
    );
    let http = oidckit::http_client_builder().build().unwrap();
    let url = request.url().clone();
    let response = http
        .execute(request.into_reqwest(&http).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let response = EndpointResponse::new(url, status, headers, body);
    assert_eq!(response.status(), StatusCode::OK);

    // Without the keys, a signed answer cannot be read.
    let e = process_introspection_response(&ctx, &response, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    let jwks = http.get(s.server.jwks_uri()).send().await.unwrap();
    let jwks = EndpointResponse::new(
        s.server.jwks_uri(),
        jwks.status(),
        jwks.headers().clone(),
        jwks.bytes().await.unwrap(),
    );
    let jwks: JwkSet = process_jwks_response(&jwks).unwrap();
    let answer = process_introspection_response(&ctx, &response, Some(&jwks)).unwrap();
    assert!(answer.active);
    // The wrong keys do not verify it.
    let other = JwkSet::from_json(
        json!({"keys": [oidckit::PrivateKey::generate(JwsAlgorithm::ES256).unwrap().public_jwk()]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let e = process_introspection_response(&ctx, &response, Some(&other)).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::SignatureVerification | ErrorKind::KeySelection
        ),
        "{e}"
    );
}

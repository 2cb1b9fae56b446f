//! DPoP against the mock server, which verifies every proof (signature
//! against the embedded jwk, typ, htm, htu, iat window, jti replay, nonce,
//! ath) and plays both the authorization server and a resource server.

mod support;

use oidckit::reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use oidckit::reqwest::Method;
use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, fetch_protected_resource, ClientAuth, Configuration, DPoPHandle,
    Error, ErrorKind, JwsAlgorithm, PrivateKey,
};
use serde_json::json;

/// GET the mock server's protected resource with `token`.
async fn get_resource(
    config: &Configuration,
    server: &MockAuthorizationServer,
    token: &oidckit::TokenEndpointResponse,
    dpop: Option<&DPoPHandle>,
) -> Result<oidckit::reqwest::Response, Error> {
    fetch_protected_resource(
        config,
        token.access_token(),
        Method::GET,
        server.resource_url(),
    )
    .options(dpop.map_or_else(oidckit::RequestOptions::new, |d| {
        oidckit::RequestOptions::new().dpop(d)
    }))
    .await
}

async fn server(require_nonce: bool) -> (MockAuthorizationServer, Configuration) {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_post("c", "s"))
        .require_dpop_nonce(require_nonce)
        .start()
        .await
        .unwrap();
    let config = support::config(&server, "c", ClientAuth::client_secret_post("s"));
    (server, config)
}

#[tokio::test]
async fn every_algorithm_gets_a_bound_token() {
    let (server, config) = server(false).await;
    for alg in [
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::ES512,
        JwsAlgorithm::RS256,
        JwsAlgorithm::PS256,
        JwsAlgorithm::EdDSA,
    ] {
        let dpop = DPoPHandle::generate(&config, alg).unwrap();
        let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert!(token.token_type().is_dpop(), "{alg}");
        assert_eq!(
            server
                .token_binding(token.access_token().secret())
                .as_deref(),
            Some(dpop.thumbprint()),
            "{alg}: the token is bound to the handle's key"
        );
    }
}

#[tokio::test]
async fn nonce_challenge_is_retried_once_and_the_nonce_is_reused() {
    let (server, config) = server(true).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    assert_eq!(
        server.token_request_count(),
        2,
        "use_dpop_nonce, then the retry"
    );
    client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    assert_eq!(
        server.token_request_count(),
        3,
        "the cached nonce saves a round trip"
    );
    assert_eq!(
        dpop.nonce(&server.token_endpoint()),
        Some(server.dpop_nonce())
    );
    server.rotate_dpop_nonce();
    client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    assert_eq!(
        server.token_request_count(),
        5,
        "a rotated nonce costs one retry"
    );
}

#[tokio::test]
async fn the_retry_uses_a_fresh_client_assertion() {
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let server = MockAuthorizationServer::builder()
        .client(MockClient::private_key_jwt("c", key.public_jwk()))
        .require_dpop_nonce(true)
        .start()
        .await
        .unwrap();
    let config = support::config(&server, "c", ClientAuth::private_key_jwt(key));
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    // The server refuses a replayed assertion jti, so this passes only if
    // the retry signs a new assertion.
    client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    let requests = server.requests();
    let assertions: Vec<_> = requests
        .iter()
        .filter_map(|r| r.param("client_assertion"))
        .collect();
    assert_eq!(assertions.len(), 2);
    assert_ne!(assertions[0], assertions[1]);
}

#[tokio::test]
async fn never_more_than_one_retry() {
    let (server, config) = server(false).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    for n in ["n1", "n2", "n3"] {
        server.fail_next_token_request(
            Fault::json(400, json!({"error": "use_dpop_nonce"})).with_header("dpop-nonce", n),
        );
    }
    let err = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap_err();
    assert!(err.is_dpop_nonce_error(), "{err:?}");
    assert_eq!(server.token_request_count(), 2);
    // The nonce of the error response was recorded.
    assert_eq!(dpop.nonce(&server.token_endpoint()).as_deref(), Some("n2"));
    // Without a handle there is no retry at all.
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(err.is_dpop_nonce_error());
    assert_eq!(server.token_request_count(), 3);
}

#[tokio::test]
async fn a_bearer_token_in_answer_to_a_proof_is_refused() {
    let (server, config) = server(false).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    server.fail_next_token_request(Fault::json(
        200,
        json!({"access_token": "a", "token_type": "Bearer"}),
    ));
    let err = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap_err();
    assert!(
        err.kind() == ErrorKind::InvalidResponse && err.to_string().contains("DPoP"),
        "{err:?}"
    );
}

#[tokio::test]
async fn protected_resource_with_dpop_and_resource_server_nonces() {
    let (server, config) = server(true).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    let before = server.requests().len();
    server.rotate_dpop_nonce();
    let response = get_resource(&config, &server, &token, Some(&dpop))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["resource"], "ok");
    let requests = server.requests();
    assert_eq!(
        requests.len() - before,
        2,
        "401 use_dpop_nonce, then the retry"
    );
    let last = requests.last().unwrap();
    assert!(last.headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("DPoP "));
    // POST with a body, nonce now cached: one request.
    let response = fetch_protected_resource(
        &config,
        token.access_token(),
        Method::POST,
        server.resource_url(),
    )
    .body("payload")
    .options(oidckit::RequestOptions::new().dpop(&dpop))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests().len() - before, 3);
}

#[tokio::test]
async fn bound_token_without_proof_is_a_typed_challenge_error() {
    let (server, config) = server(false).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    let err = get_resource(&config, &server, &token, None)
        .await
        .unwrap_err();
    let e = err.oauth_error().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(
        (e.error.as_str(), e.status.map(|s| s.as_u16())),
        ("invalid_token", Some(401))
    );
    let challenge = &err.challenges()[0];
    assert_eq!(challenge.scheme(), "dpop");
    assert!(challenge.algs().contains(&"ES256"));
    // Another key than the one the token is bound to is refused too.
    let other = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let err = get_resource(&config, &server, &token, Some(&other))
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_token");
}

#[tokio::test]
async fn bearer_tokens_and_refused_headers() {
    let (server, config) = server(false).await;
    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let response = get_resource(&config, &server, &token, None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(server.requests().last().unwrap().headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("Bearer "));
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic x"));
    let err = fetch_protected_resource(
        &config,
        token.access_token(),
        Method::GET,
        server.resource_url(),
    )
    .headers(headers)
    .await
    .unwrap_err();
    assert!(err.kind() == ErrorKind::InvalidInput);
}

#[tokio::test]
async fn a_shared_key_gives_the_same_thumbprint_on_every_instance() {
    let (_server, config) = server(false).await;
    let pem = {
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        ec.private_key_to_pem().unwrap()
    };
    let a = DPoPHandle::new(
        &config,
        PrivateKey::from_pem_with_alg(&pem, JwsAlgorithm::ES256).unwrap(),
    )
    .unwrap();
    let b = DPoPHandle::new(
        &config,
        PrivateKey::from_pem_with_alg(&pem, JwsAlgorithm::ES256).unwrap(),
    )
    .unwrap();
    assert_eq!(a.thumbprint(), b.thumbprint());
}

#[tokio::test]
async fn the_mock_server_refuses_wrong_and_replayed_proofs() {
    // Guards the tests above: they pass only because the proofs are right.
    let (server, config) = server(false).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let send = |proof: String| {
        let request = oidckit::build_token_request(
            &config.context(),
            "client_credentials",
            &[("scope", "read")],
        )
        .unwrap();
        let (_method, url, mut headers, body) = request.into_parts();
        headers.insert("dpop", HeaderValue::from_str(&proof).unwrap());
        async move {
            let r = oidckit::reqwest::Client::new()
                .post(url)
                .headers(headers)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let wrong_method = dpop.proof("GET", &server.token_endpoint(), None).unwrap();
    assert_eq!(send(wrong_method).await, (400, "invalid_dpop_proof".into()));
    let wrong_url = dpop.proof("POST", &server.resource_url(), None).unwrap();
    assert_eq!(send(wrong_url).await, (400, "invalid_dpop_proof".into()));
    let good = dpop.proof("POST", &server.token_endpoint(), None).unwrap();
    assert_eq!(send(good.clone()).await.0, 200);
    assert_eq!(
        send(good).await,
        (400, "invalid_dpop_proof".into()),
        "replayed jti"
    );
}

//! `TokenMiddleware` on a `reqwest-middleware` client against the mock
//! server's protected resource.
#![cfg(feature = "middleware")]

mod support;

use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{ClientAuth, DPoPHandle, JwsAlgorithm, TokenManager, TokenMiddleware};

async fn server(require_nonce: bool) -> MockAuthorizationServer {
    MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .require_dpop_nonce(require_nonce)
        .start()
        .await
        .unwrap()
}

fn client(tokens: TokenManager) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(oidckit::reqwest::Client::new())
        .with(TokenMiddleware::new(tokens))
        .build()
}

#[tokio::test]
async fn bearer_tokens_are_attached_and_cached() {
    let server = server(false).await;
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    let tokens = TokenManager::builder(config).build();
    let http = client(tokens.clone());
    for _ in 0..3 {
        let r = http.get(server.resource_url()).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(server.token_request_count(), 1);
    let auth = server.requests().last().unwrap().headers["authorization"].clone();
    assert!(auth.to_str().unwrap().starts_with("Bearer "));
}

#[tokio::test]
async fn a_rejected_token_is_replaced_once() {
    let server = server(false).await;
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    let tokens = TokenManager::builder(config).build();
    let http = client(tokens.clone());
    assert_eq!(
        http.get(server.resource_url())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The resource server stops accepting the token (revoked, rotated keys…).
    server.revoke(tokens.token().await.unwrap().access_token().secret());
    let r = http
        .post(server.resource_url())
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "invalidated, fetched a new token, retried once"
    );
    assert_eq!(server.token_request_count(), 2);
}

#[tokio::test]
async fn dpop_proofs_and_resource_server_nonces() {
    let server = server(true).await;
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let tokens = TokenManager::builder(config).dpop(dpop).build();
    let http = client(tokens.clone());
    server.rotate_dpop_nonce();
    let r = http.get(server.resource_url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let last = server.requests().last().unwrap().clone();
    assert!(last.headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("DPoP "));
    assert!(last.headers.contains_key("dpop"));
}

#[tokio::test]
async fn tokens_never_go_to_plain_http_unless_allowed() {
    let server = server(false).await;
    let config = oidckit::Configuration::builder(
        server.server_metadata(),
        "svc",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .build()
    .unwrap();
    let tokens = TokenManager::builder(config).build();
    tokens
        .set_token(
            serde_json::from_value(
                serde_json::json!({"access_token": "t", "token_type": "Bearer", "expires_in": 60}),
            )
            .unwrap(),
        )
        .await;
    let err = client(tokens)
        .get(server.resource_url())
        .send()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert!(paths.is_empty(), "nothing was sent: {paths:?} {err:?}");
}

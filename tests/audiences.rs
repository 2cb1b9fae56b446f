//! `AudienceTokenManager` against the mock server: a token per audience,
//! each cached, refreshed ahead of expiry and fetched once however many
//! callers; one DPoP key for all; bounded.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oidckit::reqwest::Method;
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{
    ClientAuth, Configuration, DPoPHandle, JwsAlgorithm, ManualClock, TokenAudience, TokenManager,
};

const START: u64 = 2_000_000_000;

async fn setup() -> (MockAuthorizationServer, Configuration, ManualClock) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .token_lifetime(Some(600))
        .clock(Arc::new(clock.clone()))
        .start()
        .await
        .unwrap();
    let config = Configuration::builder(
        server.server_metadata(),
        "svc",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .clock(Arc::new(clock.clone()))
    .build()
    .unwrap();
    (server, config, clock)
}

/// The `(resource, scope)` of every token request, in order.
fn asked(server: &MockAuthorizationServer) -> Vec<(Option<String>, Option<String>)> {
    server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/token"))
        .map(|r| {
            (
                r.param("resource").map(str::to_owned),
                r.param("scope").map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn one_token_per_audience_cached_and_single_flight() {
    let (server, config, _clock) = setup().await;
    let tokens = TokenManager::builder(config)
        .scope("read")
        .build_per_audience(8);
    let payments = TokenAudience::resource("https://payments.example").with_scope("write");
    let reports = TokenAudience::resource("https://reports.example");

    // 100 callers per audience at once: one request each.
    let mut calls = Vec::new();
    for i in 0..200 {
        let tokens = tokens.clone();
        let audience = if i % 2 == 0 {
            payments.clone()
        } else {
            reports.clone()
        };
        calls.push(tokio::spawn(async move {
            tokens
                .token(&audience)
                .await
                .unwrap()
                .access_token()
                .secret()
                .clone()
        }));
    }
    let mut seen = std::collections::BTreeSet::new();
    for call in calls {
        seen.insert(call.await.unwrap());
    }
    assert_eq!(seen.len(), 2, "one token per audience");
    let mut requests = asked(&server);
    requests.sort();
    assert_eq!(
        requests,
        [
            (
                Some("https://payments.example".into()),
                Some("write".into())
            ),
            // No scope of its own: the template's.
            (Some("https://reports.example".into()), Some("read".into())),
        ]
    );
    // Cached.
    tokens.token(&payments).await.unwrap();
    tokens.token(&reports).await.unwrap();
    assert_eq!(server.token_request_count(), 2);
}

#[tokio::test]
async fn each_audience_is_refreshed_on_its_own_schedule() {
    let (server, config, clock) = setup().await;
    let tokens = TokenManager::builder(config).build_per_audience(8);
    let a = TokenAudience::scope("a");
    let b = TokenAudience::scope("b");
    let first_a = tokens.token(&a).await.unwrap();
    clock.advance(Duration::from_secs(300));
    let first_b = tokens.token(&b).await.unwrap();
    // At +600 s a's token (600 s) has expired; b's, fetched at +300 s,
    // is fresh.
    clock.advance(Duration::from_secs(300));
    assert_ne!(
        tokens.token(&a).await.unwrap().access_token().secret(),
        first_a.access_token().secret()
    );
    let count = server.token_request_count();
    assert_eq!(
        tokens.token(&b).await.unwrap().access_token().secret(),
        first_b.access_token().secret()
    );
    assert_eq!(server.token_request_count(), count, "b still cached");
}

#[tokio::test]
async fn one_dpop_key_for_every_audience() {
    let (server, config, _clock) = setup().await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let tokens = TokenManager::builder(config)
        .dpop(dpop.clone())
        .build_per_audience(8);
    let url = server.resource_url();
    for audience in [TokenAudience::scope("x"), TokenAudience::scope("y")] {
        let token = tokens.token(&audience).await.unwrap();
        assert!(token.token_type().is_dpop());
        assert_eq!(
            server.token_binding(token.access_token().secret()),
            Some(dpop.thumbprint().to_owned()),
            "bound to the one key"
        );
        let headers = tokens
            .authorization_headers(&audience, &Method::GET, &url)
            .await
            .unwrap();
        assert!(headers.contains_key("dpop"));
    }
}

#[tokio::test]
async fn bounded_an_evicted_audience_is_fetched_again() {
    let (server, config, _clock) = setup().await;
    let tokens = TokenManager::builder(config).build_per_audience(2);
    let (a, b, c) = (
        TokenAudience::scope("a"),
        TokenAudience::scope("b"),
        TokenAudience::scope("c"),
    );
    tokens.token(&a).await.unwrap();
    tokens.token(&b).await.unwrap();
    tokens.token(&c).await.unwrap(); // `a` goes
    assert_eq!(tokens.audiences().len(), 2);
    assert_eq!(server.token_request_count(), 3);
    tokens.token(&a).await.unwrap();
    assert_eq!(server.token_request_count(), 4, "fetched again");
    let header = tokens.authorization_header(&a).await.unwrap();
    assert!(header.is_sensitive());
    assert_eq!(server.token_request_count(), 4);
}

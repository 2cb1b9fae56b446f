//! The receiving end: an axum API in the test, protected by
//! `ResourceServer` through the `ProtectedRequest` extractor, called by
//! oidckit's own clients (`fetch_protected_resource`, `TokenMiddleware`)
//! with Bearer and DPoP tokens the mock server issues as RFC 9068 JWTs or
//! as opaque tokens (introspected); and every refusal.
#![cfg(all(feature = "axum", feature = "middleware"))]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use oidckit::reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use oidckit::reqwest::{Method, StatusCode};
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, fetch_protected_resource, ClientAuth, Configuration, DPoPHandle,
    DPoPNonces, IntrospectionCacheSettings, JwsAlgorithm, ManualClock, ProtectedRequest, Rejection,
    RequestOptions, ResourceServer, TokenManager, Url,
};

const START: u64 = 2_000_000_000;

/// The API's identifier (its `aud`); the listener's URL is its base URL.
const API: &str = "https://orders.example";

async fn orders(
    State(api): State<ResourceServer>,
    request: ProtectedRequest,
) -> Result<String, Rejection> {
    api.require_scopes(&request, &["orders:read"])?;
    Ok(format!(
        "orders of {} ({:?})",
        request.claims.subject().unwrap_or("?"),
        request.scheme
    ))
}

struct Setup {
    server: MockAuthorizationServer,
    /// The client's configuration.
    config: Configuration,
    clock: ManualClock,
    api_url: Url,
    _api: tokio::task::JoinHandle<()>,
}

/// The mock (JWT access tokens for `API` unless `opaque`), a client, and
/// the API on a free loopback port, built with `rs`.
async fn setup(
    opaque: bool,
    rs: impl FnOnce(oidckit::ResourceServerBuilder) -> oidckit::ResourceServerBuilder,
) -> Setup {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    let mut builder = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .client(MockClient::client_secret_basic("orders-api", "api-secret"))
        .token_lifetime(Some(300))
        .clock(Arc::new(clock.clone()));
    if !opaque {
        builder = builder.jwt_access_tokens(API);
    }
    let server = builder.start().await.unwrap();
    let client = |id: &str, secret: &str| {
        Configuration::builder(
            server.server_metadata(),
            id,
            ClientAuth::client_secret_basic(secret),
        )
        .allow_insecure_requests(true)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
    };
    let config = client("svc", "s3cr3t");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let api_url: Url = format!("http://{addr}/orders").parse().unwrap();
    let api = rs(
        ResourceServer::builder(client("orders-api", "api-secret"), API)
            .base_url(format!("http://{addr}").parse().unwrap())
            .resource_metadata(format!(
                "http://{addr}/.well-known/oauth-protected-resource"
            )),
    )
    .build();
    let app = Router::new().route("/orders", get(orders)).with_state(api);
    let handle = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Setup {
        server,
        config,
        clock,
        api_url,
        _api: handle,
    }
}

async fn token(s: &Setup, scope: &str, dpop: Option<&DPoPHandle>) -> String {
    client_credentials_grant(&s.config, &[("scope", scope)], dpop)
        .await
        .unwrap()
        .access_token()
        .secret()
        .clone()
}

/// A raw request with these headers; status, challenges and body.
async fn raw(s: &Setup, headers: HeaderMap) -> (StatusCode, HeaderMap, String) {
    let response = reqwest_client()
        .get(s.api_url.clone())
        .headers(headers)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn reqwest_client() -> oidckit::reqwest::Client {
    oidckit::reqwest::Client::new()
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    h
}

fn challenge_error(headers: &HeaderMap, scheme: &str) -> Option<String> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .flat_map(|v| oidckit::parse_www_authenticate(v.to_str().unwrap()))
        .find(|c| c.scheme() == scheme)
        .and_then(|c| c.error().map(str::to_owned))
}

#[tokio::test]
async fn bearer_jwt_access_token_through_fetch_protected_resource() {
    let s = setup(false, |b| b).await;
    let token = token(&s, "orders:read", None).await;
    let response = fetch_protected_resource(
        &s.config,
        &oidckit::AccessToken::new(token.clone()),
        Method::GET,
        s.api_url.clone(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "orders of svc (Bearer)");
}

#[tokio::test]
async fn refusals_without_and_with_bad_tokens() {
    let s = setup(false, |b| b).await;
    // No token: 401, bare challenges naming the resource metadata.
    let (status, headers, _) = raw(&s, HeaderMap::new()).await;
    assert_eq!(status, 401);
    assert_eq!(challenge_error(&headers, "bearer"), None, "RFC 6750 §3.1");
    let all: Vec<_> = headers.get_all(WWW_AUTHENTICATE).iter().collect();
    assert!(
        all.iter()
            .any(|v| v.to_str().unwrap().contains("resource_metadata=")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|v| v.to_str().unwrap().starts_with("DPoP")),
        "DPoP offered"
    );

    // A scope the route does not get: 403 insufficient_scope with the scope.
    let weak = token(&s, "orders:list", None).await;
    let response = fetch_protected_resource(
        &s.config,
        &oidckit::AccessToken::new(weak.clone()),
        Method::GET,
        s.api_url.clone(),
    )
    .await;
    // Not a 401: the client hands the response back.
    assert_eq!(response.unwrap().status(), 403);
    let (status, headers, _) = raw(&s, bearer(&weak)).await;
    assert_eq!(status, 403);
    assert_eq!(
        challenge_error(&headers, "bearer").as_deref(),
        Some("insufficient_scope")
    );

    // For another resource.
    let other = client_credentials_grant(
        &s.config,
        &[
            ("scope", "orders:read"),
            ("resource", "https://billing.example"),
        ],
        None,
    )
    .await
    .unwrap();
    let (status, headers, body) = raw(&s, bearer(other.access_token().secret())).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        challenge_error(&headers, "bearer").as_deref(),
        Some("invalid_token")
    );

    // Expired (the API's clock is the mock's).
    let token = token(&s, "orders:read", None).await;
    s.clock.advance(Duration::from_secs(400));
    let (status, headers, _) = raw(&s, bearer(&token)).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge_error(&headers, "bearer").as_deref(),
        Some("invalid_token")
    );

    // Not a token of this server at all, an unknown scheme, two headers.
    let (status, ..) = raw(&s, bearer("aaa.bbb.ccc")).await;
    assert_eq!(status, 401);
    let mut basic = HeaderMap::new();
    basic.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic c3ZjOnMzY3IzdA=="),
    );
    assert_eq!(raw(&s, basic).await.0, 400);
    let mut two = bearer("a");
    two.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
    assert_eq!(raw(&s, two).await.0, 400);
}

#[tokio::test]
async fn an_id_token_is_no_access_token() {
    // The mock's ID Tokens are signed with the same keys: only `typ`
    // (RFC 9068 §4) tells them apart.
    let s = setup(false, |b| b).await;
    let id_token = oidckit::testing::sign_jwt(
        &s.server.signing_key(),
        serde_json::json!({
            "iss": s.config.issuer(), "sub": "u", "aud": API, "client_id": "svc",
            "jti": "j", "iat": START, "exp": START + 60, "scope": "orders:read",
        }),
    )
    .unwrap();
    let (status, headers, _) = raw(&s, bearer(&id_token)).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge_error(&headers, "bearer").as_deref(),
        Some("invalid_token")
    );
}

#[tokio::test]
async fn dpop_bound_tokens_with_server_nonces() {
    let s = setup(false, |b| b.dpop_nonces(DPoPNonces::random().unwrap())).await;
    let dpop = DPoPHandle::generate(&s.config, JwsAlgorithm::ES256).unwrap();
    let token = token(&s, "orders:read", Some(&dpop)).await;
    // The first request has no nonce: use_dpop_nonce, and the client's
    // one retry with the nonce succeeds.
    let response = fetch_protected_resource(
        &s.config,
        &oidckit::AccessToken::new(token.clone()),
        Method::GET,
        s.api_url.clone(),
    )
    .options(RequestOptions::new().dpop(&dpop))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "orders of svc (DPoP)");
    assert!(dpop.nonce(&s.api_url).is_some(), "the nonce was recorded");

    // The same token as Bearer: refused (RFC 9449 §7.2).
    let (status, headers, _) = raw(&s, bearer(&token)).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge_error(&headers, "bearer").as_deref(),
        Some("invalid_token")
    );

    // A proof replayed.
    let access = oidckit::AccessToken::new(token.clone());
    let proof = dpop.proof("GET", &s.api_url, Some(&access)).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, format!("DPoP {token}").parse().unwrap());
    headers.insert("dpop", proof.parse().unwrap());
    assert_eq!(raw(&s, headers.clone()).await.0, 200);
    let (status, answer, _) = raw(&s, headers).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge_error(&answer, "dpop").as_deref(),
        Some("invalid_dpop_proof")
    );

    // A proof for another URL, and one signed with another key.
    let elsewhere: Url = s.api_url.join("/other").unwrap();
    let other_key = DPoPHandle::generate(&s.config, JwsAlgorithm::ES256).unwrap();
    if let Some(nonce) = dpop.nonce(&s.api_url) {
        let _ = nonce;
    }
    for proof in [
        dpop.proof("GET", &elsewhere, Some(&access)).unwrap(),
        dpop.proof("POST", &s.api_url, Some(&access)).unwrap(),
        other_key.proof("GET", &s.api_url, Some(&access)).unwrap(),
        dpop.proof(
            "GET",
            &s.api_url,
            Some(&oidckit::AccessToken::new("other".into())),
        )
        .unwrap(),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, format!("DPoP {token}").parse().unwrap());
        headers.insert("dpop", proof.parse().unwrap());
        let (status, answer, _) = raw(&s, headers).await;
        assert_eq!(status, 401);
        let error = challenge_error(&answer, "dpop");
        assert!(
            matches!(
                error.as_deref(),
                Some("invalid_dpop_proof") | Some("use_dpop_nonce")
            ),
            "{error:?}"
        );
    }

    // A bearer token presented with the DPoP scheme.
    let plain = token_plain(&s).await;
    let proof = dpop
        .proof(
            "GET",
            &s.api_url,
            Some(&oidckit::AccessToken::new(plain.clone())),
        )
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, format!("DPoP {plain}").parse().unwrap());
    headers.insert("dpop", proof.parse().unwrap());
    assert_eq!(raw(&s, headers).await.0, 401);
}

async fn token_plain(s: &Setup) -> String {
    token(s, "orders:read", None).await
}

#[tokio::test]
async fn the_token_managers_middleware_calls_the_api() {
    let s = setup(false, |b| b.dpop_nonces(DPoPNonces::random().unwrap())).await;
    let dpop = DPoPHandle::generate(&s.config, JwsAlgorithm::ES256).unwrap();
    let tokens = TokenManager::builder(s.config.clone())
        .scope("orders:read")
        .dpop(dpop)
        .build();
    let client = reqwest_middleware::ClientBuilder::new(oidckit::reqwest::Client::new())
        .with(oidckit::TokenMiddleware::new(tokens))
        .build();
    let response = client.get(s.api_url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "orders of svc (DPoP)");
}

#[tokio::test]
async fn dpop_only_refuses_bearer() {
    let s = setup(false, |b| b.require_dpop()).await;
    let token = token(&s, "orders:read", None).await;
    let (status, headers, _) = raw(&s, bearer(&token)).await;
    assert_eq!(status, 400);
    assert!(headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .all(|v| v.to_str().unwrap().starts_with("DPoP")));
}

#[tokio::test]
async fn opaque_tokens_through_cached_introspection() {
    let s = setup(true, |b| {
        b.introspect_opaque_tokens(
            IntrospectionCacheSettings::default().max_ttl(Duration::from_secs(60)),
        )
    })
    .await;
    let introspections = || {
        s.server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/introspect"))
            .count()
    };
    // An opaque token for the API (its `aud` in the introspection answer).
    let token = client_credentials_grant(
        &s.config,
        &[("scope", "orders:read"), ("resource", API)],
        None,
    )
    .await
    .unwrap()
    .access_token()
    .secret()
    .clone();
    // 50 requests at once: one introspection.
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (url, token) = (s.api_url.clone(), token.clone());
            tokio::spawn(async move {
                reqwest_client()
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(introspections(), 1);
    // Revoked at the server: still accepted from the cache until max_ttl,
    // then refused.
    s.server.revoke(&token);
    assert_eq!(raw(&s, bearer(&token)).await.0, 200);
    s.clock.advance(Duration::from_secs(61));
    assert_eq!(raw(&s, bearer(&token)).await.0, 401);
    assert_eq!(introspections(), 2);
    // A refusal is remembered briefly: a flood of one bad token is one
    // introspection per negative_ttl.
    for _ in 0..5 {
        assert_eq!(raw(&s, bearer("unknown-opaque-token")).await.0, 401);
    }
    assert_eq!(introspections(), 3);
}

//! One options shape for every network call: timeout, deadline,
//! cancellation, extra headers and parameters, DPoP — the same
//! `RequestOptions` on grants, introspection, revocation, discovery and
//! protected-resource calls.

mod support;

use std::time::{Duration, Instant};

use oidckit::reqwest::header::{HeaderName, HeaderValue};
use oidckit::reqwest::Method;
use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, fetch_protected_resource, refresh_token_grant, token_introspection,
    token_revocation, CancellationToken, ClientAuth, Configuration, DPoPHandle, ErrorKind,
    JwsAlgorithm, RefreshToken, RequestOptions,
};

async fn setup() -> (MockAuthorizationServer, Configuration) {
    let server = support::server_with(MockClient::client_secret_post("c", "s")).await;
    let config = support::config(&server, "c", ClientAuth::client_secret_post("s"));
    (server, config)
}

/// A server that requires DPoP nonces, a configuration for it, and a key.
async fn dpop_setup() -> (MockAuthorizationServer, Configuration, DPoPHandle) {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_post("c", "s"))
        .require_dpop_nonce(true)
        .start()
        .await
        .unwrap();
    let config = support::config(&server, "c", ClientAuth::client_secret_post("s"));
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    (server, config, dpop)
}

fn trace_header() -> RequestOptions {
    RequestOptions::new().header(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from_static("r-1"),
    )
}

#[tokio::test]
async fn every_call_takes_headers_and_parameters_the_same_way() {
    let (server, config) = setup().await;
    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .options(trace_header().param("audience", "api"))
        .await
        .unwrap();
    let last = server.requests().pop().unwrap();
    assert_eq!(last.headers["x-request-id"], "r-1");
    assert_eq!(last.param("audience"), Some("api"));

    let at = token.access_token().secret();
    token_introspection(&config, at, Some("access_token"))
        .options(trace_header().param("resource", "urn:x"))
        .await
        .unwrap();
    let last = server.requests().pop().unwrap();
    assert!(last.path.ends_with("/introspect"), "{}", last.path);
    assert_eq!(last.headers["x-request-id"], "r-1");
    assert_eq!(last.param("resource"), Some("urn:x"));

    oidckit::discovery(server.issuer(), "c", ClientAuth::client_secret_post("s"))
        .allow_insecure_requests(true)
        .options(trace_header())
        .await
        .unwrap();
    let last = server.requests().pop().unwrap();
    assert!(last.path.contains("/.well-known/"), "{}", last.path);
    assert_eq!(last.headers["x-request-id"], "r-1");

    fetch_protected_resource(
        &config,
        token.access_token(),
        Method::GET,
        server.resource_url(),
    )
    .options(trace_header())
    .await
    .unwrap();
    let last = server.requests().pop().unwrap();
    assert_eq!(last.headers["x-request-id"], "r-1");

    // Last: revoking the token ends its use.
    token_revocation(&config, at, None)
        .options(trace_header())
        .await
        .unwrap();
    let last = server.requests().pop().unwrap();
    assert_eq!(last.headers["x-request-id"], "r-1");
}

#[tokio::test]
async fn the_library_owned_parts_are_refused_from_options_everywhere() {
    let (_server, config) = setup().await;
    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let at = token.access_token().secret();
    let authorization = || {
        RequestOptions::new().header(
            oidckit::reqwest::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer x"),
        )
    };
    let errors = [
        client_credentials_grant(&config, &[("scope", "read")], None)
            .options(authorization())
            .await
            .unwrap_err(),
        token_introspection(&config, at, None)
            .options(RequestOptions::new().param("token", "other"))
            .await
            .unwrap_err(),
        token_revocation(&config, at, None)
            .options(RequestOptions::new().param("client_id", "other"))
            .await
            .unwrap_err(),
        refresh_token_grant(
            &config,
            &RefreshToken::new("rt".into()),
            &[("a", "b")],
            None,
        )
        .options(RequestOptions::new().param("refresh_token", "other"))
        .await
        .unwrap_err(),
        fetch_protected_resource(
            &config,
            token.access_token(),
            Method::GET,
            "https://api.example/x",
        )
        .options(authorization())
        .await
        .unwrap_err(),
        fetch_protected_resource(&config, token.access_token(), Method::GET, "not a url")
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
}

#[tokio::test]
async fn options_a_call_cannot_use_are_refused_not_ignored() {
    let (server, config) = setup().await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let host = || {
        RequestOptions::new().header(
            oidckit::reqwest::header::HOST,
            HeaderValue::from_static("elsewhere.example"),
        )
    };
    let resource = || {
        fetch_protected_resource(
            &config,
            token.access_token(),
            Method::GET,
            server.resource_url(),
        )
    };
    let discovery = || {
        oidckit::discovery(server.issuer(), "c", ClientAuth::none()).allow_insecure_requests(true)
    };
    let before = server.requests().len();
    let errors = [
        // A protected-resource call sends no form: a parameter has no place.
        resource()
            .options(RequestOptions::new().param("a", "b"))
            .await
            .unwrap_err(),
        resource().options(host()).await.unwrap_err(),
        resource()
            .header(
                oidckit::reqwest::header::HOST,
                HeaderValue::from_static("x"),
            )
            .await
            .unwrap_err(),
        // Discovery sends neither a form nor a DPoP proof.
        discovery()
            .options(RequestOptions::new().param("a", "b"))
            .await
            .unwrap_err(),
        discovery()
            .options(RequestOptions::new().dpop(&dpop))
            .await
            .unwrap_err(),
        discovery().options(host()).await.unwrap_err(),
        token_revocation(&config, "t", None)
            .options(host())
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    assert_eq!(server.requests().len(), before, "nothing was sent");
    // A resource call's own content type is the caller's.
    let response = resource()
        .header(
            oidckit::reqwest::header::ACCEPT,
            HeaderValue::from_static("text/plain"),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn deadline_and_cancellation_on_the_builders_and_through_the_dpop_retry() {
    let (server, config, dpop) = dpop_setup().await;
    // The first request gets the nonce challenge at once; the retry is slow:
    // the deadline covers both.
    server.fail_next_token_request(
        Fault::json(400, serde_json::json!({"error": "use_dpop_nonce"}))
            .with_header("dpop-nonce", "n-1"),
    );
    server.fail_next_token_request(Fault::Delay(Duration::from_secs(5)));
    let started = Instant::now();
    let err = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .options(RequestOptions::new().deadline(Instant::now() + Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(server.token_request_count() >= 2, "the retry was sent");

    server.fail_next_discovery(Fault::Delay(Duration::from_secs(5)));
    let err = oidckit::discovery(server.issuer(), "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .options(RequestOptions::new().deadline(Instant::now() + Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");

    let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    let cancelled = CancellationToken::new();
    cancelled.cancel();
    let err = fetch_protected_resource(
        &config,
        token.access_token(),
        Method::GET,
        server.resource_url(),
    )
    .options(RequestOptions::new().dpop(&dpop).cancel_on(cancelled))
    .await
    .unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
}

#[tokio::test]
async fn a_timeout_bounds_each_request_of_every_call() {
    let (server, config) = setup().await;
    let quick = || RequestOptions::new().timeout(Duration::from_millis(200));
    server.fail_next_endpoint_request(Fault::Delay(Duration::from_secs(5)));
    let err = token_introspection(&config, "t", None)
        .options(quick())
        .await
        .unwrap_err();
    assert!(err.is_timeout() && err.is_retryable(), "{err:?}");

    server.fail_next_discovery(Fault::Delay(Duration::from_secs(5)));
    let err = oidckit::discovery(server.issuer(), "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .options(quick())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn a_deadline_bounds_the_whole_call() {
    let (server, config) = setup().await;
    server.fail_next_token_request(Fault::Delay(Duration::from_secs(5)));
    let started = Instant::now();
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .options(RequestOptions::new().deadline(Instant::now() + Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(4));
    // A deadline already passed fails before anything is sent.
    let before = server.requests().len();
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .options(RequestOptions::new().deadline(Instant::now()))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn cancellation_stops_a_call() {
    let (server, config) = setup().await;
    server.fail_next_token_request(Fault::Delay(Duration::from_secs(5)));
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .options(RequestOptions::new().cancel_on(token.clone()))
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(!err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(4));
    // A cancelled token stops the next call before it sends anything.
    let before = server.requests().len();
    let err = token_revocation(&config, "t", None)
        .options(RequestOptions::new().cancel_on(token))
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn dpop_from_the_options_is_the_grants_argument() {
    let (server, config, dpop) = dpop_setup().await;
    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert!(token.token_type().is_dpop());
    let response = fetch_protected_resource(
        &config,
        token.access_token(),
        Method::POST,
        server.resource_url(),
    )
    .json(&serde_json::json!({"a": 1}))
    .options(RequestOptions::new().dpop(&dpop))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let last = server.requests().pop().unwrap();
    assert!(last.headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("DPoP "));
    assert_eq!(last.headers["content-type"], "application/json");
}

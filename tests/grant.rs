//! The client credentials grant: the request it sends, the response it
//! returns, per-request options, and the low-level layer.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oidckit::reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    build_token_request, client_credentials_grant, process_token_response, ClientAuth,
    Configuration, EndpointResponse, ErrorKind, ManualClock, RequestOptions, TokenEndpointResponse,
    TokenType,
};
use serde_json::json;

async fn post_client() -> (MockAuthorizationServer, Configuration) {
    let server =
        support::server_with(MockClient::client_secret_post("c", "s").scopes(["read", "write"]))
            .await;
    let config = support::config(&server, "c", ClientAuth::client_secret_post("s"));
    (server, config)
}

#[tokio::test]
async fn sends_a_form_post_with_repeated_resources() {
    let (server, config) = post_client().await;
    let params = vec![
        ("scope".to_string(), "read write".to_string()),
        ("resource".to_string(), "urn:example:a".to_string()),
        (
            "resource".to_string(),
            "https://b.example/api?x=1".to_string(),
        ),
    ];
    let token = client_credentials_grant(&config, params, None)
        .await
        .unwrap();
    assert_eq!(token.scope(), Some("read write"));
    let req = server.last_token_request().unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.form[0],
        ("grant_type".into(), "client_credentials".into())
    );
    assert_eq!(
        req.params("resource"),
        ["urn:example:a", "https://b.example/api?x=1"]
    );
    assert_eq!(
        req.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(req.headers["accept"], "application/json");
    assert!(req.headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("oidckit/"));
}

#[tokio::test]
async fn library_parameters_cannot_be_overridden_and_nothing_is_sent() {
    let (server, config) = post_client().await;
    let err = client_credentials_grant(&config, &[("grant_type", "password")], None)
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::InvalidInput, "{err:?}");
    assert_eq!(server.token_request_count(), 0);
}

#[tokio::test]
async fn request_options_headers_params_and_timeout() {
    let (server, config) = post_client().await;
    let options = RequestOptions::new()
        .header(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static("42"),
        )
        .param("audience", "api");
    client_credentials_grant(&config, &[("scope", "read")], None)
        .options(options.clone())
        .await
        .unwrap();
    let req = server.last_token_request().unwrap();
    assert_eq!(req.headers["x-request-id"], "42");
    assert_eq!(req.param("audience"), Some("api"));

    let refused = RequestOptions::new().header(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .options(refused.clone())
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::InvalidInput);

    server.fail_next_token_request(Fault::Delay(Duration::from_secs(5)));
    let quick = RequestOptions::new().timeout(Duration::from_millis(200));
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .options(quick.clone())
        .await
        .unwrap_err();
    assert!(err.is_timeout() && err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn scope_not_allowed_is_a_typed_oauth_error() {
    let (_server, config) = post_client().await;
    let err = client_credentials_grant(&config, &[("scope", "admin")], None)
        .await
        .unwrap_err();
    let e = err.oauth_error().unwrap();
    assert_eq!(
        (e.error.as_str(), e.status.map(|s| s.as_u16())),
        ("invalid_scope", Some(400))
    );
    assert!(e.error_description.as_deref().unwrap().contains("admin"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn expiry_follows_the_injected_clock() {
    let server = support::server_with(MockClient::none("c")).await;
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000));
    let config = Configuration::builder(server.server_metadata(), "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(token.expires_in(), Some(Duration::from_secs(3600)));
    assert_eq!(
        token.expires_at(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_003_600))
    );
    clock.advance(Duration::from_secs(3000));
    assert_eq!(token.expires_in(), Some(Duration::from_secs(600)));
    clock.advance(Duration::from_secs(3000));
    assert_eq!(token.expires_in(), Some(Duration::ZERO));
}

#[tokio::test]
async fn server_quirks_are_tolerated() {
    let server = support::server_with(MockClient::none("c")).await;
    let config = support::config(&server, "c", ClientAuth::none());
    // Azure AD v1 sends expires_in as a string; token types vary in case.
    server.fail_next_token_request(Fault::json(
        200,
        json!({"access_token":"at","token_type":"bearer","expires_in":"3599","ext_expires_in":"3599"}),
    ));
    let t = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert!(t.token_type().is_bearer());
    assert_eq!(t.lifetime(), Some(Duration::from_secs(3599)));
    assert_eq!(t.get("ext_expires_in"), Some(&json!("3599")));
    server.fail_next_token_request(Fault::json(
        200,
        json!({"access_token":"at","token_type":"BEARER"}),
    ));
    let t = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(t.token_type(), &TokenType::Bearer);
    assert_eq!(t.expires_in(), None);
    // A DPoP-bound token without a proof could not be used: refused.
    server.fail_next_token_request(Fault::json(
        200,
        json!({"access_token":"at","token_type":"DPoP"}),
    ));
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(
        err.kind() == ErrorKind::InvalidResponse && err.to_string().contains("DPoP"),
        "{err:?}"
    );
    // application/json with a charset parameter, and no content type at all.
    server.fail_next_token_request(Fault::body(
        200,
        "application/json; charset=utf-8",
        r#"{"access_token":"at","token_type":"Bearer"}"#,
    ));
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_response_drops_into_oauth2_code() {
    fn generic<T: oidckit::TokenResponse>(t: &T) -> (String, Option<Duration>) {
        (t.access_token().secret().clone(), t.expires_in())
    }
    let (_server, config) = post_client().await;
    let token: TokenEndpointResponse =
        client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap();
    let (at, expires_in) = generic(&token);
    assert_eq!(&at, token.access_token().secret());
    assert!(expires_in.unwrap() > Duration::from_secs(3590));
}

#[tokio::test]
async fn low_level_layer_with_a_callers_own_http() {
    let (server, config) = post_client().await;
    let request = build_token_request(
        &config.context(),
        "client_credentials",
        &[("scope", "write")],
    )
    .unwrap();
    assert_eq!(request.url(), &server.token_endpoint());
    // Send it with a client of our own.
    let response = oidckit::reqwest::Client::new()
        .post(request.url().clone())
        .headers(request.headers().clone())
        .body(request.body().to_owned())
        .send()
        .await
        .unwrap();
    let url = response.url().clone();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap();
    let response = EndpointResponse::new(url, status, headers, body);
    let token = process_token_response(&config.context(), &response).unwrap();
    assert_eq!(token.scope(), Some("write"));
}

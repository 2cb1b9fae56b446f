//! Protected resource metadata (RFC 9728) against the mock server over
//! HTTP: the well-known URL, the 401 → metadata → authorization server →
//! token path, and every refusal.

mod support;

use oidckit::reqwest::header::{HeaderName, HeaderValue, WWW_AUTHENTICATE};
use oidckit::reqwest::{Method, StatusCode};
use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, discover_protected_resource, fetch_protected_resource, ClientAuth,
    ErrorKind, ProtectedResourceMetadata, RequestOptions, ResourceDiscovery, Url,
};
use serde_json::json;

async fn server() -> MockAuthorizationServer {
    MockAuthorizationServer::builder()
        .issuer_path("/tenant")
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .start()
        .await
        .unwrap()
}

/// A discovery of `resource` for the mock's plain-HTTP loopback URLs.
fn discover(resource: &Url) -> ResourceDiscovery {
    discover_protected_resource(resource).allow_insecure_requests(true)
}

async fn refused(discovery: ResourceDiscovery) -> oidckit::Error {
    discovery.await.expect_err("the metadata must be refused")
}

#[tokio::test]
async fn metadata_from_the_well_known_url() {
    let server = server().await;
    let metadata = discover(&server.resource_url()).await.unwrap();
    assert_eq!(metadata.resource, server.resource_url().as_str());
    assert_eq!(
        metadata.authorization_servers.as_deref(),
        Some(&[server.issuer()][..])
    );
    assert_eq!(
        metadata.scopes_supported.as_deref(),
        Some(&["read".to_owned(), "write".to_owned()][..])
    );
    assert_eq!(metadata.resource_name.as_deref(), Some("oidckit mock API"));
    let request = server.requests().pop().unwrap();
    // RFC 9728 §3.1: inserted between the host and the issuer's path.
    assert_eq!(
        request.path,
        "/.well-known/oauth-protected-resource/tenant/resource"
    );
    assert_eq!(request.path, server.resource_metadata_url().path());
    assert_eq!(request.headers["accept"], "application/json");
}

#[tokio::test]
async fn a_client_meets_a_401_and_finds_where_to_get_a_token() {
    let server = server().await;
    let api = server.resource_url();
    let http = oidckit::http_client_builder().build().unwrap();

    // No token: 401 with a challenge that names the metadata (RFC 9728 §5.1)
    // and no error code (RFC 6750 §3.1).
    let response = http.get(api.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}\"",
            server.resource_metadata_url()
        )
    );

    let resource = discover(&api)
        .www_authenticate(response.headers())
        .await
        .unwrap();
    let config = resource
        .discovery("svc", ClientAuth::client_secret_basic("s3cr3t"))
        .allow_insecure_requests(true)
        .await
        .unwrap();
    assert_eq!(config.issuer(), server.issuer().as_str());
    let token = client_credentials_grant(
        &config,
        &[("resource", resource.resource.as_str()), ("scope", "read")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        server.last_token_request().unwrap().param("resource"),
        Some(api.as_str())
    );
    let response = fetch_protected_resource(&config, token.access_token(), Method::GET, api)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // The metadata came from the challenge's URL, and the authorization
    // server's from its RFC 8414 well-known URL.
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths[1..3],
        [
            "/.well-known/oauth-protected-resource/tenant/resource".to_owned(),
            "/.well-known/oauth-authorization-server/tenant".to_owned()
        ]
    );
}

#[tokio::test]
async fn the_challenge_of_a_refused_token_leads_to_the_metadata() {
    let server = server().await;
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    server.revoke(token.access_token().secret());
    let e = fetch_protected_resource(
        &config,
        token.access_token(),
        Method::GET,
        server.resource_url(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
    let metadata = discover(&server.resource_url())
        .challenges(e.challenges())
        .await
        .unwrap();
    assert_eq!(metadata.resource, server.resource_url().as_str());
}

#[tokio::test]
async fn metadata_about_another_resource_is_refused() {
    let server = server().await;
    server.tamper_next_resource_metadata(json!({"resource": "https://other.example/api"}));
    let e = refused(discover(&server.resource_url())).await;
    assert_eq!(e.kind(), ErrorKind::ResourceMismatch, "{e}");
    assert!(e.to_string().contains("https://other.example/api"), "{e}");

    // §3.3: metadata found through a challenge must be about the URL that
    // was called; the mock's is about its resource, not another path.
    let elsewhere = server.issuer().join("tenant/other").unwrap();
    let e = refused(discover(&elsewhere).metadata_url(server.resource_metadata_url())).await;
    assert_eq!(e.kind(), ErrorKind::ResourceMismatch, "{e}");
}

#[tokio::test]
async fn malformed_metadata_is_refused() {
    let server = server().await;
    let resource = server.resource_url();
    for (changes, kind) in [
        (
            json!({"authorization_servers": "http://127.0.0.1:1"}),
            ErrorKind::InvalidMetadata,
        ),
        (
            json!({"authorization_servers": ["not a url"]}),
            ErrorKind::InvalidMetadata,
        ),
        (
            json!({"bearer_methods_supported": "header"}),
            ErrorKind::InvalidMetadata,
        ),
        (
            json!({"dpop_bound_access_tokens_required": "yes"}),
            ErrorKind::InvalidMetadata,
        ),
        (json!({"resource": null}), ErrorKind::InvalidMetadata),
        (json!({"resource": 7}), ErrorKind::InvalidMetadata),
    ] {
        server.tamper_next_resource_metadata(changes.clone());
        let e = refused(discover(&resource)).await;
        assert_eq!(e.kind(), kind, "{changes}: {e}");
        assert!(std::error::Error::source(&e).is_some(), "{changes}");
    }
    for (fault, kind) in [
        (
            Fault::body(200, "text/html", "<html>"),
            ErrorKind::InvalidResponse,
        ),
        (
            Fault::json(200, json!(["a list"])),
            ErrorKind::InvalidResponse,
        ),
        (
            Fault::body(
                200,
                "application/json",
                r#"{"resource":"x","resource":"y"}"#,
            ),
            ErrorKind::InvalidResponse,
        ),
        (
            Fault::body(404, "text/plain", "no"),
            ErrorKind::UnexpectedStatus,
        ),
        (
            Fault::Redirect {
                status: 302,
                location: "https://evil.example/metadata".into(),
            },
            ErrorKind::Redirect,
        ),
        (Fault::LargeBody { bytes: 2 << 20 }, ErrorKind::BodyTooLarge),
    ] {
        server.fail_next_resource_metadata(fault.clone());
        let e = refused(discover(&resource)).await;
        assert_eq!(e.kind(), kind, "{fault:?}: {e}");
        assert_eq!(e.url(), Some(&server.resource_metadata_url()), "{fault:?}");
    }
}

#[tokio::test]
async fn a_resource_without_authorization_servers_cannot_lead_further() {
    let server = server().await;
    server.tamper_next_resource_metadata(json!({"authorization_servers": null}));
    let metadata: ProtectedResourceMetadata = discover(&server.resource_url()).await.unwrap();
    let before = server.requests().len();
    let e = metadata
        .discovery("svc", ClientAuth::client_secret_basic("s3cr3t"))
        .allow_insecure_requests(true)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingMetadata, "{e}");
    assert_eq!(server.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn rules_before_anything_is_sent() {
    let server = server().await;
    let resource = server.resource_url();
    let e = refused(discover_protected_resource(&resource)).await;
    assert_eq!(e.kind(), ErrorKind::InsecureUrl);
    // A challenge can name an insecure metadata URL for a secure resource.
    let e = refused(
        discover_protected_resource("https://api.example/v1")
            .metadata_url(server.resource_metadata_url()),
    )
    .await;
    assert_eq!(e.kind(), ErrorKind::InsecureUrl);
    let with_query = resource.join("?v=1").unwrap();
    assert_eq!(
        refused(discover(&with_query)).await.kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        refused(discover_protected_resource("not a url"))
            .await
            .kind(),
        ErrorKind::InvalidInput
    );
    let e = refused(discover(&resource).options(RequestOptions::new().param("a", "b"))).await;
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let accept = RequestOptions::new().header(
        HeaderName::from_static("accept"),
        HeaderValue::from_static("text/html"),
    );
    assert_eq!(
        refused(discover(&resource).options(accept)).await.kind(),
        ErrorKind::InvalidInput
    );
    assert!(server.requests().is_empty(), "nothing was sent");

    // The options' own headers go along.
    let traced = RequestOptions::new().header(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from_static("42"),
    );
    discover(&resource).options(traced).await.unwrap();
    assert_eq!(server.requests()[0].headers["x-request-id"], "42");
}

#[tokio::test]
async fn timeouts_apply() {
    let server = server().await;
    server.fail_next_resource_metadata(Fault::Delay(std::time::Duration::from_secs(5)));
    let e =
        refused(discover(&server.resource_url()).timeout(std::time::Duration::from_millis(100)))
            .await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

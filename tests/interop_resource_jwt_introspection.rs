//! Interop against panva's `oidc-provider` (tests/interop/provider.mjs):
//! protected resource metadata (RFC 9728) served by a small resource server
//! of this test, from its 401 to a token the provider issues for it; and
//! JWT introspection responses (RFC 9701) signed by the provider.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::routing::get;
use oidckit::reqwest::Method;
use oidckit::{
    build_introspection_request, client_credentials_grant, discover_protected_resource, discovery,
    fetch_protected_resource, token_introspection, ClientAuth, ClientMetadata, Configuration,
    ErrorKind, ProtectedResourceMetadata, Url, TOKEN_INTROSPECTION_JWT_MEDIA_TYPE,
};
use serde_json::json;
use tokio::net::TcpListener;

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use oidc_provider::{client, OidcProvider};

/// The resource server of this test: RFC 9728 metadata at its well-known
/// URL, and `GET /api`, which takes a bearer token the provider says is
/// active and issued for it (introspection, as a resource server does).
struct ResourceServer {
    resource: Url,
    metadata_url: Url,
    issuer: Url,
    /// The resource server's own client at the provider, to introspect.
    introspector: Configuration,
}

impl ResourceServer {
    fn challenge(&self, error: Option<&str>) -> Response<Body> {
        let mut value = format!("Bearer resource_metadata=\"{}\"", self.metadata_url);
        if let Some(error) = error {
            value.push_str(&format!(", error=\"{error}\""));
        }
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, value)
            .body(Body::empty())
            .unwrap()
    }

    fn json(value: serde_json::Value) -> Response<Body> {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(value.to_string()))
            .unwrap()
    }
}

async fn metadata(State(rs): State<Arc<ResourceServer>>) -> Response<Body> {
    let mut metadata = ProtectedResourceMetadata::new(rs.resource.as_str());
    metadata.authorization_servers = Some(vec![rs.issuer.clone()]);
    metadata.scopes_supported = Some(vec!["read".into()]);
    metadata.bearer_methods_supported = Some(vec!["header".into()]);
    ResourceServer::json(serde_json::to_value(&metadata).unwrap())
}

async fn api(State(rs): State<Arc<ResourceServer>>, headers: HeaderMap) -> Response<Body> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        // RFC 6750 §3.1: no error code for a request without a token.
        return rs.challenge(None);
    };
    let info = match token_introspection(&rs.introspector, token, Some("access_token")).await {
        Ok(info) => info,
        Err(e) => panic!("introspection failed: {e}"),
    };
    let ours = info
        .aud
        .as_ref()
        .is_some_and(|aud| aud.iter().any(|a| a == rs.resource.as_str()));
    if !info.active || !ours {
        return rs.challenge(Some("invalid_token"));
    }
    ResourceServer::json(json!({"hello": info.client_id}))
}

struct Setup {
    provider: OidcProvider,
    resource: Url,
}

/// Binds the resource server, starts the provider (which must know the
/// resource as a resource indicator, RFC 8707), then serves. The server
/// stops with the test's runtime.
async fn setup() -> Setup {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let resource: Url = format!("{origin}/api").parse().unwrap();
    let resource_servers = json!({
        resource.as_str(): {
            "scope": "read",
            "audience": resource.as_str(),
            "accessTokenFormat": "opaque",
        }
    });
    let clients = vec![
        client(
            "m2m",
            "client_secret_basic",
            json!({"client_secret": "m2m-secret"}),
        ),
        client(
            "rs",
            "client_secret_basic",
            json!({"client_secret": "rs-secret"}),
        ),
        client(
            "rs-jwt",
            "client_secret_basic",
            json!({"client_secret": "rs-jwt-secret", "introspection_signed_response_alg": "ES256"}),
        ),
    ];
    let provider = tokio::task::spawn_blocking(move || {
        OidcProvider::start_with_env(
            clients,
            &[("INTEROP_RESOURCE_SERVERS", resource_servers.to_string())],
        )
    })
    .await
    .unwrap();
    let introspector = discovery(
        provider.issuer.clone(),
        "rs",
        ClientAuth::client_secret_basic("rs-secret"),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    let rs = Arc::new(ResourceServer {
        metadata_url: oidckit::protected_resource_metadata_url(&resource).unwrap(),
        resource: resource.clone(),
        issuer: provider.issuer.clone(),
        introspector,
    });
    let app = axum::Router::new()
        .route("/api", get(api))
        .route("/.well-known/oauth-protected-resource/api", get(metadata))
        .with_state(rs);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Setup { provider, resource }
}

#[tokio::test]
async fn from_a_401_to_the_provider_and_back_with_a_token() {
    let s = setup().await;
    let http = oidckit::http_client_builder().build().unwrap();
    let response = http.get(s.resource.clone()).send().await.unwrap();
    assert_eq!(response.status(), 401);

    // 401 → the resource's metadata (the challenge's URL) → the provider.
    let resource = discover_protected_resource(&s.resource)
        .www_authenticate(response.headers())
        .allow_insecure_requests(true)
        .await
        .unwrap();
    assert_eq!(
        resource.authorization_servers.as_deref(),
        Some(&[s.provider.issuer.clone()][..])
    );
    let config = resource
        .discovery("m2m", ClientAuth::client_secret_basic("m2m-secret"))
        .allow_insecure_requests(true)
        .await
        .unwrap();
    assert_eq!(
        config.issuer().trim_end_matches('/'),
        s.provider.issuer.as_str().trim_end_matches('/')
    );

    // A token for this resource (RFC 8707), which the resource accepts.
    let token = client_credentials_grant(
        &config,
        &[("resource", resource.resource.as_str()), ("scope", "read")],
        None,
    )
    .await
    .unwrap();
    let response = fetch_protected_resource(
        &config,
        token.access_token(),
        Method::GET,
        s.resource.clone(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["hello"], "m2m");

    // A token for no resource in particular is refused, and the refusal
    // leads to the same metadata.
    let other = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let e = fetch_protected_resource(
        &config,
        other.access_token(),
        Method::GET,
        s.resource.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token", "{e}");
    let again = discover_protected_resource(&s.resource)
        .challenges(e.challenges())
        .allow_insecure_requests(true)
        .await
        .unwrap();
    assert_eq!(again, resource);
}

#[tokio::test]
async fn metadata_about_another_resource_is_refused() {
    let s = setup().await;
    // The resource's metadata, reached as if from another URL's challenge.
    let elsewhere = s.resource.join("/other").unwrap();
    let e = discover_protected_resource(&elsewhere)
        .metadata_url(oidckit::protected_resource_metadata_url(&s.resource).unwrap())
        .allow_insecure_requests(true)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceMismatch, "{e}");
}

fn jwt_introspector(provider: &OidcProvider, alg: &str) -> oidckit::Discovery {
    let mut metadata = ClientMetadata::new("rs-jwt");
    metadata.introspection_signed_response_alg = Some(alg.into());
    discovery(
        provider.issuer.clone(),
        "rs-jwt",
        ClientAuth::client_secret_basic("rs-jwt-secret"),
    )
    .client_metadata(metadata)
    .allow_insecure_requests(true)
}

#[tokio::test]
async fn jwt_introspection_responses_of_the_provider_validate() {
    let s = setup().await;
    let m2m = discovery(
        s.provider.issuer.clone(),
        "m2m",
        ClientAuth::client_secret_basic("m2m-secret"),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    let token = client_credentials_grant(&m2m, &[("scope", "read")], None)
        .await
        .unwrap();
    let at = token.access_token().secret();

    let rs = jwt_introspector(&s.provider, "ES256").await.unwrap();
    let info = token_introspection(&rs, at, Some("access_token"))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("m2m"));
    assert_eq!(info.scope.as_deref(), Some("read"));
    let info = token_introspection(&rs, "not-a-token", None).await.unwrap();
    assert!(!info.active);

    // The provider really answered with a JWT of RFC 9701's shape.
    let request = build_introspection_request(&rs.context(), at, None, [("a", "b")]).unwrap();
    let http = oidckit::http_client_builder().build().unwrap();
    let response = http
        .execute(request.into_reqwest(&http).unwrap())
        .await
        .unwrap();
    let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with(TOKEN_INTROSPECTION_JWT_MEDIA_TYPE),
        "{content_type}"
    );
    let jwt = response.text().await.unwrap();
    assert_eq!(support::jwt_header(&jwt)["typ"], "token-introspection+jwt");
    assert_eq!(support::jwt_header(&jwt)["alg"], "ES256");
    let claims = support::jwt_claims(&jwt);
    assert_eq!(claims["aud"], "rs-jwt");
    assert_eq!(claims["token_introspection"]["active"], true);

    // A client that registered another algorithm refuses the answer.
    let expecting_rs256 = jwt_introspector(&s.provider, "RS256").await.unwrap();
    let e = token_introspection(&expecting_rs256, at, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm, "{e}");
}

//! Refresh, token exchange, JWT bearer, generic grants, introspection and
//! revocation against the mock server: what each sends, and its errors.

mod support;

use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, generic_grant_request, jwt_bearer_grant, refresh_token_grant,
    token_exchange, token_introspection, token_revocation, token_types, ClientAuth, Configuration,
    DPoPHandle, ErrorKind, JwsAlgorithm, PrivateKey, TokenExchange, TokenType,
};
use serde_json::json;

async fn setup() -> (MockAuthorizationServer, Configuration) {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .issue_refresh_tokens(true)
        .extension_grant("urn:example:grant")
        .start()
        .await
        .unwrap();
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    (server, config)
}

const NO_PARAMS: [(&str, &str); 0] = [];

#[tokio::test]
async fn refresh_token_grant_rotates() {
    let (server, config) = setup().await;
    let first = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let rt = first.refresh_token().unwrap().clone();
    let second = refresh_token_grant(&config, &rt, &[("scope", "read")], None)
        .await
        .unwrap();
    let req = server.last_token_request().unwrap();
    assert_eq!(req.param("grant_type"), Some("refresh_token"));
    assert_eq!(req.param("refresh_token"), Some(rt.secret().as_str()));
    assert_eq!(req.param("scope"), Some("read"));
    let rotated = second.refresh_token().unwrap();
    assert_ne!(rotated.secret(), rt.secret());
    // The old one is spent: a typed invalid_grant.
    let err = refresh_token_grant(&config, &rt, NO_PARAMS, None)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_grant");
    assert!(!err.is_retryable());
    // The caller cannot smuggle another refresh_token in.
    let err = refresh_token_grant(&config, rotated, &[("refresh_token", "x")], None)
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::InvalidInput);
}

#[tokio::test]
async fn refresh_with_dpop() {
    let (_server, config) = setup().await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let first = client_credentials_grant(&config, NO_PARAMS, Some(&dpop))
        .await
        .unwrap();
    let second = refresh_token_grant(
        &config,
        first.refresh_token().unwrap(),
        NO_PARAMS,
        Some(&dpop),
    )
    .await
    .unwrap();
    assert!(second.token_type().is_dpop());
}

#[tokio::test]
async fn token_exchange_encodes_every_parameter_and_exposes_issued_token_type() {
    let (server, config) = setup().await;
    let subject = client_credentials_grant(&config, NO_PARAMS, None)
        .await
        .unwrap();
    let exchange = TokenExchange::new(
        subject.access_token().secret().clone(),
        token_types::ACCESS_TOKEN,
    )
    .actor("actor-token", token_types::JWT)
    .audience("backend-a")
    .audience("backend-b")
    .resource("https://api.example.com/")
    .scope("read");
    let t = token_exchange(&config, &exchange, None).await.unwrap();
    assert_eq!(t.issued_token_type(), Some(token_types::ACCESS_TOKEN));
    assert!(t.token_type().is_bearer());
    let req = server.last_token_request().unwrap();
    assert_eq!(
        req.param("grant_type"),
        Some(oidckit::TOKEN_EXCHANGE_GRANT_TYPE)
    );
    assert_eq!(
        req.param("subject_token_type"),
        Some(token_types::ACCESS_TOKEN)
    );
    assert_eq!(req.param("actor_token"), Some("actor-token"));
    assert_eq!(req.param("actor_token_type"), Some(token_types::JWT));
    assert_eq!(req.params("audience"), ["backend-a", "backend-b"]);
    assert_eq!(req.param("resource"), Some("https://api.example.com/"));
    assert_eq!(req.param("scope"), Some("read"));

    // A token that is not an access token comes back as N_A.
    let exchange = TokenExchange::new(
        subject.access_token().secret().clone(),
        token_types::ACCESS_TOKEN,
    )
    .requested_token_type(token_types::JWT);
    let t = token_exchange(&config, &exchange, None).await.unwrap();
    assert_eq!(t.token_type(), &TokenType::NotApplicable);
    assert_eq!(t.issued_token_type(), Some(token_types::JWT));

    let err = token_exchange(
        &config,
        &TokenExchange::new("unknown", token_types::ACCESS_TOKEN),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_grant");
}

#[tokio::test]
async fn jwt_bearer_and_generic_grants() {
    let (server, config) = setup().await;
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let assertion =
        oidckit::testing::sign_jwt(&key, json!({"iss": "idp", "sub": "alice"})).unwrap();
    jwt_bearer_grant(&config, &assertion, &[("scope", "read")], None)
        .await
        .unwrap();
    let req = server.last_token_request().unwrap();
    assert_eq!(
        req.param("grant_type"),
        Some(oidckit::JWT_BEARER_GRANT_TYPE)
    );
    assert_eq!(req.param("assertion"), Some(assertion.as_str()));
    let err = jwt_bearer_grant(&config, "not-a-jwt", NO_PARAMS, None)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_grant");

    generic_grant_request(&config, "urn:example:grant", &[("x", "1")], None)
        .await
        .unwrap();
    assert_eq!(server.last_token_request().unwrap().param("x"), Some("1"));
    let err = generic_grant_request(&config, "urn:example:unknown", NO_PARAMS, None)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "unsupported_grant_type");
    for owned in ["grant_type", "client_id", "client_assertion"] {
        let err = generic_grant_request(&config, "urn:example:grant", [(owned, "x")], None)
            .await
            .unwrap_err();
        assert!(err.kind() == ErrorKind::InvalidInput, "{owned}");
    }
    let err = generic_grant_request(&config, "", NO_PARAMS, None)
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::InvalidInput);
}

#[tokio::test]
async fn introspection_and_revocation() {
    let (server, config) = setup().await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let token = client_credentials_grant(&config, NO_PARAMS, Some(&dpop))
        .await
        .unwrap();
    let at = token.access_token().secret();
    let info = token_introspection(&config, at, Some("access_token"))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some("svc"));
    assert_eq!(info.aud.as_deref(), Some(&["urn:mock:api".to_string()][..]));
    assert_eq!(info.cnf.as_ref().unwrap()["jkt"], dpop.thumbprint());
    let req = server.requests().last().unwrap().clone();
    assert_eq!(req.path, "/introspect");
    assert_eq!(req.param("token"), Some(at.as_str()));
    assert_eq!(req.param("token_type_hint"), Some("access_token"));
    assert!(req.param("grant_type").is_none());
    assert!(
        req.headers.contains_key("authorization"),
        "client authentication applies"
    );

    token_revocation(&config, at, Some("access_token"))
        .await
        .unwrap();
    let info = token_introspection(&config, at, None).await.unwrap();
    assert!(!info.active);
    // Revoking an unknown token is not an error (RFC 7009 §2.2).
    token_revocation(&config, "unknown", None).await.unwrap();
}

#[tokio::test]
async fn introspection_and_revocation_errors() {
    let (server, _config) = setup().await;
    let wrong = support::config(&server, "svc", ClientAuth::client_secret_basic("wrong"));
    let err = token_introspection(&wrong, "t", None).await.unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_client");
    let err = token_revocation(&wrong, "t", None).await.unwrap_err();
    assert_eq!(
        err.oauth_error().unwrap().status.map(|s| s.as_u16()),
        Some(401)
    );
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    let err = token_introspection(&config, "", None).await.unwrap_err();
    assert!(err.kind() == ErrorKind::InvalidInput);
    let err = token_introspection(&config, "t", None)
        .options(oidckit::RequestOptions::new().param("token", "other"))
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::InvalidInput);
    // No introspection endpoint in the metadata: a configuration error.
    let mut metadata = server.server_metadata();
    metadata.introspection_endpoint = None;
    let bare = Configuration::builder(metadata, "svc", ClientAuth::client_secret_basic("s3cr3t"))
        .allow_insecure_requests(true)
        .build()
        .unwrap();
    let err = token_introspection(&bare, "t", None).await.unwrap_err();
    assert!(
        err.kind() == ErrorKind::MissingMetadata
            && err.to_string().contains("introspection_endpoint"),
        "{err}"
    );
    // Broken responses are typed errors, as at the token endpoint.
    for (fault, what) in [
        (Fault::json(200, json!({"scope": "read"})), "active missing"),
        (
            Fault::json(200, json!({"active": "yes"})),
            "active not a boolean",
        ),
        (Fault::body(200, "text/html", "<html>"), "HTML"),
    ] {
        server.fail_next_endpoint_request(fault);
        let err = token_introspection(&config, "t", None).await.unwrap_err();
        assert!(err.kind() == ErrorKind::InvalidResponse, "{what}: {err:?}");
    }
    server.fail_next_endpoint_request(Fault::json(
        503,
        json!({"error": "temporarily_unavailable"}),
    ));
    let err = token_revocation(&config, "t", None).await.unwrap_err();
    assert!(err.is_retryable());
    // The transport rules hold at these endpoints too.
    for (fault, kind) in [
        (
            Fault::Redirect {
                status: 302,
                location: "https://elsewhere.example/".into(),
            },
            "redirect",
        ),
        (
            Fault::LargeBody {
                bytes: 2 * 1024 * 1024,
            },
            "too large",
        ),
    ] {
        server.fail_next_endpoint_request(fault);
        let err = token_introspection(&config, "t", None).await.unwrap_err();
        let ok = match kind {
            "redirect" => err.kind() == ErrorKind::Redirect,
            _ => err.kind() == ErrorKind::BodyTooLarge,
        };
        assert!(ok, "{kind}: {err:?}");
    }
    let quick = Configuration::builder(
        server.server_metadata(),
        "svc",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .timeout(std::time::Duration::from_millis(200))
    .build()
    .unwrap();
    server.fail_next_endpoint_request(Fault::Delay(std::time::Duration::from_secs(5)));
    let err = token_revocation(&quick, "t", None).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // 200 is success whatever the body.
    server.fail_next_endpoint_request(Fault::body(200, "text/plain", "ok"));
    token_revocation(&config, "t", None).await.unwrap();
}

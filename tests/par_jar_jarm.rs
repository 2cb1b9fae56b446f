//! The client side of PAR, JAR, JARM and the FAPI 2.0 switch against the
//! mock provider: typed errors for every bad answer, the DPoP code binding,
//! and a whole FAPI 2.0 flow.

use oidckit::testing::{AuthorizationResponseFault, Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    authorization_code_grant, build_authorization_url, build_authorization_url_with_par,
    build_request_object, calculate_pkce_code_challenge, discovery, random_nonce,
    random_pkce_code_verifier, random_state, AuthorizationChecks, ClientAuth, ClientMetadata,
    Configuration, DPoPHandle, ErrorKind, JwsAlgorithm, PrivateKey, RequestOptions, Url,
};
use serde_json::json;

const REDIRECT: &str = "https://app.example/cb";

struct Flow {
    verifier: String,
    state: String,
    nonce: String,
}

impl Flow {
    fn new() -> Flow {
        Flow {
            verifier: random_pkce_code_verifier(),
            state: random_state(),
            nonce: random_nonce(),
        }
    }

    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("redirect_uri", REDIRECT.to_owned()),
            ("scope", "openid".to_owned()),
            (
                "code_challenge",
                calculate_pkce_code_challenge(&self.verifier),
            ),
            ("code_challenge_method", "S256".to_owned()),
            ("state", self.state.clone()),
            ("nonce", self.nonce.clone()),
        ]
    }

    fn checks(&self) -> AuthorizationChecks {
        AuthorizationChecks::new()
            .pkce_code_verifier(&self.verifier)
            .expected_state(&self.state)
            .expected_nonce(&self.nonce)
    }
}

async fn basic_setup() -> (MockAuthorizationServer, Configuration) {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("app", "s3cr3t").redirect_uris([REDIRECT]))
        .start()
        .await
        .unwrap();
    let config = discovery(
        server.issuer(),
        "app",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    (server, config)
}

#[tokio::test]
async fn bad_pushed_authorization_responses_are_typed_errors() {
    let (server, config) = basic_setup().await;
    let cases = [
        (
            Fault::json(200, json!({"request_uri": "urn:x", "expires_in": 60})),
            ErrorKind::UnexpectedStatus,
        ),
        (
            Fault::json(201, json!({"request_uri": 7, "expires_in": 60})),
            ErrorKind::InvalidResponse,
        ),
        (
            Fault::json(201, json!({"request_uri": "urn:x", "expires_in": "60"})),
            ErrorKind::InvalidResponse,
        ),
        (
            Fault::json(
                400,
                json!({"error": "invalid_request", "error_description": "no"}),
            ),
            ErrorKind::OAuth,
        ),
        (
            Fault::body(201, "text/html", "<html>"),
            ErrorKind::InvalidResponse,
        ),
    ];
    let flow = Flow::new();
    for (fault, kind) in cases {
        let label = format!("{fault:?}");
        server.fail_next_par_request(fault);
        let e = build_authorization_url_with_par(&config, &flow.params())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{label}: {e}");
    }
    // The server refusing the push for a real reason: typed, with its words.
    let mut params = flow.params();
    params[0].1 = "https://evil.example/cb".into();
    let e = build_authorization_url_with_par(&config, &params)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
}

#[tokio::test]
async fn required_par_refuses_unpushed_requests_and_works_pushed() {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("app", "s3cr3t").redirect_uris([REDIRECT]))
        .require_pushed_authorization_requests(true)
        .start()
        .await
        .unwrap();
    let config = discovery(
        server.issuer(),
        "app",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    let flow = Flow::new();
    let e = build_authorization_url(&config, &flow.params()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains("build_authorization_url_with_par"),
        "{e}"
    );
    let url = build_authorization_url_with_par(&config, &flow.params())
        .await
        .unwrap();
    let callback = server.authorize(&url).await.unwrap();
    let tokens = authorization_code_grant(&config, &callback, &flow.checks())
        .await
        .unwrap();
    assert_eq!(tokens.claims().unwrap().nonce(), Some(flow.nonce.as_str()));
    assert_eq!(server.par_request_count(), 1);
}

#[tokio::test]
async fn a_dpop_bound_push_binds_the_code_to_the_key() {
    let (server, config) = basic_setup().await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let flow = Flow::new();
    let url = build_authorization_url_with_par(&config, &flow.params())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    let callback = server.authorize(&url).await.unwrap();
    // Another key cannot redeem it.
    let other = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let e = authorization_code_grant(&config, &callback, &flow.checks())
        .options(RequestOptions::new().dpop(&other))
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("invalid_grant"),
        "{e}"
    );
    // Codes are single-use: a new sign-in, redeemed with the bound key.
    let flow = Flow::new();
    let url = build_authorization_url_with_par(&config, &flow.params())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    let callback = server.authorize(&url).await.unwrap();
    let tokens = authorization_code_grant(&config, &callback, &flow.checks())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert!(tokens.token_type().is_dpop());
}

#[tokio::test]
async fn jarm_attacks_are_typed_errors() {
    let (server, config) = basic_setup().await;
    let cases = [
        (
            AuthorizationResponseFault::jarm_claims(json!({"iss": "https://evil.example"})),
            ErrorKind::ClaimComparison,
        ),
        (
            AuthorizationResponseFault::jarm_claims(json!({"aud": "someone-else"})),
            ErrorKind::ClaimComparison,
        ),
        (
            AuthorizationResponseFault::jarm_claims(json!({"exp": 1_000_000_000})),
            ErrorKind::TimestampCheck,
        ),
        (
            AuthorizationResponseFault::JarmAlgNone,
            ErrorKind::UnsupportedAlgorithm,
        ),
        (
            AuthorizationResponseFault::JarmUnknownKid,
            ErrorKind::KeySelection,
        ),
        (
            AuthorizationResponseFault::JarmSignature,
            ErrorKind::SignatureVerification,
        ),
        (
            AuthorizationResponseFault::WrongState,
            ErrorKind::ClaimComparison,
        ),
    ];
    for (fault, kind) in cases {
        let label = format!("{fault:?}");
        server.tamper_next_authorization_response(fault);
        let flow = Flow::new();
        let mut params = flow.params();
        params.push(("response_mode", "query.jwt".into()));
        let url = build_authorization_url(&config, &params).unwrap();
        let callback = server.authorize(&url).await.unwrap();
        let e = authorization_code_grant(&config, &callback, &flow.checks().jarm())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{label}: {e}");
    }
    // A plain response where JARM was asked for, and the other way round.
    let flow = Flow::new();
    let url = build_authorization_url(&config, &flow.params()).unwrap();
    let callback = server.authorize(&url).await.unwrap();
    let e = authorization_code_grant(&config, &callback, &flow.checks().jarm())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    let flow = Flow::new();
    let mut params = flow.params();
    params.push(("response_mode", "jwt".into()));
    let url = build_authorization_url(&config, &params).unwrap();
    let callback = server.authorize(&url).await.unwrap();
    let e = authorization_code_grant(&config, &callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
}

#[tokio::test]
async fn jarm_form_post_and_error_responses() {
    let (server, config) = basic_setup().await;
    let flow = Flow::new();
    let mut params = flow.params();
    params.push(("response_mode", "form_post.jwt".into()));
    let url = build_authorization_url(&config, &params).unwrap();
    let (action, fields) = server.authorize_form_post(&url).await.unwrap();
    assert_eq!(fields.len(), 1);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let tokens = authorization_code_grant(
        &config,
        oidckit::Callback::form_post(&action, body.as_bytes()),
        &flow.checks().jarm(),
    )
    .await
    .unwrap();
    assert!(tokens.claims().is_some());

    server.tamper_next_authorization_response(AuthorizationResponseFault::Error {
        error: "access_denied".into(),
        description: Some("no".into()),
    });
    let flow = Flow::new();
    let mut params = flow.params();
    params.push(("response_mode", "query.jwt".into()));
    let url = build_authorization_url(&config, &params).unwrap();
    let callback = server.authorize(&url).await.unwrap();
    let e = authorization_code_grant(&config, &callback, &flow.checks().jarm())
        .await
        .unwrap_err();
    let oauth = e.oauth_error().unwrap();
    assert_eq!(oauth.error, "access_denied");
    assert_eq!(oauth.state.as_deref(), Some(flow.state.as_str()));
}

#[tokio::test]
async fn a_fapi2_flow_with_the_switch_on() {
    let key = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("app");
    let server = MockAuthorizationServer::builder()
        .client(MockClient::private_key_jwt("app", key.public_jwk()).redirect_uris([REDIRECT]))
        .signing_alg(JwsAlgorithm::PS256)
        .start()
        .await
        .unwrap();
    let config = discovery(
        server.issuer(),
        "app",
        ClientAuth::private_key_jwt(key.clone()),
    )
    .allow_insecure_requests(true)
    .fapi2_security_profile(true)
    .await
    .unwrap();
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let flow = Flow::new();

    // What breaks the profile is refused before anything is sent.
    assert!(build_authorization_url(&config, &flow.params()).is_err());
    let no_pkce: Vec<_> = flow
        .params()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    assert!(build_authorization_url_with_par(&config, &no_pkce)
        .await
        .is_err());
    assert_eq!(server.par_request_count(), 0);

    // PAR with a signed request object, PKCE, a DPoP-bound code.
    let object = build_request_object(&config.context(), flow.params(), &key).unwrap();
    let url = build_authorization_url_with_par(&config, &[("request", object.as_str())])
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    let callback = server.authorize(&url).await.unwrap();
    // Without DPoP, the switch refuses to redeem the code.
    let e = authorization_code_grant(&config, &callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let tokens = authorization_code_grant(&config, &callback, &flow.checks())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert!(tokens.token_type().is_dpop());
    assert_eq!(tokens.claims().unwrap().nonce(), Some(flow.nonce.as_str()));

    // A provider signing with RS256 breaks the profile's algorithm rule.
    let rs = MockAuthorizationServer::builder()
        .client(MockClient::private_key_jwt("app", key.public_jwk()).redirect_uris([REDIRECT]))
        .signing_alg(JwsAlgorithm::RS256)
        .start()
        .await
        .unwrap();
    let mut client = ClientMetadata::new("app");
    client.id_token_signed_response_alg = Some("RS256".into());
    let config = discovery(rs.issuer(), "app", ClientAuth::private_key_jwt(key.clone()))
        .allow_insecure_requests(true)
        .fapi2_security_profile(true)
        .client_metadata(client)
        .await
        .unwrap();
    let flow = Flow::new();
    let url: Url = build_authorization_url_with_par(&config, &flow.params())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    let callback = rs.authorize(&url).await.unwrap();
    let e = authorization_code_grant(&config, &callback, &flow.checks())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm, "{e}");
}

//! The OpenID Connect side of the mock server, driven with plain HTTP: the
//! authorization endpoint, the authorization code grant with PKCE, ID
//! Tokens checked against the JWK Set, key rotation, userinfo, logout, and
//! every fault it can inject.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidckit::testing::{
    AuthorizationResponseFault, Fault, IdTokenFault, MockAuthorizationServer, MockClient,
    MockServerBuilder,
};
use oidckit::{AccessToken, ClientAuth, DPoPHandle, ErrorKind, JwsAlgorithm, ManualClock};
use serde_json::{json, Value};
use url::Url;

const REDIRECT: &str = "https://app.example/cb";
const T0: u64 = 1_700_000_000;

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0))
}

/// A server with the public client `app` (redirect URI [`REDIRECT`]) and the
/// user `alice`, on a manual clock at [`T0`].
fn builder(clock: &ManualClock) -> MockServerBuilder {
    MockAuthorizationServer::builder()
        .client(
            MockClient::none("app")
                .redirect_uris([REDIRECT])
                .post_logout_redirect_uris(["https://app.example/bye"]),
        )
        .subject("alice")
        .user_claims(json!({
            "email": "alice@example.com",
            "email_verified": true,
            "name": "Alice Liddell",
        }))
        .clock(Arc::new(clock.clone()))
}

async fn server() -> (MockAuthorizationServer, ManualClock) {
    let clock = clock();
    (builder(&clock).start().await.unwrap(), clock)
}

/// A form body (reqwest is built without its `form` feature).
trait FormParams {
    fn form_params<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self;
}

impl FormParams for reqwest::RequestBuilder {
    fn form_params<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

/// A response body as JSON.
async fn json(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).expect("a JSON body")
}

struct Pkce {
    verifier: String,
    challenge: String,
}

fn pkce() -> Pkce {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// The parameters of a normal authorization request.
fn auth_params(pkce: &Pkce) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Sets (or, with `None`, removes) a parameter.
fn set(params: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    params.retain(|(k, _)| k != name);
    if let Some(v) = value {
        params.push((name.to_owned(), v.to_owned()));
    }
}

fn auth_url(server: &MockAuthorizationServer, params: &[(String, String)]) -> Url {
    let mut url = server.server_metadata().authorization_endpoint.unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url
}

fn query(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn names(params: &[(String, String)]) -> Vec<&str> {
    params.iter().map(|(k, _)| k.as_str()).collect()
}

/// Authorizes a normal request: the callback's parameters.
async fn authorize(server: &MockAuthorizationServer, pkce: &Pkce) -> Vec<(String, String)> {
    let callback = server
        .authorize(&auth_url(server, &auth_params(pkce)))
        .await
        .unwrap();
    assert_eq!(callback.as_str().split('?').next(), Some(REDIRECT));
    query(&callback)
}

/// POSTs a form to the token endpoint: the status and the JSON body.
async fn token_request(server: &MockAuthorizationServer, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.token_endpoint())
        .form_params(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, json(response).await)
}

/// Redeems `code` as the public client `app`.
async fn redeem(server: &MockAuthorizationServer, code: &str, verifier: &str) -> (u16, Value) {
    token_request(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Authorizes and redeems a normal request: the token response.
async fn sign_in(server: &MockAuthorizationServer) -> Value {
    let pkce = pkce();
    let callback = authorize(server, &pkce).await;
    let (status, body) = redeem(server, &param(&callback, "code").unwrap(), &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn id_token(response: &Value) -> String {
    response["id_token"]
        .as_str()
        .expect("an id_token")
        .to_owned()
}

fn b64(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).expect("base64url")
}

fn header(jwt: &str) -> Value {
    support::jwt_header(jwt)
}

fn claims(jwt: &str) -> Value {
    support::jwt_claims(jwt)
}

async fn get_json(url: Url) -> Value {
    json(reqwest::get(url).await.unwrap()).await
}

async fn jwks(server: &MockAuthorizationServer) -> Value {
    get_json(server.jwks_uri()).await
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies a compact JWS against the JWK Set as a careful client does.
fn verify(jwt: &str, jwks: &Value) -> Result<(), String> {
    support::verify_with_jwks(jwt, jwks)
}

/// The left half of the hash of `token`, the hash chosen by `alg` (OIDC
/// Core §3.1.3.6), computed independently of the server.
fn left_half_hash(alg: &str, token: &str) -> String {
    let digest: Vec<u8> = match alg {
        "ES256" | "RS256" | "PS256" => openssl::sha::sha256(token.as_bytes()).to_vec(),
        "EdDSA" => openssl::sha::sha512(token.as_bytes()).to_vec(),
        other => panic!("no hash for {other}"),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

async fn happy_path(alg: JwsAlgorithm) {
    let clock = clock();
    let server = builder(&clock).signing_alg(alg).start().await.unwrap();
    let pkce = pkce();
    let callback = authorize(&server, &pkce).await;
    assert_eq!(names(&callback), ["code", "state", "iss"]);
    assert_eq!(param(&callback, "state").as_deref(), Some("st-1"));
    assert_eq!(
        param(&callback, "iss").as_deref(),
        Some(server.issuer().as_str().trim_end_matches('/'))
    );
    let code = param(&callback, "code").unwrap();
    assert!(code.len() >= 32);

    clock.advance(Duration::from_secs(5));
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid email profile");
    assert!(body.get("refresh_token").is_none());
    let access_token = body["access_token"].as_str().unwrap();
    let id_token = id_token(&body);

    let jwks = jwks(&server).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let key = &jwks["keys"][0];
    assert_eq!(key["alg"], alg.name());
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none(), "a private key in the JWK Set");

    let h = header(&id_token);
    assert_eq!(h["alg"], alg.name());
    assert_eq!(h["typ"], "JWT");
    assert_eq!(h["kid"], key["kid"]);
    assert_eq!(h["kid"], server.signing_key_id().as_str());
    verify(&id_token, &jwks).unwrap();

    let c = claims(&id_token);
    let issuer = server.issuer().as_str().trim_end_matches('/').to_owned();
    assert_eq!(c["iss"], issuer.as_str());
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["aud"], "app");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["iat"], T0 + 5);
    assert_eq!(c["exp"], T0 + 5 + 300);
    // auth_time: the time of the authorization request.
    assert_eq!(c["auth_time"], T0);
    assert_eq!(
        c["at_hash"],
        left_half_hash(alg.name(), access_token).as_str()
    );
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["name"], "Alice Liddell");
    assert!(c.get("azp").is_none());
}

#[tokio::test]
async fn happy_path_es256() {
    happy_path(JwsAlgorithm::ES256).await;
}

#[tokio::test]
async fn happy_path_rs256() {
    happy_path(JwsAlgorithm::RS256).await;
}

#[tokio::test]
async fn happy_path_ps256() {
    happy_path(JwsAlgorithm::PS256).await;
}

#[tokio::test]
async fn happy_path_eddsa() {
    happy_path(JwsAlgorithm::EdDSA).await;
}

#[tokio::test]
async fn discovery_advertises_the_openid_endpoints() {
    let clock = clock();
    let server = builder(&clock)
        .signing_alg(JwsAlgorithm::PS256)
        .start()
        .await
        .unwrap();
    let iss = server.issuer().as_str().trim_end_matches('/').to_owned();
    let doc = get_json(
        format!("{iss}/.well-known/openid-configuration")
            .parse()
            .unwrap(),
    )
    .await;
    assert_eq!(doc["authorization_endpoint"], format!("{iss}/authorize"));
    assert_eq!(doc["jwks_uri"], format!("{iss}/jwks"));
    assert_eq!(doc["userinfo_endpoint"], format!("{iss}/userinfo"));
    assert_eq!(doc["end_session_endpoint"], format!("{iss}/logout"));
    assert_eq!(
        doc["response_types_supported"],
        json!(["code", "code id_token", "id_token"])
    );
    assert_eq!(
        doc["response_modes_supported"],
        json!([
            "query",
            "fragment",
            "form_post",
            "jwt",
            "query.jwt",
            "form_post.jwt"
        ])
    );
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        format!("{iss}/par")
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(
        doc["request_object_signing_alg_values_supported"],
        json!(["ES256", "PS256", "RS256", "EdDSA"])
    );
    assert_eq!(
        doc["authorization_signing_alg_values_supported"],
        json!(["PS256"])
    );
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["PS256"])
    );
    assert_eq!(
        doc["userinfo_signing_alg_values_supported"],
        json!(["PS256"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let has =
        |member: &str, value: &str| doc[member].as_array().unwrap().iter().any(|v| v == value);
    assert!(has("scopes_supported", "openid"));
    assert!(has("grant_types_supported", "authorization_code"));
    assert!(has("grant_types_supported", "refresh_token"));
    assert!(has("grant_types_supported", "client_credentials"));
    // The typed view agrees.
    let metadata = server.server_metadata();
    assert_eq!(
        metadata.authorization_endpoint,
        Some(server.authorization_endpoint())
    );
    assert_eq!(metadata.jwks_uri, Some(server.jwks_uri()));
    assert_eq!(metadata.userinfo_endpoint, Some(server.userinfo_endpoint()));
    assert_eq!(
        metadata.end_session_endpoint,
        Some(server.end_session_endpoint())
    );
    assert_eq!(
        metadata.authorization_response_iss_parameter_supported,
        Some(true)
    );
    assert_eq!(
        metadata.pushed_authorization_request_endpoint,
        Some(server.pushed_authorization_request_endpoint())
    );
    assert_eq!(metadata.require_pushed_authorization_requests, Some(false));
}

#[tokio::test]
async fn hmac_signing_alg_is_refused() {
    let err = MockAuthorizationServer::builder()
        .signing_alg(JwsAlgorithm::HS256)
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn pkce_mismatch_is_invalid_grant() {
    let (server, _) = server().await;
    let pkce = pkce();
    let callback = authorize(&server, &pkce).await;
    let code = param(&callback, "code").unwrap();
    let other = self::pkce();
    let (status, body) = redeem(&server, &code, &other.verifier).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("code_verifier"));
    // The failed attempt spent the code.
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn missing_or_malformed_verifier_is_invalid_grant() {
    let (server, _) = server().await;
    for verifier in [None, Some("short")] {
        let pkce = pkce();
        let code = param(&authorize(&server, &pkce).await, "code").unwrap();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let (status, body) = token_request(&server, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
}

#[tokio::test]
async fn code_reuse_is_invalid_grant_and_revokes_the_tokens() {
    let (server, _) = server().await;
    let pkce = pkce();
    let code = param(&authorize(&server, &pkce).await, "code").unwrap();
    let (status, first) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 200);
    let access_token = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo_bearer(&server, access_token).await.0, 200);

    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    // RFC 6749 §4.1.2: the tokens issued for the code are revoked.
    assert_eq!(userinfo_bearer(&server, access_token).await.0, 401);
}

#[tokio::test]
async fn unknown_code_and_code_of_another_client() {
    let clock = clock();
    let server = builder(&clock)
        .client(MockClient::client_secret_post("other", "s3cr3t"))
        .start()
        .await
        .unwrap();
    let (status, body) = redeem(&server, "no-such-code", &pkce().verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let pkce = pkce();
    let code = param(&authorize(&server, &pkce).await, "code").unwrap();
    let (status, body) = token_request(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "other"),
            ("client_secret", "s3cr3t"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("another client"));
}

#[tokio::test]
async fn confidential_client_authenticates_for_the_code() {
    let clock = clock();
    let server = builder(&clock)
        .client(MockClient::client_secret_basic("web", "s3cr3t").redirect_uris([REDIRECT]))
        .start()
        .await
        .unwrap();
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "client_id", Some("web"));
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    let code = param(&query(&callback), "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let http = reqwest::Client::new();
    // Wrong secret: invalid_client, and the code is not spent.
    let r = http
        .post(server.token_endpoint())
        .basic_auth("web", Some("wrong"))
        .form_params(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(server.token_endpoint())
        .basic_auth("web", Some("s3cr3t"))
        .form_params(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(claims(&id_token(&body))["aud"], "web");
}

#[tokio::test]
async fn redirect_uri_must_match() {
    let (server, _) = server().await;
    // At the token endpoint: the one of the authorization request.
    let pkce = pkce();
    let code = param(&authorize(&server, &pkce).await, "code").unwrap();
    let (status, body) = token_request(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", &code),
            ("redirect_uri", "https://app.example/other"),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("redirect_uri"));

    // At the authorization endpoint: a registered one, else a 400 and no
    // redirect.
    let mut params = auth_params(&pkce);
    set(&mut params, "redirect_uri", Some("https://evil.example/cb"));
    let err = server
        .authorize(&auth_url(&server, &params))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedStatus);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    let body: Value = serde_json::from_str(err.body_snippet().unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("not registered"));
}

#[tokio::test]
async fn unregistered_client_may_use_any_absolute_redirect_uri() {
    let clock = clock();
    let server = builder(&clock)
        .client(MockClient::none("native"))
        .start()
        .await
        .unwrap();
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "client_id", Some("native"));
    set(
        &mut params,
        "redirect_uri",
        Some("com.example.app:/oauth2redirect?keep=1"),
    );
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    assert_eq!(callback.scheme(), "com.example.app");
    let q = query(&callback);
    assert_eq!(names(&q), ["keep", "code", "state", "iss"]);
    // Relative, or with a fragment: refused without redirecting.
    for bad in ["/cb", "https://app.example/cb#frag"] {
        set(&mut params, "redirect_uri", Some(bad));
        let err = server
            .authorize(&auth_url(&server, &params))
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{bad}");
    }
}

#[tokio::test]
async fn unknown_client_is_a_400_without_redirect() {
    let (server, _) = server().await;
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "client_id", Some("nobody"));
    let err = server
        .authorize(&auth_url(&server, &params))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    let body: Value = serde_json::from_str(err.body_snippet().unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_client");
    set(&mut params, "client_id", None);
    let err = server
        .authorize(&auth_url(&server, &params))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
}

#[tokio::test]
async fn request_errors_are_redirected_with_state_and_iss() {
    let clock = clock();
    let server = builder(&clock)
        .client(
            MockClient::none("limited")
                .redirect_uris([REDIRECT])
                .scopes(["read"]),
        )
        .start()
        .await
        .unwrap();
    let iss = server.issuer().as_str().trim_end_matches('/').to_owned();
    let pkce = pkce();
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("response_type", Some("token"), "unsupported_response_type"),
        ("response_type", None, "invalid_request"),
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge_method", None, "invalid_request"),
        ("code_challenge", Some("too-short"), "invalid_request"),
        ("response_mode", Some("fragment"), "invalid_request"),
        ("max_age", Some("soon"), "invalid_request"),
        // Not a request object (RFC 9101 §6): to the registered redirect_uri.
        ("request", Some("eyJ.e30."), "invalid_request_object"),
        ("client_id", Some("limited"), "invalid_scope"),
    ];
    for (name, value, error) in cases {
        let mut params = auth_params(&pkce);
        if name == "client_id" {
            set(&mut params, "scope", Some("openid read admin"));
        }
        set(&mut params, name, value);
        let callback = server
            .authorize(&auth_url(&server, &params))
            .await
            .unwrap_or_else(|e| panic!("{name}={value:?}: {e}"));
        assert!(callback.as_str().starts_with(REDIRECT));
        let q = query(&callback);
        assert_eq!(
            param(&q, "error").as_deref(),
            Some(error),
            "{name}={value:?}"
        );
        assert!(param(&q, "error_description").is_some());
        assert_eq!(param(&q, "state").as_deref(), Some("st-1"));
        assert_eq!(param(&q, "iss"), Some(iss.clone()));
        assert_eq!(param(&q, "code"), None);
    }
    // The OpenID scopes are always allowed; registered ones too.
    let mut params = auth_params(&pkce);
    set(&mut params, "client_id", Some("limited"));
    set(&mut params, "scope", Some("openid offline_access read"));
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    assert!(param(&query(&callback), "code").is_some());
}

#[tokio::test]
async fn code_expires_after_60_seconds() {
    let (server, clock) = server().await;
    let pkce = pkce();
    let code = param(&authorize(&server, &pkce).await, "code").unwrap();
    clock.advance(Duration::from_secs(60));
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
    // 59 seconds is still fine.
    let code = param(&authorize(&server, &pkce).await, "code").unwrap();
    clock.advance(Duration::from_secs(59));
    assert_eq!(redeem(&server, &code, &pkce.verifier).await.0, 200);
}

#[tokio::test]
async fn configured_subject_auth_time_and_default_user() {
    let clock = clock();
    let server = builder(&clock)
        .auth_time(Some(T0 - 3600))
        .start()
        .await
        .unwrap();
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "max_age", Some("60"));
    set(&mut params, "nonce", None);
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    let code = param(&query(&callback), "code").unwrap();
    let body = redeem(&server, &code, &pkce.verifier).await.1;
    let c = claims(&id_token(&body));
    // Used as configured, even if older than max_age.
    assert_eq!(c["auth_time"], T0 - 3600);
    assert!(c.get("nonce").is_none());

    let plain = MockAuthorizationServer::builder()
        .client(MockClient::none("app").redirect_uris([REDIRECT]))
        .start()
        .await
        .unwrap();
    let body = sign_in(&plain).await;
    let c = claims(&id_token(&body));
    assert_eq!(c["sub"], "mock-user");
    assert!(c.get("email").is_none());
    assert_eq!(header(&id_token(&body))["alg"], "ES256");
}

#[tokio::test]
async fn no_id_token_without_openid() {
    let (server, _) = server().await;
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "scope", Some("email"));
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    let code = param(&query(&callback), "code").unwrap();
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 200);
    assert!(body.get("id_token").is_none());
    assert_eq!(body["scope"], "email");
    // Nor userinfo: the token was not issued for openid.
    let (status, www, _) = userinfo_bearer(&server, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 403);
    assert!(www.unwrap().contains("insufficient_scope"));
}

#[tokio::test]
async fn refresh_returns_a_new_id_token_for_the_same_user() {
    let (server, clock) = server().await;
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "scope", Some("openid offline_access email"));
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    let code = param(&query(&callback), "code").unwrap();
    let first = redeem(&server, &code, &pkce.verifier).await.1;
    let rt = first["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token");

    clock.advance(Duration::from_secs(100));
    let (status, second) = token_request(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "openid offline_access email");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let before = claims(&id_token(&first));
    let id = id_token(&second);
    verify(&id, &jwks(&server).await).unwrap();
    let after = claims(&id);
    assert_eq!(after["sub"], "alice");
    assert_eq!(after["aud"], "app");
    assert_eq!(after["auth_time"], before["auth_time"]);
    assert_eq!(after["iat"], T0 + 100);
    assert!(after.get("nonce").is_none());
    assert_eq!(
        after["at_hash"],
        left_half_hash("ES256", second["access_token"].as_str().unwrap()).as_str()
    );
    // Rotation: the old one is spent; another client cannot use the new one.
    let (status, body) = token_request(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn refresh_tokens_when_the_builder_says_so_and_scope_narrowing() {
    let clock = clock();
    let server = builder(&clock)
        .issue_refresh_tokens(true)
        .start()
        .await
        .unwrap();
    let first = sign_in(&server).await;
    let rt = first["refresh_token"].as_str().unwrap();
    // Widening is refused...
    let (status, body) = token_request(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", rt),
            ("scope", "openid admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // ... narrowing is not, and without openid there is no ID Token.
    let (status, body) = token_request(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", rt),
            ("scope", "email"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "email");
    // The grant had openid: an ID Token still (OIDC Core §12.2).
    assert_eq!(claims(&id_token(&body))["sub"], "alice");
}

#[tokio::test]
async fn key_rotation_serves_old_and_new_until_retired() {
    let (server, _) = server().await;
    let old_token = id_token(&sign_in(&server).await);
    let old_kid = server.signing_key_id();
    let before = jwks(&server).await;
    assert_eq!(kids(&before), std::slice::from_ref(&old_kid));

    let new_kid = server.rotate_signing_key();
    assert_ne!(new_kid, old_kid);
    assert_eq!(server.signing_key_id(), new_kid);
    let both = jwks(&server).await;
    assert_eq!(kids(&both), [new_kid.clone(), old_kid.clone()]);
    verify(&old_token, &both).unwrap();
    let new_token = id_token(&sign_in(&server).await);
    assert_eq!(header(&new_token)["kid"], new_kid.as_str());
    verify(&new_token, &both).unwrap();
    // The new token does not verify with the old key set.
    assert!(verify(&new_token, &before).is_err());

    server.retire_old_signing_keys();
    let after = jwks(&server).await;
    assert_eq!(kids(&after), [new_kid]);
    assert_eq!(
        verify(&old_token, &after).unwrap_err(),
        "no key with this kid"
    );
    verify(&new_token, &after).unwrap();
    assert_eq!(server.jwks_request_count(), 3);
}

#[tokio::test]
async fn jwks_content_type_and_faults() {
    let (server, _) = server().await;
    server.fail_next_jwks_request(Fault::json(503, json!({"error": "busy"})));
    let r = reqwest::get(server.jwks_uri()).await.unwrap();
    assert_eq!(r.status(), 503);
    let r = reqwest::get(server.jwks_uri()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body = json(r).await;
    assert_eq!(body["keys"][0]["kid"], server.signing_key_id().as_str());
    assert_eq!(server.jwks_request_count(), 2);
}

/// GET userinfo with a Bearer token: status, `WWW-Authenticate`, body.
async fn userinfo_bearer(
    server: &MockAuthorizationServer,
    token: &str,
) -> (u16, Option<String>, String) {
    let r = reqwest::Client::new()
        .get(server.userinfo_endpoint())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, www, r.text().await.unwrap())
}

#[tokio::test]
async fn userinfo_json() {
    let (server, clock) = server().await;
    let body = sign_in(&server).await;
    let token = body["access_token"].as_str().unwrap();
    let r = reqwest::Client::new()
        .get(server.userinfo_endpoint())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let info = json(r).await;
    assert_eq!(
        info,
        json!({"sub": "alice", "email": "alice@example.com", "email_verified": true,
               "name": "Alice Liddell"})
    );
    // POST, with the token in the body (RFC 6750 §2.2).
    let r = reqwest::Client::new()
        .post(server.userinfo_endpoint())
        .form_params(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["sub"], "alice");
    assert_eq!(server.userinfo_request_count(), 2);

    // Expired.
    clock.advance(Duration::from_secs(3600));
    let (status, www, _) = userinfo_bearer(&server, token).await;
    assert_eq!(status, 401);
    assert_eq!(
        www.unwrap(),
        "Bearer error=\"invalid_token\", error_description=\"the access token expired\""
    );
}

#[tokio::test]
async fn userinfo_errors() {
    let (server, _) = server().await;
    let token = sign_in(&server).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // No token: a bare challenge (RFC 6750 §3.1).
    let r = reqwest::get(server.userinfo_endpoint()).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    // Unknown.
    let (status, www, body) = userinfo_bearer(&server, "made-up").await;
    assert_eq!(status, 401);
    assert_eq!(
        www.unwrap(),
        "Bearer error=\"invalid_token\", error_description=\"the access token is unknown or revoked\""
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "invalid_token"
    );
    // Revoked.
    server.revoke(&token);
    let (status, www, _) = userinfo_bearer(&server, &token).await;
    assert_eq!(status, 401);
    assert!(www.unwrap().starts_with("Bearer error=\"invalid_token\""));
    // A fault.
    let token = sign_in(&server).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    server.fail_next_userinfo_request(Fault::body(502, "text/html", "<h1>bad gateway</h1>"));
    assert_eq!(userinfo_bearer(&server, &token).await.0, 502);
    assert_eq!(userinfo_bearer(&server, &token).await.0, 200);
}

#[tokio::test]
async fn userinfo_signed_jwt() {
    let clock = clock();
    let server = builder(&clock)
        .signing_alg(JwsAlgorithm::RS256)
        .userinfo_signed_response(true)
        .start()
        .await
        .unwrap();
    let token = sign_in(&server).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = reqwest::Client::new()
        .get(server.userinfo_endpoint())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/jwt");
    let jwt = r.text().await.unwrap();
    verify(&jwt, &jwks(&server).await).unwrap();
    assert_eq!(header(&jwt)["alg"], "RS256");
    let c = claims(&jwt);
    assert_eq!(c["iss"], server.issuer().as_str().trim_end_matches('/'));
    assert_eq!(c["aud"], "app");
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["email"], "alice@example.com");
}

#[tokio::test]
async fn dpop_bound_code_flow_and_userinfo() {
    // DPoP proofs carry the real time: the system clock.
    let server = MockAuthorizationServer::builder()
        .client(MockClient::none("app").redirect_uris([REDIRECT]))
        .start()
        .await
        .unwrap();
    let config = support::config(&server, "app", ClientAuth::none());
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let pkce = pkce();
    let code = param(&authorize(&server, &pkce).await, "code").unwrap();
    let proof = dpop.proof("POST", &server.token_endpoint(), None).unwrap();
    let r = reqwest::Client::new()
        .post(server.token_endpoint())
        .header("DPoP", proof)
        .form_params(&[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ])
        .send()
        .await
        .unwrap();
    let body = json(r).await;
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        server.token_binding(&token).as_deref(),
        Some(dpop.thumbprint())
    );
    assert!(body.get("id_token").is_some());

    let userinfo = server.userinfo_endpoint();
    let proof = dpop
        .proof("GET", &userinfo, Some(&AccessToken::new(token.clone())))
        .unwrap();
    let r = reqwest::Client::new()
        .get(userinfo.clone())
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["sub"], "mock-user");
    // As a Bearer token: refused with a DPoP challenge.
    let (status, www, _) = userinfo_bearer(&server, &token).await;
    assert_eq!(status, 401);
    assert!(www.unwrap().starts_with("DPoP error=\"invalid_token\""));
}

/// A logout request; the response is not followed.
async fn logout(server: &MockAuthorizationServer, params: &[(&str, &str)]) -> reqwest::Response {
    let mut url = server.end_session_endpoint();
    url.query_pairs_mut().extend_pairs(params);
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn logout_redirects_with_state() {
    let (server, clock) = server().await;
    let hint = id_token(&sign_in(&server).await);
    // An expired hint is still a hint.
    clock.advance(Duration::from_secs(3600));
    let r = logout(
        &server,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://app.example/bye"),
            ("state", "bye-1"),
            ("ui_locales", "fr"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "https://app.example/bye?state=bye-1"
    );
    assert_eq!(server.logout_count(), 1);
    let recorded = &server.logouts()[0];
    assert_eq!(recorded.query_param("id_token_hint"), Some(hint.as_str()));
    assert_eq!(recorded.query_param("ui_locales"), Some("fr"));

    // client_id instead of a hint; no redirect: a page.
    let r = logout(&server, &[("client_id", "app"), ("logout_hint", "alice")]).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("signed out"));
    assert_eq!(server.logout_count(), 2);
}

#[tokio::test]
async fn logout_refuses_bad_hints_and_redirects() {
    let (server, _) = server().await;
    let hint = id_token(&sign_in(&server).await);
    let (h, rest) = hint.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let mut sig = b64(s);
    sig[0] ^= 1;
    let forged = format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig));
    let elsewhere = MockAuthorizationServer::builder()
        .client(MockClient::none("app").redirect_uris([REDIRECT]))
        .start()
        .await
        .unwrap();
    let foreign = id_token(&sign_in(&elsewhere).await);
    let redirect = ("post_logout_redirect_uri", "https://app.example/bye");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("id_token_hint", &forged)],
        vec![("id_token_hint", "not-a-jwt")],
        vec![("id_token_hint", &foreign)],
        // The hint's audience is app.
        vec![("id_token_hint", &hint), ("client_id", "other")],
        // Not registered for the client.
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        // No client to check the redirect against.
        vec![redirect],
        vec![("client_id", "nobody")],
    ];
    for params in cases {
        let r = logout(&server, &params).await;
        assert_eq!(r.status(), 400, "{params:?}");
        assert_eq!(json(r).await["error"], "invalid_request");
    }
    assert_eq!(server.logout_count(), 0);
    // After the key is retired, its tokens are no hint.
    server.rotate_signing_key();
    server.retire_old_signing_keys();
    assert_eq!(
        logout(&server, &[("id_token_hint", &hint)]).await.status(),
        400
    );
}

/// Signs in with the next ID Token spoiled by `fault`: the ID Token.
async fn tampered(server: &MockAuthorizationServer, fault: IdTokenFault) -> String {
    server.tamper_next_id_token(fault);
    id_token(&sign_in(server).await)
}

#[tokio::test]
async fn tamper_claims() {
    let (server, _) = server().await;
    let jwks = jwks(&server).await;
    let jwt = tampered(
        &server,
        IdTokenFault::claims(json!({"aud": ["app", "someone-else"], "nonce": null, "x": 1})),
    )
    .await;
    verify(&jwt, &jwks).unwrap();
    let c = claims(&jwt);
    assert_eq!(c["aud"], json!(["app", "someone-else"]));
    assert_eq!(c["azp"], "app");
    assert!(c.get("nonce").is_none());
    assert_eq!(c["x"], 1);
    assert_eq!(c["sub"], "alice");
    // Only the next one.
    let c = claims(&id_token(&sign_in(&server).await));
    assert_eq!(
        (c["aud"].as_str(), c["nonce"].as_str()),
        (Some("app"), Some("n-1"))
    );
    assert!(c.get("azp").is_none());
    // azp named explicitly is kept as given, even null.
    let jwt = tampered(
        &server,
        IdTokenFault::claims(json!({"aud": ["app", "b"], "azp": null, "iss": "https://evil"})),
    )
    .await;
    let c = claims(&jwt);
    assert!(c.get("azp").is_none());
    assert_eq!(c["iss"], "https://evil");
}

#[tokio::test]
async fn tamper_alg_none() {
    let (server, _) = server().await;
    let jwt = tampered(&server, IdTokenFault::AlgNone).await;
    assert!(jwt.ends_with('.'));
    assert_eq!(jwt.split('.').count(), 3);
    assert_eq!(header(&jwt), json!({"alg": "none", "typ": "JWT"}));
    assert_eq!(claims(&jwt)["sub"], "alice");
}

#[tokio::test]
async fn tamper_hmac_with_public_key() {
    let clock = clock();
    let server = builder(&clock)
        .signing_alg(JwsAlgorithm::RS256)
        .start()
        .await
        .unwrap();
    let jwks = jwks(&server).await;
    let jwt = tampered(&server, IdTokenFault::HmacWithPublicKey).await;
    let h = header(&jwt);
    assert_eq!(h["alg"], "HS256");
    assert_eq!(h["kid"], jwks["keys"][0]["kid"]);
    // The secret: the JWK Set member as JSON text.
    let secret = serde_json::to_string(&jwks["keys"][0]).unwrap();
    let (input, mac) = jwt.rsplit_once('.').unwrap();
    let key = openssl::pkey::PKey::hmac(secret.as_bytes()).unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    assert_eq!(signer.sign_to_vec().unwrap(), b64(mac));
    assert!(verify(&jwt, &jwks).is_err());
}

#[tokio::test]
async fn tamper_unknown_kid() {
    let (server, _) = server().await;
    let jwks = jwks(&server).await;
    let jwt = tampered(&server, IdTokenFault::UnknownKid).await;
    let kid = header(&jwt)["kid"].as_str().unwrap().to_owned();
    assert!(kid.starts_with("unknown-"));
    assert!(!kids(&jwks).contains(&kid));
    assert_eq!(header(&jwt)["alg"], "ES256");
    assert_eq!(verify(&jwt, &jwks).unwrap_err(), "no key with this kid");
    // Signed with the right kid, it would not verify either: another key.
    let mut h = header(&jwt);
    h["kid"] = jwks["keys"][0]["kid"].clone();
    let relabelled = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        jwt.split_once('.').unwrap().1
    );
    assert!(verify(&relabelled, &jwks).is_err());
}

#[tokio::test]
async fn tamper_crit() {
    let (server, _) = server().await;
    let jwt = tampered(&server, IdTokenFault::Crit).await;
    assert_eq!(header(&jwt)["crit"], json!(["exp"]));
    // Validly signed: only the crit rule can refuse it.
    verify(&jwt, &jwks(&server).await).unwrap();
}

#[tokio::test]
async fn tamper_encrypted() {
    let (server, _) = server().await;
    let jwt = tampered(&server, IdTokenFault::Encrypted).await;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 5);
    assert!(parts.iter().all(|p| !p.is_empty()));
    let h = header(&jwt);
    assert_eq!(h["enc"], "A256GCM");
    assert_eq!(h["alg"], "RSA-OAEP-256");
    assert_eq!(b64(parts[2]).len(), 12);
    assert_eq!(b64(parts[4]).len(), 16);
}

#[tokio::test]
async fn tamper_signature() {
    for alg in [JwsAlgorithm::ES256, JwsAlgorithm::EdDSA] {
        let clock = clock();
        let server = builder(&clock).signing_alg(alg).start().await.unwrap();
        let jwks = jwks(&server).await;
        let jwt = tampered(&server, IdTokenFault::Signature).await;
        assert_eq!(claims(&jwt)["sub"], "alice");
        assert_eq!(header(&jwt)["kid"], jwks["keys"][0]["kid"]);
        assert!(verify(&jwt, &jwks).is_err());
        // Inverting the bytes back gives the valid signature.
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let restored: Vec<u8> = b64(sig).iter().map(|b| b ^ 0xff).collect();
        verify(
            &format!("{input}.{}", URL_SAFE_NO_PAD.encode(restored)),
            &jwks,
        )
        .unwrap();
    }
}

#[tokio::test]
async fn tamper_applies_to_the_refresh_id_token_too() {
    let clock = clock();
    let server = builder(&clock)
        .issue_refresh_tokens(true)
        .start()
        .await
        .unwrap();
    let first = sign_in(&server).await;
    server.tamper_next_id_token(IdTokenFault::claims(json!({"sub": "mallory"})));
    let (_, second) = token_request(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(claims(&id_token(&second))["sub"], "mallory");
}

/// Authorizes a normal request with the next response spoiled by `fault`.
async fn spoiled(
    server: &MockAuthorizationServer,
    fault: AuthorizationResponseFault,
) -> Vec<(String, String)> {
    server.tamper_next_authorization_response(fault);
    authorize(server, &pkce()).await
}

#[tokio::test]
async fn authorization_response_faults() {
    let (server, _) = server().await;
    let iss = server.issuer().as_str().trim_end_matches('/').to_owned();

    let q = spoiled(
        &server,
        AuthorizationResponseFault::Error {
            error: "access_denied".into(),
            description: Some("the user said no".into()),
        },
    )
    .await;
    assert_eq!(
        q,
        [
            ("error".to_owned(), "access_denied".to_owned()),
            ("error_description".into(), "the user said no".into()),
            ("state".into(), "st-1".into()),
            ("iss".into(), iss.clone()),
        ]
    );

    let q = spoiled(
        &server,
        AuthorizationResponseFault::WrongIssuer("https://other.example".into()),
    )
    .await;
    assert_eq!(names(&q), ["code", "state", "iss"]);
    assert_eq!(param(&q, "iss").as_deref(), Some("https://other.example"));

    let q = spoiled(&server, AuthorizationResponseFault::NoIssuer).await;
    assert_eq!(names(&q), ["code", "state"]);

    let q = spoiled(&server, AuthorizationResponseFault::DuplicateState).await;
    assert_eq!(names(&q), ["code", "state", "iss", "state"]);
    assert!(q
        .iter()
        .filter(|(k, _)| k == "state")
        .all(|(_, v)| v == "st-1"));

    let q = spoiled(
        &server,
        AuthorizationResponseFault::ExtraParam("id_token".into(), "eyJ.e30.x".into()),
    )
    .await;
    assert_eq!(names(&q), ["code", "state", "iss", "id_token"]);
    assert_eq!(param(&q, "id_token").as_deref(), Some("eyJ.e30.x"));

    let q = spoiled(&server, AuthorizationResponseFault::WrongState).await;
    assert_eq!(names(&q), ["code", "state", "iss"]);
    let state = param(&q, "state").unwrap();
    assert_ne!(state, "st-1");
    assert!(!state.is_empty());

    // Then normal again, and the spoiled responses' codes still work.
    let pkce = pkce();
    let q = authorize(&server, &pkce).await;
    assert_eq!(param(&q, "iss"), Some(iss));
    assert_eq!(
        redeem(&server, &param(&q, "code").unwrap(), &pkce.verifier)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn error_fault_issues_no_code_and_400s_do_not_consume_faults() {
    let (server, _) = server().await;
    server.tamper_next_authorization_response(AuthorizationResponseFault::NoIssuer);
    // A 400 (unknown client) does not take the fault...
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "client_id", Some("nobody"));
    assert!(server.authorize(&auth_url(&server, &params)).await.is_err());
    // ... the next redirect does.
    assert_eq!(names(&authorize(&server, &pkce).await), ["code", "state"]);

    server.tamper_next_authorization_response(AuthorizationResponseFault::Error {
        error: "login_required".into(),
        description: None,
    });
    let mut params = auth_params(&pkce);
    set(&mut params, "state", None);
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    assert_eq!(names(&query(&callback)), ["error", "iss"]);
}

#[tokio::test]
async fn form_post_response_mode() {
    let (server, _) = server().await;
    let pkce = pkce();
    let mut params = auth_params(&pkce);
    set(&mut params, "response_mode", Some("form_post"));
    let url = auth_url(&server, &params);

    // The page itself.
    let r = reqwest::get(url.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<form method=\"post\" action=\"https://app.example/cb\">"));
    assert!(html.contains("document.forms[0].submit()"));
    assert!(html.contains("<input type=\"hidden\" name=\"state\" value=\"st-1\"/>"));

    // The driver: authorize() refuses, authorize_form_post() reads the form.
    let err = server.authorize(&url).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    let (action, form) = server.authorize_form_post(&url).await.unwrap();
    assert_eq!(action.as_str(), REDIRECT);
    assert_eq!(names(&form), ["code", "state", "iss"]);
    assert_eq!(param(&form, "state").as_deref(), Some("st-1"));
    let code = param(&form, "code").unwrap();
    assert_eq!(redeem(&server, &code, &pkce.verifier).await.0, 200);
    // The page's code was a real one too, and different.
    let page_code = html
        .split("name=\"code\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_ne!(page_code, code);

    // Errors are posted too.
    set(&mut params, "code_challenge_method", Some("plain"));
    let (_, form) = server
        .authorize_form_post(&auth_url(&server, &params))
        .await
        .unwrap();
    assert_eq!(param(&form, "error").as_deref(), Some("invalid_request"));
    // A query-mode request through authorize_form_post is refused.
    let err = server
        .authorize_form_post(&auth_url(&server, &auth_params(&pkce)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

#[tokio::test]
async fn authorize_only_visits_this_server() {
    let (server, _) = server().await;
    let err = server
        .authorize(
            &"http://127.0.0.1:9/authorize?client_id=app"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = server
        .authorize(&server.token_endpoint())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn post_to_the_authorization_endpoint() {
    let (server, _) = server().await;
    let pkce = pkce();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(server.authorization_endpoint())
        .form_params(&auth_params(&pkce))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location: Url = r.headers()["location"].to_str().unwrap().parse().unwrap();
    let code = param(&query(&location), "code").unwrap();
    assert_eq!(redeem(&server, &code, &pkce.verifier).await.0, 200);
}

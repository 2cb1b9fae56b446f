//! The hybrid (`response_type=code id_token`, OIDC Core §3.3) and implicit
//! (`response_type=id_token`, §3.2) sign-in responses of the mock server:
//! first over plain HTTP (the fragment or the form, the front-channel ID
//! Token verified against the JWK Set with its `c_hash`, `s_hash` and
//! `nonce`, the code redeemed, the refused requests), then through the
//! client API end to end, with the spoiled responses the client must refuse.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidckit::testing::{
    AuthorizationResponseFault, IdTokenFault, MockAuthorizationServer, MockClient,
    MockServerBuilder,
};
use oidckit::{
    authorization_code_grant, build_authorization_url, calculate_pkce_code_challenge,
    implicit_authentication, random_nonce, random_pkce_code_verifier, random_state,
    AuthorizationChecks, Callback, ClientAuth, Configuration, ErrorKind, JwsAlgorithm, ManualClock,
    Url,
};
use serde_json::{json, Value};

const REDIRECT: &str = "https://app.example/cb";
const T0: u64 = 1_800_000_000;
const HYBRID: &str = "code id_token";
const IMPLICIT: &str = "id_token";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(T0),
    ))
}

/// A server on a manual clock at [`T0`], the user `alice`, and the public
/// clients (redirect URI [`REDIRECT`])
/// - `app`: registered for `code`, `code id_token` and `id_token`;
/// - `plain`: registered for the default, `code` only;
/// - `sign-in-only`: registered for `id_token` only.
fn builder(clock: &Arc<ManualClock>) -> MockServerBuilder {
    MockAuthorizationServer::builder()
        .client(
            MockClient::none("app")
                .redirect_uris([REDIRECT])
                .response_types(["code", HYBRID, IMPLICIT]),
        )
        .client(MockClient::none("plain").redirect_uris([REDIRECT]))
        .client(
            MockClient::none("sign-in-only")
                .redirect_uris([REDIRECT])
                .response_types([IMPLICIT]),
        )
        .subject("alice")
        .user_claims(json!({"email": "alice@example.com", "email_verified": true}))
        .clock(clock.clone())
}

async fn server() -> (MockAuthorizationServer, Arc<ManualClock>) {
    let clock = clock();
    (builder(&clock).start().await.unwrap(), clock)
}

fn issuer(server: &MockAuthorizationServer) -> String {
    server.issuer().as_str().trim_end_matches('/').to_owned()
}

type Params = Vec<(String, String)>;

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

/// The parameters of an authorization request of `client_id` for
/// `response_type`, with `state=st-1`, `nonce=n-1` and PKCE.
fn auth_params(client_id: &str, response_type: &str, pkce: &Pkce) -> Params {
    [
        ("response_type", response_type),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
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
fn set(params: &mut Params, name: &str, value: Option<&str>) {
    params.retain(|(k, _)| k != name);
    if let Some(v) = value {
        params.push((name.to_owned(), v.to_owned()));
    }
}

fn auth_url(server: &MockAuthorizationServer, params: &[(String, String)]) -> Url {
    let mut url = server.authorization_endpoint();
    url.query_pairs_mut().extend_pairs(params);
    url
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

/// The parameters in a callback URL's fragment; the URL must have no
/// query, and be the redirect URI once the fragment is cut.
fn fragment(callback: &Url) -> Params {
    assert_eq!(callback.query(), None, "{callback}");
    let mut without = callback.clone();
    without.set_fragment(None);
    assert_eq!(without.as_str(), REDIRECT);
    let fragment = callback.fragment().expect("a fragment");
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}

/// The parameters in a callback URL's query; the URL has no fragment.
fn query(callback: &Url) -> Params {
    assert_eq!(callback.fragment(), None, "{callback}");
    callback.query_pairs().into_owned().collect()
}

/// The left half of the hash of `value`, the hash chosen by `alg` (OIDC
/// Core §3.1.3.6, §3.3.2.11), computed independently of the server.
fn left_half_hash(alg: JwsAlgorithm, value: &str) -> String {
    let digest: Vec<u8> = match alg {
        JwsAlgorithm::ES256 | JwsAlgorithm::RS256 | JwsAlgorithm::PS256 => {
            openssl::sha::sha256(value.as_bytes()).to_vec()
        }
        JwsAlgorithm::EdDSA => openssl::sha::sha512(value.as_bytes()).to_vec(),
        other => panic!("no hash for {other}"),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

async fn jwks(server: &MockAuthorizationServer) -> Value {
    let response = reqwest::get(server.jwks_uri()).await.unwrap();
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// Checks a front-channel ID Token: verified with the JWK Set, the
/// protocol claims of `app`'s request at [`T0`], the `c_hash` of `code`
/// (none without a code), the `s_hash` of `st-1`, no `at_hash`. Returns
/// the claims.
async fn check_front_channel_id_token(
    server: &MockAuthorizationServer,
    alg: JwsAlgorithm,
    id_token: &str,
    code: Option<&str>,
) -> Value {
    let jwks = jwks(server).await;
    support::verify_with_jwks(id_token, &jwks).unwrap();
    let header = support::jwt_header(id_token);
    assert_eq!(header["alg"], alg.name());
    assert_eq!(header["kid"], server.signing_key_id().as_str());
    let c = support::jwt_claims(id_token);
    assert_eq!(c["iss"], issuer(server).as_str());
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["aud"], "app");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["iat"], T0);
    assert_eq!(c["exp"], T0 + 300);
    assert_eq!(c["auth_time"], T0);
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(c["s_hash"], left_half_hash(alg, "st-1").as_str());
    match code {
        Some(code) => assert_eq!(c["c_hash"], left_half_hash(alg, code).as_str()),
        None => assert!(c.get("c_hash").is_none(), "{c}"),
    }
    assert!(c.get("at_hash").is_none(), "{c}");
    assert!(c.get("azp").is_none(), "{c}");
    c
}

/// POSTs a form to the token endpoint: the status and the JSON body.
async fn token_request(server: &MockAuthorizationServer, form: &[(&str, &str)]) -> (u16, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = reqwest::Client::new()
        .post(server.token_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, body)
}

/// Redeems `code` as `app`.
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

#[tokio::test]
async fn discovery_lists_the_hybrid_and_implicit_response_types() {
    let (server, clock) = server().await;
    let config = oidckit::discovery(server.issuer(), "app", ClientAuth::none())
        .allow_insecure_requests(true)
        .clock(clock)
        .await
        .unwrap();
    let metadata = config.server_metadata();
    let types = metadata.response_types_supported.clone().unwrap();
    assert_eq!(types, ["code", HYBRID, IMPLICIT]);
    let modes = metadata.response_modes_supported.clone().unwrap();
    for mode in ["query", "fragment", "form_post"] {
        assert!(modes.iter().any(|m| m == mode), "{mode}: {modes:?}");
    }
}

/// The hybrid response over HTTP with the server signing with `alg`.
async fn hybrid_response_in_the_fragment(alg: JwsAlgorithm) {
    let clock = clock();
    let server = builder(&clock).signing_alg(alg).start().await.unwrap();
    let pkce = pkce();
    let callback = server
        .authorize(&auth_url(&server, &auth_params("app", HYBRID, &pkce)))
        .await
        .unwrap();
    let response = fragment(&callback);
    assert_eq!(names(&response), ["code", "id_token", "state", "iss"]);
    assert_eq!(param(&response, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&response, "iss"), Some(issuer(&server)));
    let code = param(&response, "code").unwrap();
    let id_token = param(&response, "id_token").unwrap();
    check_front_channel_id_token(&server, alg, &id_token, Some(&code)).await;
    assert_eq!(server.token_request_count(), 0);

    // The code is redeemed as in the code flow; the token endpoint's ID
    // Token is about the same user, with the at_hash of its access token.
    clock.advance(Duration::from_secs(5));
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    let access_token = body["access_token"].as_str().unwrap();
    let back_channel = body["id_token"].as_str().unwrap();
    support::verify_with_jwks(back_channel, &jwks(&server).await).unwrap();
    let c = support::jwt_claims(back_channel);
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["auth_time"], T0);
    assert_eq!(c["iat"], T0 + 5);
    assert_eq!(c["at_hash"], left_half_hash(alg, access_token).as_str());
    assert!(
        c.get("c_hash").is_none() && c.get("s_hash").is_none(),
        "{c}"
    );
    // And only once.
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn hybrid_response_in_the_fragment_es256() {
    hybrid_response_in_the_fragment(JwsAlgorithm::ES256).await;
}

#[tokio::test]
async fn hybrid_response_in_the_fragment_eddsa() {
    // Ed25519: the hashes are SHA-512's left halves.
    hybrid_response_in_the_fragment(JwsAlgorithm::EdDSA).await;
}

#[tokio::test]
async fn implicit_response_in_the_fragment() {
    let (server, _) = server().await;
    // No PKCE: there is no code.
    let mut params = auth_params("app", IMPLICIT, &pkce());
    set(&mut params, "code_challenge", None);
    set(&mut params, "code_challenge_method", None);
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    let response = fragment(&callback);
    assert_eq!(names(&response), ["id_token", "state", "iss"]);
    assert_eq!(param(&response, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&response, "iss"), Some(issuer(&server)));
    let id_token = param(&response, "id_token").unwrap();
    check_front_channel_id_token(&server, JwsAlgorithm::ES256, &id_token, None).await;

    // Without a state: no s_hash.
    set(&mut params, "state", None);
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    let response = fragment(&callback);
    assert_eq!(names(&response), ["id_token", "iss"]);
    let c = support::jwt_claims(&param(&response, "id_token").unwrap());
    assert_eq!(c["nonce"], "n-1");
    assert!(c.get("s_hash").is_none(), "{c}");
    assert_eq!(server.token_request_count(), 0);
}

#[tokio::test]
async fn response_type_words_come_in_any_order() {
    let (server, _) = server().await;
    let callback = server
        .authorize(&auth_url(
            &server,
            &auth_params("app", "id_token code", &pkce()),
        ))
        .await
        .unwrap();
    assert_eq!(
        names(&fragment(&callback)),
        ["code", "id_token", "state", "iss"]
    );
}

#[tokio::test]
async fn form_post_carries_the_same_parameters() {
    let (server, _) = server().await;
    let pkce = pkce();
    for (response_type, expected) in [
        (HYBRID, vec!["code", "id_token", "state", "iss"]),
        (IMPLICIT, vec!["id_token", "state", "iss"]),
    ] {
        let mut params = auth_params("app", response_type, &pkce);
        set(&mut params, "response_mode", Some("form_post"));
        let url = auth_url(&server, &params);
        let (action, form) = server.authorize_form_post(&url).await.unwrap();
        assert_eq!(action.as_str(), REDIRECT);
        assert_eq!(names(&form), expected, "{response_type}");
        let code = param(&form, "code");
        let id_token = param(&form, "id_token").unwrap();
        check_front_channel_id_token(&server, JwsAlgorithm::ES256, &id_token, code.as_deref())
            .await;
        // A page, not a redirect.
        let e = server.authorize(&url).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    }
    // The fragment default, asked for by name, is the same as unnamed.
    let mut params = auth_params("app", HYBRID, &pkce);
    set(&mut params, "response_mode", Some("fragment"));
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    assert_eq!(
        names(&fragment(&callback)),
        ["code", "id_token", "state", "iss"]
    );
}

/// Where a refused request's error went.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Channel {
    Fragment,
    Query,
}

/// A refused request: the client, the `response_type`, the parameter
/// changed (`None`: removed), the error, and where it goes.
type Refused = (
    &'static str,
    &'static str,
    (&'static str, Option<&'static str>),
    &'static str,
    Channel,
);

#[tokio::test]
async fn refused_requests_go_back_to_the_client() {
    let (server, _) = server().await;
    let pkce = pkce();
    use Channel::{Fragment, Query};
    let cases: Vec<Refused> = vec![
        // An ID Token never travels in the query (Multiple Response Types
        // §5), nor here in a JARM response.
        (
            "app",
            HYBRID,
            ("response_mode", Some("query")),
            "invalid_request",
            Fragment,
        ),
        (
            "app",
            IMPLICIT,
            ("response_mode", Some("query")),
            "invalid_request",
            Fragment,
        ),
        (
            "app",
            HYBRID,
            ("response_mode", Some("query.jwt")),
            "invalid_request",
            Fragment,
        ),
        (
            "app",
            HYBRID,
            ("response_mode", Some("jwt")),
            "invalid_request",
            Fragment,
        ),
        (
            "app",
            IMPLICIT,
            ("response_mode", Some("form_post.jwt")),
            "invalid_request",
            Fragment,
        ),
        (
            "app",
            IMPLICIT,
            ("response_mode", Some("fragment.jwt")),
            "invalid_request",
            Fragment,
        ),
        // A nonce is required, and an OpenID scope.
        ("app", HYBRID, ("nonce", None), "invalid_request", Fragment),
        (
            "app",
            IMPLICIT,
            ("nonce", None),
            "invalid_request",
            Fragment,
        ),
        (
            "app",
            IMPLICIT,
            ("nonce", Some("")),
            "invalid_request",
            Fragment,
        ),
        (
            "app",
            HYBRID,
            ("scope", Some("email")),
            "invalid_request",
            Fragment,
        ),
        // PKCE still, for the hybrid flow's code.
        (
            "app",
            HYBRID,
            ("code_challenge", None),
            "invalid_request",
            Fragment,
        ),
        // Only the registered response types.
        (
            "plain",
            HYBRID,
            ("state", Some("st-1")),
            "unauthorized_client",
            Fragment,
        ),
        (
            "plain",
            IMPLICIT,
            ("state", Some("st-1")),
            "unauthorized_client",
            Fragment,
        ),
        (
            "sign-in-only",
            "code",
            ("state", Some("st-1")),
            "unauthorized_client",
            Query,
        ),
        // No access token in the front channel: unsupported, answered as
        // for the code flow.
        (
            "app",
            "code id_token token",
            ("state", Some("st-1")),
            "unsupported_response_type",
            Query,
        ),
        (
            "app",
            "id_token token",
            ("state", Some("st-1")),
            "unsupported_response_type",
            Query,
        ),
        // The code flow does not answer in the fragment.
        (
            "app",
            "code",
            ("response_mode", Some("fragment")),
            "invalid_request",
            Query,
        ),
    ];
    for (client_id, response_type, (name, value), error, channel) in cases {
        let what = format!("{client_id} {response_type:?} {name}={value:?}");
        let mut params = auth_params(client_id, response_type, &pkce);
        set(&mut params, name, value);
        let callback = server
            .authorize(&auth_url(&server, &params))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let response = match channel {
            Channel::Fragment => fragment(&callback),
            Channel::Query => query(&callback),
        };
        assert_eq!(
            names(&response),
            ["error", "error_description", "state", "iss"],
            "{what}"
        );
        assert_eq!(param(&response, "error").as_deref(), Some(error), "{what}");
        assert_eq!(param(&response, "state").as_deref(), Some("st-1"));
        assert_eq!(param(&response, "iss"), Some(issuer(&server)));
    }
    // A refusal in form_post goes back in the form.
    let mut params = auth_params("plain", IMPLICIT, &pkce);
    set(&mut params, "response_mode", Some("form_post"));
    let (action, form) = server
        .authorize_form_post(&auth_url(&server, &params))
        .await
        .unwrap();
    assert_eq!(action.as_str(), REDIRECT);
    assert_eq!(
        param(&form, "error").as_deref(),
        Some("unauthorized_client")
    );
    // The same requests, fixed, are served; the default client keeps the
    // code flow.
    let callback = server
        .authorize(&auth_url(&server, &auth_params("plain", "code", &pkce)))
        .await
        .unwrap();
    assert_eq!(names(&query(&callback)), ["code", "state", "iss"]);
    let callback = server
        .authorize(&auth_url(
            &server,
            &auth_params("sign-in-only", IMPLICIT, &pkce),
        ))
        .await
        .unwrap();
    assert_eq!(names(&fragment(&callback)), ["id_token", "state", "iss"]);
}

#[tokio::test]
async fn a_pushed_hybrid_request_is_answered_in_the_fragment() {
    let (server, _) = server().await;
    let pkce = pkce();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(auth_params("app", HYBRID, &pkce))
        .finish();
    let pushed = reqwest::Client::new()
        .post(server.pushed_authorization_request_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201);
    let pushed: Value = serde_json::from_slice(&pushed.bytes().await.unwrap()).unwrap();
    let mut url = server.authorization_endpoint();
    url.query_pairs_mut()
        .append_pair("client_id", "app")
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    let response = fragment(&server.authorize(&url).await.unwrap());
    assert_eq!(names(&response), ["code", "id_token", "state", "iss"]);
    let code = param(&response, "code").unwrap();
    let id_token = param(&response, "id_token").unwrap();
    check_front_channel_id_token(&server, JwsAlgorithm::ES256, &id_token, Some(&code)).await;
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");

    // A hybrid push without a nonce is refused at the PAR endpoint.
    let mut params = auth_params("app", HYBRID, &pkce);
    set(&mut params, "nonce", None);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let refused = reqwest::Client::new()
        .post(server.pushed_authorization_request_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refused: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(refused["error"], "invalid_request");
}

#[tokio::test]
async fn id_token_faults_reach_the_front_channel_token() {
    let (server, _) = server().await;
    let pkce = pkce();
    // IdTokenFault::claims with null removes c_hash.
    server.tamper_next_id_token(IdTokenFault::claims(json!({"c_hash": null})));
    let callback = server
        .authorize(&auth_url(&server, &auth_params("app", HYBRID, &pkce)))
        .await
        .unwrap();
    let response = fragment(&callback);
    let id_token = param(&response, "id_token").unwrap();
    support::verify_with_jwks(&id_token, &jwks(&server).await).unwrap();
    let c = support::jwt_claims(&id_token);
    assert!(c.get("c_hash").is_none(), "{c}");
    assert_eq!(
        c["s_hash"],
        left_half_hash(JwsAlgorithm::ES256, "st-1").as_str()
    );
    // The fault is used up: the token endpoint's ID Token is normal.
    let code = param(&response, "code").unwrap();
    let (status, body) = redeem(&server, &code, &pkce.verifier).await;
    assert_eq!(status, 200, "{body}");
    support::verify_with_jwks(body["id_token"].as_str().unwrap(), &jwks(&server).await).unwrap();

    // A response fault can take the ID Token out.
    server.tamper_next_authorization_response(AuthorizationResponseFault::MissingParam(
        "id_token".into(),
    ));
    let callback = server
        .authorize(&auth_url(&server, &auth_params("app", HYBRID, &pkce)))
        .await
        .unwrap();
    assert_eq!(names(&fragment(&callback)), ["code", "state", "iss"]);
    // An error fault: no code, no ID Token, in the fragment.
    server.tamper_next_authorization_response(AuthorizationResponseFault::Error {
        error: "access_denied".into(),
        description: None,
    });
    let callback = server
        .authorize(&auth_url(&server, &auth_params("app", IMPLICIT, &pkce)))
        .await
        .unwrap();
    assert_eq!(names(&fragment(&callback)), ["error", "state", "iss"]);
}

// The client API, end to end.

fn config(
    server: &MockAuthorizationServer,
    clock: &Arc<ManualClock>,
    client_id: &str,
) -> Configuration {
    Configuration::builder(server.server_metadata(), client_id, ClientAuth::none())
        .allow_insecure_requests(true)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// What the application keeps in the user's session.
struct Pending {
    verifier: String,
    state: String,
    nonce: String,
    url: Url,
}

impl Pending {
    /// An authorization request for `response_type` (and `extra`), built by
    /// the client.
    fn new(config: &Configuration, response_type: &str, extra: &[(&str, &str)]) -> Self {
        let verifier = random_pkce_code_verifier();
        let (state, nonce) = (random_state(), random_nonce());
        let challenge = calculate_pkce_code_challenge(&verifier);
        let mut params = vec![
            ("response_type", response_type),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
        ];
        params.extend_from_slice(extra);
        let url = build_authorization_url(config, &params).unwrap();
        Pending {
            verifier,
            state,
            nonce,
            url,
        }
    }

    fn checks(&self) -> AuthorizationChecks {
        AuthorizationChecks::new()
            .pkce_code_verifier(&self.verifier)
            .expected_state(&self.state)
            .expected_nonce(&self.nonce)
    }
}

/// A form_post page's parameters as the body the browser posts.
fn form_body(form: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

#[tokio::test]
async fn the_client_signs_in_with_the_hybrid_flow() {
    let (server, clock) = server().await;
    let config = config(&server, &clock, "app");

    // In the fragment.
    let pending = Pending::new(&config, HYBRID, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    let code = param(&fragment(&callback), "code").unwrap();
    let tokens = authorization_code_grant(&config, &callback, &pending.checks().hybrid())
        .await
        .unwrap();
    let claims = tokens.claims().expect("the token endpoint's ID Token");
    assert_eq!(claims.subject(), "alice");
    assert_eq!(claims.nonce(), Some(pending.nonce.as_str()));
    assert_eq!(claims.email(), Some("alice@example.com"));
    // The code went with the verifier and the redirect URI without the
    // fragment.
    assert_eq!(server.token_request_count(), 1);
    let request = server.last_token_request().unwrap();
    assert_eq!(request.param("code"), Some(code.as_str()));
    assert_eq!(request.param("redirect_uri"), Some(REDIRECT));
    assert_eq!(
        request.param("code_verifier"),
        Some(pending.verifier.as_str())
    );

    // In a form post.
    let pending = Pending::new(&config, HYBRID, &[("response_mode", "form_post")]);
    let (action, form) = server.authorize_form_post(&pending.url).await.unwrap();
    let body = form_body(&form);
    let tokens = authorization_code_grant(
        &config,
        Callback::form_post(&action, body.as_bytes()),
        &pending.checks().hybrid(),
    )
    .await
    .unwrap();
    assert_eq!(tokens.claims().unwrap().subject(), "alice");
    assert_eq!(server.token_request_count(), 2);
}

#[tokio::test]
async fn the_client_signs_in_with_the_implicit_flow() {
    let (server, clock) = server().await;
    let config = config(&server, &clock, "app");
    let pending = Pending::new(&config, IMPLICIT, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    let claims = implicit_authentication(&config, &callback, &pending.checks())
        .await
        .unwrap();
    assert_eq!(claims.subject(), "alice");
    assert_eq!(claims.nonce(), Some(pending.nonce.as_str()));
    assert_eq!(claims.email(), Some("alice@example.com"));
    assert_eq!(
        claims.auth_time(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(T0))
    );

    let pending = Pending::new(&config, IMPLICIT, &[("response_mode", "form_post")]);
    let (action, form) = server.authorize_form_post(&pending.url).await.unwrap();
    let body = form_body(&form);
    let claims = implicit_authentication(
        &config,
        Callback::form_post(&action, body.as_bytes()),
        &pending.checks(),
    )
    .await
    .unwrap();
    assert_eq!(claims.subject(), "alice");
    // Nothing went to the token endpoint.
    assert_eq!(server.token_request_count(), 0);
}

/// A spoiled hybrid response; `redeemed` says whether the client got as far
/// as the token endpoint.
struct Spoiled {
    fault: Result<IdTokenFault, AuthorizationResponseFault>,
    kind: ErrorKind,
    redeemed: bool,
}

#[tokio::test]
async fn the_client_refuses_spoiled_hybrid_responses() {
    let (server, clock) = server().await;
    let config = config(&server, &clock, "app");
    let spoiled = |fault, kind, redeemed| Spoiled {
        fault,
        kind,
        redeemed,
    };
    let claims = |changes: Value| Ok(IdTokenFault::claims(changes));
    let cases = vec![
        // c_hash is required in a hybrid response's ID Token.
        spoiled(
            claims(json!({"c_hash": null})),
            ErrorKind::ClaimComparison,
            false,
        ),
        // The c_hash of another code.
        spoiled(
            claims(json!({"c_hash": left_half_hash(JwsAlgorithm::ES256, "another-code")})),
            ErrorKind::ClaimComparison,
            false,
        ),
        // The s_hash of another state.
        spoiled(
            claims(json!({"s_hash": left_half_hash(JwsAlgorithm::ES256, "another-state")})),
            ErrorKind::ClaimComparison,
            false,
        ),
        // Another nonce, or none: a replayed ID Token.
        spoiled(
            claims(json!({"nonce": "another-nonce"})),
            ErrorKind::ClaimComparison,
            false,
        ),
        spoiled(
            claims(json!({"nonce": null})),
            ErrorKind::ClaimComparison,
            false,
        ),
        spoiled(
            Ok(IdTokenFault::Signature),
            ErrorKind::SignatureVerification,
            false,
        ),
        spoiled(
            Ok(IdTokenFault::AlgNone),
            ErrorKind::UnsupportedAlgorithm,
            false,
        ),
        // No ID Token at all.
        spoiled(
            Err(AuthorizationResponseFault::MissingParam("id_token".into())),
            ErrorKind::InvalidResponse,
            false,
        ),
        // The front channel's ID Token is about another user: the token
        // endpoint's (for alice) does not match it (OIDC Core §3.3.3.6).
        spoiled(
            claims(json!({"sub": "mallory"})),
            ErrorKind::ClaimComparison,
            true,
        ),
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let what = format!("case {i}: {:?}", case.fault);
        match case.fault.clone() {
            Ok(fault) => server.tamper_next_id_token(fault),
            Err(fault) => server.tamper_next_authorization_response(fault),
        }
        let before = server.token_request_count();
        let pending = Pending::new(&config, HYBRID, &[]);
        let callback = server.authorize(&pending.url).await.unwrap();
        let e = authorization_code_grant(&config, &callback, &pending.checks().hybrid())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), case.kind, "{what}: {e}");
        assert_eq!(
            server.token_request_count() - before,
            usize::from(case.redeemed),
            "{what}"
        );
    }
    // Each fault spoiled one response: the next sign-in succeeds.
    let pending = Pending::new(&config, HYBRID, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    authorization_code_grant(&config, &callback, &pending.checks().hybrid())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_client_refuses_spoiled_implicit_responses() {
    let (server, clock) = server().await;
    let config = config(&server, &clock, "app");
    let cases = [
        (
            json!({"s_hash": left_half_hash(JwsAlgorithm::ES256, "another-state")}),
            ErrorKind::ClaimComparison,
        ),
        (
            json!({"nonce": "another-nonce"}),
            ErrorKind::ClaimComparison,
        ),
        (json!({"nonce": null}), ErrorKind::ClaimComparison),
        (json!({"aud": "someone-else"}), ErrorKind::ClaimComparison),
        (json!({"exp": T0 - 600}), ErrorKind::TimestampCheck),
    ];
    for (changes, kind) in cases {
        server.tamper_next_id_token(IdTokenFault::claims(changes.clone()));
        let pending = Pending::new(&config, IMPLICIT, &[]);
        let callback = server.authorize(&pending.url).await.unwrap();
        let e = implicit_authentication(&config, &callback, &pending.checks())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{changes}: {e}");
    }
    // A code in an implicit response: not what was asked for.
    server.tamper_next_authorization_response(AuthorizationResponseFault::ExtraParam(
        "code".into(),
        "c0de".into(),
    ));
    let pending = Pending::new(&config, IMPLICIT, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    let e = implicit_authentication(&config, &callback, &pending.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedOperation, "{e}");
    // The faults are used up.
    let pending = Pending::new(&config, IMPLICIT, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    implicit_authentication(&config, &callback, &pending.checks())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_client_gets_the_servers_refusals_as_oauth_errors() {
    let (server, clock) = server().await;
    // `plain` did not register the hybrid and implicit response types.
    let plain = config(&server, &clock, "plain");
    let pending = Pending::new(&plain, HYBRID, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    let e = authorization_code_grant(&plain, &callback, &pending.checks().hybrid())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("unauthorized_client")
    );
    let pending = Pending::new(&plain, IMPLICIT, &[]);
    let callback = server.authorize(&pending.url).await.unwrap();
    let e = implicit_authentication(&plain, &callback, &pending.checks())
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("unauthorized_client"),
        "{e}"
    );

    // The query response mode is refused for both (the error comes back in
    // the fragment).
    let app = config(&server, &clock, "app");
    let pending = Pending::new(&app, HYBRID, &[("response_mode", "query")]);
    let callback = server.authorize(&pending.url).await.unwrap();
    let e = authorization_code_grant(&app, &callback, &pending.checks().hybrid())
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("invalid_request"),
        "{e}"
    );
    let pending = Pending::new(&app, IMPLICIT, &[("response_mode", "query")]);
    let callback = server.authorize(&pending.url).await.unwrap();
    let e = implicit_authentication(&app, &callback, &pending.checks())
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("invalid_request"),
        "{e}"
    );
    assert_eq!(server.token_request_count(), 0);
}

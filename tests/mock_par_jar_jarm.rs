//! Hardened authorization requests at the mock server, driven with plain
//! HTTP: pushed authorization requests (PAR, RFC 9126), request objects
//! (JAR, RFC 9101), JWT-secured authorization responses (JARM), the DPoP
//! binding of a pushed request's code (RFC 9449 §10), and the JARM faults.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsSigner};
use oidckit::testing::{
    AuthorizationResponseFault, Fault, MockAuthorizationServer, MockClient, MockServerBuilder,
};
use oidckit::{ClientAuth, Configuration, DPoPHandle, JwsAlgorithm, ManualClock};
use serde_json::{json, Map, Value};
use url::Url;

const REDIRECT: &str = "https://app.example/cb";
const T0: u64 = 1_700_000_000;
const SECRET: &str = "s3cr3t";
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0))
}

/// A client's key pair, made with josekit (not the crate under test).
struct ClientKey {
    alg: &'static str,
    private: Jwk,
    public: Map<String, Value>,
}

impl ClientKey {
    fn new(alg: &'static str, kid: &str) -> Self {
        let mut private = match alg {
            "ES256" => jws::ES256.generate_key_pair().unwrap().to_jwk_key_pair(),
            "PS256" | "RS256" => jws::RS256
                .generate_key_pair(2048)
                .unwrap()
                .to_jwk_key_pair(),
            other => panic!("no key for {other}"),
        };
        private.set_algorithm(alg);
        private.set_key_id(kid);
        let public = private.to_public_key().unwrap().as_ref().clone();
        ClientKey {
            alg,
            private,
            public,
        }
    }

    /// Signs `claims` with `header` (plus this key's `alg` and `kid`).
    fn sign(&self, header: Value, claims: &Value) -> String {
        let mut header = header.as_object().unwrap().clone();
        header.insert("alg".into(), self.alg.into());
        header.insert("kid".into(), self.private.key_id().unwrap().into());
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signer: Box<dyn JwsSigner> = match self.alg {
            "ES256" => Box::new(jws::ES256.signer_from_jwk(&self.private).unwrap()),
            "PS256" => Box::new(jws::PS256.signer_from_jwk(&self.private).unwrap()),
            "RS256" => Box::new(jws::RS256.signer_from_jwk(&self.private).unwrap()),
            other => panic!("no signer for {other}"),
        };
        let signature = signer.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A request object (RFC 9101): `typ: oauth-authz-req+jwt`.
    fn request_object(&self, claims: &Value) -> String {
        self.sign(json!({"typ": "oauth-authz-req+jwt"}), claims)
    }
}

/// The keys of the clients of [`builder`].
struct Keys {
    /// `pkjwt`'s `private_key_jwt` key, which also signs its request objects.
    es256: ClientKey,
    /// `jar-ps`'s request object key.
    ps256: ClientKey,
}

fn keys() -> Keys {
    Keys {
        es256: ClientKey::new("ES256", "es-1"),
        ps256: ClientKey::new("PS256", "ps-1"),
    }
}

/// A server on a manual clock at [`T0`] with the clients
/// - `app`: public (`none`), no request object key;
/// - `basic`: `client_secret_basic` with [`SECRET`];
/// - `pkjwt`: `private_key_jwt` with the ES256 key;
/// - `jar-ps`: `client_secret_basic`, request objects signed with PS256;
///
/// all with the redirect URI [`REDIRECT`].
fn builder(clock: &ManualClock, keys: &Keys) -> MockServerBuilder {
    MockAuthorizationServer::builder()
        .client(MockClient::none("app").redirect_uris([REDIRECT]))
        .client(MockClient::client_secret_basic("basic", SECRET).redirect_uris([REDIRECT]))
        .client(MockClient::private_key_jwt("pkjwt", &keys.es256.public).redirect_uris([REDIRECT]))
        .client(
            MockClient::client_secret_basic("jar-ps", SECRET)
                .redirect_uris([REDIRECT])
                .request_object_key(&keys.ps256.public),
        )
        .subject("alice")
        .clock(Arc::new(clock.clone()))
}

async fn server() -> (MockAuthorizationServer, ManualClock, Keys) {
    let clock = clock();
    let keys = keys();
    let server = builder(&clock, &keys).start().await.unwrap();
    (server, clock, keys)
}

fn issuer(server: &MockAuthorizationServer) -> String {
    server.issuer().as_str().trim_end_matches('/').to_owned()
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

type Params = Vec<(String, String)>;

/// The parameters of a normal authorization request of `client_id`.
fn auth_params(client_id: &str, pkce: &Pkce) -> Params {
    [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", &pkce.challenge),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The same parameters as request object claims (RFC 9101 §4) of a
/// request object valid from [`T0`] for 60 seconds.
fn object_claims(server: &MockAuthorizationServer, client_id: &str, pkce: &Pkce) -> Value {
    let mut claims: Map<String, Value> = auth_params(client_id, pkce)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    claims.insert("iss".into(), client_id.into());
    claims.insert("aud".into(), issuer(server).into());
    claims.insert("iat".into(), T0.into());
    claims.insert("nbf".into(), T0.into());
    claims.insert("exp".into(), (T0 + 60).into());
    claims.insert("jti".into(), URL_SAFE_NO_PAD.encode(rand16()).into());
    Value::Object(claims)
}

fn rand16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    bytes
}

/// Sets (or, with `None`, removes) a parameter.
fn set(params: &mut Params, name: &str, value: Option<&str>) {
    params.retain(|(k, _)| k != name);
    if let Some(v) = value {
        params.push((name.to_owned(), v.to_owned()));
    }
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

fn pairs(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn auth_url(server: &MockAuthorizationServer, params: &[(String, String)]) -> Url {
    let mut url = server.authorization_endpoint();
    url.query_pairs_mut().extend_pairs(params);
    url
}

fn query(url: &Url) -> Params {
    url.query_pairs().into_owned().collect()
}

/// A response's status, headers and JSON body.
async fn read(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).expect("a JSON body");
    (status, headers, body)
}

/// How a request authenticates the client.
enum Auth<'a> {
    /// `client_secret_basic` as `(id, secret)`.
    Basic(&'a str, &'a str),
    /// `private_key_jwt`: an assertion for this audience, signed with the key.
    Jwt(&'a str, &'a ClientKey, &'a str),
    /// Only the `client_id` already in the form.
    None,
}

/// POSTs `form` (plus the client authentication) to `url`, with a `DPoP`
/// header if given.
async fn post(
    url: Url,
    form: &[(String, String)],
    auth: Auth<'_>,
    dpop: Option<String>,
) -> reqwest::Response {
    let mut form = form.to_vec();
    let mut request = reqwest::Client::new().post(url);
    match auth {
        Auth::Basic(id, secret) => {
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
            );
        }
        Auth::Jwt(id, key, aud) => {
            let assertion = key.sign(
                json!({"typ": "JWT"}),
                &json!({
                    "iss": id, "sub": id, "aud": aud, "iat": T0, "exp": T0 + 60,
                    "jti": URL_SAFE_NO_PAD.encode(rand16()),
                }),
            );
            set(&mut form, "client_id", Some(id));
            form.push((
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ));
            form.push(("client_assertion".into(), assertion));
        }
        Auth::None => {}
    }
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A pushed authorization request: the status, headers and JSON body.
async fn push(
    server: &MockAuthorizationServer,
    form: &[(String, String)],
    auth: Auth<'_>,
    dpop: Option<String>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    read(
        post(
            server.pushed_authorization_request_endpoint(),
            form,
            auth,
            dpop,
        )
        .await,
    )
    .await
}

/// Pushes `form` (expecting a 201) and returns its `request_uri`.
async fn pushed(
    server: &MockAuthorizationServer,
    form: &[(String, String)],
    auth: Auth<'_>,
) -> String {
    let (status, _, body) = push(server, form, auth, None).await;
    assert_eq!(status, 201, "{body}");
    body["request_uri"].as_str().unwrap().to_owned()
}

/// The authorization URL of a pushed request (RFC 9126 §4).
fn par_url(server: &MockAuthorizationServer, client_id: &str, request_uri: &str) -> Url {
    auth_url(
        server,
        &pairs(&[("client_id", client_id), ("request_uri", request_uri)]),
    )
}

/// Plays the browser; the callback's parameters (it must go to
/// [`REDIRECT`]).
async fn callback(server: &MockAuthorizationServer, url: &Url) -> Params {
    let callback = server.authorize(url).await.unwrap();
    assert_eq!(callback.as_str().split('?').next(), Some(REDIRECT));
    query(&callback)
}

/// A 400 of the authorization endpoint (no redirect): its JSON error code.
async fn refused(server: &MockAuthorizationServer, url: &Url) -> String {
    let err = server.authorize(url).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
    let body: Value = serde_json::from_str(err.body_snippet().unwrap()).unwrap();
    body["error"].as_str().unwrap().to_owned()
}

/// Redeems `code` at the token endpoint.
async fn redeem(
    server: &MockAuthorizationServer,
    client_id: &str,
    auth: Auth<'_>,
    code: &str,
    verifier: &str,
    dpop: Option<String>,
) -> (u16, Value) {
    let mut form = pairs(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]);
    // The token endpoint refuses client_id both in Basic and in the body.
    if let Auth::Basic(..) = auth {
        set(&mut form, "client_id", None);
    }
    let (status, _, body) = read(post(server.token_endpoint(), &form, auth, dpop).await).await;
    (status, body)
}

async fn jwks(server: &MockAuthorizationServer) -> Value {
    serde_json::from_slice(
        &reqwest::get(server.jwks_uri())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap()
}

fn header(jwt: &str) -> Value {
    support::jwt_header(jwt)
}

fn claims(jwt: &str) -> Value {
    support::jwt_claims(jwt)
}

#[tokio::test]
async fn par_with_client_secret_basic_then_authorize_and_redeem() {
    let (server, clock, _) = server().await;
    let pkce = pkce();
    let mut form = auth_params("basic", &pkce);
    // Basic authentication: client_id may be left out of the form.
    set(&mut form, "client_id", None);
    let (status, headers, body) = push(&server, &form, Auth::Basic("basic", SECRET), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap();
    let random = request_uri.strip_prefix(REQUEST_URI_PREFIX).unwrap();
    assert!(random.len() >= 32, "{request_uri}");
    assert_eq!(server.par_request_count(), 1);

    // RFC 9126 §4: only client_id and request_uri count; other parameters
    // of the front channel are ignored.
    let mut params = pairs(&[("client_id", "basic"), ("request_uri", request_uri)]);
    params.extend(pairs(&[
        ("state", "forged"),
        ("redirect_uri", "https://evil.example/cb"),
        ("response_mode", "form_post"),
    ]));
    clock.advance(Duration::from_secs(59));
    let q = callback(&server, &auth_url(&server, &params)).await;
    assert_eq!(names(&q), ["code", "state", "iss"]);
    assert_eq!(param(&q, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&q, "iss"), Some(issuer(&server)));
    let code = param(&q, "code").unwrap();
    let (status, body) = redeem(
        &server,
        "basic",
        Auth::Basic("basic", SECRET),
        &code,
        &pkce.verifier,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(claims(id_token)["nonce"], "n-1");
    assert_eq!(claims(id_token)["aud"], "basic");
    // The push is recorded like every request, with the client's form.
    let last = server
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/par"))
        .unwrap();
    assert_eq!(last.param("code_challenge"), Some(pkce.challenge.as_str()));
}

#[tokio::test]
async fn par_with_private_key_jwt() {
    let (server, _, keys) = server().await;
    let pkce = pkce();
    let par = server.pushed_authorization_request_endpoint();
    // RFC 9126 §2: the PAR endpoint's URL is an audience too (and the
    // issuer, and the token endpoint).
    for aud in [
        par.to_string(),
        issuer(&server),
        server.token_endpoint().to_string(),
    ] {
        let request_uri = pushed(
            &server,
            &auth_params("pkjwt", &pkce),
            Auth::Jwt("pkjwt", &keys.es256, &aud),
        )
        .await;
        assert!(request_uri.starts_with(REQUEST_URI_PREFIX));
    }
    let request_uri = pushed(
        &server,
        &auth_params("pkjwt", &pkce),
        Auth::Jwt("pkjwt", &keys.es256, par.as_str()),
    )
    .await;
    let q = callback(&server, &par_url(&server, "pkjwt", &request_uri)).await;
    let code = param(&q, "code").unwrap();
    let token = server.token_endpoint().to_string();
    let (status, body) = redeem(
        &server,
        "pkjwt",
        Auth::Jwt("pkjwt", &keys.es256, &token),
        &code,
        &pkce.verifier,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // An assertion for another audience is refused.
    let (status, _, body) = push(
        &server,
        &auth_params("pkjwt", &pkce),
        Auth::Jwt("pkjwt", &keys.es256, "https://other.example"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn request_uri_is_one_time_unexpired_and_for_its_client() {
    let (server, clock, _) = server().await;
    let pkce = pkce();
    let form = auth_params("basic", &pkce);
    let request_uri = pushed(&server, &form, Auth::Basic("basic", SECRET)).await;
    // Another client cannot use it, nor burn it.
    let err = refused(&server, &par_url(&server, "app", &request_uri)).await;
    assert_eq!(err, "invalid_request_uri");
    let url = par_url(&server, "basic", &request_uri);
    assert!(param(&callback(&server, &url).await, "code").is_some());
    // Used: refused.
    assert_eq!(refused(&server, &url).await, "invalid_request_uri");
    // Expired after 60 seconds.
    let request_uri = pushed(&server, &form, Auth::Basic("basic", SECRET)).await;
    clock.advance(Duration::from_secs(60));
    let url = par_url(&server, "basic", &request_uri);
    assert_eq!(refused(&server, &url).await, "invalid_request_uri");
    // Unknown ones, and request_uri with request, are refused.
    let unknown = format!("{REQUEST_URI_PREFIX}nope");
    let url = par_url(&server, "basic", &unknown);
    assert_eq!(refused(&server, &url).await, "invalid_request_uri");
    let url = par_url(&server, "basic", "https://app.example/request.jwt");
    assert_eq!(refused(&server, &url).await, "invalid_request_uri");
    let mut params = pairs(&[("client_id", "basic"), ("request_uri", &unknown)]);
    set(&mut params, "request", Some("eyJ.e30.x"));
    assert_eq!(
        refused(&server, &auth_url(&server, &params)).await,
        "invalid_request"
    );
}

#[tokio::test]
async fn par_required_by_the_server() {
    let clock = clock();
    let keys = keys();
    let server = builder(&clock, &keys)
        .require_pushed_authorization_requests(true)
        .start()
        .await
        .unwrap();
    let metadata = server.server_metadata();
    assert_eq!(metadata.require_pushed_authorization_requests, Some(true));
    let pkce = pkce();
    let plain = auth_url(&server, &auth_params("app", &pkce));
    assert_eq!(refused(&server, &plain).await, "invalid_request");
    // A request object without PAR is refused too.
    let jar = auth_url(
        &server,
        &pairs(&[
            ("client_id", "pkjwt"),
            (
                "request",
                &keys
                    .es256
                    .request_object(&object_claims(&server, "pkjwt", &pkce)),
            ),
        ]),
    );
    assert_eq!(refused(&server, &jar).await, "invalid_request");
    // Pushed: fine, for a public client too.
    let request_uri = pushed(&server, &auth_params("app", &pkce), Auth::None).await;
    let q = callback(&server, &par_url(&server, "app", &request_uri)).await;
    assert!(param(&q, "code").is_some());
}

#[tokio::test]
async fn par_required_by_one_client() {
    let clock = clock();
    let keys = keys();
    let server = builder(&clock, &keys)
        .client(
            MockClient::none("strict")
                .redirect_uris([REDIRECT])
                .require_pushed_authorization_requests(true),
        )
        .start()
        .await
        .unwrap();
    assert_eq!(
        server
            .server_metadata()
            .require_pushed_authorization_requests,
        Some(false)
    );
    let pkce = pkce();
    let url = auth_url(&server, &auth_params("strict", &pkce));
    assert_eq!(refused(&server, &url).await, "invalid_request");
    let url = auth_url(&server, &auth_params("app", &pkce));
    assert!(param(&callback(&server, &url).await, "code").is_some());
    let request_uri = pushed(&server, &auth_params("strict", &pkce), Auth::None).await;
    let q = callback(&server, &par_url(&server, "strict", &request_uri)).await;
    assert!(param(&q, "code").is_some());
}

#[tokio::test]
async fn par_with_bad_client_authentication_is_401() {
    let (server, _, _) = server().await;
    let form = auth_params("basic", &pkce());
    let (status, headers, body) = push(&server, &form, Auth::Basic("basic", "wrong"), None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    // A confidential client that does not authenticate.
    let (status, _, body) = push(&server, &form, Auth::None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // An unknown client.
    let form = auth_params("nobody", &pkce());
    let (status, _, body) = push(&server, &form, Auth::None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(server.par_request_count(), 3);
}

#[tokio::test]
async fn par_refuses_what_the_authorization_endpoint_refuses() {
    let (server, _, _) = server().await;
    let pkce = pkce();
    let basic = || Auth::Basic("basic", SECRET);
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        // RFC 9126 §2.1.
        (
            "request_uri",
            Some("urn:ietf:params:oauth:request_uri:x"),
            "invalid_request",
        ),
        ("client_id", Some("app"), "invalid_request"),
        (
            "redirect_uri",
            Some("https://evil.example/cb"),
            "invalid_request",
        ),
        ("redirect_uri", None, "invalid_request"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("response_mode", Some("fragment.jwt"), "invalid_request"),
    ];
    for (name, value, error) in cases {
        let mut form = auth_params("basic", &pkce);
        set(&mut form, name, value);
        let (status, _, body) = push(&server, &form, basic(), None).await;
        assert_eq!(status, 400, "{name}={value:?}: {body}");
        assert_eq!(body["error"], error, "{name}={value:?}");
        assert!(body["error_description"].is_string());
    }
    // The same form, fixed, is accepted.
    let (status, _, _) = push(&server, &auth_params("basic", &pkce), basic(), None).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn par_faults_and_count() {
    let (server, _, _) = server().await;
    let form = auth_params("app", &pkce());
    server.fail_next_par_request(Fault::json(
        503,
        json!({"error": "temporarily_unavailable"}),
    ));
    let (status, _, body) = push(&server, &form, Auth::None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    let (status, _, _) = push(&server, &form, Auth::None, None).await;
    assert_eq!(status, 201);
    assert_eq!(server.par_request_count(), 2);
}

/// A configuration for `client_id` on the server's manual clock (for DPoP
/// proofs).
fn config(server: &MockAuthorizationServer, clock: &ManualClock, client_id: &str) -> Configuration {
    Configuration::builder(server.server_metadata(), client_id, ClientAuth::none())
        .allow_insecure_requests(true)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn par_with_dpop_binds_the_code() {
    let (server, clock, _) = server().await;
    let config = config(&server, &clock, "app");
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let other = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let par = server.pushed_authorization_request_endpoint();
    let token = server.token_endpoint();
    // A code from a push with dpop's proof.
    let code_for = |pkce: &Pkce| {
        let form = auth_params("app", pkce);
        let proof = dpop.proof("POST", &par, None).unwrap();
        let server = &server;
        async move {
            let (status, _, body) = push(server, &form, Auth::None, Some(proof)).await;
            assert_eq!(status, 201, "{body}");
            let request_uri = body["request_uri"].as_str().unwrap().to_owned();
            let q = callback(server, &par_url(server, "app", &request_uri)).await;
            param(&q, "code").unwrap()
        }
    };
    let pkce = pkce();
    // Without a proof: invalid_grant.
    let code = code_for(&pkce).await;
    let (status, body) = redeem(&server, "app", Auth::None, &code, &pkce.verifier, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // With another key's proof: invalid_grant.
    let code = code_for(&pkce).await;
    let proof = other.proof("POST", &token, None).unwrap();
    let (status, body) = redeem(
        &server,
        "app",
        Auth::None,
        &code,
        &pkce.verifier,
        Some(proof),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // With the key's proof: a DPoP-bound token.
    let code = code_for(&pkce).await;
    let proof = dpop.proof("POST", &token, None).unwrap();
    let (status, body) = redeem(
        &server,
        "app",
        Auth::None,
        &code,
        &pkce.verifier,
        Some(proof),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(
        server.token_binding(access_token).as_deref(),
        Some(dpop.thumbprint())
    );

    // A proof for another URL is refused at the PAR endpoint.
    let form = auth_params("app", &pkce);
    let proof = dpop.proof("POST", &token, None).unwrap();
    let (status, _, body) = push(&server, &form, Auth::None, Some(proof)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    // dpop_jkt must name the proof's key (RFC 9449 §10.1).
    let mut form = auth_params("app", &pkce);
    set(&mut form, "dpop_jkt", Some(other.thumbprint()));
    let proof = dpop.proof("POST", &par, None).unwrap();
    let (status, _, body) = push(&server, &form, Auth::None, Some(proof)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
}

#[tokio::test]
async fn dpop_jkt_parameter_binds_the_code() {
    let (server, clock, _) = server().await;
    let config = config(&server, &clock, "app");
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let other = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let token = server.token_endpoint();
    let pkce = pkce();
    let mut form = auth_params("app", &pkce);
    set(&mut form, "dpop_jkt", Some(dpop.thumbprint()));
    // Pushed without a proof, and at the authorization endpoint directly.
    let request_uri = pushed(&server, &form, Auth::None).await;
    for url in [
        par_url(&server, "app", &request_uri),
        auth_url(&server, &form),
    ] {
        let code = param(&callback(&server, &url).await, "code").unwrap();
        let proof = other.proof("POST", &token, None).unwrap();
        let (status, body) = redeem(
            &server,
            "app",
            Auth::None,
            &code,
            &pkce.verifier,
            Some(proof),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }
    let code = param(&callback(&server, &auth_url(&server, &form)).await, "code").unwrap();
    let proof = dpop.proof("POST", &token, None).unwrap();
    let (status, body) = redeem(
        &server,
        "app",
        Auth::None,
        &code,
        &pkce.verifier,
        Some(proof),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn dpop_nonce_retry_keeps_the_code_and_par_asks_for_the_nonce() {
    let clock = clock();
    let keys = keys();
    let server = builder(&clock, &keys)
        .require_dpop_nonce(true)
        .start()
        .await
        .unwrap();
    let config = config(&server, &clock, "app");
    let token = server.token_endpoint();
    let pkce = pkce();
    let form = auth_params("app", &pkce);
    // Token endpoint: the proof without the nonce is refused, and does not
    // spend the code.
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let code = param(&callback(&server, &auth_url(&server, &form)).await, "code").unwrap();
    let redeem_form = pairs(&[
        ("grant_type", "authorization_code"),
        ("client_id", "app"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &pkce.verifier),
    ]);
    let proof = dpop.proof("POST", &token, None).unwrap();
    let response = post(token.clone(), &redeem_form, Auth::None, Some(proof)).await;
    let (status, headers, body) = read(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    dpop.record_nonce(&token, &headers);
    let proof = dpop.proof("POST", &token, None).unwrap();
    assert_eq!(claims(&proof)["nonce"], server.dpop_nonce().as_str());
    let (status, body) = redeem(
        &server,
        "app",
        Auth::None,
        &code,
        &pkce.verifier,
        Some(proof),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // PAR: the same, with the nonce in DPoP-Nonce.
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let par = server.pushed_authorization_request_endpoint();
    let proof = dpop.proof("POST", &par, None).unwrap();
    let (status, headers, body) = push(&server, &form, Auth::None, Some(proof)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    assert_eq!(headers["dpop-nonce"].to_str().unwrap(), server.dpop_nonce());
    dpop.record_nonce(&par, &headers);
    let proof = dpop.proof("POST", &par, None).unwrap();
    let (status, _, body) = push(&server, &form, Auth::None, Some(proof)).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn jar_signed_with_es256_and_ps256() {
    let (server, _, keys) = server().await;
    for (client_id, key, auth) in [
        ("pkjwt", &keys.es256, None),
        ("jar-ps", &keys.ps256, Some(("jar-ps", SECRET))),
    ] {
        let pkce = pkce();
        let mut claims = object_claims(&server, client_id, &pkce);
        claims["state"] = "st-jar".into();
        claims["max_age"] = 600.into();
        let object = key.request_object(&claims);
        // RFC 9101 §6.3: only the object's parameters count.
        let params = pairs(&[
            ("client_id", client_id),
            ("request", &object),
            ("state", "outside"),
            ("response_type", "token"),
        ]);
        let q = callback(&server, &auth_url(&server, &params)).await;
        assert_eq!(names(&q), ["code", "state", "iss"], "{client_id}");
        assert_eq!(param(&q, "state").as_deref(), Some("st-jar"));
        let code = param(&q, "code").unwrap();
        let token = server.token_endpoint().to_string();
        let auth = match auth {
            Some((id, secret)) => Auth::Basic(id, secret),
            None => Auth::Jwt("pkjwt", &keys.es256, &token),
        };
        let (status, body) = redeem(&server, client_id, auth, &code, &pkce.verifier, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            self::claims(body["id_token"].as_str().unwrap())["nonce"],
            "n-1"
        );
    }
    // Without typ is fine too (RFC 9101 §4 only recommends it).
    let pkce = pkce();
    let object = keys
        .es256
        .sign(json!({}), &object_claims(&server, "pkjwt", &pkce));
    let url = auth_url(
        &server,
        &pairs(&[("client_id", "pkjwt"), ("request", &object)]),
    );
    assert!(param(&callback(&server, &url).await, "code").is_some());
}

#[tokio::test]
async fn jar_inside_par() {
    let (server, _, keys) = server().await;
    let pkce = pkce();
    let par = server.pushed_authorization_request_endpoint().to_string();
    let object = keys
        .es256
        .request_object(&object_claims(&server, "pkjwt", &pkce));
    let form = pairs(&[("request", &object)]);
    let request_uri = pushed(&server, &form, Auth::Jwt("pkjwt", &keys.es256, &par)).await;
    let q = callback(&server, &par_url(&server, "pkjwt", &request_uri)).await;
    assert_eq!(param(&q, "state").as_deref(), Some("st-1"));
    let code = param(&q, "code").unwrap();
    let (status, body) = redeem(
        &server,
        "pkjwt",
        Auth::Jwt("pkjwt", &keys.es256, &par),
        &code,
        &pkce.verifier,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // With Basic authentication, and client_id in the form.
    let object = keys
        .ps256
        .request_object(&object_claims(&server, "jar-ps", &pkce));
    let form = pairs(&[("client_id", "jar-ps"), ("request", &object)]);
    let request_uri = pushed(&server, &form, Auth::Basic("jar-ps", SECRET)).await;
    let q = callback(&server, &par_url(&server, "jar-ps", &request_uri)).await;
    assert!(param(&q, "code").is_some());

    // Another authorization parameter beside the object: refused (RFC 9126 §3).
    let form = pairs(&[("request", &object), ("state", "outside")]);
    let (status, _, body) = push(&server, &form, Auth::Basic("jar-ps", SECRET), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // A bad object: invalid_request_object.
    let mut claims = object_claims(&server, "jar-ps", &pkce);
    claims["aud"] = "https://other.example".into();
    let form = pairs(&[("request", &keys.ps256.request_object(&claims))]);
    let (status, _, body) = push(&server, &form, Auth::Basic("jar-ps", SECRET), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request_object"))
    );
    // An object of another client (signed by its key, its client_id).
    let object = keys
        .es256
        .request_object(&object_claims(&server, "pkjwt", &pkce));
    let form = pairs(&[("request", &object)]);
    let (status, _, body) = push(&server, &form, Auth::Basic("jar-ps", SECRET), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request_object"))
    );
}

/// A request object of `pkjwt` with `change` applied to the claims of a
/// valid one.
fn object_with(
    server: &MockAuthorizationServer,
    keys: &Keys,
    pkce: &Pkce,
    change: &dyn Fn(&mut Value),
) -> String {
    let mut claims = object_claims(server, "pkjwt", pkce);
    change(&mut claims);
    keys.es256.request_object(&claims)
}

#[tokio::test]
async fn bad_request_objects_are_refused() {
    let (server, _, keys) = server().await;
    let pkce = pkce();
    let iss = issuer(&server);
    let valid = object_with(&server, &keys, &pkce, &|_| {});
    let (input, signature) = valid.rsplit_once('.').unwrap();
    let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
    flipped[0] ^= 1;
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "oauth-authz-req+jwt"}).to_string()),
        URL_SAFE_NO_PAD.encode(object_claims(&server, "pkjwt", &pkce).to_string())
    );
    let stranger = ClientKey::new("ES256", "es-1");
    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned),
        (
            "bad signature",
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(flipped)),
        ),
        (
            "another key",
            stranger.request_object(&object_claims(&server, "pkjwt", &pkce)),
        ),
        (
            "wrong aud",
            object_with(&server, &keys, &pkce, &|c| {
                c["aud"] = "https://other.example".into()
            }),
        ),
        (
            "wrong iss",
            object_with(&server, &keys, &pkce, &|c| c["iss"] = "app".into()),
        ),
        (
            "expired",
            object_with(&server, &keys, &pkce, &|c| c["exp"] = T0.into()),
        ),
        (
            "no exp",
            object_with(&server, &keys, &pkce, &|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "lives too long",
            object_with(&server, &keys, &pkce, &|c| c["exp"] = (T0 + 3601).into()),
        ),
        (
            "not yet valid",
            object_with(&server, &keys, &pkce, &|c| c["nbf"] = (T0 + 30).into()),
        ),
        (
            "another client_id",
            object_with(&server, &keys, &pkce, &|c| c["client_id"] = "app".into()),
        ),
        (
            "request_uri inside",
            object_with(&server, &keys, &pkce, &|c| {
                c["request_uri"] = format!("{REQUEST_URI_PREFIX}x").into()
            }),
        ),
        (
            "wrong typ",
            keys.es256.sign(
                json!({"typ": "JWT"}),
                &object_claims(&server, "pkjwt", &pkce),
            ),
        ),
        ("not a JWT", "eyJ.e30.".to_owned()),
    ];
    let token_requests = server.token_request_count();
    for (what, object) in cases {
        let params = pairs(&[
            ("client_id", "pkjwt"),
            ("request", &object),
            ("state", "outer"),
        ]);
        let q = callback(&server, &auth_url(&server, &params)).await;
        assert_eq!(
            param(&q, "error").as_deref(),
            Some("invalid_request_object"),
            "{what}"
        );
        assert!(param(&q, "error_description").is_some(), "{what}");
        assert_eq!(param(&q, "state").as_deref(), Some("outer"), "{what}");
        assert_eq!(param(&q, "iss").as_deref(), Some(iss.as_str()));
        assert!(param(&q, "code").is_none());
    }
    assert_eq!(server.token_request_count(), token_requests);
    // The same object, valid, is accepted (the cases fail for their reason).
    let url = auth_url(
        &server,
        &pairs(&[("client_id", "pkjwt"), ("request", &valid)]),
    );
    assert!(param(&callback(&server, &url).await, "code").is_some());
    // A client without a request object key.
    let object = keys
        .es256
        .request_object(&object_claims(&server, "app", &pkce));
    let url = auth_url(
        &server,
        &pairs(&[("client_id", "app"), ("request", &object)]),
    );
    let q = callback(&server, &url).await;
    assert_eq!(
        param(&q, "error").as_deref(),
        Some("invalid_request_object")
    );
}

#[tokio::test]
async fn bad_request_object_without_a_trusted_redirect_uri_is_a_400() {
    let clock = clock();
    let keys = keys();
    let server = builder(&clock, &keys)
        .client(
            MockClient::none("two")
                .redirect_uris([REDIRECT, "https://app.example/other"])
                .request_object_key(&keys.es256.public),
        )
        .start()
        .await
        .unwrap();
    let pkce = pkce();
    let mut claims = object_claims(&server, "two", &pkce);
    claims["exp"] = T0.into();
    let object = keys.es256.request_object(&claims);
    // Two registered redirect URIs and none in the query: nowhere to send it.
    let url = auth_url(
        &server,
        &pairs(&[("client_id", "two"), ("request", &object)]),
    );
    assert_eq!(refused(&server, &url).await, "invalid_request_object");
    // An unregistered one in the query: not trusted either.
    let params = pairs(&[
        ("client_id", "two"),
        ("request", &object),
        ("redirect_uri", "https://evil.example/cb"),
    ]);
    assert_eq!(
        refused(&server, &auth_url(&server, &params)).await,
        "invalid_request_object"
    );
    // A registered one in the query: the error goes there.
    let params = pairs(&[
        ("client_id", "two"),
        ("request", &object),
        ("redirect_uri", "https://app.example/other"),
    ]);
    let callback = server.authorize(&auth_url(&server, &params)).await.unwrap();
    assert!(callback.as_str().starts_with("https://app.example/other?"));
    assert_eq!(
        param(&query(&callback), "error").as_deref(),
        Some("invalid_request_object")
    );
}

/// The `response` JWT of a JARM callback (nothing else in it).
fn response_jwt(params: &[(String, String)]) -> String {
    assert_eq!(names(params), ["response"]);
    params[0].1.clone()
}

/// Checks a JARM response JWT: header, signature against the JWK Set, and
/// the claims besides the response parameters; returns the claims.
async fn checked_jarm(
    server: &MockAuthorizationServer,
    jwt: &str,
    client_id: &str,
    iat: u64,
) -> Value {
    let h = header(jwt);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["typ"], "JWT");
    assert_eq!(h["kid"], server.signing_key_id().as_str());
    support::verify_with_jwks(jwt, &jwks(server).await).unwrap();
    let c = claims(jwt);
    assert_eq!(c["iss"], issuer(server).as_str());
    assert_eq!(c["aud"], client_id);
    assert_eq!(c["iat"], iat);
    assert_eq!(c["exp"], iat + 300);
    c
}

#[tokio::test]
async fn jarm_query_jwt() {
    let (server, clock, _) = server().await;
    clock.advance(Duration::from_secs(7));
    for mode in ["query.jwt", "jwt"] {
        let pkce = pkce();
        let mut params = auth_params("app", &pkce);
        set(&mut params, "response_mode", Some(mode));
        let jwt = response_jwt(&callback(&server, &auth_url(&server, &params)).await);
        let c = checked_jarm(&server, &jwt, "app", T0 + 7).await;
        let mut members: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(
            members,
            ["aud", "code", "exp", "iat", "iss", "state"],
            "{mode}"
        );
        assert_eq!(c["state"], "st-1");
        let code = c["code"].as_str().unwrap();
        let (status, body) = redeem(&server, "app", Auth::None, code, &pkce.verifier, None).await;
        assert_eq!(status, 200, "{mode}: {body}");
    }
}

#[tokio::test]
async fn jarm_form_post_jwt() {
    let (server, _, _) = server().await;
    let pkce = pkce();
    let mut params = auth_params("app", &pkce);
    set(&mut params, "response_mode", Some("form_post.jwt"));
    let url = auth_url(&server, &params);
    let (action, form) = server.authorize_form_post(&url).await.unwrap();
    assert_eq!(action.as_str(), REDIRECT);
    let jwt = response_jwt(&form);
    let c = checked_jarm(&server, &jwt, "app", T0).await;
    assert_eq!(c["state"], "st-1");
    let code = c["code"].as_str().unwrap();
    assert_eq!(
        redeem(&server, "app", Auth::None, code, &pkce.verifier, None)
            .await
            .0,
        200
    );
    // authorize() refuses the page.
    assert!(server.authorize(&url).await.is_err());
}

#[tokio::test]
async fn jarm_error_response() {
    let (server, _, _) = server().await;
    let mut params = auth_params("app", &pkce());
    set(&mut params, "response_mode", Some("jwt"));
    set(&mut params, "response_type", Some("token"));
    let jwt = response_jwt(&callback(&server, &auth_url(&server, &params)).await);
    let c = checked_jarm(&server, &jwt, "app", T0).await;
    assert_eq!(c["error"], "unsupported_response_type");
    assert!(c["error_description"].is_string());
    assert_eq!(c["state"], "st-1");
    assert!(c.get("code").is_none());
    // An error fault too.
    server.tamper_next_authorization_response(AuthorizationResponseFault::Error {
        error: "access_denied".into(),
        description: None,
    });
    let mut params = auth_params("app", &pkce());
    set(&mut params, "response_mode", Some("form_post.jwt"));
    let (_, form) = server
        .authorize_form_post(&auth_url(&server, &params))
        .await
        .unwrap();
    let c = checked_jarm(&server, &response_jwt(&form), "app", T0).await;
    assert_eq!(c["error"], "access_denied");
    assert!(c.get("error_description").is_none());
}

#[tokio::test]
async fn jarm_with_par_jar_and_a_registered_alg() {
    let clock = clock();
    let keys = keys();
    let server = builder(&clock, &keys)
        .client(
            MockClient::none("jarm")
                .redirect_uris([REDIRECT])
                .authorization_signed_response_alg(JwsAlgorithm::ES256),
        )
        .start()
        .await
        .unwrap();
    let pkce = pkce();
    let mut form = auth_params("jarm", &pkce);
    set(&mut form, "response_mode", Some("jwt"));
    let request_uri = pushed(&server, &form, Auth::None).await;
    let q = callback(&server, &par_url(&server, "jarm", &request_uri)).await;
    let c = checked_jarm(&server, &response_jwt(&q), "jarm", T0).await;
    assert!(c["code"].is_string());
    // A request object asking for JARM.
    let mut claims = object_claims(&server, "pkjwt", &pkce);
    claims["response_mode"] = "query.jwt".into();
    let object = keys.es256.request_object(&claims);
    let url = auth_url(
        &server,
        &pairs(&[("client_id", "pkjwt"), ("request", &object)]),
    );
    let c = checked_jarm(
        &server,
        &response_jwt(&callback(&server, &url).await),
        "pkjwt",
        T0,
    )
    .await;
    assert!(c["code"].is_string());
    // A registered alg the server cannot sign with.
    let err = builder(&clock, &keys)
        .client(MockClient::none("rs").authorization_signed_response_alg(JwsAlgorithm::RS256))
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// The JWT of a JARM `query.jwt` response to a normal request of `app`.
async fn jarm_response(server: &MockAuthorizationServer) -> String {
    let mut params = auth_params("app", &pkce());
    set(&mut params, "response_mode", Some("query.jwt"));
    response_jwt(&callback(server, &auth_url(server, &params)).await)
}

/// The same, spoiled by `fault`.
async fn spoiled(server: &MockAuthorizationServer, fault: AuthorizationResponseFault) -> String {
    server.tamper_next_authorization_response(fault);
    jarm_response(server).await
}

#[tokio::test]
async fn jarm_faults() {
    let (server, _, _) = server().await;
    let jwks = jwks(&server).await;
    let verify = |jwt: &str| support::verify_with_jwks(jwt, &jwks);

    // Claims: set and removed, still validly signed.
    let jwt = spoiled(
        &server,
        AuthorizationResponseFault::jarm_claims(json!({
            "iss": "https://other.example",
            "aud": "someone-else",
            "exp": T0 - 1,
            "iat": null,
        })),
    )
    .await;
    verify(&jwt).unwrap();
    let c = claims(&jwt);
    assert_eq!(c["iss"], "https://other.example");
    assert_eq!(c["aud"], "someone-else");
    assert_eq!(c["exp"], T0 - 1);
    assert!(c.get("iat").is_none());
    assert_eq!(c["state"], "st-1");

    // Unsigned.
    let jwt = spoiled(&server, AuthorizationResponseFault::JarmAlgNone).await;
    assert!(jwt.ends_with('.'));
    assert_eq!(header(&jwt), json!({"alg": "none", "typ": "JWT"}));
    assert_eq!(claims(&jwt)["aud"], "app");
    assert!(verify(&jwt).is_err());

    // An unknown kid, validly signed by a stranger.
    let jwt = spoiled(&server, AuthorizationResponseFault::JarmUnknownKid).await;
    let kid = header(&jwt)["kid"].as_str().unwrap().to_owned();
    assert!(kid.starts_with("unknown-"));
    assert_eq!(verify(&jwt).unwrap_err(), "no key with this kid");
    assert_eq!(claims(&jwt)["iss"], issuer(&server).as_str());

    // A broken signature: inverting the bytes back gives the valid one.
    let jwt = spoiled(&server, AuthorizationResponseFault::JarmSignature).await;
    assert_eq!(header(&jwt)["kid"], server.signing_key_id().as_str());
    assert!(verify(&jwt).is_err());
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let restored: Vec<u8> = URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap()
        .iter()
        .map(|b| b ^ 0xff)
        .collect();
    verify(&format!("{input}.{}", URL_SAFE_NO_PAD.encode(restored))).unwrap();

    // The plain faults spoil the parameters that become the claims.
    let jwt = spoiled(&server, AuthorizationResponseFault::WrongState).await;
    verify(&jwt).unwrap();
    let state = claims(&jwt)["state"].as_str().unwrap().to_owned();
    assert_ne!(state, "st-1");
    let jwt = spoiled(&server, AuthorizationResponseFault::NoIssuer).await;
    assert!(claims(&jwt).get("iss").is_none());

    // A JARM fault does nothing to a plain response, and is used up.
    server.tamper_next_authorization_response(AuthorizationResponseFault::JarmAlgNone);
    let q = callback(&server, &auth_url(&server, &auth_params("app", &pkce()))).await;
    assert_eq!(names(&q), ["code", "state", "iss"]);
    verify(&jarm_response(&server).await).unwrap();
}

#[tokio::test]
async fn discovery_advertises_par_jar_and_jarm() {
    let (server, _, _) = server().await;
    let metadata = server.server_metadata();
    assert_eq!(
        metadata.pushed_authorization_request_endpoint,
        Some(server.pushed_authorization_request_endpoint())
    );
    assert_eq!(
        server.pushed_authorization_request_endpoint().as_str(),
        format!("{}/par", issuer(&server))
    );
    assert_eq!(metadata.request_parameter_supported, Some(true));
    assert_eq!(
        metadata.request_object_signing_alg_values_supported,
        Some(vec![
            "ES256".into(),
            "PS256".into(),
            "RS256".into(),
            "EdDSA".into()
        ])
    );
    assert_eq!(
        metadata.authorization_signing_alg_values_supported,
        Some(vec!["ES256".into()])
    );
    let modes = metadata.response_modes_supported.unwrap();
    for mode in ["jwt", "query.jwt", "form_post.jwt"] {
        assert!(modes.iter().any(|m| m == mode), "{mode}");
    }
}

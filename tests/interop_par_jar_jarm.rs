//! Pushed Authorization Requests (RFC 9126), JWT-Secured Authorization
//! Requests (RFC 9101) and JWT Secured Authorization Responses (JARM)
//! against the real `oidc-provider` (tests/interop/provider.mjs). Each
//! sign-in goes through the server's login and consent pages in the small
//! user agent of tests/support/user_agent.rs and ends with
//! `authorization_code_grant` and its validated ID Token:
//!
//! - PAR with `client_secret_basic` and with `private_key_jwt`: the browser
//!   carries only `client_id` and the server's `request_uri`, which works
//!   once;
//! - PAR required by the client's registration or by the server: the plain
//!   URL is refused by the library (and by the server), PAR works;
//! - PAR with DPoP: the push binds the code to the key, also when the
//!   server requires DPoP nonces;
//! - request objects alone (ES256 and PS256 client keys) and pushed;
//! - JARM in the `query.jwt`, `form_post.jwt` and `jwt` modes, and a JARM
//!   error response;
//! - what the server refuses: a push with an unregistered `redirect_uri`,
//!   with a client assertion or a request object signed by an unregistered
//!   key.

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
#[path = "support/sign_in.rs"]
mod sign_in;
mod support;
#[path = "support/user_agent.rs"]
mod user_agent;

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_provider::OidcProvider;
use oidckit::{
    authorization_code_grant, build_authorization_url, build_authorization_url_with_jar,
    build_authorization_url_with_par, build_request_object, fetch_userinfo, AuthorizationChecks,
    Callback, ClientAuth, ClientMetadata, Configuration, DPoPHandle, Error, ErrorKind,
    JwsAlgorithm, PrivateKey, RequestOptions, TokenEndpointResponse, Url,
};
use serde_json::{json, Value};
use sign_in::{
    authorize, authorize_with, query, query_names, with_param, without_query, Authorized, Consent,
    SignIn, REDIRECT_URI,
};
use support::{jwt_claims, jwt_header};
use user_agent::UserAgent;

const SECRET: &str = "par-jar-jarm-secret";
const SCOPE: &str = "openid email profile";
/// The prefix of oidc-provider's `request_uri` values (RFC 9126 §2.2).
const PAR_URN: &str = "urn:ietf:params:oauth:request_uri:";

/// PAR with `client_secret_basic`.
const PAR_BASIC: &str = "par-basic";
/// PAR with `private_key_jwt` (ES256).
const PAR_KEY: &str = "par-private-key-jwt";
/// Registered with `require_pushed_authorization_requests: true`.
const PAR_REQUIRED: &str = "par-required";
/// PAR with a DPoP proof on the push.
const PAR_DPOP: &str = "par-dpop";
/// Request objects signed ES256 (`client_secret_basic` at the token endpoint).
const JAR_ES256: &str = "jar-es256";
/// Request objects signed PS256 with the key it authenticates with
/// (`private_key_jwt`).
const JAR_PS256: &str = "jar-ps256";
/// `authorization_signed_response_alg: ES256`.
const JARM_ES256: &str = "jarm-es256";
/// JARM without a registered alg: the server's default, RS256.
const JARM_DEFAULT: &str = "jarm-default";

/// The clients' private keys, made once per test process.
struct Keys {
    par: PrivateKey,
    jar_es256: PrivateKey,
    jar_ps256: PrivateKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        par: PrivateKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_kid("par-key"),
        jar_es256: PrivateKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_kid("jar-es256-key"),
        jar_ps256: PrivateKey::generate(JwsAlgorithm::PS256)
            .unwrap()
            .with_kid("jar-ps256-key"),
    })
}

fn jwks(key: &PrivateKey) -> Value {
    json!({ "keys": [key.public_jwk()] })
}

/// A client's metadata, as registered at the provider (with its secret)
/// and as configured in oidckit (which drops the secret).
fn client(id: &str) -> Value {
    let keys = keys();
    let extra = match id {
        PAR_BASIC | PAR_DPOP => json!({}),
        PAR_KEY => json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": jwks(&keys.par),
        }),
        PAR_REQUIRED => json!({"require_pushed_authorization_requests": true}),
        JAR_ES256 => json!({
            "request_object_signing_alg": "ES256",
            "jwks": jwks(&keys.jar_es256),
        }),
        JAR_PS256 => json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "PS256",
            "request_object_signing_alg": "PS256",
            "jwks": jwks(&keys.jar_ps256),
        }),
        JARM_ES256 => json!({"authorization_signed_response_alg": "ES256"}),
        JARM_DEFAULT => json!({}),
        _ => panic!("no client {id}"),
    };
    let mut client = json!({
        "client_id": id,
        "client_secret": SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        client[k] = v;
    }
    client
}

/// How `id` authenticates.
fn auth(id: &str) -> ClientAuth {
    match id {
        PAR_KEY => ClientAuth::private_key_jwt(keys().par.clone()),
        JAR_PS256 => ClientAuth::private_key_jwt(keys().jar_ps256.clone()),
        _ => ClientAuth::client_secret_basic(SECRET),
    }
}

const CLIENTS: [&str; 8] = [
    PAR_BASIC,
    PAR_KEY,
    PAR_REQUIRED,
    PAR_DPOP,
    JAR_ES256,
    JAR_PS256,
    JARM_ES256,
    JARM_DEFAULT,
];

/// One provider for every test but the one where the server requires PAR.
fn provider() -> &'static OidcProvider {
    static P: OnceLock<OidcProvider> = OnceLock::new();
    P.get_or_init(|| OidcProvider::start_with_env(CLIENTS.map(client).to_vec(), &[]))
}

/// A configuration for `id` at `server` by discovery, with its registered
/// metadata.
async fn config(server: &OidcProvider, id: &str) -> Configuration {
    config_with(server, id, auth(id)).await
}

async fn config_with(server: &OidcProvider, id: &str, auth: ClientAuth) -> Configuration {
    let metadata: ClientMetadata = serde_json::from_value(client(id)).unwrap();
    oidckit::discovery(server.issuer.clone(), id, auth)
        .allow_insecure_requests(true)
        .client_metadata(metadata)
        .await
        .unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `error` of an OAuth error from the server, with its HTTP status
/// (`None` through the browser).
#[track_caller]
fn oauth(e: &Error) -> (&str, Option<u16>) {
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    let o = e.oauth_error().unwrap();
    (o.error.as_str(), o.status.map(|s| s.as_u16()))
}

/// The claims every sign-in here checks on the validated ID Token.
#[track_caller]
fn assert_signed_in(tokens: &TokenEndpointResponse, flow: &SignIn, login: &str, client_id: &str) {
    let claims = tokens.claims().expect("a validated ID Token");
    assert_eq!(claims.subject(), login);
    assert_eq!(claims.audiences(), [client_id]);
    assert_eq!(claims.nonce(), Some(flow.nonce.as_str()));
    assert_eq!(
        claims.email(),
        Some(format!("{login}@interop.example").as_str())
    );
    assert_eq!(
        claims.name(),
        Some(format!("Interop User {login}").as_str())
    );
}

/// A pushed authorization URL: the authorization endpoint with `client_id`
/// and the server's `request_uri`, nothing else.
#[track_caller]
fn assert_pushed(url: &Url, config: &Configuration) -> String {
    let endpoint = config.server_metadata().authorization_endpoint.as_ref();
    assert_eq!(Some(without_query(url)), endpoint.map(without_query));
    assert_eq!(query_names(url), ["client_id", "request_uri"]);
    assert_eq!(
        query(url, "client_id").as_deref(),
        Some(config.client_id().as_str())
    );
    let request_uri = query(url, "request_uri").unwrap();
    assert!(
        request_uri.len() > PAR_URN.len() && request_uri.starts_with(PAR_URN),
        "{request_uri}"
    );
    request_uri
}

/// The code response at the redirect URI: `code`, `state` and `iss`.
#[track_caller]
fn assert_code_response(callback: &Url, flow: &SignIn, config: &Configuration) {
    assert_eq!(without_query(callback), REDIRECT_URI);
    assert_eq!(query_names(callback), ["code", "state", "iss"]);
    assert!(query(callback, "code").is_some_and(|c| !c.is_empty()));
    assert_eq!(query(callback, "state"), Some(flow.state.clone()));
    assert_eq!(
        query(callback, "iss").as_deref(),
        Some(config.server_metadata().issuer.as_str())
    );
}

#[tokio::test]
async fn par_with_client_secret_basic_and_with_private_key_jwt() {
    let server = provider();
    for (id, login) in [(PAR_BASIC, "anna"), (PAR_KEY, "boris")] {
        let config = config(server, id).await;
        assert_eq!(
            config
                .server_metadata()
                .pushed_authorization_request_endpoint
                .as_ref()
                .map(Url::as_str),
            Some(format!("{}/request", server.issuer.as_str().trim_end_matches('/')).as_str())
        );

        let flow = SignIn::new();
        let url = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let request_uri = assert_pushed(&url, &config);

        // The pushed parameters are the request: the server's state,
        // nonce and scope come back though the browser never saw them.
        let agent = UserAgent::new();
        let authorized = authorize(&agent, &url, login).await;
        assert_eq!(authorized.pages, ["login", "consent"], "{id}");
        assert_code_response(&authorized.callback, &flow, &config);
        let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_signed_in(&tokens, &flow, login, id);

        // A request_uri is used once: the same URL again is refused by the
        // server, back at the redirect URI without a code.
        let again = authorize(&agent, &url, login).await;
        assert!(again.pages.is_empty(), "{:?}", again.pages);
        assert_eq!(without_query(&again.callback), REDIRECT_URI);
        assert_eq!(
            query(&again.callback, "error").as_deref(),
            Some("invalid_request_uri"),
            "{id}: {request_uri} reused: {}",
            again.callback
        );
        assert_eq!(query(&again.callback, "code"), None);
    }
}

#[tokio::test]
async fn par_required_by_the_client_registration() {
    let server = provider();
    let config = config(server, PAR_REQUIRED).await;
    assert_eq!(
        config
            .client_metadata()
            .require_pushed_authorization_requests,
        Some(true)
    );
    assert_eq!(
        config
            .server_metadata()
            .require_pushed_authorization_requests,
        None
    );
    let flow = SignIn::new();
    let params = flow.params(SCOPE, &[]);

    // The library refuses a URL that would not be pushed, with or without
    // a request object.
    let e = build_authorization_url(&config, &params).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("client's registration"), "{e}");
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let e = build_authorization_url_with_jar(&config, &params, &key).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    // So does the server, for a client that does not know its own
    // registration: the request comes back as invalid_request.
    let mut unaware = ClientMetadata::new(PAR_REQUIRED);
    unaware.redirect_uris = Some(vec![REDIRECT_URI.to_owned()]);
    let plain = oidckit::discovery(server.issuer.clone(), PAR_REQUIRED, auth(PAR_REQUIRED))
        .allow_insecure_requests(true)
        .client_metadata(unaware)
        .await
        .unwrap();
    let agent = UserAgent::new();
    let refused = authorize(&agent, &flow.authorization_url(&plain, SCOPE, &[]), "carl").await;
    assert!(refused.pages.is_empty(), "{:?}", refused.pages);
    let e = authorization_code_grant(&plain, &refused.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_request", None));
    let o = e.oauth_error().unwrap();
    assert_eq!(o.state.as_deref(), Some(flow.state.as_str()));
    assert_eq!(
        o.error_description.as_deref(),
        Some("Pushed Authorization Request must be used")
    );

    // Pushed, the same parameters sign the user in.
    let url = build_authorization_url_with_par(&config, &params)
        .await
        .unwrap();
    assert_pushed(&url, &config);
    let authorized = authorize(&agent, &url, "carl").await;
    assert_eq!(authorized.pages, ["login", "consent"]);
    assert_code_response(&authorized.callback, &flow, &config);
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .await
        .unwrap();
    assert_signed_in(&tokens, &flow, "carl", PAR_REQUIRED);
}

#[tokio::test]
async fn par_required_by_the_server() {
    // Its own provider: INTEROP_PAR_REQUIRED applies to every client.
    let server = OidcProvider::start_with_env(
        vec![client(PAR_BASIC)],
        &[("INTEROP_PAR_REQUIRED", "true".to_owned())],
    );
    let config = config(&server, PAR_BASIC).await;
    assert_eq!(
        config
            .server_metadata()
            .require_pushed_authorization_requests,
        Some(true)
    );
    assert_eq!(
        config
            .client_metadata()
            .require_pushed_authorization_requests,
        None
    );
    let flow = SignIn::new();
    let e = build_authorization_url(&config, flow.params(SCOPE, &[])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("server"), "{e}");

    let url = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
        .await
        .unwrap();
    assert_pushed(&url, &config);
    let agent = UserAgent::new();
    let authorized = authorize(&agent, &url, "dora").await;
    assert_code_response(&authorized.callback, &flow, &config);
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .await
        .unwrap();
    assert_signed_in(&tokens, &flow, "dora", PAR_BASIC);
}

#[tokio::test]
async fn par_with_dpop_binds_the_code_to_the_key() {
    let server = provider();
    let config = config(server, PAR_DPOP).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let agent = UserAgent::new();

    // The proof on the push binds the code: no dpop_jkt in the URL.
    let flow = SignIn::new();
    let url = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert_pushed(&url, &config);
    let authorized = authorize(&agent, &url, "emil").await;
    assert_code_response(&authorized.callback, &flow, &config);
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert!(tokens.token_type().is_dpop(), "{:?}", tokens.token_type());
    assert_signed_in(&tokens, &flow, "emil", PAR_DPOP);
    // A DPoP-bound access token: userinfo wants the proof.
    let info = fetch_userinfo(&config, tokens.access_token(), Some("emil"))
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert_eq!(info.email(), Some("emil@interop.example"));
    let e = fetch_userinfo(&config, tokens.access_token(), Some("emil"))
        .await
        .unwrap_err();
    assert_eq!(oauth(&e).0, "invalid_token");

    // A code pushed with one key cannot be redeemed with another.
    let flow = SignIn::new();
    let url = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    let authorized = authorize(&agent, &url, "emil").await;
    assert_eq!(authorized.pages, Vec::<&str>::new(), "single sign-on");
    let other = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let e = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(RequestOptions::new().dpop(&other))
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_grant", Some(400)));
}

#[tokio::test]
async fn par_with_dpop_when_the_server_requires_nonces() {
    // Its own provider: every DPoP proof needs a server nonce. The push
    // gets use_dpop_nonce first and is sent again, with a new proof and a
    // new client assertion (oidc-provider refuses a reused jti); the token
    // request then uses the nonce it recorded.
    let server = OidcProvider::start(vec![client(PAR_KEY)], Some("required"));
    let config = config(&server, PAR_KEY).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let par_endpoint = config
        .server_metadata()
        .pushed_authorization_request_endpoint
        .clone()
        .unwrap();
    assert_eq!(dpop.nonce(&par_endpoint), None);

    let flow = SignIn::new();
    let url = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert_pushed(&url, &config);
    assert!(dpop.nonce(&par_endpoint).is_some(), "the server's nonce");
    let agent = UserAgent::new();
    let authorized = authorize(&agent, &url, "fritz").await;
    assert_code_response(&authorized.callback, &flow, &config);
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert!(tokens.token_type().is_dpop(), "{:?}", tokens.token_type());
    assert_signed_in(&tokens, &flow, "fritz", PAR_KEY);
}

#[tokio::test]
async fn request_objects_alone_signed_es256_and_ps256() {
    let server = provider();
    let keys = keys();
    for (id, key, alg, login) in [
        (JAR_ES256, &keys.jar_es256, "ES256", "fay"),
        (JAR_PS256, &keys.jar_ps256, "PS256", "gus"),
    ] {
        let config = config(server, id).await;
        assert_eq!(
            config.server_metadata().request_parameter_supported,
            Some(true)
        );
        let flow = SignIn::new();
        let url = build_authorization_url_with_jar(&config, flow.params(SCOPE, &[]), key)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(query_names(&url), ["client_id", "request"], "{id}");
        assert_eq!(query(&url, "client_id").as_deref(), Some(id));

        // The request object: the client's parameters, signed with its key.
        let object = query(&url, "request").unwrap();
        let header = jwt_header(&object);
        assert_eq!(header["typ"], "oauth-authz-req+jwt", "{id}");
        assert_eq!(header["alg"], alg, "{id}");
        assert_eq!(header["kid"], key.kid().unwrap(), "{id}");
        let claims = jwt_claims(&object);
        assert_eq!(claims["iss"], id);
        assert_eq!(claims["client_id"], id);
        assert_eq!(claims["aud"], config.server_metadata().issuer.as_str());
        assert_eq!(claims["response_type"], "code");
        assert_eq!(claims["redirect_uri"], REDIRECT_URI);
        assert_eq!(claims["state"], flow.state.as_str());
        assert_eq!(claims["nonce"], flow.nonce.as_str());
        assert_eq!(claims["max_age"], flow.max_age);

        // The server takes every parameter from the object.
        let agent = UserAgent::new();
        let authorized = authorize(&agent, &url, login).await;
        assert_eq!(authorized.pages, ["login", "consent"], "{id}");
        assert_code_response(&authorized.callback, &flow, &config);
        let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_signed_in(&tokens, &flow, login, id);

        // Signed by a key the client did not register (same kid): the
        // server refuses the object, no code.
        let impostor = PrivateKey::generate(key.algorithm())
            .unwrap()
            .with_kid(key.kid().unwrap());
        let flow = SignIn::new();
        let url =
            build_authorization_url_with_jar(&config, flow.params(SCOPE, &[]), &impostor).unwrap();
        let refused = authorize(&agent, &url, login).await;
        assert_eq!(without_query(&refused.callback), REDIRECT_URI);
        assert_eq!(
            query(&refused.callback, "error").as_deref(),
            Some("invalid_request_object"),
            "{id}: {}",
            refused.callback
        );
        assert_eq!(query(&refused.callback, "code"), None);
    }

    // A key of another algorithm than the registered one is refused
    // before anything is signed.
    let config = config(server, JAR_ES256).await;
    let e = build_authorization_url_with_jar(
        &config,
        SignIn::new().params(SCOPE, &[]),
        &keys.jar_ps256,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test]
async fn a_request_object_inside_a_pushed_request() {
    let server = provider();
    let config = config(server, JAR_ES256).await;
    let flow = SignIn::new();
    let object = build_request_object(
        &config.context(),
        flow.params(SCOPE, &[]),
        &keys().jar_es256,
    )
    .unwrap();
    let url = build_authorization_url_with_par(&config, &[("request", object.as_str())])
        .await
        .unwrap();
    assert_pushed(&url, &config);

    let agent = UserAgent::new();
    let authorized = authorize(&agent, &url, "hugo").await;
    assert_eq!(authorized.pages, ["login", "consent"]);
    assert_code_response(&authorized.callback, &flow, &config);
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .await
        .unwrap();
    assert_signed_in(&tokens, &flow, "hugo", JAR_ES256);

    // Pushed, a request object is checked at the push: one signed by a key
    // the client did not register is refused there.
    let impostor = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("jar-es256-key");
    let object = build_request_object(
        &config.context(),
        SignIn::new().params(SCOPE, &[]),
        &impostor,
    )
    .unwrap();
    let e = build_authorization_url_with_par(&config, &[("request", object.as_str())])
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_request_object", Some(400)));
}

/// Decodes a JWT's payload, sets `name` to `value`, and puts it back
/// between the original header and signature.
fn tampered(jwt: &str, name: &str, value: &str) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut claims = jwt_claims(jwt);
    claims[name] = value.into();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts.join(".")
}

/// Redeems a JARM `response` the way `authorized` brought it: in the
/// callback's query, or posted in a form.
async fn redeem_jarm(
    config: &Configuration,
    authorized: &Authorized,
    response: &str,
    checks: &AuthorizationChecks,
) -> oidckit::Result<TokenEndpointResponse> {
    if authorized.form_post.is_some() {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response", response)
            .finish();
        let callback = Callback::form_post(&authorized.callback, body.as_bytes());
        authorization_code_grant(config, callback, checks).await
    } else {
        let callback = with_param(&authorized.callback, "response", Some(response));
        authorization_code_grant(config, &callback, checks).await
    }
}

#[tokio::test]
async fn jarm_responses_in_query_jwt_form_post_jwt_and_jwt_modes() {
    let server = provider();
    let issuer = server.issuer.as_str().trim_end_matches('/').to_owned();
    let agent = UserAgent::new();
    let cases = [
        (JARM_ES256, "query.jwt", ("ES256", "interop-es256")),
        (JARM_ES256, "form_post.jwt", ("ES256", "interop-es256")),
        // No registered alg: the server signs RS256, which it lists in
        // authorization_signing_alg_values_supported.
        (JARM_DEFAULT, "jwt", ("RS256", "interop-rs256")),
    ];
    for (i, (id, mode, (alg, kid))) in cases.into_iter().enumerate() {
        let config = config(server, id).await;
        let supported = config.server_metadata().response_modes_supported.clone();
        assert!(
            supported.unwrap_or_default().iter().any(|m| m == mode),
            "{mode}"
        );
        let flow = SignIn::new();
        let url = flow.authorization_url(&config, SCOPE, &[("response_mode", mode)]);
        let authorized = authorize(&agent, &url, "iris").await;
        let expected_pages: &[&str] = match i {
            0 => &["login", "consent"],
            1 => &[],
            _ => &["consent"],
        };
        assert_eq!(authorized.pages, expected_pages, "{mode}");

        // The response is one signed JWT: in the query, or the form body.
        assert_eq!(without_query(&authorized.callback), REDIRECT_URI);
        let fields: Vec<(String, String)> = match &authorized.form_post {
            Some(body) => {
                assert_eq!(mode, "form_post.jwt");
                assert_eq!(authorized.callback.query(), None);
                url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect()
            }
            None => {
                assert_ne!(mode, "form_post.jwt");
                authorized.callback.query_pairs().into_owned().collect()
            }
        };
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["response"], "{mode}");
        let response = fields[0].1.clone();
        let header = jwt_header(&response);
        assert_eq!(
            (header["alg"].as_str(), header["kid"].as_str()),
            (Some(alg), Some(kid))
        );
        let claims = jwt_claims(&response);
        assert_eq!(claims["iss"], issuer.as_str());
        assert_eq!(claims["aud"], id);
        assert_eq!(claims["state"], flow.state.as_str());
        assert!(claims["code"].as_str().is_some_and(|c| !c.is_empty()));
        // oidc-provider's JARM lifetime: 120 s, and no iat.
        let exp = claims["exp"].as_u64().expect("exp");
        let now = unix_now();
        assert!(now < exp && exp <= now + 120, "exp {exp}, now {now}");
        assert_eq!(claims.get("iat"), None);

        let checks = if id == JARM_DEFAULT {
            // Nothing in the registration says JARM: the checks do.
            flow.checks().jarm()
        } else {
            flow.checks()
        };
        // A claim changed under the server's signature: refused, and the
        // code not used.
        let forged = tampered(&response, "state", "forged");
        let e = redeem_jarm(&config, &authorized, &forged, &checks)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SignatureVerification, "{mode}: {e}");
        if id == JARM_DEFAULT {
            // Without knowing it asked for JARM, the client finds no code.
            let e = authorization_code_grant(
                &config,
                &with_param(&authorized.callback, "response", Some(&response)),
                &flow.checks(),
            )
            .await
            .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
        }

        let tokens = redeem_jarm(&config, &authorized, &response, &checks)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_signed_in(&tokens, &flow, "iris", id);
    }
}

#[tokio::test]
async fn a_refused_consent_comes_back_as_a_signed_access_denied() {
    let server = provider();
    let config = config(server, JARM_ES256).await;
    let agent = UserAgent::new();
    let flow = SignIn::new();
    let url = flow.authorization_url(&config, SCOPE, &[("response_mode", "query.jwt")]);
    let denied = authorize_with(&agent, &url, "jack", Consent::Deny).await;
    assert_eq!(denied.pages, ["login", "consent"]);
    assert_eq!(query_names(&denied.callback), ["response"]);
    let response = query(&denied.callback, "response").unwrap();
    let claims = jwt_claims(&response);
    assert_eq!(claims["error"], "access_denied");
    assert_eq!(claims["state"], flow.state.as_str());
    assert_eq!(claims.get("code"), None);
    assert_eq!(jwt_header(&response)["alg"], "ES256");

    let e = authorization_code_grant(&config, &denied.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("access_denied", None));
    let o = e.oauth_error().unwrap();
    assert_eq!(
        o.error_description.as_deref(),
        Some("End-User aborted interaction")
    );
    assert_eq!(o.state.as_deref(), Some(flow.state.as_str()));

    // Its signature is checked before the error is believed.
    let forged = with_param(
        &denied.callback,
        "response",
        Some(&tampered(&response, "error", "server_error")),
    );
    let e = authorization_code_grant(&config, &forged, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SignatureVerification, "{e}");
}

#[tokio::test]
async fn pushes_the_server_refuses_are_typed_oauth_errors() {
    let server = provider();
    let flow = SignIn::new();

    // A redirect_uri the client did not register.
    let config = config(server, PAR_BASIC).await;
    let e = build_authorization_url_with_par(
        &config,
        flow.params(SCOPE, &[("redirect_uri", "http://127.0.0.1:2/elsewhere")]),
    )
    .await
    .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_request", Some(400)));
    let description = e.oauth_error().unwrap().error_description.clone();
    assert!(
        description
            .as_deref()
            .is_some_and(|d| d.contains("redirect_uri")),
        "{description:?}"
    );

    // A client assertion signed by a key the client did not register.
    let impostor = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("par-key");
    let config = config_with(server, PAR_KEY, ClientAuth::private_key_jwt(impostor)).await;
    let e = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_client", Some(401)));

    // The wrong client secret.
    let config = config_with(
        server,
        PAR_BASIC,
        ClientAuth::client_secret_basic("not-the-secret"),
    )
    .await;
    let e = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_client", Some(401)));
}

#[tokio::test]
async fn a_plain_code_response_is_refused_when_jarm_was_asked_for() {
    // The client registered JARM; a response without the JWT (a downgrade
    // by something between the server and the client) is refused.
    let server = provider();
    let config = config(server, JARM_ES256).await;
    let agent = UserAgent::new();
    let flow = SignIn::new();
    let url = flow.authorization_url(&config, SCOPE, &[]);
    let authorized = authorize(&agent, &url, "kim").await;
    // oidc-provider answers this client with a plain code response when
    // no JWT mode is asked for.
    assert_code_response(&authorized.callback, &flow, &config);
    let e = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    // Checked as a plain response on purpose, it signs the user in.
    let mut plain_metadata: ClientMetadata = serde_json::from_value(client(JARM_ES256)).unwrap();
    plain_metadata.authorization_signed_response_alg = None;
    let plain = oidckit::discovery(server.issuer.clone(), JARM_ES256, auth(JARM_ES256))
        .allow_insecure_requests(true)
        .client_metadata(plain_metadata)
        .await
        .unwrap();
    let tokens = authorization_code_grant(&plain, &authorized.callback, &flow.checks())
        .await
        .unwrap();
    assert_signed_in(&tokens, &flow, "kim", JARM_ES256);
}

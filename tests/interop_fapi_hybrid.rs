//! The FAPI 2.0 Security Profile, the hybrid flow and the implicit flow's
//! sign-in against the real `oidc-provider` (tests/interop/provider.mjs),
//! each through the server's login and consent pages in the small user agent
//! of tests/support/user_agent.rs:
//!
//! - FAPI 2.0, the server started with `INTEROP_FAPI=2.0` and the client's
//!   switch on: a `private_key_jwt` (ES256) client pushes its request (PKCE
//!   S256) with a DPoP proof, the response carries `iss`, the code is
//!   redeemed with the same DPoP key for a DPoP token and a PS256 ID Token;
//!   signed userinfo and refresh with DPoP; a pushed request object;
//! - what the switch refuses before anything is sent (the server's request
//!   counts show nothing arrived), and what the FAPI server itself refuses
//!   when the switch is off: a client assertion for another audience, a push
//!   without PKCE, a token request without DPoP;
//! - the switch at a server that is not FAPI: an RS256 ID Token is refused;
//! - hybrid (`response_type=code id_token`) in the fragment and with
//!   `form_post`: the front-channel ID Token's `c_hash`, a swapped code;
//!   under oidc-provider's FAPI 1.0 profile its `s_hash`, a swapped state;
//! - implicit sign-in (`response_type=id_token`), in the fragment and with
//!   `form_post`: the claims, a changed `state`, a replayed ID Token.
//!
//! oidc-provider leaves `iss` out of the hybrid and implicit responses (the
//! ID Token names the server, RFC 9207 §4) although its discovery document
//! promises the parameter; the client accepts that for responses with an ID
//! Token, and still checks an `iss` that is there.
//!
//! The client's redirect URI is never requested: the user agent stops at
//! the redirect (or the auto-submitting form) that leaves the server and the
//! test hands the URL, fragment included, or the form body to the client,
//! as the application's page script or web framework would.

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
#[path = "support/sign_in.rs"]
mod sign_in;
mod support;
#[path = "support/user_agent.rs"]
mod user_agent;

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidc_provider::OidcProvider;
use oidckit::{
    authorization_code_grant, build_authorization_url, build_authorization_url_with_jar,
    build_authorization_url_with_par, build_request_object, fetch_userinfo,
    implicit_authentication, random_nonce, random_state, refresh_token_grant, AssertionAudience,
    AuthorizationChecks, ClientAuth, ClientMetadata, Configuration, DPoPHandle, Error, ErrorKind,
    JwsAlgorithm, PrivateKey, RequestOptions, TokenEndpointResponse, Url,
};
use serde_json::{json, Value};
use sign_in::{authorize, query, query_names, without_query, ResponseIn, SignIn, REDIRECT_URI};
use support::{jwt_claims, jwt_header};
use user_agent::UserAgent;

const SECRET: &str = "fapi-hybrid-secret";
const SCOPE: &str = "openid email profile";
const NO_PARAMS: [(&str, &str); 0] = [];
/// The prefix of oidc-provider's `request_uri` values (RFC 9126 §2.2).
const PAR_URN: &str = "urn:ietf:params:oauth:request_uri:";

/// The FAPI 2.0 server's client of the whole flow: `private_key_jwt`
/// (ES256), DPoP-bound tokens, PS256 ID Tokens, ES256 userinfo JWTs, PS256
/// request objects.
const FAPI: &str = "fapi2";
/// Registered like [`FAPI`], for the refusals (its own request counts).
const FAPI_REFUSALS: &str = "fapi2-refusals";
/// `private_key_jwt` (ES256) with RS256 ID Tokens, at the server without a
/// profile.
const NOT_FAPI: &str = "rs256-id-tokens";
/// `response_types: ["code id_token"]`, `client_secret_basic`, ES256 ID
/// Tokens.
const HYBRID: &str = "hybrid";
/// `response_types: ["id_token"]`, no client authentication (no token
/// endpoint), EdDSA ID Tokens.
const IMPLICIT: &str = "implicit";

/// The FAPI clients' private keys, made once per test process.
struct Keys {
    /// Client assertions.
    assertion: PrivateKey,
    /// Request objects.
    request: PrivateKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        assertion: PrivateKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_kid("fapi-assertion"),
        request: PrivateKey::generate(JwsAlgorithm::PS256)
            .unwrap()
            .with_kid("fapi-request"),
    })
}

/// A client's metadata, as registered at the provider (with its secret)
/// and as configured in oidckit (which drops the secret).
fn client(id: &str) -> Value {
    let keys = keys();
    let mut client = json!({
        "client_id": id,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
    });
    let extra = match id {
        FAPI | FAPI_REFUSALS => json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": {"keys": [keys.assertion.public_jwk(), keys.request.public_jwk()]},
            "grant_types": ["authorization_code", "refresh_token"],
            "dpop_bound_access_tokens": true,
            "id_token_signed_response_alg": "PS256",
            "userinfo_signed_response_alg": "ES256",
            "request_object_signing_alg": "PS256",
        }),
        NOT_FAPI => json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": {"keys": [keys.assertion.public_jwk()]},
            "id_token_signed_response_alg": "RS256",
        }),
        HYBRID => json!({
            "client_secret": SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "implicit"],
            "response_types": ["code id_token"],
            "id_token_signed_response_alg": "ES256",
        }),
        IMPLICIT => json!({
            "token_endpoint_auth_method": "none",
            "grant_types": ["implicit"],
            "response_types": ["id_token"],
            "id_token_signed_response_alg": "EdDSA",
        }),
        _ => panic!("no client {id}"),
    };
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        client[k] = v;
    }
    client
}

/// How `id` authenticates.
fn auth(id: &str) -> ClientAuth {
    match id {
        FAPI | FAPI_REFUSALS | NOT_FAPI => ClientAuth::private_key_jwt(keys().assertion.clone()),
        HYBRID => ClientAuth::client_secret_basic(SECRET),
        _ => ClientAuth::none(),
    }
}

/// The FAPI 2.0 server (`INTEROP_FAPI=2.0`).
fn fapi_provider() -> &'static OidcProvider {
    static P: OnceLock<OidcProvider> = OnceLock::new();
    P.get_or_init(|| {
        OidcProvider::start_with_env(
            vec![client(FAPI), client(FAPI_REFUSALS)],
            &[("INTEROP_FAPI", "2.0".to_owned())],
        )
    })
}

/// The server without a profile, for the hybrid and implicit flows and the
/// switch at a server that is not FAPI.
fn provider() -> &'static OidcProvider {
    static P: OnceLock<OidcProvider> = OnceLock::new();
    P.get_or_init(|| {
        OidcProvider::start_with_env(
            vec![client(HYBRID), client(IMPLICIT), client(NOT_FAPI)],
            &[],
        )
    })
}

/// A configuration for `id` at `server` by discovery, with its registered
/// metadata, `auth`, and the FAPI 2.0 switch on or off.
async fn discover(
    server: &OidcProvider,
    id: &str,
    auth: ClientAuth,
    fapi2: bool,
) -> oidckit::Result<Configuration> {
    let metadata: ClientMetadata = serde_json::from_value(client(id)).unwrap();
    oidckit::discovery(server.issuer.clone(), id, auth)
        .allow_insecure_requests(true)
        .client_metadata(metadata)
        .fapi2_security_profile(fapi2)
        .await
}

async fn config(server: &OidcProvider, id: &str, fapi2: bool) -> Configuration {
    discover(server, id, auth(id), fapi2)
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"))
}

/// A configuration with the switch off.
async fn config_of(server: &OidcProvider, id: &str) -> Configuration {
    config(server, id, false).await
}

/// How many requests of `client_id` the server's `route` has had (the
/// provider's `GET /oidckit/requests`): those that reached the server,
/// whatever their outcome.
async fn requests(server: &OidcProvider, route: &str, client_id: &str) -> u64 {
    let url = server.issuer.join("/oidckit/requests").unwrap();
    let response = oidckit::reqwest::get(url).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let counts: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    counts[route][client_id].as_u64().unwrap_or(0)
}

/// The `error` of an OAuth error from the server, with its HTTP status
/// (`None` through the browser).
#[track_caller]
fn oauth(e: &Error) -> (&str, Option<u16>) {
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    let o = e.oauth_error().unwrap();
    (o.error.as_str(), o.status.map(|s| s.as_u16()))
}

#[track_caller]
fn assert_kind(e: &Error, kind: ErrorKind, says: &str) {
    assert_eq!(e.kind(), kind, "{e}");
    assert!(e.to_string().contains(says), "{says:?} not in: {e}");
}

/// OIDC Core §3.3.2.11: the base64url left half of the SHA-256 of `value`
/// (`c_hash`, `s_hash` of an ES256 or PS256 ID Token).
fn left_half_sha256(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(&openssl::sha::sha256(value.as_bytes())[..16])
}

fn dpop(handle: &DPoPHandle) -> RequestOptions {
    RequestOptions::new().dpop(handle)
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
}

/// A pushed authorization URL: `client_id` and the server's `request_uri`,
/// nothing else.
#[track_caller]
fn assert_pushed(url: &Url, config: &Configuration) {
    let endpoint = config.server_metadata().authorization_endpoint.as_ref();
    assert_eq!(Some(without_query(url)), endpoint.map(without_query));
    assert_eq!(query_names(url), ["client_id", "request_uri"]);
    let request_uri = query(url, "request_uri").unwrap();
    assert!(
        request_uri.len() > PAR_URN.len() && request_uri.starts_with(PAR_URN),
        "{request_uri}"
    );
}

/// The parameters of `flow` without its PKCE challenge.
fn without_pkce(flow: &SignIn) -> Vec<(String, String)> {
    flow.params(SCOPE, &[])
        .into_iter()
        .filter(|(name, _)| !name.starts_with("code_challenge"))
        .collect()
}

#[tokio::test]
async fn fapi2_sign_in_with_par_pkce_private_key_jwt_and_dpop() {
    let server = fapi_provider();
    let config = config(server, FAPI, true).await;
    let issuer = config.server_metadata().issuer.clone();

    // What the server says about itself: a FAPI 2.0 server.
    let metadata = config.server_metadata();
    assert_eq!(metadata.require_pushed_authorization_requests, Some(true));
    assert_eq!(
        metadata.authorization_response_iss_parameter_supported,
        Some(true)
    );
    assert_eq!(
        metadata.token_endpoint_auth_methods_supported.as_deref(),
        Some(&["private_key_jwt".to_owned()][..])
    );
    assert_eq!(
        metadata.response_types_supported,
        Some(vec!["code".to_owned()])
    );
    let mut algs = metadata
        .id_token_signing_alg_values_supported
        .clone()
        .unwrap();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "PS256"]);

    // The push: PKCE, and a DPoP proof that binds the code to the key.
    let handle = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let agent = UserAgent::new();
    let flow = SignIn::new();
    // oidc-provider grants offline_access (a refresh token) with prompt=consent.
    let params = flow.params(
        "openid email profile offline_access",
        &[("prompt", "consent")],
    );
    let pushes = requests(server, "pushed_authorization_request", FAPI).await;
    let url = build_authorization_url_with_par(&config, &params)
        .options(dpop(&handle))
        .await
        .unwrap();
    assert_pushed(&url, &config);
    assert_eq!(
        requests(server, "pushed_authorization_request", FAPI).await,
        pushes + 1
    );

    let authorized = authorize(&agent, &url, "fiona").await;
    assert_eq!(authorized.pages, ["login", "consent"]);
    assert_eq!(without_query(&authorized.callback), REDIRECT_URI);
    assert_eq!(authorized.response_in(), ResponseIn::Query);
    assert_eq!(authorized.param_names(), ["code", "state", "iss"]);
    assert_eq!(authorized.param("iss").as_deref(), Some(issuer.as_str()));
    assert_eq!(authorized.param("state"), Some(flow.state.clone()));

    // Without the DPoP handle the switch does not send the code; nor
    // without `iss` (RFC 9207, required by the profile). Nothing reaches
    // the token endpoint.
    let token_requests = requests(server, "token", FAPI).await;
    let e = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::InvalidInput, "sender-constrained");
    let e = authorization_code_grant(
        &config,
        authorized.with_param("iss", None).response(),
        &flow.checks(),
    )
    .options(dpop(&handle))
    .await
    .unwrap_err();
    assert_kind(&e, ErrorKind::IssuerMismatch, "FAPI 2.0");
    assert_eq!(
        requests(server, "token", FAPI).await,
        token_requests,
        "a token request reached the server"
    );

    // With it, the same code: a DPoP token and a validated PS256 ID Token.
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(dpop(&handle))
        .await
        .unwrap();
    assert_eq!(requests(server, "token", FAPI).await, token_requests + 1);
    assert!(tokens.token_type().is_dpop(), "{:?}", tokens.token_type());
    assert_signed_in(&tokens, &flow, "fiona", FAPI);
    let header = jwt_header(tokens.id_token().unwrap());
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("PS256"), Some("interop-ps256"))
    );
    assert!(tokens.refresh_token().is_some(), "offline_access granted");

    // Userinfo: the bound token with a proof, answered with an ES256 JWT
    // (its iss and aud are the JWT's); as a bearer token it is refused.
    let info = fetch_userinfo(&config, tokens.access_token(), Some("fiona"))
        .options(dpop(&handle))
        .await
        .unwrap();
    assert_eq!(info.subject(), "fiona");
    assert_eq!(info.email(), Some("fiona@interop.example"));
    assert_eq!(info.get("aud"), Some(&json!(FAPI)));
    assert_eq!(info.get("iss"), Some(&json!(issuer)));
    let e = fetch_userinfo(&config, tokens.access_token(), Some("fiona"))
        .await
        .unwrap_err();
    assert_eq!(oauth(&e).0, "invalid_token");

    // Refresh: not sent without the DPoP handle; with it, a new bound token
    // and an ID Token about the same user.
    let token_requests = requests(server, "token", FAPI).await;
    let e = refresh_token_grant(&config, &tokens, NO_PARAMS, None)
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::InvalidInput, "sender-constrained");
    assert_eq!(requests(server, "token", FAPI).await, token_requests);
    let refreshed = refresh_token_grant(&config, &tokens, NO_PARAMS, Some(&handle))
        .await
        .unwrap();
    assert_eq!(requests(server, "token", FAPI).await, token_requests + 1);
    assert!(refreshed.token_type().is_dpop());
    assert_eq!(refreshed.claims().expect("an ID Token").subject(), "fiona");
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let info = fetch_userinfo(&config, refreshed.access_token(), Some("fiona"))
        .options(dpop(&handle))
        .await
        .unwrap();
    assert_eq!(info.subject(), "fiona");

    // The same browser again, its parameters in a pushed PS256 request
    // object (PKCE inside it): single sign-on, no pages.
    let flow = SignIn::new();
    let object =
        build_request_object(&config.context(), flow.params(SCOPE, &[]), &keys().request).unwrap();
    assert_eq!(jwt_header(&object)["alg"], "PS256");
    let claims = jwt_claims(&object);
    assert_eq!(claims["aud"], issuer.as_str());
    assert!(claims["nbf"].is_u64() && claims["exp"].is_u64(), "{claims}");
    assert_eq!(claims["code_challenge_method"], "S256");
    let url = build_authorization_url_with_par(&config, &[("request", object.as_str())])
        .options(dpop(&handle))
        .await
        .unwrap();
    assert_pushed(&url, &config);
    let authorized = authorize(&agent, &url, "fiona").await;
    assert!(authorized.pages.is_empty(), "{:?}", authorized.pages);
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(dpop(&handle))
        .await
        .unwrap();
    assert!(tokens.token_type().is_dpop());
    assert_signed_in(&tokens, &flow, "fiona", FAPI);
}

#[tokio::test]
async fn fapi2_what_the_switch_and_the_server_refuse() {
    let server = fapi_provider();
    let keys = keys();
    let flow = SignIn::new();

    // Client authentication the profile does not allow: the configuration
    // is refused.
    let e = discover(
        server,
        FAPI_REFUSALS,
        ClientAuth::client_secret_basic(SECRET),
        true,
    )
    .await
    .unwrap_err();
    assert_kind(
        &e,
        ErrorKind::InvalidConfiguration,
        "private_key_jwt or mutual TLS",
    );
    let rs256 = PrivateKey::generate(JwsAlgorithm::RS256).unwrap();
    let e = discover(
        server,
        FAPI_REFUSALS,
        ClientAuth::private_key_jwt(rs256),
        true,
    )
    .await
    .unwrap_err();
    assert_kind(&e, ErrorKind::InvalidConfiguration, "not RS256");

    // Assertions for the endpoint rather than the issuer: refused by the
    // switch; without it they are sent, and the FAPI 2.0 server refuses them
    // (oidc-provider's profile: `aud` must be the issuer).
    let for_endpoint = ClientAuth::private_key_jwt(keys.assertion.clone())
        .assertion_audience(AssertionAudience::TokenEndpoint);
    let e = discover(server, FAPI_REFUSALS, for_endpoint.clone(), true)
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::InvalidConfiguration, "sole audience");
    let lax = discover(server, FAPI_REFUSALS, for_endpoint, false)
        .await
        .unwrap();
    let e = build_authorization_url_with_par(&lax, flow.params(SCOPE, &[]))
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_client", Some(401)));

    // Requests that are not pushed: refused by the switch.
    let config = config(server, FAPI_REFUSALS, true).await;
    let e = build_authorization_url(&config, flow.params(SCOPE, &[])).unwrap_err();
    assert_kind(&e, ErrorKind::InvalidInput, "pushed");
    let e = build_authorization_url_with_jar(&config, flow.params(SCOPE, &[]), &keys.request)
        .unwrap_err();
    assert_kind(&e, ErrorKind::InvalidInput, "pushed");

    // A push without PKCE: not sent by the switch; without the switch the
    // server refuses it.
    let handle = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let pushes = requests(server, "pushed_authorization_request", FAPI_REFUSALS).await;
    let e = build_authorization_url_with_par(&config, without_pkce(&flow))
        .options(dpop(&handle))
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::InvalidInput, "S256");
    assert_eq!(
        requests(server, "pushed_authorization_request", FAPI_REFUSALS).await,
        pushes,
        "the push reached the server"
    );
    let lax = config_of(server, FAPI_REFUSALS).await;
    let e = build_authorization_url_with_par(&lax, without_pkce(&flow))
        .options(dpop(&handle))
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_request", Some(400)));
    assert_eq!(
        e.oauth_error().unwrap().error_description.as_deref(),
        Some("Authorization Server policy requires PKCE to be used for this request")
    );
    assert_eq!(
        requests(server, "pushed_authorization_request", FAPI_REFUSALS).await,
        pushes + 1
    );

    // A code redeemed without DPoP: not sent by the switch; without the
    // switch the server refuses it (the client must use DPoP), and the code
    // is still good for the DPoP-bound redemption.
    let url = build_authorization_url_with_par(&lax, flow.params(SCOPE, &[]))
        .await
        .unwrap();
    let agent = UserAgent::new();
    let authorized = authorize(&agent, &url, "gert").await;
    assert_eq!(
        authorized.param("iss").as_deref(),
        Some(lax.server_metadata().issuer.as_str())
    );
    let token_requests = requests(server, "token", FAPI_REFUSALS).await;
    let e = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::InvalidInput, "sender-constrained");
    assert_eq!(
        requests(server, "token", FAPI_REFUSALS).await,
        token_requests
    );
    let e = authorization_code_grant(&lax, &authorized.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(oauth(&e), ("invalid_grant", Some(400)));
    assert_eq!(
        requests(server, "token", FAPI_REFUSALS).await,
        token_requests + 1
    );
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(dpop(&handle))
        .await
        .unwrap();
    assert!(tokens.token_type().is_dpop());
    assert_signed_in(&tokens, &flow, "gert", FAPI_REFUSALS);
}

#[tokio::test]
async fn fapi2_switch_at_a_server_that_is_not_fapi() {
    // The server signs this client's ID Tokens RS256 and requires nothing;
    // the switch still pushes, binds and checks, and refuses the ID Token.
    let server = provider();
    let config = config(server, NOT_FAPI, true).await;
    assert_eq!(
        config
            .server_metadata()
            .require_pushed_authorization_requests,
        None
    );
    let flow = SignIn::new();
    let e = build_authorization_url(&config, flow.params(SCOPE, &[])).unwrap_err();
    assert_kind(&e, ErrorKind::InvalidInput, "pushed");

    let handle = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let url = build_authorization_url_with_par(&config, flow.params(SCOPE, &[]))
        .options(dpop(&handle))
        .await
        .unwrap();
    let agent = UserAgent::new();
    let authorized = authorize(&agent, &url, "hal").await;
    let e = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(dpop(&handle))
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::UnsupportedAlgorithm, "RS256");

    // Without the switch the same sign-in is accepted: the refusal was the
    // profile's.
    let lax = config_of(server, NOT_FAPI).await;
    let flow = SignIn::new();
    let url = build_authorization_url_with_par(&lax, flow.params(SCOPE, &[]))
        .options(dpop(&handle))
        .await
        .unwrap();
    let authorized = authorize(&agent, &url, "hal").await;
    let tokens = authorization_code_grant(&lax, &authorized.callback, &flow.checks())
        .options(dpop(&handle))
        .await
        .unwrap();
    assert_eq!(jwt_header(tokens.id_token().unwrap())["alg"], "RS256");
    assert_signed_in(&tokens, &flow, "hal", NOT_FAPI);
}

#[tokio::test]
async fn hybrid_sign_in_in_the_fragment_and_with_form_post() {
    let server = provider();
    let config = config_of(server, HYBRID).await;
    let supported = config
        .server_metadata()
        .response_types_supported
        .clone()
        .unwrap_or_default();
    assert!(
        supported.iter().any(|t| t == "code id_token"),
        "{supported:?}"
    );
    let agent = UserAgent::new();

    for (response_mode, response_in, pages) in [
        (None, ResponseIn::Fragment, &["login", "consent"][..]),
        (Some("form_post"), ResponseIn::FormPost, &[][..]),
    ] {
        let flow = SignIn::new();
        let mut extra = vec![("response_type", "code id_token")];
        extra.extend(response_mode.map(|mode| ("response_mode", mode)));
        let url = flow.authorization_url(&config, SCOPE, &extra);
        let authorized = authorize(&agent, &url, "hana").await;
        assert_eq!(authorized.pages, pages, "{response_mode:?}");
        assert_eq!(without_query(&authorized.callback), REDIRECT_URI);
        assert_eq!(authorized.response_in(), response_in);
        // No `iss`: the ID Token names the server (RFC 9207 §4).
        let mut names = authorized.param_names();
        names.sort();
        assert_eq!(names, ["code", "id_token", "state"]);
        assert_eq!(authorized.param("state"), Some(flow.state.clone()));

        // The front-channel ID Token is the code's: c_hash. oidc-provider
        // sends s_hash only under its FAPI 1.0 profile (next test).
        let code = authorized.param("code").unwrap();
        let id_token = authorized.param("id_token").unwrap();
        assert_eq!(jwt_header(&id_token)["alg"], "ES256");
        let claims = jwt_claims(&id_token);
        assert_eq!(claims["c_hash"], left_half_sha256(&code));
        assert_eq!(claims["nonce"], flow.nonce.as_str());
        assert_eq!(claims["sub"], "hana");
        assert_eq!(claims.get("s_hash"), None);
        assert_eq!(claims.get("at_hash"), None);

        let token_requests = requests(server, "token", HYBRID).await;
        let checks = flow.checks().hybrid();
        // Another code in the response than the ID Token's: refused
        // before it is redeemed.
        let swapped = authorized.with_param("code", Some(&format!("{code}x")));
        let e = authorization_code_grant(&config, swapped.response(), &checks)
            .await
            .unwrap_err();
        assert_kind(&e, ErrorKind::ClaimComparison, "c_hash");
        // The ID Token's nonce is checked as well.
        let other_nonce = flow.checks().expected_nonce(random_nonce()).hybrid();
        let e = authorization_code_grant(&config, authorized.response(), &other_nonce)
            .await
            .unwrap_err();
        assert_kind(&e, ErrorKind::ClaimComparison, "nonce");
        // An `iss` added by someone else must still be the issuer's.
        let mixed_up = authorized.with_param("iss", Some("http://127.0.0.1:2"));
        let e = authorization_code_grant(&config, mixed_up.response(), &checks)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IssuerMismatch, "{e}");
        // Checked as a code response it is refused: without `iss`, which
        // the server promises for those, and with it for the ID Token.
        let e = authorization_code_grant(&config, authorized.response(), &flow.checks())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IssuerMismatch, "{e}");
        let with_iss = authorized.with_param("iss", Some(config.server_metadata().issuer.as_str()));
        let e = authorization_code_grant(&config, with_iss.response(), &flow.checks())
            .await
            .unwrap_err();
        assert_kind(&e, ErrorKind::UnsupportedOperation, "id_token");
        assert_eq!(requests(server, "token", HYBRID).await, token_requests);

        // As it came: the code is redeemed, the token endpoint's ID Token
        // is about the same user.
        let tokens = authorization_code_grant(&config, authorized.response(), &checks)
            .await
            .unwrap_or_else(|e| panic!("{response_mode:?}: {e}"));
        assert_eq!(requests(server, "token", HYBRID).await, token_requests + 1);
        assert_signed_in(&tokens, &flow, "hana", HYBRID);
        assert_ne!(tokens.id_token(), Some(id_token.as_str()));
        assert_eq!(tokens.claims().unwrap().get("c_hash"), None);
    }
}

#[tokio::test]
async fn hybrid_under_the_fapi_1_profile_has_s_hash() {
    // Its own provider: oidc-provider puts s_hash into the front-channel ID
    // Token only under its FAPI 1.0 profile.
    let server = OidcProvider::start_with_env(
        vec![client(HYBRID)],
        &[("INTEROP_FAPI", "1.0 Final".to_owned())],
    );
    let config = config_of(&server, HYBRID).await;
    let agent = UserAgent::new();
    let flow = SignIn::new();
    let url = flow.authorization_url(&config, SCOPE, &[("response_type", "code id_token")]);
    let authorized = authorize(&agent, &url, "ines").await;
    assert_eq!(authorized.response_in(), ResponseIn::Fragment);
    let claims = jwt_claims(&authorized.param("id_token").unwrap());
    assert_eq!(claims["s_hash"], left_half_sha256(&flow.state));
    assert_eq!(
        claims["c_hash"],
        left_half_sha256(&authorized.param("code").unwrap())
    );

    // Another state in the response, and a session that expects it (the
    // rest as the flow's): the state check passes, the ID Token's s_hash
    // does not.
    let other_state = random_state();
    let swapped = authorized.with_param("state", Some(&other_state));
    let checks = AuthorizationChecks::new()
        .pkce_code_verifier(&flow.verifier)
        .expected_state(&other_state)
        .expected_nonce(&flow.nonce)
        .max_age(flow.max_age)
        .hybrid();
    let e = authorization_code_grant(&config, swapped.response(), &checks)
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::ClaimComparison, "s_hash");

    let tokens = authorization_code_grant(&config, authorized.response(), &flow.checks().hybrid())
        .await
        .unwrap();
    assert_signed_in(&tokens, &flow, "ines", HYBRID);
}

#[tokio::test]
async fn implicit_sign_in() {
    let server = provider();
    let config = config_of(server, IMPLICIT).await;
    let agent = UserAgent::new();
    let flow = SignIn::new();
    let url = build_authorization_url(&config, flow.implicit_params(SCOPE, &[])).unwrap();
    assert_eq!(query(&url, "response_type").as_deref(), Some("id_token"));
    let authorized = authorize(&agent, &url, "ivan").await;
    assert_eq!(authorized.pages, ["login", "consent"]);
    assert_eq!(authorized.response_in(), ResponseIn::Fragment);
    let mut names = authorized.param_names();
    names.sort();
    assert_eq!(names, ["id_token", "state"]);
    assert_eq!(
        jwt_header(&authorized.param("id_token").unwrap())["alg"],
        "EdDSA"
    );

    let checks = AuthorizationChecks::new()
        .expected_state(&flow.state)
        .expected_nonce(&flow.nonce)
        .max_age(flow.max_age);
    // A changed or missing state: refused.
    for state in [Some("forged"), None] {
        let changed = authorized.with_param("state", state);
        let e = implicit_authentication(&config, changed.response(), &checks)
            .await
            .unwrap_err();
        assert_kind(&e, ErrorKind::ClaimComparison, "state");
    }
    // Another nonce expected (the ID Token replayed into another session).
    let other = AuthorizationChecks::new()
        .expected_state(&flow.state)
        .expected_nonce(random_nonce());
    let e = implicit_authentication(&config, authorized.response(), &other)
        .await
        .unwrap_err();
    assert_kind(&e, ErrorKind::ClaimComparison, "nonce");
    // No nonce to check against: refused before anything else.
    let e = implicit_authentication(
        &config,
        authorized.response(),
        &AuthorizationChecks::new().expected_state(&flow.state),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    let claims = implicit_authentication(&config, authorized.response(), &checks)
        .await
        .unwrap();
    assert_eq!(claims.subject(), "ivan");
    assert_eq!(claims.nonce(), Some(flow.nonce.as_str()));
    assert_eq!(claims.audiences(), [IMPLICIT]);
    assert_eq!(claims.email(), Some("ivan@interop.example"));
    assert!(claims.auth_time().is_some());

    // The same browser, the response posted in a form this time.
    let flow = SignIn::new();
    let url = build_authorization_url(
        &config,
        flow.implicit_params(SCOPE, &[("response_mode", "form_post")]),
    )
    .unwrap();
    let authorized = authorize(&agent, &url, "ivan").await;
    assert!(authorized.pages.is_empty(), "{:?}", authorized.pages);
    assert_eq!(authorized.response_in(), ResponseIn::FormPost);
    let checks = AuthorizationChecks::new()
        .expected_state(&flow.state)
        .expected_nonce(&flow.nonce);
    let e = implicit_authentication(
        &config,
        authorized.with_param("state", Some("forged")).response(),
        &checks,
    )
    .await
    .unwrap_err();
    assert_kind(&e, ErrorKind::ClaimComparison, "state");
    let claims = implicit_authentication(&config, authorized.response(), &checks)
        .await
        .unwrap();
    assert_eq!(claims.subject(), "ivan");
    assert_eq!(claims.nonce(), Some(flow.nonce.as_str()));
}

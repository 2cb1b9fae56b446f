//! Signing a user in against the real `oidc-provider`
//! (tests/interop/provider.mjs): the authorization code flow with PKCE,
//! `state`, `nonce` and `max_age`, driven over HTTP through the server's
//! login and consent pages by a small user agent with a cookie jar
//! (tests/support/user_agent.rs, no automatic redirects); the
//! `form_post` response mode; userinfo (JSON and signed); refresh with a
//! new ID Token; a DPoP-bound sign-in; ID Tokens signed with each
//! algorithm; signing key rotation through the JWKS cache's unknown-`kid`
//! refetch; RP-Initiated Logout; and tampered or refused authorization
//! responses.
//!
//! The client's redirect URI (`http://127.0.0.1:1/cb`) is never requested:
//! the user agent stops at the redirect that leaves the server and the test
//! hands that `Location` to the client, as a web framework would hand it the
//! URL the browser requested.

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
#[path = "support/sign_in.rs"]
mod sign_in;
mod support;
#[path = "support/user_agent.rs"]
mod user_agent;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oidc_provider::OidcProvider;
use oidckit::reqwest::StatusCode;
use oidckit::{
    authorization_code_grant, build_end_session_url, calculate_pkce_code_challenge, fetch_userinfo,
    random_nonce, random_state, refresh_token_grant, Callback, ClientAuth, ClientMetadata, Clock,
    Configuration, DPoPHandle, ErrorKind, JwsAlgorithm, ManualClock, RequestOptions,
    TokenEndpointResponse,
};
use serde_json::{json, Value};
use sign_in::{authorize, query, with_param, SignIn, REDIRECT_URI};
use support::{jwt_claims, jwt_header};
use user_agent::{snippet, UserAgent};

const SECRET: &str = "sign-in-secret";
const POST_LOGOUT_REDIRECT_URI: &str = "http://127.0.0.1:1/signed-out";
const SCOPE: &str = "openid email profile";
const NO_PARAMS: [(&str, &str); 0] = [];

/// The clients of the shared provider that differ only in the ID Token
/// signing algorithm, and the provider's key (kid) for it.
const ALG_CLIENTS: [(&str, &str, &str); 4] = [
    ("web-es256", "ES256", "interop-es256"),
    ("web-ps256", "PS256", "interop-ps256"),
    ("web-rs256", "RS256", "interop-rs256"),
    ("web-eddsa", "EdDSA", "interop-eddsa"),
];
/// A client that registered signed userinfo responses (ES256); its ID
/// Tokens use the default, RS256.
const JWT_USERINFO_CLIENT: &str = "web-jwt-userinfo";
/// A client whose access tokens must be DPoP-bound (RFC 9449).
const DPOP_CLIENT: &str = "web-dpop";
/// The client of the key rotation provider (EdDSA, whose key is hidden
/// from the JWK Set at first).
const ROTATION_CLIENT: &str = "web-rotation";

/// Client metadata for a confidential web client of the sign-in tests, as
/// registered at the provider and as configured in oidckit.
fn web_client(id: &str, extra: Value) -> Value {
    let mut client = json!({
        "client_id": id,
        "client_secret": SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "redirect_uris": [REDIRECT_URI],
        "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI],
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        client[k] = v;
    }
    client
}

fn client(id: &str) -> Value {
    if id == JWT_USERINFO_CLIENT {
        return web_client(id, json!({"userinfo_signed_response_alg": "ES256"}));
    }
    if id == DPOP_CLIENT {
        return web_client(id, json!({"dpop_bound_access_tokens": true}));
    }
    if id == ROTATION_CLIENT {
        return web_client(id, json!({"id_token_signed_response_alg": "EdDSA"}));
    }
    let (_, alg, _) = ALG_CLIENTS
        .iter()
        .find(|(client, _, _)| *client == id)
        .unwrap_or_else(|| panic!("no client {id}"));
    web_client(id, json!({"id_token_signed_response_alg": alg}))
}

/// One provider for every test but the key rotation one.
fn provider() -> &'static OidcProvider {
    static P: OnceLock<OidcProvider> = OnceLock::new();
    P.get_or_init(|| {
        let mut clients: Vec<Value> = ALG_CLIENTS.iter().map(|(id, _, _)| client(id)).collect();
        clients.push(client(JWT_USERINFO_CLIENT));
        clients.push(client(DPOP_CLIENT));
        OidcProvider::start_with_env(clients, &[])
    })
}

/// A configuration for `id` at `server` by discovery, with the client's
/// registered metadata (redirect URI, signing algorithms).
async fn config(server: &OidcProvider, id: &str) -> Configuration {
    config_with_clock(server, id, None).await
}

async fn config_with_clock(
    server: &OidcProvider,
    id: &str,
    clock: Option<Arc<dyn Clock>>,
) -> Configuration {
    let metadata: ClientMetadata = serde_json::from_value(client(id)).unwrap();
    let mut discovery = oidckit::discovery(
        server.issuer.clone(),
        id,
        ClientAuth::client_secret_basic(SECRET),
    )
    .allow_insecure_requests(true)
    .client_metadata(metadata);
    if let Some(clock) = clock {
        discovery = discovery.clock(clock);
    }
    discovery.await.unwrap()
}

/// A whole sign-in of `login` in `agent`, returning the validated tokens.
async fn sign_in(
    agent: &UserAgent,
    config: &Configuration,
    login: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> TokenEndpointResponse {
    let flow = SignIn::new();
    let authorized = authorize(agent, &flow.authorization_url(config, scope, extra), login).await;
    authorization_code_grant(config, &authorized.callback, &flow.checks())
        .await
        .unwrap_or_else(|e| panic!("sign-in of {login} failed: {e}"))
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A test-only admin route of the provider (tests/interop/README.md).
async fn admin(server: &OidcProvider, method: &str, path: &str) -> (StatusCode, String) {
    let url = server.issuer.join(path).unwrap();
    let http = oidckit::reqwest::Client::new();
    let request = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// How many times the provider has served its JWK Set.
async fn jwks_requests(server: &OidcProvider) -> u64 {
    let (status, body) = admin(server, "GET", "/oidckit/jwks/requests").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn authorization_code_flow_through_the_login_and_consent_pages() {
    let server = provider();
    let config = config(server, "web-es256").await;
    let issuer = config.server_metadata().issuer.clone();
    assert_eq!(
        config
            .server_metadata()
            .authorization_response_iss_parameter_supported,
        Some(true)
    );
    let started = unix(SystemTime::now());

    // The authorization request carries the flow's secrets (the verifier
    // only as its S256 challenge).
    let flow = SignIn::new();
    let url = flow.authorization_url(&config, SCOPE, &[]);
    assert_eq!(
        url.origin(),
        server.issuer.origin(),
        "authorization endpoint"
    );
    for (name, expected) in [
        ("client_id", "web-es256"),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", SCOPE),
        ("code_challenge_method", "S256"),
        ("state", flow.state.as_str()),
        ("nonce", flow.nonce.as_str()),
        ("max_age", "3600"),
    ] {
        assert_eq!(query(&url, name).as_deref(), Some(expected), "{name}");
    }
    assert_eq!(
        query(&url, "code_challenge"),
        Some(calculate_pkce_code_challenge(&flow.verifier))
    );
    assert_eq!(query(&url, "code_verifier"), None);

    // Hop by hop: the authorization endpoint sends the browser to an
    // interaction, which is the login page.
    let agent = UserAgent::new();
    let mut hops = Vec::new();
    let first = agent.get(&url).await;
    assert!(first.status.is_redirection(), "{}", first.status);
    let interaction = first.location.clone().expect("a Location");
    assert_eq!(interaction.origin(), server.issuer.origin());
    assert!(
        interaction.path().starts_with("/interaction/"),
        "{interaction}"
    );
    let login = agent.follow(first, &mut hops).await.page();
    assert_eq!((login.status, &login.url), (StatusCode::OK, &interaction));
    assert_eq!(login.text_of("client").as_deref(), Some("web-es256"));
    let mut form = login.form("login");
    assert_eq!(form.action.path(), format!("{}/login", interaction.path()));

    // An empty login is refused on the page itself.
    let refused = agent.submit(&form, "submit").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.text_of("error").as_deref(), Some("enter a login"));

    // Signing in resumes the authorization, which now wants consent.
    form.set("login", "alice");
    form.set("password", "whatever");
    let signed_in = agent.submit(&form, "submit").await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let resume = signed_in.location.clone().unwrap();
    assert!(resume.path().starts_with("/auth/"), "{resume}");
    let consent = agent.follow(signed_in, &mut hops).await.page();
    // The resumed authorization started a session at the server.
    assert!(
        agent
            .cookie_names(&server.issuer)
            .iter()
            .any(|n| n == "_session"),
        "a session cookie for the issuer"
    );
    assert_eq!(consent.status, StatusCode::OK);
    assert!(consent.url.path().starts_with("/interaction/"));
    assert_eq!(consent.text_of("account").as_deref(), Some("alice"));
    assert_eq!(
        consent.texts_of_class("scope"),
        ["openid", "email", "profile"]
    );

    // Allowing sends the browser back to the client's redirect URI.
    let allowed = agent.submit(&consent.form("consent"), "submit").await;
    assert_eq!(allowed.status, StatusCode::SEE_OTHER);
    let callback = agent.follow(allowed, &mut hops).await.left();
    assert_eq!(
        format!(
            "{}{}",
            callback.origin().ascii_serialization(),
            callback.path()
        ),
        REDIRECT_URI
    );
    assert!(query(&callback, "code").is_some_and(|c| !c.is_empty()));
    assert_eq!(query(&callback, "state"), Some(flow.state.clone()));
    // RFC 9207: the issuer says who sent the response.
    assert_eq!(query(&callback, "iss"), Some(issuer.clone()));
    assert!(hops.len() <= user_agent::MAX_REDIRECTS, "{hops:?}");

    // The client redeems the code and validates the ID Token.
    let tokens = authorization_code_grant(&config, &callback, &flow.checks())
        .await
        .unwrap();
    let claims = tokens.claims().expect("a validated ID Token");
    assert_eq!(claims.subject(), "alice");
    assert_eq!(claims.issuer(), issuer);
    assert_eq!(claims.audiences(), ["web-es256"]);
    assert_eq!(claims.nonce(), Some(flow.nonce.as_str()));
    let auth_time = unix(claims.auth_time().expect("auth_time (max_age was sent)"));
    let now = unix(SystemTime::now());
    assert!(
        (started..=now).contains(&auth_time),
        "auth_time {auth_time} not in [{started}, {now}]"
    );
    assert_eq!(claims.email(), Some("alice@interop.example"));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.name(), Some("Interop User alice"));
    let header = jwt_header(tokens.id_token().unwrap());
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("ES256"), Some("interop-es256"))
    );
    assert!(tokens.refresh_token().is_none(), "no offline_access asked");

    // Single sign-on: the same browser is sent straight back, still as
    // alice (not as the login given now) and with the first auth_time.
    let again = SignIn::new();
    let authorized = authorize(&agent, &again.authorization_url(&config, SCOPE, &[]), "bob").await;
    assert!(authorized.pages.is_empty(), "{:?}", authorized.pages);
    let second = authorization_code_grant(&config, &authorized.callback, &again.checks())
        .await
        .unwrap();
    let second = second.claims().unwrap();
    assert_eq!(second.subject(), "alice");
    assert_eq!(second.nonce(), Some(again.nonce.as_str()));
    assert_eq!(unix(second.auth_time().unwrap()), auth_time);

    // A code is redeemed once; replaying it revokes what it gave (RFC 6749
    // §4.1.2), so the first access token stops working.
    fetch_userinfo(&config, tokens.access_token(), Some("alice"))
        .await
        .unwrap();
    let e = authorization_code_grant(&config, &callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth_error().unwrap().error, "invalid_grant");
    let e = fetch_userinfo(&config, tokens.access_token(), Some("alice"))
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("invalid_token"),
        "{e}"
    );
}

#[tokio::test]
async fn form_post_response_mode() {
    let server = provider();
    let config = config(server, "web-es256").await;
    let agent = UserAgent::new();
    let flow = SignIn::new();
    let url = flow.authorization_url(&config, SCOPE, &[("response_mode", "form_post")]);
    let authorized = authorize(&agent, &url, "leo").await;
    assert_eq!(authorized.pages, ["login", "consent"]);
    let body = authorized
        .form_post
        .expect("an auto-submitting form to the redirect URI");
    assert_eq!(authorized.callback.as_str(), REDIRECT_URI);
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["code", "state", "iss"]);

    // A posted state that is not the session's: refused before redemption.
    let forged = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter().map(|(n, v)| {
            let v = if n == "state" { "forged" } else { v.as_str() };
            (n.as_str(), v)
        }))
        .finish();
    let e = authorization_code_grant(
        &config,
        Callback::form_post(&authorized.callback, forged.as_bytes()),
        &flow.checks(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{e}");

    let tokens = authorization_code_grant(
        &config,
        Callback::form_post(&authorized.callback, body.as_bytes()),
        &flow.checks(),
    )
    .await
    .unwrap();
    let claims = tokens.claims().unwrap();
    assert_eq!(claims.subject(), "leo");
    assert_eq!(claims.nonce(), Some(flow.nonce.as_str()));
}

#[tokio::test]
async fn userinfo_as_json_and_as_a_signed_jwt() {
    let server = provider();
    for (id, signed) in [("web-es256", false), (JWT_USERINFO_CLIENT, true)] {
        let config = config(server, id).await;
        let agent = UserAgent::new();
        let tokens = sign_in(&agent, &config, "carol", SCOPE, &[]).await;
        let subject = tokens.claims().unwrap().subject().to_owned();
        assert_eq!(subject, "carol");

        // What the server sends, seen without the client.
        let endpoint = config.server_metadata().userinfo_endpoint.clone().unwrap();
        let raw = oidckit::reqwest::Client::new()
            .get(endpoint)
            .bearer_auth(tokens.access_token().secret())
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), StatusCode::OK, "{id}");
        let content_type = raw.headers()["content-type"].to_str().unwrap().to_owned();
        let body = raw.text().await.unwrap();
        if signed {
            assert!(
                content_type.starts_with("application/jwt"),
                "{content_type}"
            );
            let header = jwt_header(&body);
            assert_eq!(header["alg"], "ES256");
            assert_eq!(header["kid"], "interop-es256");
            let claims = jwt_claims(&body);
            assert_eq!(claims["sub"], "carol");
            assert_eq!(claims["aud"], id);
            assert_eq!(claims["iss"], config.server_metadata().issuer.as_str());
        } else {
            assert!(
                content_type.starts_with("application/json"),
                "{content_type}"
            );
            assert_eq!(
                serde_json::from_str::<Value>(&body).unwrap()["sub"],
                "carol"
            );
        }

        // The client: JSON, or the JWT verified with the server's keys.
        let info = fetch_userinfo(&config, tokens.access_token(), Some(&subject))
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(info.subject(), "carol");
        assert_eq!(info.email(), Some("carol@interop.example"));
        assert_eq!(info.email_verified(), Some(true));
        assert_eq!(info.name(), Some("Interop User carol"));

        // About another user than the one signed in: refused.
        let e = fetch_userinfo(&config, tokens.access_token(), Some("mallory"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{id}: {e}");
    }
}

#[tokio::test]
async fn refresh_token_grant_returns_an_id_token_for_the_same_user() {
    let server = provider();
    let config = config(server, "web-es256").await;
    let agent = UserAgent::new();

    // oidc-provider grants offline_access only with prompt=consent.
    let tokens = sign_in(
        &agent,
        &config,
        "erin",
        "openid email offline_access",
        &[("prompt", "consent")],
    )
    .await;
    assert!(tokens.refresh_token().is_some(), "a refresh token");
    assert!(
        tokens
            .scope()
            .unwrap()
            .split(' ')
            .any(|s| s == "offline_access"),
        "{:?}",
        tokens.scope()
    );
    let original = tokens.claims().unwrap();

    let refreshed = refresh_token_grant(&config, &tokens, NO_PARAMS, None)
        .await
        .unwrap();
    let claims = refreshed.claims().expect("a new ID Token, validated");
    assert_eq!(claims.subject(), original.subject());
    assert_eq!(claims.subject(), "erin");
    assert_eq!(claims.auth_time(), original.auth_time());
    assert_eq!(claims.email(), Some("erin@interop.example"));
    assert_ne!(refreshed.id_token(), tokens.id_token());
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    // The new access token works at userinfo.
    let info = fetch_userinfo(&config, refreshed.access_token(), Some(claims.subject()))
        .await
        .unwrap();
    assert_eq!(info.subject(), "erin");

    // Without prompt=consent the scope is dropped: no refresh token.
    let plain = sign_in(&agent, &config, "erin", "openid offline_access", &[]).await;
    assert!(plain.refresh_token().is_none());
    let e = refresh_token_grant(&config, &plain, NO_PARAMS, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[tokio::test]
async fn dpop_bound_sign_in_userinfo_and_refresh() {
    let server = provider();
    let config = config(server, DPOP_CLIENT).await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let agent = UserAgent::new();

    // dpop_jkt binds the code to the key (RFC 9449 §10).
    let flow = SignIn::new();
    let url = flow.authorization_url(
        &config,
        "openid email offline_access",
        &[("prompt", "consent"), ("dpop_jkt", dpop.thumbprint())],
    );
    let authorized = authorize(&agent, &url, "kate").await;
    let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert!(tokens.token_type().is_dpop());
    let subject = tokens.claims().unwrap().subject().to_owned();
    assert_eq!(subject, "kate");

    // Userinfo takes the bound token with a proof, not as a bearer token.
    let info = fetch_userinfo(&config, tokens.access_token(), Some(&subject))
        .options(RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
    assert_eq!(info.email(), Some("kate@interop.example"));
    let e = fetch_userinfo(&config, tokens.access_token(), Some(&subject))
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("invalid_token"),
        "{e}"
    );

    // Refreshing with the same key: a new bound token and ID Token.
    let refreshed = refresh_token_grant(&config, &tokens, NO_PARAMS, Some(&dpop))
        .await
        .unwrap();
    assert!(refreshed.token_type().is_dpop());
    assert_eq!(refreshed.claims().unwrap().subject(), subject);

    // A code bound to one key cannot be redeemed with another.
    let flow = SignIn::new();
    let url = flow.authorization_url(&config, SCOPE, &[("dpop_jkt", dpop.thumbprint())]);
    let authorized = authorize(&agent, &url, "kate").await;
    let other = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let e = authorization_code_grant(&config, &authorized.callback, &flow.checks())
        .options(RequestOptions::new().dpop(&other))
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error().map(|o| o.error.as_str()),
        Some("invalid_grant"),
        "{e}"
    );
}

#[tokio::test]
async fn id_tokens_signed_with_each_algorithm_validate() {
    let server = provider();
    // One browser: it signs in once and consents per client.
    let agent = UserAgent::new();
    for (i, (id, alg, kid)) in ALG_CLIENTS.iter().enumerate() {
        let config = config(server, id).await;
        let flow = SignIn::new();
        let authorized = authorize(
            &agent,
            &flow.authorization_url(&config, SCOPE, &[]),
            "frank",
        )
        .await;
        let expected_pages: &[&str] = if i == 0 {
            &["login", "consent"]
        } else {
            &["consent"]
        };
        assert_eq!(authorized.pages, expected_pages, "{id}");
        let tokens = authorization_code_grant(&config, &authorized.callback, &flow.checks())
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let header = jwt_header(tokens.id_token().unwrap());
        assert_eq!(header["alg"], *alg, "{id}");
        assert_eq!(header["kid"], *kid, "{id}");
        let claims = tokens.claims().unwrap();
        assert_eq!(claims.subject(), "frank");
        assert_eq!(claims.audiences(), [*id]);
    }

    // A client expecting ES256 refuses the RS256 client's ID Token before
    // looking for a key (same client id, other registered alg).
    let mut metadata: ClientMetadata = serde_json::from_value(client("web-rs256")).unwrap();
    metadata.id_token_signed_response_alg = Some("ES256".into());
    let strict = oidckit::discovery(
        server.issuer.clone(),
        "web-rs256",
        ClientAuth::client_secret_basic(SECRET),
    )
    .allow_insecure_requests(true)
    .client_metadata(metadata)
    .await
    .unwrap();
    let flow = SignIn::new();
    let authorized = authorize(
        &agent,
        &flow.authorization_url(&strict, SCOPE, &[]),
        "frank",
    )
    .await;
    let e = authorization_code_grant(&strict, &authorized.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedAlgorithm, "{e}");
}

#[tokio::test]
async fn signing_key_rotation_is_picked_up_through_the_unknown_kid_refetch() {
    // Its own provider: the EdDSA key signs this client's ID Tokens but is
    // left out of the JWK Set until published.
    let server = OidcProvider::start_with_env(
        vec![client(ROTATION_CLIENT)],
        &[("INTEROP_JWKS_UNPUBLISHED", "interop-eddsa".to_owned())],
    );
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let config = config_with_clock(&server, ROTATION_CLIENT, Some(clock.clone())).await;
    assert_eq!(jwks_requests(&server).await, 0);
    let agent = UserAgent::new();
    let kids = |config: &Configuration| -> Vec<String> {
        let snapshot = config.export_jwks_cache().expect("a cached JWK Set");
        snapshot.jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let attempt = |login: &'static str| {
        let config = &config;
        let agent = &agent;
        async move {
            let flow = SignIn::new();
            let authorized =
                authorize(agent, &flow.authorization_url(config, SCOPE, &[]), login).await;
            authorization_code_grant(config, &authorized.callback, &flow.checks()).await
        }
    };

    // 1. The first JWK Set lacks the ID Token's kid: refused, and not
    //    fetched again right away.
    let e = attempt("grace").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeySelection, "{e}");
    assert_eq!(jwks_requests(&server).await, 1);
    let cached = kids(&config);
    assert_eq!(cached.len(), 3, "{cached:?}");
    assert!(!cached.iter().any(|k| k == "interop-eddsa"), "{cached:?}");

    // 2. The server publishes the key; 59 s later the client still does
    //    not refetch (at most once per 60 s), so the kid stays unknown.
    let (status, body) = admin(&server, "POST", "/oidckit/jwks/publish-all").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    clock.advance(Duration::from_secs(59));
    let e = attempt("grace").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeySelection, "{e}");
    assert_eq!(jwks_requests(&server).await, 1, "refetched within 60 s");

    // 3. Past 60 s the unknown kid makes the cache fetch the set again
    //    (well before jwks_max_age), and the new key verifies the token.
    clock.advance(Duration::from_secs(2));
    let tokens = attempt("grace").await.unwrap();
    assert_eq!(tokens.claims().unwrap().subject(), "grace");
    assert_eq!(
        jwt_header(tokens.id_token().unwrap())["kid"],
        "interop-eddsa"
    );
    assert_eq!(jwks_requests(&server).await, 2);
    assert!(kids(&config).iter().any(|k| k == "interop-eddsa"));
    let snapshot = config.export_jwks_cache().unwrap();
    assert_eq!(snapshot.fetched_at, unix(clock.now()));

    // 4. Another process importing that cache needs no fetch.
    let other = config_with_clock(&server, ROTATION_CLIENT, Some(clock.clone())).await;
    other.import_jwks_cache(snapshot).unwrap();
    let flow = SignIn::new();
    let authorized = authorize(&agent, &flow.authorization_url(&other, SCOPE, &[]), "grace").await;
    authorization_code_grant(&other, &authorized.callback, &flow.checks())
        .await
        .unwrap();
    assert_eq!(jwks_requests(&server).await, 2);

    // 5. Keys older than jwks_max_age (300 s) are fetched again even when
    //    they hold the kid.
    clock.advance(config.jwks_max_age());
    attempt("grace").await.unwrap();
    assert_eq!(jwks_requests(&server).await, 3);
}

#[tokio::test]
async fn rp_initiated_logout_returns_to_the_client_with_its_state() {
    let server = provider();
    let config = config(server, "web-es256").await;
    let agent = UserAgent::new();
    let tokens = sign_in(&agent, &config, "dave", SCOPE, &[]).await;
    let subject = tokens.claims().unwrap().subject().to_owned();

    let state = random_state();
    let url = build_end_session_url(
        &config,
        &[
            ("id_token_hint", tokens.id_token().unwrap()),
            ("post_logout_redirect_uri", POST_LOGOUT_REDIRECT_URI),
            ("state", state.as_str()),
        ],
    )
    .unwrap();
    let endpoint = config
        .server_metadata()
        .end_session_endpoint
        .clone()
        .unwrap();
    assert_eq!(url.path(), endpoint.path());
    assert_eq!(query(&url, "client_id").as_deref(), Some("web-es256"));

    // The server asks the user to confirm.
    let mut hops = Vec::new();
    let page = agent.visit(&url, &mut hops).await.page();
    assert_eq!(page.status, StatusCode::OK, "{}", snippet(&page.body));
    assert_eq!(page.text_of("client").as_deref(), Some("web-es256"));
    let form = page.form("logout");
    assert!(form
        .fields
        .iter()
        .any(|(n, v)| n == "xsrf" && !v.is_empty()));
    let confirmed = agent.submit(&form, "submit").await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER);

    // Back at the client's registered URI, with its state and nothing else.
    let back = agent.follow(confirmed, &mut hops).await.left();
    assert_eq!(
        format!("{}{}", back.origin().ascii_serialization(), back.path()),
        POST_LOGOUT_REDIRECT_URI
    );
    let params: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    assert_eq!(params, [("state".to_owned(), state)]);

    // Signed out for real: the sign-in's tokens are revoked, and the
    // browser must log in again.
    let e = fetch_userinfo(&config, tokens.access_token(), Some(&subject))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
    let flow = SignIn::new();
    let authorized = authorize(&agent, &flow.authorization_url(&config, SCOPE, &[]), "dave").await;
    assert_eq!(authorized.pages, ["login", "consent"]);
}

#[tokio::test]
async fn tampered_authorization_responses_are_refused_before_the_code_is_used() {
    let server = provider();
    let config = config(server, "web-es256").await;
    let agent = UserAgent::new();
    let flow = SignIn::new();
    let authorized = authorize(
        &agent,
        &flow.authorization_url(&config, SCOPE, &[]),
        "heidi",
    )
    .await;
    let callback = authorized.callback;
    let checks = flow.checks();

    // Another state than the one kept in the session (a response meant
    // for another browser, or forged).
    let forged = with_param(&callback, "state", Some("forged-state"));
    let e = authorization_code_grant(&config, &forged, &checks)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{e}");
    let other_session = flow.checks().expected_state(random_state());
    let e = authorization_code_grant(&config, &callback, &other_session)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{e}");

    // Another server's iss (the mix-up attack), or none though the server
    // promises it (RFC 9207).
    let mixed_up = with_param(&callback, "iss", Some("http://127.0.0.1:2"));
    let e = authorization_code_grant(&config, &mixed_up, &checks)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IssuerMismatch, "{e}");
    let no_iss = with_param(&callback, "iss", None);
    let e = authorization_code_grant(&config, &no_iss, &checks)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IssuerMismatch, "{e}");

    // None of them reached the token endpoint: the genuine response still
    // signs the user in.
    let tokens = authorization_code_grant(&config, &callback, &checks)
        .await
        .unwrap();
    assert_eq!(tokens.claims().unwrap().subject(), "heidi");
}

#[tokio::test]
async fn id_token_nonce_and_auth_time_are_checked_after_the_exchange() {
    let server = provider();
    let config = config(server, "web-es256").await;
    let agent = UserAgent::new();

    // The nonce of another sign-in: the ID Token is not for this one.
    let flow = SignIn::new();
    let authorized = authorize(&agent, &flow.authorization_url(&config, SCOPE, &[]), "ivan").await;
    let checks = flow.checks().expected_nonce(random_nonce());
    let e = authorization_code_grant(&config, &authorized.callback, &checks)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{e}");

    // max_age=60, but on the client's clock the login was 200 s ago
    // (beyond the 30 s tolerance).
    let clock = Arc::new(ManualClock::new(
        SystemTime::now() + Duration::from_secs(200),
    ));
    let late = config_with_clock(server, "web-es256", Some(clock)).await;
    let mut flow = SignIn::new();
    flow.max_age = 60;
    let authorized = authorize(&agent, &flow.authorization_url(&late, SCOPE, &[]), "ivan").await;
    let e = authorization_code_grant(&late, &authorized.callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimestampCheck, "{e}");
}

#[tokio::test]
async fn refused_consent_comes_back_as_access_denied_with_the_state() {
    let server = provider();
    let config = config(server, "web-es256").await;
    let agent = UserAgent::new();
    let flow = SignIn::new();
    let mut hops = Vec::new();
    let page = agent
        .visit(&flow.authorization_url(&config, SCOPE, &[]), &mut hops)
        .await
        .page();
    let mut form = page.form("login");
    form.set("login", "judy");
    let response = agent.submit(&form, "submit").await;
    let consent = agent.follow(response, &mut hops).await.page();
    let denied = agent.submit(&consent.form("abort"), "cancel").await;
    let callback = agent.follow(denied, &mut hops).await.left();
    assert_eq!(query(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&callback, "code"), None);

    let e = authorization_code_grant(&config, &callback, &flow.checks())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    let oauth = e.oauth_error().unwrap();
    assert_eq!(oauth.error, "access_denied");
    assert_eq!(
        oauth.error_description.as_deref(),
        Some("End-User aborted interaction")
    );
    assert_eq!(oauth.state.as_deref(), Some(flow.state.as_str()));
}

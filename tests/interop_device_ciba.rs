//! The polling flows against the real `oidc-provider`
//! (tests/interop/provider.mjs), in real time (its interval is the default
//! 5 s, so each test polls once or twice):
//!
//! - the device authorization grant (RFC 8628): oidckit asks for the codes,
//!   the user enters the user code at the verification URI, signs in and
//!   consents over HTTP (tests/support/user_agent.rs), and
//!   `poll_device_authorization_grant` ends with validated tokens; or the
//!   user aborts and the poll ends with `access_denied`;
//! - CIBA in poll mode: oidckit names the user with `login_hint` and a
//!   `binding_message`, the provider's test-only hook plays the user's
//!   authentication device (approve after the first poll, or deny), and
//!   `poll_backchannel_authentication_grant` ends with a validated ID Token
//!   for that user, or `access_denied`; requests the provider refuses are
//!   its OAuth errors.

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;
#[path = "support/user_agent.rs"]
mod user_agent;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use oidc_provider::OidcProvider;
use oidckit::reqwest::StatusCode;
use oidckit::{
    discovery, initiate_backchannel_authentication, initiate_device_authorization,
    poll_backchannel_authentication_grant, poll_device_authorization_grant, ClientAuth,
    Configuration, DeviceAuthorizationResponse, ErrorKind, Url,
};
use serde_json::{json, Value};
use user_agent::{snippet, Landing, UserAgent};

const SECRET: &str = "ciba-secret";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// One provider for every test: the public device client `tv` and the
/// confidential CIBA clients `bank` and `teller` (poll mode).
fn provider() -> &'static OidcProvider {
    static P: OnceLock<OidcProvider> = OnceLock::new();
    P.get_or_init(|| {
        OidcProvider::start_with_env(
            vec![
                json!({
                    "client_id": "tv",
                    "token_endpoint_auth_method": "none",
                    "grant_types": [DEVICE_GRANT],
                    "response_types": [], "redirect_uris": [],
                }),
                ciba_client("bank"),
                ciba_client("teller"),
            ],
            &[],
        )
    })
}

/// A confidential CIBA client in poll mode; each test has its own, so that
/// counting one's token requests is not disturbed by the others.
fn ciba_client(id: &str) -> Value {
    json!({
        "client_id": id,
        "client_secret": SECRET,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": [oidckit::CIBA_GRANT_TYPE],
        "backchannel_token_delivery_mode": "poll",
        "response_types": [], "redirect_uris": [],
    })
}

async fn config(id: &str, auth: ClientAuth) -> Configuration {
    discovery(provider().issuer.clone(), id, auth)
        .allow_insecure_requests(true)
        .await
        .unwrap()
}

/// A test-only admin route of the provider (tests/interop/README.md).
async fn admin(method: &str, path: &str) -> (StatusCode, String) {
    let url = provider().issuer.join(path).unwrap();
    let http = oidckit::reqwest::Client::new();
    let request = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// How many token requests of `client_id` the provider has seen.
async fn token_requests(client_id: &str) -> u64 {
    let (_, body) = admin("GET", "/oidckit/requests").await;
    let counts: Value = serde_json::from_str(&body).unwrap();
    counts["token"][client_id].as_u64().unwrap_or(0)
}

/// The user, on another device, opens the verification URI and enters the
/// user code: the confirmation page.
async fn enter_user_code(
    agent: &UserAgent,
    device: &DeviceAuthorizationResponse,
) -> user_agent::Response {
    let uri: Url = device.verification_uri.parse().unwrap();
    assert_eq!(uri.origin(), provider().issuer.origin());
    let page = agent.get(&uri).await;
    assert_eq!(page.status, StatusCode::OK, "{}", snippet(&page.body));
    let mut form = page.form("op.deviceInputForm");
    form.set("user_code", &device.user_code);
    let confirm = agent.submit(&form, "submit").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", snippet(&confirm.body));
    assert_eq!(confirm.text_of("client").as_deref(), Some("tv"));
    assert_eq!(
        confirm.text_of("user-code").as_deref(),
        Some(device.user_code.as_str())
    );
    confirm
}

#[tokio::test]
async fn device_flow_approved_over_http_then_polled_to_tokens() {
    let config = config("tv", ClientAuth::none()).await;
    let device = initiate_device_authorization(&config, &[("scope", "openid email")])
        .await
        .unwrap();
    assert!(device.expires_in > 0);
    assert_eq!(device.interval, 5, "oidc-provider sends no interval");

    // The user: the code, confirm, sign in as dora, consent, "signed in".
    let agent = UserAgent::new();
    let confirm = enter_user_code(&agent, &device).await;
    let response = agent
        .submit(&confirm.form("op.deviceConfirmForm"), "submit")
        .await;
    let mut hops = Vec::new();
    let mut landing = agent.follow(response, &mut hops).await;
    let mut pages = Vec::new();
    let done = loop {
        let page = match landing {
            Landing::Page(page) => page,
            Landing::Left(url) => panic!("left the provider for {url}"),
        };
        assert_eq!(
            page.status,
            StatusCode::OK,
            "{}:\n{}",
            page.url,
            snippet(&page.body)
        );
        let response = if page.has_form("login") {
            pages.push("login");
            let mut form = page.form("login");
            form.set("login", "dora");
            agent.submit(&form, "submit").await
        } else if page.has_form("consent") {
            pages.push("consent");
            agent.submit(&page.form("consent"), "submit").await
        } else {
            break page;
        };
        assert!(pages.len() <= 2, "{pages:?}");
        landing = agent.follow(response, &mut hops).await;
    };
    assert_eq!(pages, ["login", "consent"]);
    assert_eq!(
        done.text_of("success").as_deref(),
        Some("tv"),
        "{}",
        snippet(&done.body)
    );

    let started = Instant::now();
    let tokens = poll_device_authorization_grant(&config, &device)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "one interval first"
    );
    let claims = tokens.claims().expect("openid: a validated ID Token");
    assert_eq!(claims.subject(), "dora");
    assert_eq!(claims.email(), Some("dora@interop.example"));
}

#[tokio::test]
async fn device_flow_aborted_by_the_user_is_access_denied() {
    let config = config("tv", ClientAuth::none()).await;
    let device = initiate_device_authorization(&config, &[("scope", "openid")])
        .await
        .unwrap();
    let agent = UserAgent::new();
    let confirm = enter_user_code(&agent, &device).await;
    let aborted = agent
        .submit(&confirm.form("op.deviceConfirmForm"), "abort")
        .await;
    assert_eq!(
        aborted.text_of("error").as_deref(),
        Some("aborted"),
        "{}",
        snippet(&aborted.body)
    );
    let e = poll_device_authorization_grant(&config, &device)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error().unwrap().error, "access_denied");
}

/// The provider's pending CIBA request with this `auth_req_id`.
async fn pending(auth_req_id: &str) -> Value {
    let (status, body) = admin("GET", "/oidckit/ciba/pending").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pending: Vec<Value> = serde_json::from_str(&body).unwrap();
    pending
        .into_iter()
        .find(|r| r["auth_req_id"] == auth_req_id)
        .unwrap_or_else(|| panic!("{auth_req_id} is not pending: {body}"))
}

#[tokio::test]
async fn ciba_pending_then_approved_with_a_validated_id_token() {
    let config = config("bank", ClientAuth::client_secret_basic(SECRET)).await;
    assert_eq!(
        config
            .server_metadata()
            .backchannel_token_delivery_modes_supported,
        Some(vec!["poll".to_owned()])
    );
    let request = initiate_backchannel_authentication(
        &config,
        &[
            ("scope", "openid email"),
            ("login_hint", "alice"),
            ("binding_message", "W4SCT"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(request.interval, 5, "oidc-provider sends no interval");
    let shown = pending(&request.auth_req_id).await;
    assert_eq!(shown["account"], "alice");
    assert_eq!(shown["binding_message"], "W4SCT");

    // Alice approves on her phone after the first poll.
    let before = token_requests("bank").await;
    let approver = {
        let id = request.auth_req_id.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                if token_requests("bank").await > before {
                    let path = format!("/oidckit/ciba/{id}/approve");
                    return admin("POST", &path).await.0;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the client never polled");
        })
    };
    let started = Instant::now();
    let tokens = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap();
    assert_eq!(approver.await.unwrap(), StatusCode::NO_CONTENT);
    // Pending once, then the tokens: two polls, an interval before each.
    assert_eq!(token_requests("bank").await - before, 2);
    assert!(started.elapsed() >= Duration::from_secs(10));
    let claims = tokens.claims().expect("a validated ID Token");
    assert_eq!(claims.subject(), "alice");
    assert_eq!(claims.email(), Some("alice@interop.example"));
    assert!(tokens.id_token().is_some());
}

#[tokio::test]
async fn ciba_denied_and_refused_requests() {
    let config = config("teller", ClientAuth::client_secret_basic(SECRET)).await;
    let request =
        initiate_backchannel_authentication(&config, &[("scope", "openid"), ("login_hint", "bob")])
            .await
            .unwrap();
    let (status, body) = admin(
        "POST",
        &format!("/oidckit/ciba/{}/deny", request.auth_req_id),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error().unwrap().error, "access_denied");

    // What the provider refuses is its OAuth error (CIBA Core §13).
    let e = initiate_backchannel_authentication(
        &config,
        &[
            ("scope", "openid"),
            ("login_hint", "bob"),
            ("binding_message", "far more than twenty characters"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_binding_message");
    let wrong = config_with_secret("wrong").await;
    let e =
        initiate_backchannel_authentication(&wrong, &[("scope", "openid"), ("login_hint", "bob")])
            .await
            .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
}

async fn config_with_secret(secret: &str) -> Configuration {
    config("teller", ClientAuth::client_secret_basic(secret)).await
}

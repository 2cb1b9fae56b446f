//! The mock server's Device Authorization Grant (RFC 8628), driven with
//! plain HTTP on a manual clock: the device authorization response, polling
//! before and after the user's decision, expiry, `slow_down`, one-time
//! device codes, and scripted polls.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidckit::testing::{Fault, MockAuthorizationServer, MockClient, MockServerBuilder};
use oidckit::ManualClock;
use serde_json::{json, Value};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const T0: u64 = 1_700_000_000;
const USER_CODE_LETTERS: &str = "BCDFGHJKLMNPQRSTVWXZ";

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(T0))
}

/// A server with the public client `tv`, the confidential client `box`
/// (`client_secret_basic`, scopes `read`), and the user `alice`, on
/// `clock`.
fn builder(clock: &ManualClock) -> MockServerBuilder {
    MockAuthorizationServer::builder()
        .client(MockClient::none("tv"))
        .client(MockClient::client_secret_basic("box", "s3cr3t").scopes(["read"]))
        .subject("alice")
        .user_claims(json!({"email": "alice@example.com"}))
        .clock(Arc::new(clock.clone()))
}

async fn server() -> (MockAuthorizationServer, ManualClock) {
    let clock = clock();
    (builder(&clock).start().await.unwrap(), clock)
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn post(url: url::Url, pairs: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap()
}

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).expect("a JSON body")
}

/// A device authorization request of the public client `tv`: the 200
/// response's body.
async fn initiate(server: &MockAuthorizationServer, scope: &str) -> Value {
    let response = post(
        server.device_authorization_endpoint(),
        &[("client_id", "tv"), ("scope", scope)],
    )
    .await;
    assert_eq!(response.status(), 200);
    json(response).await
}

/// A poll of the token endpoint by `tv`: the status and the body.
async fn poll(server: &MockAuthorizationServer, device_code: &str) -> (u16, Value) {
    let response = post(
        server.token_endpoint(),
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", "tv"),
        ],
    )
    .await;
    let status = response.status().as_u16();
    (status, json(response).await)
}

/// The issuer, without the slash `Url` adds to a bare host.
fn issuer(server: &MockAuthorizationServer) -> String {
    server.issuer().as_str().trim_end_matches('/').to_owned()
}

fn device_code(body: &Value) -> &str {
    body["device_code"].as_str().expect("a device_code")
}

fn user_code(body: &Value) -> &str {
    body["user_code"].as_str().expect("a user_code")
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn discovery_advertises_the_device_endpoint_and_grant() {
    let (server, _clock) = server().await;
    let metadata: Value = json(
        reqwest::get(format!(
            "{}/.well-known/openid-configuration",
            issuer(&server)
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        metadata["device_authorization_endpoint"],
        format!("{}/device_authorization", issuer(&server))
    );
    assert!(metadata["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(DEVICE_GRANT)));
    assert_eq!(
        server.server_metadata().device_authorization_endpoint,
        Some(server.device_authorization_endpoint())
    );
}

#[tokio::test]
async fn the_device_authorization_response_has_the_shape_of_rfc_8628() {
    let (server, _clock) = server().await;
    let body = initiate(&server, "openid").await;
    let code = user_code(&body);
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-", "{code}");
    assert!(
        code.chars()
            .filter(|c| *c != '-')
            .all(|c| USER_CODE_LETTERS.contains(c)),
        "{code}"
    );
    assert!(device_code(&body).len() >= 32);
    let verification_uri = format!("{}/device", issuer(&server));
    assert_eq!(body["verification_uri"], verification_uri.as_str());
    assert_eq!(
        body["verification_uri_complete"],
        format!("{verification_uri}?user_code={code}")
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    assert_eq!(server.device_authorization_request_count(), 1);
    assert_eq!(server.pending_device_codes(), vec![code.to_owned()]);

    // A second request: another pair of codes, both pending, oldest first.
    let second = initiate(&server, "").await;
    assert_ne!(device_code(&second), device_code(&body));
    assert_ne!(user_code(&second), code);
    assert_eq!(
        server.pending_device_codes(),
        vec![code.to_owned(), user_code(&second).to_owned()]
    );

    // The verification page shows the code's form.
    let page = reqwest::get(body["verification_uri_complete"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(code));
}

#[tokio::test]
async fn the_builder_sets_the_lifetime_and_the_interval() {
    let clock = clock();
    let server = builder(&clock)
        .device_code_lifetime(120)
        .device_poll_interval(9)
        .start()
        .await
        .unwrap();
    let body = initiate(&server, "openid").await;
    assert_eq!(body["expires_in"], 120);
    assert_eq!(body["interval"], 9);
}

#[tokio::test]
async fn the_client_authenticates_as_at_the_token_endpoint() {
    let (server, _clock) = server().await;
    let endpoint = server.device_authorization_endpoint();
    let client = reqwest::Client::new();
    // Basic, with client_id beside it (RFC 8628 §3.1).
    let ok = client
        .post(endpoint.clone())
        .basic_auth("box", Some("s3cr3t"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("client_id", "box"), ("scope", "read")]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body = json(ok).await;
    // A wrong secret, a confidential client without its secret, an
    // unknown client: 401 invalid_client.
    let wrong = client
        .post(endpoint.clone())
        .basic_auth("box", Some("nope"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("scope", "read")]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(json(wrong).await["error"], "invalid_client");
    for pairs in [
        &[("client_id", "box")][..],
        &[("client_id", "who")][..],
        &[],
    ] {
        let response = post(endpoint.clone(), pairs).await;
        assert_eq!(response.status(), 401, "{pairs:?}");
        assert_eq!(json(response).await["error"], "invalid_client");
    }
    // A scope beyond the client's.
    let wide = client
        .post(endpoint.clone())
        .basic_auth("box", Some("s3cr3t"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("scope", "read write")]))
        .send()
        .await
        .unwrap();
    assert_eq!(wide.status(), 400);
    assert_eq!(json(wide).await["error"], "invalid_scope");
    // A client_id beside Basic that is not the authenticated client.
    let other = client
        .post(endpoint)
        .basic_auth("box", Some("s3cr3t"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("client_id", "tv")]))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
    assert_eq!(json(other).await["error"], "invalid_request");

    // The device code is the authenticating client's: `tv` cannot redeem
    // it, `box` (authenticated) can, once approved.
    assert!(server.approve_device(user_code(&body)));
    let (status, stolen) = poll(&server, device_code(&body)).await;
    assert_eq!(
        (status, stolen["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let tokens = client
        .post(server.token_endpoint())
        .basic_auth("box", Some("s3cr3t"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code(&body)),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);
    let tokens = json(tokens).await;
    assert_eq!(tokens["scope"], "read");
    assert!(tokens.get("id_token").is_none());
}

#[tokio::test]
async fn polling_before_approval_is_pending_then_approval_gives_tokens() {
    let (server, clock) = server().await;
    let body = initiate(&server, "openid email offline_access").await;
    let code = device_code(&body);
    let (status, pending) = poll(&server, code).await;
    assert_eq!(status, 400);
    assert_eq!(pending["error"], "authorization_pending");

    clock.advance(Duration::from_secs(30));
    // The user types the code in lower case, without its dash.
    let typed = user_code(&body).replace('-', "").to_lowercase();
    assert!(server.approve_device(&typed));
    assert!(server.pending_device_codes().is_empty());
    // Decided once.
    assert!(!server.approve_device(user_code(&body)));
    assert!(!server.deny_device(user_code(&body)));

    clock.advance(Duration::from_secs(5));
    let (status, tokens) = poll(&server, code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid email offline_access");
    assert!(tokens["access_token"].is_string());
    assert!(tokens["refresh_token"].is_string(), "offline_access");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("an ID Token"));
    assert_eq!(
        claims["iss"],
        server.issuer().as_str().trim_end_matches('/')
    );
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "tv");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["auth_time"], T0 + 30, "approved at T0 + 30");
    assert_eq!(claims["iat"], T0 + 35);
    assert!(claims.get("nonce").is_none());
    assert!(claims["at_hash"].is_string());

    // The access token works at userinfo (it has openid).
    let userinfo = reqwest::Client::new()
        .get(server.server_metadata().userinfo_endpoint.unwrap())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    assert_eq!(json(userinfo).await["sub"], "alice");

    // The refresh token refreshes with a new ID Token for alice.
    let refreshed = post(
        server.token_endpoint(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", "tv"),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed = json(refreshed).await;
    assert_eq!(
        jwt_claims(refreshed["id_token"].as_str().unwrap())["sub"],
        "alice"
    );
}

#[tokio::test]
async fn without_openid_there_is_no_id_token_nor_refresh_token() {
    let (server, _clock) = server().await;
    let body = initiate(&server, "").await;
    assert!(server.approve_device(user_code(&body)));
    let (status, tokens) = poll(&server, device_code(&body)).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("id_token").is_none());
    assert!(tokens.get("refresh_token").is_none());
    assert!(tokens.get("scope").is_none());
}

#[tokio::test]
async fn a_denied_request_gets_access_denied() {
    let (server, _clock) = server().await;
    let body = initiate(&server, "openid").await;
    assert!(server.deny_device(user_code(&body)));
    assert!(!server.approve_device(user_code(&body)));
    let (status, denied) = poll(&server, device_code(&body)).await;
    assert_eq!(status, 400);
    assert_eq!(denied["error"], "access_denied");
    // The code is finished.
    let (status, again) = poll(&server, device_code(&body)).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_device_code_expires_by_the_server_clock() {
    let (server, clock) = server().await;
    let body = initiate(&server, "openid").await;
    clock.advance(Duration::from_secs(599));
    assert_eq!(server.pending_device_codes().len(), 1);
    let (_, pending) = poll(&server, device_code(&body)).await;
    assert_eq!(pending["error"], "authorization_pending");

    clock.advance(Duration::from_secs(1));
    assert!(server.pending_device_codes().is_empty());
    // Too late to approve, too.
    assert!(!server.approve_device(user_code(&body)));
    let (status, expired) = poll(&server, device_code(&body)).await;
    assert_eq!(status, 400);
    assert_eq!(expired["error"], "expired_token");

    // Approved in time, but polled too late: expired as well.
    let body = initiate(&server, "openid").await;
    assert!(server.approve_device(user_code(&body)));
    clock.advance(Duration::from_secs(600));
    let (_, expired) = poll(&server, device_code(&body)).await;
    assert_eq!(expired["error"], "expired_token");
}

#[tokio::test]
async fn a_device_code_is_redeemed_once() {
    let (server, _clock) = server().await;
    let body = initiate(&server, "openid").await;
    assert!(server.approve_device(user_code(&body)));
    let (status, _) = poll(&server, device_code(&body)).await;
    assert_eq!(status, 200);
    let (status, reused) = poll(&server, device_code(&body)).await;
    assert_eq!(status, 400);
    assert_eq!(reused["error"], "invalid_grant");
    let (status, unknown) = poll(&server, "no-such-code").await;
    assert_eq!(
        (status, unknown["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Without a device_code at all.
    let response = post(
        server.token_endpoint(),
        &[("grant_type", DEVICE_GRANT), ("client_id", "tv")],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(response).await["error"], "invalid_request");
}

#[tokio::test]
async fn fast_polls_are_not_refused_unless_slow_down_is_enforced() {
    let (server, _clock) = server().await;
    let body = initiate(&server, "openid").await;
    for _ in 0..3 {
        let (_, pending) = poll(&server, device_code(&body)).await;
        assert_eq!(pending["error"], "authorization_pending");
    }
}

#[tokio::test]
async fn slow_down_when_enforced_adds_five_seconds_each_time() {
    let clock = clock();
    let server = builder(&clock)
        .enforce_device_slow_down(true)
        .start()
        .await
        .unwrap();
    let body = initiate(&server, "openid").await;
    let code = device_code(&body);
    let (_, first) = poll(&server, code).await;
    assert_eq!(first["error"], "authorization_pending");
    // At once: too fast, the interval becomes 10.
    let (status, slow) = poll(&server, code).await;
    assert_eq!(status, 400);
    assert_eq!(slow["error"], "slow_down");
    // 5 seconds later: still too fast for 10; the interval becomes 15.
    clock.advance(Duration::from_secs(5));
    let (_, slow) = poll(&server, code).await;
    assert_eq!(slow["error"], "slow_down");
    // 14 seconds later: too fast for 15; 20.
    clock.advance(Duration::from_secs(14));
    let (_, slow) = poll(&server, code).await;
    assert_eq!(slow["error"], "slow_down");
    // 20 seconds later: in time.
    clock.advance(Duration::from_secs(20));
    let (_, pending) = poll(&server, code).await;
    assert_eq!(pending["error"], "authorization_pending");
    // Approved, but polled too soon: slow_down first, then the tokens.
    assert!(server.approve_device(user_code(&body)));
    clock.advance(Duration::from_secs(19));
    let (_, slow) = poll(&server, code).await;
    assert_eq!(slow["error"], "slow_down");
    clock.advance(Duration::from_secs(25));
    let (status, tokens) = poll(&server, code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn scripted_polls_answer_first_then_the_device_code() {
    let (server, _clock) = server().await;
    let body = initiate(&server, "openid").await;
    assert!(server.approve_device(user_code(&body)));
    let slow_down = || Fault::json(400, json!({"error": "slow_down"}));
    server.next_device_poll_responses(vec![
        slow_down(),
        slow_down(),
        Fault::json(503, json!({"error": "temporarily_unavailable"}))
            .with_header("retry-after", "7"),
    ]);
    // Another grant does not use up the device polls' faults.
    let other = post(
        server.token_endpoint(),
        &[("grant_type", "client_credentials"), ("client_id", "tv")],
    )
    .await;
    assert_eq!(other.status(), 200);

    for _ in 0..2 {
        let (status, slow) = poll(&server, device_code(&body)).await;
        assert_eq!((status, slow["error"].as_str()), (400, Some("slow_down")));
    }
    let unavailable = post(
        server.token_endpoint(),
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code(&body)),
            ("client_id", "tv"),
        ],
    )
    .await;
    assert_eq!(unavailable.status(), 503);
    assert_eq!(unavailable.headers()["retry-after"], "7");
    // The faulted polls left the device code alone.
    let (status, tokens) = poll(&server, device_code(&body)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(server.token_request_count(), 5);

    // fail_next_token_request applies to the next token request, a device
    // poll included.
    let body = initiate(&server, "").await;
    server.fail_next_token_request(Fault::json(500, json!({"error": "server_error"})));
    let (status, _) = poll(&server, device_code(&body)).await;
    assert_eq!(status, 500);
    let (_, pending) = poll(&server, device_code(&body)).await;
    assert_eq!(pending["error"], "authorization_pending");
}

#[tokio::test]
async fn a_device_authorization_fault_is_answered_once() {
    let (server, _clock) = server().await;
    server.fail_next_device_authorization_request(
        Fault::json(503, json!({"error": "temporarily_unavailable"}))
            .with_header("retry-after", "3"),
    );
    let failed = post(
        server.device_authorization_endpoint(),
        &[("client_id", "tv")],
    )
    .await;
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.headers()["retry-after"], "3");
    assert!(server.pending_device_codes().is_empty());
    initiate(&server, "openid").await;
    assert_eq!(server.device_authorization_request_count(), 2);
    assert_eq!(server.pending_device_codes().len(), 1);
}

/// In Tokio's paused time the client sleeps the interval between polls
/// (instantly); the server, on the system clock, does not refuse them.
#[tokio::test(start_paused = true)]
async fn polling_in_paused_time_with_the_system_clock() {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::none("tv"))
        .start()
        .await
        .unwrap();
    let body = initiate(&server, "openid").await;
    let interval = Duration::from_secs(body["interval"].as_u64().unwrap());
    let mut polls = 0;
    let tokens = loop {
        polls += 1;
        if polls == 3 {
            assert!(server.approve_device(user_code(&body)));
        }
        let (status, body) = poll(&server, device_code(&body)).await;
        if status == 200 {
            break body;
        }
        assert_eq!(body["error"], "authorization_pending");
        tokio::time::sleep(interval).await;
    };
    assert_eq!(polls, 3);
    assert!(tokens["id_token"].is_string());
}

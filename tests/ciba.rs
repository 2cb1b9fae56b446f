//! Client-Initiated Backchannel Authentication (CIBA Core 1.0, poll mode)
//! against the mock server, in virtual time (a `ManualClock` shared by both:
//! the client's waits move it): initiation with each hint, the polling
//! rules, the ends of polling, the ID Token, requests refused before they
//! are sent, bad responses; and the mock's side of the flow over plain
//! HTTP.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oidckit::testing::{
    sign_jwt, Fault, IdTokenFault, MockAuthorizationServer, MockClient, MockServerBuilder,
};
use oidckit::{
    discovery, initiate_backchannel_authentication, poll_backchannel_authentication_grant,
    ClientAuth, Clock, Configuration, ErrorKind, ManualClock, ServerMetadata, CIBA_GRANT_TYPE,
};
use serde_json::{json, Value};

const SECRET: &str = "bank-secret";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ))
}

/// The confidential client `bank` (`client_secret_basic`) and the public
/// `kiosk`, on `clock`.
fn builder(clock: &Arc<ManualClock>) -> MockServerBuilder {
    MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("bank", SECRET))
        .client(MockClient::none("kiosk"))
        .clock(clock.clone())
}

async fn configure(server: &MockAuthorizationServer, clock: &Arc<ManualClock>) -> Configuration {
    discovery(
        server.issuer(),
        "bank",
        ClientAuth::client_secret_basic(SECRET),
    )
    .allow_insecure_requests(true)
    .clock(clock.clone())
    .await
    .unwrap()
}

fn alice() -> [(&'static str, &'static str); 3] {
    [
        ("scope", "openid email"),
        ("login_hint", "alice"),
        ("binding_message", "W4SCT"),
    ]
}

#[tokio::test]
async fn pending_then_approved_with_a_validated_id_token_for_the_hinted_user() {
    let clock = clock();
    let server = Arc::new(builder(&clock).start().await.unwrap());
    let config = configure(&server, &clock).await;
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    assert_eq!((request.expires_in, request.interval), (600, 5));
    // What the authentication device shows, and the request as sent.
    let pending = server.pending_backchannel_requests();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].auth_req_id, request.auth_req_id);
    assert_eq!(pending[0].subject, "alice");
    assert_eq!(pending[0].client_id, "bank");
    assert_eq!(pending[0].binding_message.as_deref(), Some("W4SCT"));
    let sent = server
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/backchannel_authentication"))
        .unwrap();
    assert_eq!(sent.param("binding_message"), Some("W4SCT"));
    assert!(sent.headers.contains_key("authorization"));
    assert!(!format!("{request:?}").contains(&request.auth_req_id));

    let start = clock.now();
    // The user approves once the client has polled three times.
    let approver = {
        let server = server.clone();
        tokio::spawn(async move {
            for _ in 0..100_000 {
                if server.token_request_count() >= 3 {
                    return server.approve_backchannel("alice");
                }
                tokio::task::yield_now().await;
            }
            false
        })
    };
    let tokens = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap();
    assert!(approver.await.unwrap(), "approved");
    let claims = tokens.claims().expect("a validated ID Token");
    assert_eq!(claims.subject(), "alice");
    let polls = server.token_request_count() as u64;
    assert!(polls >= 4, "{polls} polls");
    // One interval before each poll, no more.
    assert_eq!(clock.now(), start + Duration::from_secs(5 * polls));
    let last = server.last_token_request().unwrap();
    assert_eq!(last.param("grant_type"), Some(CIBA_GRANT_TYPE));
    assert_eq!(
        last.param("auth_req_id"),
        Some(request.auth_req_id.as_str())
    );
    // Redeemed once: nothing pending any more, and the decision is spent.
    assert!(server.pending_backchannel_requests().is_empty());
    assert!(!server.approve_backchannel(&request.auth_req_id));
}

#[tokio::test]
async fn id_token_hint_and_login_hint_token_name_the_user() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    // An ID Token of an earlier sign-in names the user…
    let first = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    server.approve_backchannel(&first.auth_req_id);
    let tokens = poll_backchannel_authentication_grant(&config, &first)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap().to_owned();
    let request = initiate_backchannel_authentication(
        &config,
        [("scope", "openid"), ("id_token_hint", id_token.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(server.pending_backchannel_requests()[0].subject, "alice");
    server.approve_backchannel(&request.auth_req_id);
    let tokens = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap();
    assert_eq!(tokens.claims().unwrap().subject(), "alice");

    // …and so does a login_hint_token the server can verify.
    let now = clock.now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
    let token = sign_jwt(
        &server.signing_key(),
        json!({"sub": "bob", "exp": now.as_secs() + 60}),
    )
    .unwrap();
    let request = initiate_backchannel_authentication(
        &config,
        [("scope", "openid"), ("login_hint_token", token.as_str())],
    )
    .await
    .unwrap();
    assert!(server.approve_backchannel("bob"));
    let tokens = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap();
    assert_eq!(tokens.claims().unwrap().subject(), "bob");

    // A hint the server cannot use is its OAuth error (CIBA Core §13).
    let expired = sign_jwt(
        &server.signing_key(),
        json!({"sub": "bob", "exp": now.as_secs() - 1}),
    )
    .unwrap();
    let e = initiate_backchannel_authentication(
        &config,
        [("scope", "openid"), ("login_hint_token", expired.as_str())],
    )
    .await
    .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "expired_login_hint_token");
    let e = initiate_backchannel_authentication(
        &config,
        [("scope", "openid"), ("id_token_hint", "not.a.token")],
    )
    .await
    .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_request");
    let e = initiate_backchannel_authentication(
        &config,
        [
            ("scope", "openid"),
            ("login_hint", "alice"),
            (
                "binding_message",
                "a message far longer than twenty characters",
            ),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_binding_message");
}

#[tokio::test]
async fn denied_and_expired_end_the_polling() {
    let clock = clock();
    let server = builder(&clock)
        .backchannel_request_lifetime(60)
        .start()
        .await
        .unwrap();
    let config = configure(&server, &clock).await;

    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    assert!(server.deny_backchannel(&request.auth_req_id));
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error().unwrap().error, "access_denied");

    // Never approved: polls until expires_in, then expired_token without
    // asking again (60 s at 5 s: 11 polls, the 12th would be at 60 s).
    let before = server.token_request_count();
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    assert_eq!(request.expires_in, 60);
    let start = clock.now();
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "expired_token");
    assert_eq!(server.token_request_count() - before, 11);
    assert_eq!(clock.now(), start + Duration::from_secs(60));

    // An auth_req_id the server does not know ends it at the first poll.
    server.fail_next_backchannel_authentication_request(Fault::json(
        200,
        json!({"auth_req_id": "gone", "expires_in": 600, "interval": 5}),
    ));
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_grant");
}

#[tokio::test]
async fn slow_down_and_retry_after_stretch_the_waits() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    let slow = || Fault::json(400, json!({"error": "slow_down"}));
    server.next_backchannel_poll_responses(vec![
        slow(),
        slow(),
        Fault::json(400, json!({"error": "authorization_pending"}))
            .with_header("retry-after", "30"),
        Fault::json(503, json!({"error": "temporarily_unavailable"}))
            .with_header("retry-after", "60"),
    ]);
    server.approve_backchannel("alice");
    let start = clock.now();
    poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap();
    // 5 (first poll) + 10 + 15 after two slow_downs, then the Retry-Afters'
    // 30 s and 60 s (each longer than the 15 s interval).
    assert_eq!(
        clock.now(),
        start + Duration::from_secs(5 + 10 + 15 + 30 + 60)
    );
    assert_eq!(server.token_request_count(), 5);
}

#[tokio::test]
async fn the_id_token_is_required_and_validated() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;

    // A bad signature.
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    server.approve_backchannel("alice");
    server.tamper_next_id_token(IdTokenFault::Signature);
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SignatureVerification, "{e}");

    // Another audience.
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    server.approve_backchannel("alice");
    server.tamper_next_id_token(IdTokenFault::claims(json!({"aud": "someone-else"})));
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClaimComparison, "{e}");

    // No ID Token at all (CIBA Core §10.1.1 says there is one).
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    server.next_backchannel_poll_responses(vec![Fault::json(
        200,
        json!({"access_token": "at", "token_type": "Bearer", "expires_in": 60}),
    )]);
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("id_token"), "{e}");
}

#[tokio::test]
async fn requests_without_openid_or_one_hint_are_refused_before_sending() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let cases: [&[(&str, &str)]; 5] = [
        &[("scope", "openid")],
        &[
            ("scope", "openid"),
            ("login_hint", "a"),
            ("id_token_hint", "b"),
        ],
        &[("login_hint", "alice")],
        &[("scope", "email"), ("login_hint", "alice")],
        &[("scope", "openid"), ("login_hint", "")],
    ];
    for params in cases {
        let e = initiate_backchannel_authentication(&config, params)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{params:?}: {e}");
    }
    assert_eq!(server.backchannel_authentication_request_count(), 0);

    // Without the endpoint in the metadata.
    let bare = Configuration::new(
        ServerMetadata::new(
            "https://as.example",
            "https://as.example/token".parse().unwrap(),
        ),
        "bank",
        ClientAuth::client_secret_basic(SECRET),
    )
    .unwrap();
    let e = initiate_backchannel_authentication(&bare, alice())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingMetadata);
}

#[tokio::test]
async fn bad_initiation_responses_are_typed_errors() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let cases = [
        json!({"expires_in": 120, "interval": 5}),
        json!({"auth_req_id": 42, "expires_in": 120}),
        json!({"auth_req_id": "r", "expires_in": "soon"}),
        json!({"auth_req_id": "r"}),
        json!({"auth_req_id": "r", "expires_in": 120, "interval": 0}),
        json!({"auth_req_id": "r", "expires_in": 0}),
        json!(["auth_req_id", "r"]),
    ];
    for body in cases {
        server.fail_next_backchannel_authentication_request(Fault::json(200, body.clone()));
        let e = initiate_backchannel_authentication(&config, alice())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}: {e}");
    }
    // An unknown client: the server's OAuth error.
    let other = discovery(
        server.issuer(),
        "bank",
        ClientAuth::client_secret_basic("wrong"),
    )
    .allow_insecure_requests(true)
    .clock(clock.clone())
    .await
    .unwrap();
    let e = initiate_backchannel_authentication(&other, alice())
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
    // Another error while polling ends it at once.
    let request = initiate_backchannel_authentication(&config, alice())
        .await
        .unwrap();
    server.next_backchannel_poll_responses(vec![Fault::json(
        400,
        json!({"error": "invalid_client"}),
    )]);
    let e = poll_backchannel_authentication_grant(&config, &request)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
}

// ---- the mock's side, over plain HTTP ----------------------------------------

async fn post(
    url: oidckit::Url,
    auth: Option<(&str, &str)>,
    pairs: &[(&str, &str)],
) -> (u16, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn the_mock_enforces_slow_down_one_redemption_and_the_client() {
    let clock = clock();
    let server = builder(&clock)
        .enforce_backchannel_slow_down(true)
        .backchannel_poll_interval(3)
        .start()
        .await
        .unwrap();
    let metadata = server.server_metadata();
    assert_eq!(
        metadata.backchannel_authentication_endpoint.as_ref(),
        Some(&server.backchannel_authentication_endpoint())
    );
    let doc = serde_json::to_value(&metadata).unwrap();
    assert_eq!(
        doc["backchannel_token_delivery_modes_supported"],
        json!(["poll"])
    );
    assert_eq!(
        doc["backchannel_user_code_parameter_supported"],
        json!(false)
    );
    assert!(doc["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(CIBA_GRANT_TYPE)));

    let bank = Some(("bank", SECRET));
    let (status, body) = post(
        server.backchannel_authentication_endpoint(),
        bank,
        &[
            ("scope", "openid"),
            ("login_hint", "carol"),
            ("requested_expiry", "60"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["expires_in"].as_u64(), body["interval"].as_u64()),
        (Some(60), Some(3))
    );
    let id = body["auth_req_id"].as_str().unwrap().to_owned();
    let poll = |auth| {
        let server = &server;
        let id = id.clone();
        async move {
            post(
                server.token_endpoint(),
                auth,
                &[("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", &id)],
            )
            .await
        }
    };
    let (status, body) = poll(bank).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    // Too soon: slow_down, and the interval grows to 8 s.
    clock.advance(Duration::from_secs(2));
    let (_, body) = poll(bank).await;
    assert_eq!(body["error"], "slow_down");
    clock.advance(Duration::from_secs(5));
    let (_, body) = poll(bank).await;
    assert_eq!(
        body["error"], "slow_down",
        "5 s < the 8 s interval: now 13 s"
    );
    clock.advance(Duration::from_secs(13));
    let (_, body) = poll(bank).await;
    assert_eq!(body["error"], "authorization_pending");
    // Another client cannot redeem it.
    let (status, body) = post(
        server.token_endpoint(),
        None,
        &[
            ("grant_type", CIBA_GRANT_TYPE),
            ("auth_req_id", &id),
            ("client_id", "kiosk"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(server.approve_backchannel("carol"));
    clock.advance(Duration::from_secs(13));
    let (status, body) = poll(bank).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string());
    clock.advance(Duration::from_secs(13));
    let (_, body) = poll(bank).await;
    assert_eq!(body["error"], "invalid_grant", "redeemed once");

    // Expiry by the server's clock.
    let (_, body) = post(
        server.backchannel_authentication_endpoint(),
        bank,
        &[
            ("scope", "openid"),
            ("login_hint", "carol"),
            ("requested_expiry", "10"),
        ],
    )
    .await;
    let id = body["auth_req_id"].as_str().unwrap();
    clock.advance(Duration::from_secs(10));
    let (_, body) = post(
        server.token_endpoint(),
        bank,
        &[("grant_type", CIBA_GRANT_TYPE), ("auth_req_id", id)],
    )
    .await;
    assert_eq!(body["error"], "expired_token");
    assert!(!server.approve_backchannel("carol"), "nothing pending");

    // The server refuses what the client library refuses locally.
    for params in [
        &[("scope", "openid")][..],
        &[("scope", "profile"), ("login_hint", "c")],
        &[
            ("scope", "openid"),
            ("login_hint", "c"),
            ("login_hint_token", "t"),
        ],
        &[
            ("scope", "openid"),
            ("login_hint", "c"),
            ("user_code", "1234"),
        ],
        &[
            ("scope", "openid"),
            ("login_hint", "c"),
            ("requested_expiry", "0"),
        ],
    ] {
        let (status, body) = post(server.backchannel_authentication_endpoint(), bank, params).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{params:?}"
        );
    }
    let (status, body) = post(
        server.backchannel_authentication_endpoint(),
        Some(("bank", "wrong")),
        &[("scope", "openid"), ("login_hint", "c")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

//! The client side of the device authorization grant against the mock
//! server, in virtual time (a `ManualClock` shared by both: the client's
//! waits move it): polling rules, the ends of polling, bad responses.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oidckit::testing::{Fault, MockAuthorizationServer, MockClient, MockServerBuilder};
use oidckit::{
    discovery, initiate_device_authorization, poll_device_authorization_grant, ClientAuth, Clock,
    Configuration, ErrorKind, ManualClock,
};
use serde_json::json;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ))
}

fn builder(clock: &Arc<ManualClock>) -> MockServerBuilder {
    MockAuthorizationServer::builder()
        .client(MockClient::none("tv"))
        .clock(clock.clone())
}

async fn configure(server: &MockAuthorizationServer, clock: &Arc<ManualClock>) -> Configuration {
    discovery(server.issuer(), "tv", ClientAuth::none())
        .allow_insecure_requests(true)
        .clock(clock.clone())
        .await
        .unwrap()
}

#[tokio::test]
async fn pending_then_approved_after_a_few_polls() {
    let clock = clock();
    let server = Arc::new(builder(&clock).start().await.unwrap());
    let config = configure(&server, &clock).await;
    let device = initiate_device_authorization(&config, &[("scope", "openid")])
        .await
        .unwrap();
    assert_eq!(device.interval, 5);
    let start = clock.now();
    // The user approves once the device has polled three times.
    let approver = {
        let (server, user_code) = (server.clone(), device.user_code.clone());
        tokio::spawn(async move {
            for _ in 0..100_000 {
                if server.token_request_count() >= 3 {
                    return server.approve_device(&user_code);
                }
                tokio::task::yield_now().await;
            }
            false
        })
    };
    let tokens = poll_device_authorization_grant(&config, &device)
        .await
        .unwrap();
    assert!(approver.await.unwrap(), "approved");
    assert_eq!(tokens.claims().unwrap().subject(), "mock-user");
    let polls = server.token_request_count() as u64;
    assert!(polls >= 4, "{polls} polls");
    // One interval before each poll, no more.
    assert_eq!(clock.now(), start + Duration::from_secs(5 * polls));
}

#[tokio::test]
async fn denied_and_expired_end_the_polling() {
    let clock = clock();
    let server = builder(&clock)
        .device_code_lifetime(60)
        .start()
        .await
        .unwrap();
    let config = configure(&server, &clock).await;

    let device = initiate_device_authorization(&config, &[] as &[(&str, &str)])
        .await
        .unwrap();
    server.deny_device(&device.user_code);
    let e = poll_device_authorization_grant(&config, &device)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "access_denied");

    // Never approved: polls until expires_in, then expired_token without
    // asking again (60 s at 5 s: 11 polls, the 12th would be at 60 s).
    let before = server.token_request_count();
    let device = initiate_device_authorization(&config, &[] as &[(&str, &str)])
        .await
        .unwrap();
    let start = clock.now();
    let e = poll_device_authorization_grant(&config, &device)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error().unwrap().error, "expired_token");
    assert_eq!(server.token_request_count() - before, 11);
    assert_eq!(clock.now(), start + Duration::from_secs(60));
}

#[tokio::test]
async fn slow_down_and_retry_after_stretch_the_waits() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let device = initiate_device_authorization(&config, &[] as &[(&str, &str)])
        .await
        .unwrap();
    let slow = || Fault::json(400, json!({"error": "slow_down"}));
    server.next_device_poll_responses(vec![
        slow(),
        slow(),
        slow(),
        Fault::json(503, json!({"error": "temporarily_unavailable"}))
            .with_header("retry-after", "60"),
    ]);
    server.approve_device(&device.user_code);
    let start = clock.now();
    poll_device_authorization_grant(&config, &device)
        .await
        .unwrap();
    // 5 (first poll) + 10 + 15 + 20 after three slow_downs, then the
    // Retry-After's 60 s (longer than the 20 s interval).
    assert_eq!(
        clock.now(),
        start + Duration::from_secs(5 + 10 + 15 + 20 + 60)
    );
    assert_eq!(server.token_request_count(), 5);
}

#[tokio::test]
async fn bad_device_responses_are_typed_errors() {
    let clock = clock();
    let server = builder(&clock).start().await.unwrap();
    let config = configure(&server, &clock).await;
    let cases = [
        json!({"device_code": "d", "user_code": "u", "verification_uri": "v", "expires_in": 60, "interval": 0}),
        json!({"device_code": "d", "user_code": "u", "expires_in": 60}),
        json!({"device_code": "d", "user_code": "u", "verification_uri": "v", "expires_in": "soon"}),
    ];
    for body in cases {
        server.fail_next_device_authorization_request(Fault::json(200, body.clone()));
        let e = initiate_device_authorization(&config, &[] as &[(&str, &str)])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
    }
    // Another error while polling ends it at once.
    let device = initiate_device_authorization(&config, &[] as &[(&str, &str)])
        .await
        .unwrap();
    server.next_device_poll_responses(vec![Fault::json(400, json!({"error": "invalid_client"}))]);
    let e = poll_device_authorization_grant(&config, &device)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
}

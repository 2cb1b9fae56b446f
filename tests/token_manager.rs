//! The token manager against the mock server, with an injected clock:
//! caching, refresh ahead of expiry, single flight, failures, hooks, stores.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oidckit::reqwest::header::AUTHORIZATION;
use oidckit::reqwest::Method;
use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, ClientAuth, Configuration, DPoPHandle, ErrorKind, InMemoryTokenStore,
    JwsAlgorithm, ManualClock, TokenEndpointResponse, TokenManager, TokenStore, DPOP_HEADER,
};
use serde_json::json;

const START: u64 = 2_000_000_000;

struct Setup {
    server: MockAuthorizationServer,
    config: Configuration,
    clock: ManualClock,
}

async fn setup_with(lifetime: Option<u64>) -> Setup {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .token_lifetime(lifetime)
        .start()
        .await
        .unwrap();
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    let config = Configuration::builder(
        server.server_metadata(),
        "svc",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .clock(Arc::new(clock.clone()))
    .build()
    .unwrap();
    Setup {
        server,
        config,
        clock,
    }
}

async fn setup() -> Setup {
    setup_with(Some(3600)).await
}

fn secret(t: &TokenEndpointResponse) -> String {
    t.access_token().secret().clone()
}

#[tokio::test]
async fn cached_token_is_served_without_requests() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone())
        .scope("read")
        .build();
    let first = tokens.token().await.unwrap();
    for _ in 0..100 {
        assert_eq!(secret(&tokens.token().await.unwrap()), secret(&first));
    }
    assert_eq!(s.server.token_request_count(), 1);
    assert_eq!(
        s.server.last_token_request().unwrap().param("scope"),
        Some("read")
    );
    let stats = tokens.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.refreshes, stats.failures),
        (100, 1, 1, 0)
    );
}

#[tokio::test]
async fn refreshes_ahead_inside_the_skew_window_while_serving_the_old_token() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone())
        .refresh_skew(Duration::from_secs(30))
        .build();
    let first = tokens.token().await.unwrap();
    s.clock.advance(Duration::from_secs(3569));
    assert_eq!(secret(&tokens.token().await.unwrap()), secret(&first));
    assert_eq!(
        s.server.token_request_count(),
        1,
        "31 s left: no refresh yet"
    );
    s.clock.advance(Duration::from_secs(2));
    // Inside the window: many callers, all served the still-valid token.
    for _ in 0..50 {
        assert_eq!(secret(&tokens.token().await.unwrap()), secret(&first));
    }
    // One refresh is in flight; joining it gives the new token.
    let second = tokens.force_refresh().await.unwrap();
    assert_ne!(secret(&second), secret(&first));
    assert_eq!(s.server.token_request_count(), 2, "exactly one refresh");
    assert_eq!(secret(&tokens.token().await.unwrap()), secret(&second));
}

#[tokio::test]
async fn skew_is_capped_at_half_a_short_lifetime() {
    let s = setup_with(Some(20)).await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    tokens.token().await.unwrap();
    s.clock.advance(Duration::from_secs(9));
    tokens.token().await.unwrap();
    assert_eq!(
        s.server.token_request_count(),
        1,
        "refresh at 10 s, not at -10 s"
    );
    s.clock.advance(Duration::from_secs(2));
    tokens.token().await.unwrap();
    tokens.force_refresh().await.unwrap();
    assert_eq!(s.server.token_request_count(), 2);
}

#[tokio::test]
async fn a_token_without_expires_in_is_kept_for_the_default_lifetime() {
    let s = setup_with(None).await;
    let tokens = TokenManager::builder(s.config.clone())
        .default_lifetime(Duration::from_secs(120))
        .build();
    let first = tokens.token().await.unwrap();
    assert_eq!(first.expires_in(), None);
    s.clock.advance(Duration::from_secs(89));
    tokens.token().await.unwrap();
    assert_eq!(s.server.token_request_count(), 1);
    s.clock.advance(Duration::from_secs(60));
    // Past the default lifetime: a new token is fetched before answering.
    let second = tokens.token().await.unwrap();
    assert_ne!(secret(&second), secret(&first));
    assert_eq!(s.server.token_request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_callers_on_an_empty_cache_cause_one_request() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    // Slow the token endpoint so every caller arrives while it is in flight.
    s.server
        .fail_next_token_request(Fault::Delay(Duration::from_millis(300)));
    assert_eq!(
        concurrent_callers(&tokens, 10_000).await.len(),
        1,
        "every caller got the same token"
    );
    assert_eq!(
        s.server.token_request_count(),
        1,
        "exactly one token request"
    );
    // Expire it: again one request for all.
    s.clock.advance(Duration::from_secs(3601));
    s.server
        .fail_next_token_request(Fault::Delay(Duration::from_millis(300)));
    assert_eq!(concurrent_callers(&tokens, 10_000).await.len(), 1);
    assert_eq!(s.server.token_request_count(), 2);
}

/// `n` callers of `token()` at once; the distinct tokens they got.
async fn concurrent_callers(tokens: &TokenManager, n: usize) -> std::collections::HashSet<String> {
    let callers: Vec<_> = (0..n)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await.map(|t| secret(&t)) })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for caller in callers {
        seen.insert(caller.await.unwrap().unwrap());
    }
    seen
}

#[tokio::test]
async fn a_failed_refresh_keeps_serving_the_valid_token_and_backs_off() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone())
        .retry_backoff(Duration::from_secs(5), Duration::from_secs(60))
        .build();
    let first = tokens.token().await.unwrap();
    s.clock.advance(Duration::from_secs(3575));
    s.server.fail_next_token_request(Fault::json(
        503,
        json!({"error": "temporarily_unavailable"}),
    ));
    assert_eq!(secret(&tokens.token().await.unwrap()), secret(&first));
    // Wait for that refresh to finish (it fails); the old token is still served.
    let err = tokens.force_refresh().await.unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "temporarily_unavailable");
    assert_eq!(s.server.token_request_count(), 2);
    let before = s.server.token_request_count();
    assert_eq!(tokens.stats().failures, 1);
    for _ in 0..20 {
        assert_eq!(secret(&tokens.token().await.unwrap()), secret(&first));
    }
    tokio::task::yield_now().await;
    assert_eq!(
        s.server.token_request_count(),
        before,
        "no retry before the backoff ends"
    );
    s.clock.advance(Duration::from_secs(6));
    tokens.token().await.unwrap();
    let second = tokens.force_refresh().await.unwrap();
    assert_ne!(secret(&second), secret(&first));
}

#[tokio::test]
async fn once_expired_every_waiter_gets_the_error_and_the_next_call_tries_again() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    s.server
        .fail_next_token_request(Fault::json(500, json!({"error": "server_error"})));
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await })
        })
        .collect();
    for w in waiters {
        let err = w.await.unwrap().unwrap_err();
        assert_eq!(err.oauth_error().unwrap().error, "server_error");
    }
    assert_eq!(
        s.server.token_request_count(),
        1,
        "one request, its error shared"
    );
    tokens.token().await.unwrap();
    assert_eq!(s.server.token_request_count(), 2, "failures are not cached");
}

#[tokio::test]
async fn permanent_errors_are_not_retried_in_a_loop() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone())
        .retry_backoff(Duration::from_secs(1), Duration::from_secs(10))
        .build();
    tokens.token().await.unwrap();
    s.clock.advance(Duration::from_secs(3575));
    s.server
        .fail_next_token_request(Fault::json(401, json!({"error": "invalid_client"})));
    tokens.token().await.unwrap();
    let _ = tokens.force_refresh().await;
    let after_failure = s.server.token_request_count();
    // Well past every backoff, still inside the token's life: no new attempt.
    for _ in 0..5 {
        s.clock.advance(Duration::from_secs(4));
        tokens.token().await.unwrap();
        tokio::task::yield_now().await;
    }
    assert_eq!(s.server.token_request_count(), after_failure);
    // Once expired, the next call tries again.
    s.clock.advance(Duration::from_secs(60));
    tokens.token().await.unwrap();
    assert_eq!(s.server.token_request_count(), after_failure + 1);
}

#[tokio::test]
async fn invalidate_and_force_refresh() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    let first = tokens.token().await.unwrap();
    tokens.invalidate_token("not-the-current-token").await;
    assert_eq!(secret(&tokens.token().await.unwrap()), secret(&first));
    tokens.invalidate_token(first.access_token().secret()).await;
    let second = tokens.token().await.unwrap();
    assert_ne!(secret(&second), secret(&first));
    tokens.invalidate().await;
    let third = tokens.token().await.unwrap();
    let fourth = tokens.force_refresh().await.unwrap();
    assert_ne!(secret(&third), secret(&fourth));
    assert_eq!(s.server.token_request_count(), 4);
}

#[tokio::test]
async fn on_update_sees_every_newly_issued_token() {
    let s = setup().await;
    let saved: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = saved.clone();
    let tokens = TokenManager::builder(s.config.clone())
        .on_update(move |t| sink.lock().unwrap().push(serde_json::to_string(t).unwrap()))
        .build();
    tokens.token().await.unwrap();
    tokens.token().await.unwrap();
    tokens.force_refresh().await.unwrap();
    let saved = saved.lock().unwrap();
    assert_eq!(saved.len(), 2);
    // The saved form keeps the absolute expiry.
    let stored: serde_json::Value = serde_json::from_str(&saved[0]).unwrap();
    assert_eq!(stored["expires_at"], START + 3600);
}

#[tokio::test]
async fn a_token_provider_loads_a_stored_token_that_knows_its_remaining_life() {
    let s = setup().await;
    // A token saved an hour ago by another process, valid for two hours.
    let stored = json!({"access_token": "stored-token", "token_type": "Bearer",
                        "expires_in": 7200, "expires_at": START + 3600});
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let tokens = TokenManager::builder(s.config.clone())
        .token_provider(move |last, fetcher| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let stored = stored.clone();
            async move {
                if n == 0 {
                    assert!(last.is_none());
                    Ok(serde_json::from_value::<TokenEndpointResponse>(stored).unwrap())
                } else {
                    assert_eq!(last.unwrap().access_token().secret(), "stored-token");
                    fetcher.fetch().await
                }
            }
        })
        .build();
    let t = tokens.token().await.unwrap();
    assert_eq!(t.access_token().secret(), "stored-token");
    assert_eq!(
        t.expires_at(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(START + 3600))
    );
    assert_eq!(s.server.token_request_count(), 0);
    // It has an hour left, so it is refreshed 30 s before that, not 2 h on.
    s.clock.advance(Duration::from_secs(3575));
    tokens.token().await.unwrap();
    let fresh = tokens.force_refresh().await.unwrap();
    assert_ne!(fresh.access_token().secret(), "stored-token");
    assert_eq!(s.server.token_request_count(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn set_token_hands_over_a_token_obtained_elsewhere() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    let handed: TokenEndpointResponse = serde_json::from_value(
        json!({"access_token": "elsewhere", "token_type": "Bearer", "expires_in": 600, "expires_at": START + 600}),
    )
    .unwrap();
    tokens.set_token(handed).await;
    assert_eq!(
        tokens.token().await.unwrap().access_token().secret(),
        "elsewhere"
    );
    assert_eq!(s.server.token_request_count(), 0);
}

#[tokio::test]
async fn managers_sharing_a_store_make_one_request_per_expiry() {
    let s = setup().await;
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::new());
    let managers: Vec<_> = (0..3)
        .map(|_| {
            TokenManager::builder(s.config.clone())
                .scope("read")
                .shared_store(store.clone())
                .build()
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for m in &managers {
        seen.insert(secret(&m.token().await.unwrap()));
    }
    assert_eq!(seen.len(), 1);
    assert_eq!(s.server.token_request_count(), 1);
    s.clock.advance(Duration::from_secs(3601));
    for m in &managers {
        m.token().await.unwrap();
    }
    assert_eq!(s.server.token_request_count(), 2);
    // Different parameters are a different token.
    let other = TokenManager::builder(s.config.clone())
        .scope("write")
        .shared_store(store.clone())
        .build();
    other.token().await.unwrap();
    assert_eq!(s.server.token_request_count(), 3);
}

#[tokio::test]
async fn dpop_bound_tokens_with_required_nonces() {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .require_dpop_nonce(true)
        .start()
        .await
        .unwrap();
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let tokens = TokenManager::builder(config).dpop(dpop.clone()).build();
    let t = tokens.token().await.unwrap();
    assert!(t.token_type().is_dpop());
    assert_eq!(
        server.token_binding(t.access_token().secret()).as_deref(),
        Some(dpop.thumbprint())
    );
    tokens.force_refresh().await.unwrap();
    assert_eq!(
        server.token_request_count(),
        3,
        "one nonce retry, then the cached nonce"
    );
}

/// A clock that follows Tokio's (pausable) time.
#[derive(Debug)]
struct TokioClock(tokio::time::Instant, SystemTime);

impl oidckit::Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.1 + self.0.elapsed()
    }
}

/// A mock server issuing tokens for `lifetime` seconds, and a configuration
/// whose clock follows Tokio's paused time.
async fn paused_setup(lifetime: u64) -> (MockAuthorizationServer, Configuration) {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .token_lifetime(Some(lifetime))
        .start()
        .await
        .unwrap();
    let clock = Arc::new(TokioClock(tokio::time::Instant::now(), SystemTime::now()));
    let config = Configuration::builder(
        server.server_metadata(),
        "svc",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .clock(clock)
    .build()
    .unwrap();
    (server, config)
}

#[tokio::test(start_paused = true)]
async fn background_refresh_renews_before_expiry_without_callers() {
    let (server, config) = paused_setup(600).await;
    let tokens = TokenManager::builder(config)
        .refresh_skew(Duration::from_secs(60))
        .background_refresh(Duration::from_secs(30))
        .build();
    let first = tokens.token().await.unwrap();
    // Tokio's paused clock jumps ahead whenever every task waits.
    tokio::time::sleep(Duration::from_secs(600 - 60 - 31)).await;
    assert_eq!(
        secret(&tokens.token().await.unwrap()),
        secret(&first),
        "not before refresh_at - jitter"
    );
    assert_eq!(server.token_request_count(), 1, "no refresh yet");
    tokio::time::sleep(Duration::from_secs(40)).await;
    let renewed = tokens.cached().expect("a token is cached");
    assert_ne!(
        secret(&renewed),
        secret(&first),
        "renewed in the background"
    );
    assert!(renewed.expires_in().unwrap() > Duration::from_secs(500));
    assert_eq!(
        server.token_request_count(),
        2,
        "exactly one background refresh"
    );
    assert_eq!(tokens.stats().misses, 1, "no caller waited for it");
}

#[tokio::test]
async fn a_new_manager_never_serves_a_dropped_managers_token() {
    let s = setup().await;
    for round in 0..20 {
        let a = TokenManager::builder(s.config.clone())
            .scope(format!("a{round}"))
            .build();
        let a_token = secret(&a.token().await.unwrap());
        a.token().await.unwrap();
        drop(a);
        let b = TokenManager::builder(s.config.clone())
            .scope(format!("b{round}"))
            .build();
        let b_first = b.token().await.unwrap();
        let b_again = b.token().await.unwrap();
        assert_ne!(secret(&b_first), a_token, "round {round}");
        assert_eq!(secret(&b_again), secret(&b_first), "round {round}");
        assert_eq!(b_again.scope(), Some(format!("b{round}").as_str()));
    }
}

#[tokio::test]
async fn a_panicking_hook_does_not_break_the_manager() {
    let s = setup().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let tokens = TokenManager::builder(s.config.clone())
        .on_update(move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("a hook bug");
            }
        })
        .build();
    let err = tokens.token().await.unwrap_err();
    assert!(err.to_string().contains("interrupted"), "{err}");
    // The next call starts a new refresh and succeeds.
    tokens.token().await.unwrap();
    assert_eq!(s.server.token_request_count(), 2);
}

#[tokio::test]
async fn force_refresh_fetches_even_when_the_store_has_the_current_token() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone())
        .store(InMemoryTokenStore::new())
        .build();
    let first = tokens.token().await.unwrap();
    let second = tokens.force_refresh().await.unwrap();
    assert_ne!(secret(&second), secret(&first));
    assert_eq!(s.server.token_request_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn background_refresh_of_instantly_expiring_tokens_is_rate_limited() {
    let (server, config) = paused_setup(0).await;
    let tokens = TokenManager::builder(config)
        .background_refresh(Duration::from_secs(30))
        .retry_backoff(Duration::from_secs(1), Duration::from_secs(60))
        .build();
    tokio::time::sleep(Duration::from_secs(10)).await;
    // One at once (nothing cached), then one a second (the initial
    // backoff): 10 or 11 in 10 s of Tokio's paused time.
    let n = server.token_request_count();
    assert!(n <= 12, "at most about one refresh a second, got {n}");
    assert!(n >= 9, "the background task keeps refreshing, got {n}");
    assert_eq!(
        tokens.stats().refreshes as usize,
        n,
        "one request per refresh"
    );
    assert_eq!(tokens.stats().failures, 0);
    drop(tokens);
}

#[tokio::test]
async fn a_dropped_managers_token_is_freed_on_every_thread() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    tokens.token().await.unwrap();
    // The copies `cached()` serves on this thread and on another one, which
    // then stays alive without touching any manager again.
    let here = Arc::downgrade(&tokens.cached().unwrap());
    let (copy_tx, copy_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let other_thread = std::thread::spawn({
        let tokens = tokens.clone();
        move || {
            let copy = Arc::downgrade(&tokens.cached().unwrap());
            drop(tokens);
            copy_tx.send(copy).unwrap();
            done_rx.recv().unwrap();
        }
    });
    let there = copy_rx.recv().unwrap();
    assert!(here.upgrade().is_some() && there.upgrade().is_some());
    drop(tokens);
    assert!(
        here.upgrade().is_none(),
        "this thread's copy of the token outlived the manager"
    );
    assert!(
        there.upgrade().is_none(),
        "another thread's copy of the token outlived the manager"
    );
    done_tx.send(()).unwrap();
    other_thread.join().unwrap();
}

#[tokio::test]
async fn authorization_header_for_bearer_tokens() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    let value = tokens.authorization_header().await.unwrap();
    assert!(value.is_sensitive());
    let token = tokens.token().await.unwrap();
    assert_eq!(
        value.to_str().unwrap(),
        format!("Bearer {}", secret(&token))
    );
    let response = tokens
        .config()
        .http_client()
        .get(s.server.resource_url())
        .header(AUTHORIZATION, value)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The two-header form gives the same for a Bearer token, and no proof.
    let headers = tokens
        .authorization_headers(&Method::POST, &s.server.resource_url())
        .await
        .unwrap();
    assert_eq!(headers.len(), 1);
    assert_eq!(
        headers[AUTHORIZATION].to_str().unwrap(),
        format!("Bearer {}", secret(&token))
    );
    assert!(headers[AUTHORIZATION].is_sensitive());
    assert_eq!(s.server.token_request_count(), 1, "one cached token");
}

#[tokio::test]
async fn authorization_headers_go_only_to_allowed_urls() {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .start()
        .await
        .unwrap();
    // Insecure requests not allowed: the mock's http: resource is refused.
    let config = Configuration::builder(
        server.server_metadata(),
        "svc",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .build()
    .unwrap();
    let tokens = TokenManager::builder(config).build();
    tokens
        .set_token(
            serde_json::from_value(
                json!({"access_token": "t", "token_type": "Bearer", "expires_in": 60}),
            )
            .unwrap(),
        )
        .await;
    for url in [
        server.resource_url(),
        "ftp://api.example/x".parse().unwrap(),
    ] {
        let err = tokens
            .authorization_headers(&Method::GET, &url)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsecureUrl, "{url}: {err:?}");
    }
    assert!(tokens
        .authorization_headers(&Method::GET, &"https://api.example/x".parse().unwrap())
        .await
        .is_ok());
}

#[tokio::test]
async fn authorization_headers_for_dpop_bound_tokens() {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("svc", "s3cr3t"))
        .require_dpop_nonce(true)
        .start()
        .await
        .unwrap();
    let config = support::config(&server, "svc", ClientAuth::client_secret_basic("s3cr3t"));
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let tokens = TokenManager::builder(config).dpop(dpop.clone()).build();
    // The header alone would be refused: the error says what to call.
    let err = tokens.authorization_header().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    assert!(
        err.to_string()
            .contains("TokenManager::authorization_headers(method, url)"),
        "{err}"
    );
    let token = tokens.token().await.unwrap();
    let url = server.resource_url();
    let http = tokens.config().http_client().clone();
    for method in [Method::GET, Method::POST] {
        let headers = tokens.authorization_headers(&method, &url).await.unwrap();
        assert_eq!(
            headers[AUTHORIZATION].to_str().unwrap(),
            format!("DPoP {}", secret(&token))
        );
        assert!(headers[AUTHORIZATION].is_sensitive() && headers[DPOP_HEADER].is_sensitive());
        let claims = support::jwt_claims(headers[DPOP_HEADER].to_str().unwrap());
        assert_eq!(claims["htm"], method.as_str());
        assert_eq!(claims["htu"], url.as_str());
        assert!(claims["ath"].is_string() && claims["nonce"].is_string());
        let response = http
            .request(method.clone(), url.clone())
            .headers(headers)
            .send()
            .await
            .unwrap();
        dpop.record_nonce(&url, response.headers());
        assert_eq!(response.status(), 200, "{method}");
    }
    // A new nonce: the first proof is refused, the next one (after
    // record_nonce) carries it.
    server.rotate_dpop_nonce();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let headers = tokens
            .authorization_headers(&Method::GET, &url)
            .await
            .unwrap();
        let response = http.get(url.clone()).headers(headers).send().await.unwrap();
        dpop.record_nonce(&url, response.headers());
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 200]);
    assert_eq!(
        server.token_request_count(),
        2,
        "one token, after one nonce retry"
    );
}

#[tokio::test]
async fn a_dpop_token_without_a_dpop_handle_is_refused() {
    let s = setup().await;
    let tokens = TokenManager::builder(s.config.clone()).build();
    tokens
        .set_token(
            serde_json::from_value(
                json!({"access_token": "bound", "token_type": "DPoP", "expires_in": 60,
                       "expires_at": START + 60}),
            )
            .unwrap(),
        )
        .await;
    let err = tokens
        .authorization_headers(&Method::GET, &s.server.resource_url())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no DPoP handle"), "{err}");
    assert!(tokens.authorization_header().await.is_err());
}

#[tokio::test]
async fn request_options_apply_to_every_token_request() {
    let Setup { server, config, .. } = setup().await;
    let options = oidckit::RequestOptions::new()
        .header(
            oidckit::reqwest::header::HeaderName::from_static("x-tenant"),
            oidckit::reqwest::header::HeaderValue::from_static("blue"),
        )
        .param("audience", "orders")
        .timeout(Duration::from_millis(300));
    let tokens = TokenManager::builder(config)
        .scope("read")
        .request_options(options)
        .build();
    tokens.token().await.unwrap();
    let request = server.last_token_request().unwrap();
    assert_eq!(request.headers["x-tenant"], "blue");
    assert_eq!(request.param("audience"), Some("orders"));
    assert_eq!(request.param("scope"), Some("read"));
    // A timeout in the options bounds the manager's requests too.
    server.fail_next_token_request(oidckit::testing::Fault::Delay(Duration::from_secs(5)));
    let err = tokens.force_refresh().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn request_options_choose_the_token_and_key_the_store() {
    // Two managers sharing a store, asking for different audiences through
    // their options, must not serve each other's token.
    let Setup { server, config, .. } = setup().await;
    let store: Arc<dyn TokenStore> = Arc::new(InMemoryTokenStore::new());
    let manager = |audience: &'static str| {
        TokenManager::builder(config.clone())
            .scope("read")
            .shared_store(store.clone())
            .request_options(oidckit::RequestOptions::new().param("audience", audience))
            .build()
    };
    let orders = manager("orders").token().await.unwrap();
    let billing = manager("billing").token().await.unwrap();
    assert_eq!(server.token_request_count(), 2);
    assert_ne!(
        orders.access_token().secret(),
        billing.access_token().secret()
    );
    // The same options share the one token.
    let again = manager("orders").token().await.unwrap();
    assert_eq!(server.token_request_count(), 2);
    assert_eq!(
        again.access_token().secret(),
        orders.access_token().secret()
    );

    // A deadline would end every later refresh: refused, and nothing sent.
    let deadline = oidckit::RequestOptions::new()
        .deadline(std::time::Instant::now() + Duration::from_secs(60));
    let err = TokenManager::builder(config)
        .request_options(deadline)
        .build()
        .token()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(server.token_request_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn background_refresh_skips_a_token_installed_while_it_waited() {
    let (server, config) = paused_setup(600).await;
    let tokens = TokenManager::builder(config.clone())
        .refresh_skew(Duration::from_secs(60))
        .background_refresh(Duration::from_secs(30))
        .build();
    tokens.token().await.unwrap();
    // Just before the background task wakes, a fresh token is installed by
    // hand (as a token provider or another instance might).
    tokio::time::sleep(Duration::from_secs(600 - 60 - 31)).await;
    let fresh = client_credentials_grant(&config, std::iter::empty::<(&str, &str)>(), None)
        .await
        .unwrap();
    tokens.set_token(fresh.clone()).await;
    let requests = server.token_request_count();
    // The background task wakes for the old entry and finds the new one
    // fresh: no request. It refreshes the new one near its own expiry.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(
        server.token_request_count(),
        requests,
        "no refresh of a fresh token"
    );
    assert_eq!(
        secret(&tokens.cached().unwrap()),
        fresh.access_token().secret().clone()
    );
}

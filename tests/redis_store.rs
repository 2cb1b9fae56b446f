//! Token managers sharing tokens through a real `redis-server` (installed by
//! `bash scripts/test.sh`), started on a free loopback port for these tests.
#![cfg(feature = "redis")]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{ClientAuth, Configuration, ManualClock, RedisTokenStore, TokenManager};

mod support;

/// A redis-server child process, killed on drop.
struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        support::prerequisites::require_redis_server();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start redis-server");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            child: Some(child),
            port,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

const SECRET: &str = "fleet-secret";

struct Fleet {
    server: MockAuthorizationServer,
    clock: ManualClock,
    managers: Vec<TokenManager>,
}

/// Three managers, each with its own configuration and HTTP client (three
/// instances of a service), sharing one Redis.
async fn fleet(redis: &Redis) -> Fleet {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("fleet", SECRET))
        .start()
        .await
        .unwrap();
    let clock = ManualClock::new(SystemTime::now());
    let managers = (0..3)
        .map(|_| {
            let config = Configuration::builder(
                server.server_metadata(),
                "fleet",
                ClientAuth::client_secret_basic(SECRET),
            )
            .allow_insecure_requests(true)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
            TokenManager::builder(config)
                .scope("read")
                .store(RedisTokenStore::new(&redis.url()).unwrap())
                .build()
        })
        .collect();
    Fleet {
        server,
        clock,
        managers,
    }
}

async fn all_tokens(fleet: &Fleet) -> Vec<String> {
    let tasks: Vec<_> = fleet
        .managers
        .iter()
        .map(|m| {
            let m = m.clone();
            tokio::spawn(async move { m.token().await.unwrap().access_token().secret().clone() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_makes_one_token_request_per_expiry() {
    let redis = Redis::start();
    let fleet = fleet(&redis).await;
    for round in 1..=3 {
        let tokens = all_tokens(&fleet).await;
        assert!(
            tokens.iter().all(|t| *t == tokens[0]),
            "round {round}: one shared token"
        );
        assert_eq!(fleet.server.token_request_count(), round, "round {round}");
        fleet.clock.advance(Duration::from_secs(3601));
    }

    // What is in Redis: the access token and its metadata, no secret.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key.starts_with("oidckit:token:v1:"), "{key}");
        assert!(!key.contains(SECRET) && !key.contains("fleet"), "{key}");
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        if kind == "string" && !key.ends_with(":lock") {
            let json: String = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(!json.contains(SECRET), "{json}");
            let ttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(
                ttl > 0 && ttl <= 3_600_000,
                "TTL from the remaining lifetime: {ttl}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_keep_working_when_redis_dies() {
    let mut redis = Redis::start();
    let fleet = fleet(&redis).await;
    all_tokens(&fleet).await;
    assert_eq!(fleet.server.token_request_count(), 1);
    redis.kill();
    fleet.clock.advance(Duration::from_secs(3601));
    // Each instance now fetches on its own, and nothing fails.
    let tokens = all_tokens(&fleet).await;
    assert_eq!(tokens.len(), 3);
    assert_eq!(fleet.server.token_request_count(), 4);
    // Cached tokens are served as before.
    all_tokens(&fleet).await;
    assert_eq!(fleet.server.token_request_count(), 4);
}

#[tokio::test]
async fn a_manager_starts_even_if_redis_is_down_from_the_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("fleet", SECRET))
        .start()
        .await
        .unwrap();
    let config = Configuration::builder(
        server.server_metadata(),
        "fleet",
        ClientAuth::client_secret_basic(SECRET),
    )
    .allow_insecure_requests(true)
    .build()
    .unwrap();
    let tokens = TokenManager::builder(config)
        .store(RedisTokenStore::new(&format!("redis://127.0.0.1:{port}/")).unwrap())
        .build();
    tokens.token().await.unwrap();
    assert_eq!(server.token_request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_while_the_lock_is_held_fails_nothing() {
    let mut redis = Redis::start();
    let fleet = fleet(&redis).await;
    // The lock holder's token request is slow; Redis dies meanwhile, so its
    // save and unlock fail and the waiters lose the store mid-poll.
    fleet
        .server
        .fail_next_token_request(oidckit::testing::Fault::Delay(Duration::from_millis(500)));
    let pending = tokio::spawn({
        let managers = fleet.managers.clone();
        async move {
            let mut tasks = Vec::new();
            for m in managers {
                tasks.push(tokio::spawn(async move { m.token().await }));
            }
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap());
            }
            results
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    redis.kill();
    for result in pending.await.unwrap() {
        result.expect("every instance still gets a token");
    }
    assert!(fleet.server.token_request_count() <= 3);
}

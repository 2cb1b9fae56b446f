//! Token managers sharing tokens through a real `redis-server` (installed by
//! `bash scripts/test.sh`), started on a free loopback port for these tests.
#![cfg(feature = "redis")]

use std::collections::HashSet;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{
    BoxFuture, ClientAuth, Configuration, ManualClock, RedisTokenStore, TokenEndpointResponse,
    TokenManager, TokenStore,
};
use tokio::sync::watch;

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

/// Who took the fetch lock, who was refused it and who is saving a token,
/// as the stores saw it.
#[derive(Debug, Default)]
struct LockOutcomes {
    taken_by: HashSet<usize>,
    refused_to: HashSet<usize>,
    saving: HashSet<usize>,
}

/// A `RedisTokenStore` that reports lock outcomes and holds every save
/// until its gate opens: so a test can act at a known point of the fetch
/// protocol instead of after a guessed delay.
#[derive(Debug)]
struct ObservedStore {
    instance: usize,
    redis: RedisTokenStore,
    outcomes: Arc<watch::Sender<LockOutcomes>>,
    save_gate: watch::Receiver<bool>,
}

impl TokenStore for ObservedStore {
    fn load<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, oidckit::Result<Option<TokenEndpointResponse>>> {
        self.redis.load(key)
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        token: &'a TokenEndpointResponse,
        ttl: Duration,
    ) -> BoxFuture<'a, oidckit::Result<()>> {
        Box::pin(async move {
            self.outcomes.send_modify(|o| {
                o.saving.insert(self.instance);
            });
            let mut gate = self.save_gate.clone();
            let _ = gate.wait_for(|open| *open).await;
            self.redis.save(key, token, ttl).await
        })
    }

    fn remove<'a>(
        &'a self,
        key: &'a str,
        access_token: &'a str,
    ) -> BoxFuture<'a, oidckit::Result<()>> {
        self.redis.remove(key, access_token)
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, oidckit::Result<Option<String>>> {
        Box::pin(async move {
            let result = self.redis.try_lock(key, ttl).await;
            if let Ok(owner) = &result {
                self.outcomes.send_modify(|o| {
                    if owner.is_some() {
                        o.taken_by.insert(self.instance);
                    } else {
                        o.refused_to.insert(self.instance);
                    }
                });
            }
            result
        })
    }

    fn unlock<'a>(
        &'a self,
        key: &'a str,
        lock_token: &'a str,
    ) -> BoxFuture<'a, oidckit::Result<()>> {
        self.redis.unlock(key, lock_token)
    }
}

struct Fleet {
    server: MockAuthorizationServer,
    clock: ManualClock,
    managers: Vec<TokenManager>,
    outcomes: Arc<watch::Sender<LockOutcomes>>,
    save_gate: watch::Sender<bool>,
}

/// Three managers, each with its own configuration and HTTP client (three
/// instances of a service), sharing one Redis. Saves go through at once.
async fn fleet(redis: &Redis) -> Fleet {
    fleet_with_save_gate(redis, true).await
}

/// Like [`fleet`]; with `saves_open` false, every save waits until
/// `Fleet::save_gate` is set to true.
async fn fleet_with_save_gate(redis: &Redis, saves_open: bool) -> Fleet {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("fleet", SECRET))
        .start()
        .await
        .unwrap();
    let clock = ManualClock::new(SystemTime::now());
    let outcomes = Arc::new(watch::Sender::new(LockOutcomes::default()));
    let (save_gate, gate_rx) = watch::channel(saves_open);
    let managers = (0..3)
        .map(|instance| {
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
                .store(ObservedStore {
                    instance,
                    redis: RedisTokenStore::new(&redis.url()).unwrap(),
                    outcomes: outcomes.clone(),
                    save_gate: gate_rx.clone(),
                })
                .build()
        })
        .collect();
    Fleet {
        server,
        clock,
        managers,
        outcomes,
        save_gate,
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
    // The lock holder's save waits for the gate; Redis dies meanwhile, so
    // its save and unlock fail and the waiters lose the store mid-poll.
    let fleet = fleet_with_save_gate(&redis, false).await;
    let mut outcomes = fleet.outcomes.subscribe();
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
    // Wait (bounded) until one instance holds the lock and is about to save
    // its new token, and both others were refused the lock, i.e. are
    // polling the store for that token.
    tokio::time::timeout(
        Duration::from_secs(20),
        outcomes.wait_for(|o| {
            o.taken_by.len() == 1 && o.saving == o.taken_by && o.refused_to.len() == 2
        }),
    )
    .await
    .expect("one instance took the lock and the two others wait for it")
    .unwrap();
    assert_eq!(
        fleet.server.token_request_count(),
        1,
        "only the lock holder has asked for a token"
    );
    redis.kill();
    fleet.save_gate.send_replace(true);
    for result in pending.await.unwrap() {
        result.expect("every instance still gets a token");
    }
    assert!(fleet.server.token_request_count() <= 3);
}

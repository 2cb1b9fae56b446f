//! The token manager's hot path — a cached token — at 1 and 2 threads, the
//! same through an `AudienceTokenManager` (one of eight audiences), and the
//! single-flight figure: 10,000 concurrent callers on an empty cache.
//!
//! ```text
//! cargo bench --bench token_manager
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{AudienceTokenManager, ClientAuth, Configuration, TokenAudience, TokenManager};

const ITERATIONS: u32 = 10_000_000;

/// Polls a future that is ready at once (a cache hit) without a runtime.
fn poll_ready<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cached token should be ready at once"),
    }
}

fn per_call(threads: usize, tokens: &TokenManager, f: fn(&TokenManager)) -> Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..ITERATIONS {
                    f(tokens);
                }
            });
        }
    });
    // Wall time per call on each thread.
    started.elapsed() / ITERATIONS
}

/// As [`per_call`], for one audience of an [`AudienceTokenManager`].
fn per_audience_call(
    threads: usize,
    tokens: &AudienceTokenManager,
    audience: &TokenAudience,
) -> Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..ITERATIONS {
                    black_box(poll_ready(tokens.token(audience)).unwrap());
                }
            });
        }
    });
    started.elapsed() / ITERATIONS
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (server, tokens, audiences) = runtime.block_on(async {
        let server = MockAuthorizationServer::builder()
            .client(MockClient::client_secret_basic("svc", "s3cr3t"))
            .start()
            .await
            .unwrap();
        let config = Configuration::builder(
            server.server_metadata(),
            "svc",
            ClientAuth::client_secret_basic("s3cr3t"),
        )
        .allow_insecure_requests(true)
        .build()
        .unwrap();
        let tokens = TokenManager::builder(config.clone()).scope("read").build();
        tokens.token().await.unwrap();
        let audiences = TokenManager::builder(config).build_per_audience(16);
        for i in 0..8 {
            audiences
                .token(&TokenAudience::resource(format!("https://api{i}.example")))
                .await
                .unwrap();
        }
        (server, tokens, audiences)
    });
    let audience = TokenAudience::resource("https://api3.example");
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for threads in [1, 2] {
        let cached = per_call(threads, &tokens, |t| {
            black_box(t.cached().unwrap());
        });
        let awaited = per_call(threads, &tokens, |t| {
            black_box(poll_ready(t.token()).unwrap());
        });
        let per_audience = per_audience_call(threads, &audiences, &audience);
        println!(
            "{threads} thread(s): cached() {:>6.1} ns/call | token().await {:>6.1} ns/call | \
             AudienceTokenManager::token(&audience).await {:>6.1} ns/call",
            cached.as_nanos() as f64,
            awaited.as_nanos() as f64,
            per_audience.as_nanos() as f64
        );
    }

    // Single flight: 10,000 concurrent callers, empty cache, slow endpoint.
    runtime.block_on(async {
        tokens.invalidate().await;
        let before = server.token_request_count();
        server.fail_next_token_request(Fault::Delay(Duration::from_millis(100)));
        let started = Instant::now();
        let callers: Vec<_> = (0..10_000)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.token().await.unwrap() })
            })
            .collect();
        for c in callers {
            c.await.unwrap();
        }
        println!(
            "10,000 concurrent callers on an empty cache: {} token request(s), all served in {:.0} ms (endpoint delay 100 ms)",
            server.token_request_count() - before,
            started.elapsed().as_secs_f64() * 1e3
        );
    });
}

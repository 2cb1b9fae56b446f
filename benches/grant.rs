//! Client credentials grants through oidckit vs. a bare reqwest POST + JSON
//! parse, against the same local static token endpoint, in one run.
//!
//! ```text
//! cargo bench --bench grant
//! ```
//!
//! Prints grants/s for both, sequentially and at concurrency 32, and the
//! ratio of their wall times (target: oidckit ≤ 1.10× bare reqwest).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use oidckit::{client_credentials_grant, ClientAuth, Configuration, ServerMetadata};

const BODY: &str = r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"scope":"read"}"#;
const ROUNDS: usize = 5;

/// A token endpoint that answers every POST with the same JSON.
async fn static_token_endpoint() -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/token",
        post(|| async { ([("content-type", "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn oidckit_grant(config: &Configuration) {
    let token = client_credentials_grant(config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(token.access_token().secret().len(), 22);
}

async fn bare_reqwest(client: &reqwest::Client, url: &str, basic: &str) {
    let response = client
        .post(url)
        .header("authorization", basic)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body("grant_type=client_credentials&scope=read")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["access_token"].as_str().unwrap().len(), 22);
}

/// Runs `n` calls of `f`, `concurrency` at a time; returns the wall time.
async fn run<F, Fut>(n: usize, concurrency: usize, f: F) -> Duration
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let started = Instant::now();
    let per_task = n / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    f().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let addr = static_token_endpoint().await;
        let url = format!("http://{addr}/token");
        let metadata = ServerMetadata::new(format!("http://{addr}"), url.parse().unwrap());
        let config = Configuration::builder(metadata, "bench-client", ClientAuth::client_secret_basic("bench-secret"))
            .allow_insecure_requests(true)
            .build()
            .unwrap();
        // The same client settings oidckit uses by default.
        let client = oidckit::http_client_builder().build().unwrap();
        let basic = "Basic YmVuY2gtY2xpZW50OmJlbmNoLXNlY3JldA==".to_string();

        println!("machine: {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));
        for (label, n, concurrency) in [("sequential", 4_000, 1), ("concurrency 32", 16_000, 32)] {
            let (mut ours, mut bare) = (Duration::ZERO, Duration::ZERO);
            // Warm up both clients' connections, then alternate rounds so
            // drift hits both.
            let c = config.clone();
            run(500, concurrency, move || {
                let c = c.clone();
                async move { oidckit_grant(&c).await }
            })
            .await;
            let (cl, u, b) = (client.clone(), url.clone(), basic.clone());
            run(500, concurrency, move || {
                let (cl, u, b) = (cl.clone(), u.clone(), b.clone());
                async move { bare_reqwest(&cl, &u, &b).await }
            })
            .await;
            for _ in 0..ROUNDS {
                let c = config.clone();
                ours += run(n, concurrency, move || { let c = c.clone(); async move { oidckit_grant(&c).await } }).await;
                let (cl, u, b) = (client.clone(), url.clone(), basic.clone());
                bare += run(n, concurrency, move || {
                    let (cl, u, b) = (cl.clone(), u.clone(), b.clone());
                    async move { bare_reqwest(&cl, &u, &b).await }
                })
                .await;
            }
            let total = (n * ROUNDS) as f64;
            println!(
                "{label:>15}: oidckit {:>8.0} grants/s | bare reqwest {:>8.0} req/s | oidckit/bare wall time {:.3}",
                total / ours.as_secs_f64(),
                total / bare.as_secs_f64(),
                ours.as_secs_f64() / bare.as_secs_f64(),
            );
        }
    });
}

//! A token manager for service-to-service calls, against the embedded
//! authorization server: cached tokens, one request however many callers,
//! the on_update hook, and the middleware that attaches tokens.
//!
//! ```text
//! cargo run --example token_manager --features middleware
//! ```

use std::time::Duration;

use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{ClientAuth, TokenManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("orders-service", "s3cr3t"))
        .start()
        .await?;
    let config = oidckit::discovery(
        server.issuer(),
        "orders-service",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    .allow_insecure_requests(true)
    .await?;

    let tokens = TokenManager::builder(config)
        .scope("read write")
        .refresh_skew(Duration::from_secs(30))
        // Persist each new token (here: print its expiry) …
        .on_update(|token| println!("new token, expires at {:?}", token.expires_at()))
        .build();

    // 1,000 concurrent callers on an empty cache: one token request.
    let callers: Vec<_> = (0..1_000)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await })
        })
        .collect();
    for caller in callers {
        caller.await??;
    }
    println!(
        "token requests after 1,000 callers: {}",
        server.token_request_count()
    );

    // Cached from now on: nanoseconds, no request.
    let token = tokens.token().await?;
    println!(
        "cached {} token, {:?} left",
        token.token_type(),
        token.expires_in().map(|d| d.as_secs())
    );
    println!("stats: {:?}", tokens.stats());

    // The middleware puts the token on outgoing requests.
    let http = reqwest_middleware::ClientBuilder::new(oidckit::reqwest::Client::new())
        .with(oidckit::TokenMiddleware::new(tokens.clone()))
        .build();
    let response = http.get(server.resource_url()).send().await?;
    println!("resource answered {}", response.status());
    Ok(())
}

//! Discovery, then the client credentials grant.
//!
//! With no arguments it starts an embedded authorization server on 127.0.0.1
//! (no setup, no network):
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Against a real server, give the issuer, client id and secret as flags or
//! in the environment (`OIDCKIT_ISSUER`, `OIDCKIT_CLIENT_ID`,
//! `OIDCKIT_CLIENT_SECRET`, optional `OIDCKIT_SCOPE`):
//!
//! ```text
//! cargo run --example quickstart -- \
//!     --issuer https://as.example.com --client-id my-service --client-secret s3cr3t --scope read
//! ```
//!
//! An `http:` issuer (a local test server) also needs `--allow-insecure`
//! (or `OIDCKIT_ALLOW_INSECURE=1`).

use std::collections::HashMap;

use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{client_credentials_grant, discovery, ClientAuth, Url};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = arguments();
    let scope = args
        .get("scope")
        .cloned()
        .unwrap_or_else(|| "read write".into());

    // Keep the embedded server alive until the end of main.
    let (_server, issuer, client_id, secret, insecure) = match args.get("issuer") {
        Some(issuer) => {
            let client_id = args.get("client-id").ok_or("--client-id is required")?;
            let secret = args
                .get("client-secret")
                .ok_or("--client-secret is required")?;
            let issuer: Url = issuer.parse()?;
            let insecure = args.contains_key("allow-insecure");
            (None, issuer, client_id.clone(), secret.clone(), insecure)
        }
        None => {
            let server = MockAuthorizationServer::builder()
                .client(MockClient::client_secret_basic("my-service", "s3cr3t"))
                .start()
                .await?;
            println!("embedded authorization server at {}", server.issuer());
            let issuer = server.issuer();
            (
                Some(server),
                issuer,
                "my-service".into(),
                "s3cr3t".into(),
                true,
            )
        }
    };

    // 1. Discovery: fetch and check the server's metadata.
    let config = discovery(issuer, client_id, ClientAuth::client_secret_basic(secret))
        // The embedded server speaks plain HTTP on loopback; real servers use https.
        .allow_insecure_requests(insecure)
        .await?;
    println!(
        "discovered {} (token endpoint {})",
        config.issuer(),
        config.token_endpoint()?
    );

    // 2. The grant.
    let token = client_credentials_grant(&config, &[("scope", scope.as_str())], None).await?;
    let scopes: Vec<&str> = token
        .scopes()
        .map(|s| s.iter().map(|s| s.as_str()).collect())
        .unwrap_or_default();
    println!("token type: {}", token.token_type());
    println!("scopes:     {scopes:?}");
    println!(
        "expires in: {:?}",
        token
            .expires_in()
            .map(|d| std::time::Duration::from_secs(d.as_secs()))
    );
    Ok(())
}

/// `--name value` flags, falling back to `OIDCKIT_NAME` environment variables.
fn arguments() -> HashMap<String, String> {
    let mut args = HashMap::new();
    for name in [
        "issuer",
        "client-id",
        "client-secret",
        "scope",
        "allow-insecure",
    ] {
        let env = format!("OIDCKIT_{}", name.replace('-', "_").to_uppercase());
        if let Ok(v) = std::env::var(env) {
            args.insert(name.to_owned(), v);
        }
    }
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--allow-insecure" {
            args.insert("allow-insecure".to_owned(), String::new());
        } else if let (Some(name), Some(value)) = (flag.strip_prefix("--"), it.next()) {
            args.insert(name.to_owned(), value);
        }
    }
    args
}

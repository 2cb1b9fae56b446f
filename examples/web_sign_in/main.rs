//! A small web application that signs users in with OpenID Connect:
//! authorization code + PKCE, `state`, `nonce`, the validated ID Token's
//! claims on a page, sign-out through the server's end-session endpoint.
//!
//! With no arguments it starts an embedded OpenID Provider on 127.0.0.1 (the
//! `testing` feature's mock server, which signs the user in at once):
//!
//! ```text
//! cargo run --example web_sign_in
//! # then open the printed URL, e.g. http://127.0.0.1:3000/
//! ```
//!
//! Against a real server, register `http://127.0.0.1:PORT/cb` as a redirect
//! URI (and `http://127.0.0.1:PORT/signed-out` as a post-logout redirect
//! URI) for a confidential client, then:
//!
//! ```text
//! cargo run --example web_sign_in -- \
//!     --issuer https://op.example.com --client-id my-app --client-secret s3cr3t --port 3000
//! ```
//!
//! Flags may also come from the environment (`OIDCKIT_ISSUER`, …); an unknown
//! flag is an error (`--help` lists them).

mod app;

use clap::builder::BoolishValueParser;
use clap::Parser;
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{discovery, ClientAuth, Url};
use serde_json::json;

/// Sign in with OpenID Connect: against an embedded provider on 127.0.0.1,
/// or against ISSUER when given.
#[derive(Debug, Parser)]
#[command(name = "web_sign_in")]
struct Args {
    /// A real OpenID Provider (without it: an embedded one on 127.0.0.1)
    #[arg(long, env = "OIDCKIT_ISSUER", requires_all = ["client_id", "client_secret"])]
    issuer: Option<Url>,
    /// The client's id at ISSUER
    #[arg(long, env = "OIDCKIT_CLIENT_ID", requires = "issuer")]
    client_id: Option<String>,
    /// The client's secret (client_secret_basic)
    #[arg(
        long,
        env = "OIDCKIT_CLIENT_SECRET",
        requires = "issuer",
        hide_env_values = true
    )]
    client_secret: Option<String>,
    /// The scope to ask for
    #[arg(long, env = "OIDCKIT_SCOPE", default_value = "openid email profile")]
    scope: String,
    /// The port to listen on (127.0.0.1 only); 0 picks a free one
    #[arg(long, env = "OIDCKIT_PORT", default_value_t = 3000)]
    port: u16,
    /// Allow an http: ISSUER (local testing only)
    #[arg(long, env = "OIDCKIT_ALLOW_INSECURE", value_parser = BoolishValueParser::new())]
    allow_insecure: bool,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let base: Url = format!("http://{}", listener.local_addr()?).parse()?;

    // Keep the embedded server alive until the end of main.
    let (_server, config) = match args.issuer {
        Some(issuer) => {
            let client_id = args.client_id.ok_or("--client-id is required")?;
            let secret = args.client_secret.ok_or("--client-secret is required")?;
            let config = discovery(issuer, client_id, ClientAuth::client_secret_basic(secret))
                .allow_insecure_requests(args.allow_insecure)
                .await?;
            (None, config)
        }
        None => {
            let server = MockAuthorizationServer::builder()
                .client(
                    MockClient::client_secret_basic("web-app", "s3cr3t")
                        .redirect_uris([app::redirect_uri(&base).to_string()])
                        .post_logout_redirect_uris([
                            app::post_logout_redirect_uri(&base).to_string()
                        ]),
                )
                .subject("alice")
                .user_claims(json!({
                    "name": "Alice Example",
                    "email": "alice@example.com",
                    "email_verified": true,
                }))
                .start()
                .await?;
            println!("embedded OpenID Provider: {}", server.issuer());
            let config = discovery(
                server.issuer(),
                "web-app",
                ClientAuth::client_secret_basic("s3cr3t"),
            )
            .allow_insecure_requests(true)
            .await?;
            (Some(server), config)
        }
    };

    println!("open {base} (Ctrl-C stops)");
    axum::serve(listener, app::router(config, base, &args.scope))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

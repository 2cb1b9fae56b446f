//! DPoP end to end against the embedded authorization server: a DPoP-bound
//! token (with the server demanding nonces), then a call to a protected
//! resource with a proof bound to that token.
//!
//! ```text
//! cargo run --example dpop
//! ```

use oidckit::reqwest::Method;
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, discovery, fetch_protected_resource, ClientAuth, DPoPHandle,
    JwsAlgorithm,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockAuthorizationServer::builder()
        .client(MockClient::client_secret_basic("my-service", "s3cr3t"))
        .require_dpop_nonce(true)
        .start()
        .await?;
    let config = discovery(
        server.issuer(),
        "my-service",
        ClientAuth::client_secret_basic("s3cr3t"),
    )
    // The embedded server speaks plain HTTP on loopback.
    .allow_insecure_requests(true)
    .await?;

    // One key pair per service instance (or one shared key, loaded with
    // PrivateKey::from_pem and DPoPHandle::new, to share bound tokens).
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256)?;
    println!("DPoP key thumbprint (jkt): {}", dpop.thumbprint());

    // The server answers the first request with use_dpop_nonce; the grant
    // retries once with the nonce, and remembers it for the next request.
    let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop)).await?;
    println!(
        "token type: {} (bound to jkt {:?})",
        token.token_type(),
        server.token_binding(token.access_token().secret())
    );
    println!("token requests sent: {}", server.token_request_count());

    // A resource request: Authorization: DPoP <token> plus a proof whose
    // `ath` is the token's hash.
    let response = fetch_protected_resource(
        &config,
        token.access_token(),
        Method::GET,
        server.resource_url(),
    )
    .options(oidckit::RequestOptions::new().dpop(&dpop))
    .await?;
    println!(
        "resource answered {}: {}",
        response.status(),
        response.text().await?
    );
    Ok(())
}

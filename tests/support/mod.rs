//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod browser;
pub mod prerequisites;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{ClientAuth, Configuration};
use serde_json::Value;

/// A mock server with one client registered.
pub async fn server_with(client: MockClient) -> MockAuthorizationServer {
    MockAuthorizationServer::builder()
        .client(client)
        .start()
        .await
        .expect("start mock server")
}

/// A configuration for `server` from its metadata (no discovery), allowing
/// its plain-HTTP loopback URLs.
pub fn config(
    server: &MockAuthorizationServer,
    client_id: &str,
    auth: ClientAuth,
) -> Configuration {
    Configuration::builder(server.server_metadata(), client_id, auth)
        .allow_insecure_requests(true)
        .build()
        .expect("configuration")
}

/// Part `i` of a compact JWT (0: the header, 1: the claims), decoded as JSON.
pub fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).expect("a compact JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// A JWT's header.
pub fn jwt_header(jwt: &str) -> Value {
    jwt_part(jwt, 0)
}

/// A JWT's claims.
pub fn jwt_claims(jwt: &str) -> Value {
    jwt_part(jwt, 1)
}

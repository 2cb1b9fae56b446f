//! Helpers shared by the integration tests.
#![allow(dead_code)]

use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{ClientAuth, Configuration};

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

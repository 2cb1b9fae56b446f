//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod browser;
pub mod prerequisites;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{ClientAuth, Configuration};
use serde_json::{Map, Value};

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

/// A josekit verifier for `alg` with the public `jwk`.
pub fn jws_verifier(alg: &str, jwk: &Map<String, Value>) -> Box<dyn JwsVerifier> {
    let jwk = Jwk::from_map(jwk.clone()).unwrap();
    match alg {
        "ES256" => Box::new(jws::ES256.verifier_from_jwk(&jwk).unwrap()),
        "RS256" => Box::new(jws::RS256.verifier_from_jwk(&jwk).unwrap()),
        "PS256" => Box::new(jws::PS256.verifier_from_jwk(&jwk).unwrap()),
        "EdDSA" => Box::new(jws::EdDSA.verifier_from_jwk(&jwk).unwrap()),
        other => panic!("no verifier for {other}"),
    }
}

/// Verifies a compact JWS against the JWK Set `jwks` as a careful client
/// does: the key by `kid`, the header's `alg` the key's.
pub fn verify_with_jwks(jwt: &str, jwks: &Value) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err(format!("{} parts", parts.len()));
    }
    let header = jwt_header(jwt);
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or("no key with this kid")?;
    if header["alg"] != key["alg"] {
        return Err(format!("alg {} is not the key's", header["alg"]));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|_| "the signature is not base64url")?;
    jws_verifier(key["alg"].as_str().unwrap(), key.as_object().unwrap())
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|e| e.to_string())
}

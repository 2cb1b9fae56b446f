//! Interop against a real authorization server: panva's `oidc-provider`
//! (npm, pinned in tests/interop/package-lock.json), run by the machine's
//! Node on 127.0.0.1. `bash scripts/test.sh` installs it with `npm ci`.
//!
//! One provider serves every test of this file.

use std::sync::OnceLock;
use std::time::Duration;

use oidckit::{
    client_credentials_grant, AssertionAudience, ClientAuth, Configuration, DiscoveryAlgorithm,
    JwsAlgorithm, PrivateKey, Url,
};
use serde_json::json;

/// A secret full of the characters RFC 6749 §2.3.1 form-encoding exists for.
const SPECIAL_SECRET: &str = "s3cr3t with space:/+%&=?#~*!'()";
/// HMAC secrets long enough for HS512 (oidc-provider checks key length).
const JWT_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use oidc_provider::{client, OidcProvider};

struct Provider {
    issuer: Url,
    keys: Vec<(String, PrivateKey)>,
    _server: OidcProvider,
}

fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(start_provider)
}

fn start_provider() -> Provider {
    let mut keys = Vec::new();
    for alg in [
        JwsAlgorithm::ES256,
        JwsAlgorithm::RS256,
        JwsAlgorithm::PS256,
        JwsAlgorithm::EdDSA,
    ] {
        let id = format!("pkjwt-{}", alg.name().to_lowercase());
        let key = PrivateKey::generate(alg)
            .unwrap()
            .with_kid(format!("{id}-key"));
        keys.push((id, key));
    }
    let mut clients = vec![
        client(
            "basic-client",
            "client_secret_basic",
            json!({"client_secret": SPECIAL_SECRET}),
        ),
        client(
            "post-client",
            "client_secret_post",
            json!({"client_secret": "post-secret"}),
        ),
        client(
            "jwt-hs256",
            "client_secret_jwt",
            json!({"client_secret": JWT_SECRET, "token_endpoint_auth_signing_alg": "HS256"}),
        ),
        client(
            "jwt-hs512",
            "client_secret_jwt",
            json!({"client_secret": JWT_SECRET, "token_endpoint_auth_signing_alg": "HS512"}),
        ),
    ];
    clients.extend(keys.iter().map(|(id, key)| {
        client(
            id,
            "private_key_jwt",
            json!({
                "token_endpoint_auth_signing_alg": key.algorithm().name(),
                "jwks": { "keys": [key.public_jwk()] },
            }),
        )
    }));
    let server = OidcProvider::start(clients, None);
    Provider {
        issuer: server.issuer.clone(),
        keys,
        _server: server,
    }
}

/// Configurations for the client from discovery by both algorithms.
async fn discover_both(client_id: &str, auth: ClientAuth) -> Vec<Configuration> {
    let mut configs = Vec::new();
    for alg in [DiscoveryAlgorithm::Oidc, DiscoveryAlgorithm::OAuth2] {
        configs.push(discover(client_id, auth.clone(), alg).await);
    }
    configs
}

async fn discover(client_id: &str, auth: ClientAuth, alg: DiscoveryAlgorithm) -> Configuration {
    oidckit::discovery(provider().issuer.clone(), client_id, auth)
        .algorithm(alg)
        .allow_insecure_requests(true)
        .await
        .unwrap_or_else(|e| panic!("discovery for {client_id}: {e}"))
}

#[tokio::test]
async fn discovery_by_both_algorithms_then_basic_grant_with_special_secret() {
    for alg in [DiscoveryAlgorithm::Oidc, DiscoveryAlgorithm::OAuth2] {
        let config = discover(
            "basic-client",
            ClientAuth::client_secret_basic(SPECIAL_SECRET),
            alg,
        )
        .await;
        assert_eq!(
            config.issuer(),
            provider().issuer.as_str().trim_end_matches('/')
        );
        let token = client_credentials_grant(&config, &[("scope", "read write")], None)
            .await
            .unwrap();
        assert!(token.token_type().is_bearer());
        assert!(!token.access_token().secret().is_empty());
        let expires_in = token.expires_in().unwrap();
        assert!(expires_in > Duration::from_secs(500) && expires_in <= Duration::from_secs(600));
        assert_eq!(token.scope(), Some("read write"));
    }
}

#[tokio::test]
async fn resource_indicator_yields_jwt_access_token_for_that_audience() {
    let config = discover(
        "basic-client",
        ClientAuth::client_secret_basic(SPECIAL_SECRET),
        DiscoveryAlgorithm::Oidc,
    )
    .await;
    let token = client_credentials_grant(
        &config,
        &[("scope", "read"), ("resource", "urn:oidckit:api")],
        None,
    )
    .await
    .unwrap();
    let at = token.access_token().secret();
    assert_eq!(support::jwt_part(at, 0)["typ"], "at+jwt");
    let claims = support::jwt_part(at, 1);
    assert_eq!(claims["aud"], "urn:oidckit:api");
    assert_eq!(claims["client_id"], "basic-client");
    assert_eq!(claims["scope"], "read");
}

#[tokio::test]
async fn client_secret_post() {
    for config in discover_both("post-client", ClientAuth::client_secret_post("post-secret")).await
    {
        let token = client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap();
        assert!(token.token_type().is_bearer());
    }
}

#[tokio::test]
async fn client_secret_jwt_hs256_and_hs512_with_both_audiences() {
    for (id, alg) in [
        ("jwt-hs256", JwsAlgorithm::HS256),
        ("jwt-hs512", JwsAlgorithm::HS512),
    ] {
        for audience in [AssertionAudience::Issuer, AssertionAudience::TokenEndpoint] {
            let auth = ClientAuth::client_secret_jwt_with_alg(JWT_SECRET, alg)
                .assertion_audience(audience.clone());
            for config in discover_both(id, auth).await {
                let token = client_credentials_grant(&config, &[("scope", "read")], None)
                    .await
                    .unwrap_or_else(|e| panic!("{id} {audience:?}: {e}"));
                assert!(token.token_type().is_bearer());
            }
        }
    }
}

#[tokio::test]
async fn private_key_jwt_with_every_key_type() {
    for (id, key) in &provider().keys {
        for config in discover_both(id, ClientAuth::private_key_jwt(key.clone())).await {
            let token = client_credentials_grant(&config, &[("scope", "write")], None)
                .await
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(token.scope(), Some("write"), "{id}");
        }
    }
}

#[tokio::test]
async fn wrong_secret_is_a_typed_invalid_client_error() {
    let config = discover(
        "basic-client",
        ClientAuth::client_secret_basic("wrong"),
        DiscoveryAlgorithm::Oidc,
    )
    .await;
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    let oauth = err
        .oauth_error()
        .unwrap_or_else(|| panic!("not an OAuth error: {err}"));
    assert_eq!(oauth.error, "invalid_client");
    assert_eq!(oauth.status.map(|s| s.as_u16()), Some(401));
    assert!(err.challenges().iter().any(|c| c.scheme() == "basic"));
    assert!(!err.is_retryable());
    assert!(!format!("{err} {err:?}").contains(SPECIAL_SECRET));
}

#[tokio::test]
async fn unknown_resource_is_invalid_target() {
    let config = discover(
        "post-client",
        ClientAuth::client_secret_post("post-secret"),
        DiscoveryAlgorithm::Oidc,
    )
    .await;
    let err = client_credentials_grant(&config, &[("resource", "urn:unknown")], None)
        .await
        .unwrap_err();
    assert!(
        err.oauth_error()
            .is_some_and(|e| e.error == "invalid_target"),
        "{err}"
    );
}

//! Federated workload credentials against the real oidc-provider: the test
//! plays the platform (a Kubernetes-style projected volume, a token signed
//! with a key oidc-provider trusts for the client through its registered
//! `jwks`, rotated with an atomic symlink swap); grants and the token
//! manager send whatever the file holds and keep working across rotations.
//! The provider reports the `jti` of every assertion it accepted
//! (`GET /oidckit/assertions`), so the test sees which token was sent.

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use oidc_provider::{client, OidcProvider};
use oidckit::testing::sign_jwt;
use oidckit::{
    client_credentials_grant, ClientAuth, Configuration, ErrorKind, JwsAlgorithm, PrivateKey,
    TokenManager,
};
use serde_json::{json, Value};

const CLIENT_ID: &str = "k8s-workload";

/// The platform: a signing key and a projected volume.
struct Platform {
    key: PrivateKey,
    dir: tempfile::TempDir,
    issuer: String,
    rotations: usize,
}

impl Platform {
    fn token_path(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    /// Issues a token for the client (`iss` = `sub` = client_id, `aud` =
    /// the issuer, as oidc-provider wants of client assertions), swaps it
    /// in, and returns its `jti`.
    fn rotate(&mut self, lifetime: u64) -> String {
        self.rotations += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let jti = format!("platform-token-{}", self.rotations);
        let claims = json!({
            "iss": CLIENT_ID, "sub": CLIENT_ID, "aud": self.issuer,
            "iat": now, "exp": now + lifetime, "jti": jti,
        });
        let token = sign_jwt(&self.key, claims).unwrap();
        let version = self.dir.path().join(format!("..{}", self.rotations));
        fs::create_dir(&version).unwrap();
        fs::write(version.join("token"), token).unwrap();
        swap_link(self.dir.path(), &version);
        if self.rotations == 1 {
            std::os::unix::fs::symlink("..data/token", self.token_path()).unwrap();
        }
        jti
    }
}

fn swap_link(volume: &Path, version: &Path) {
    let tmp = volume.join("..data_tmp");
    std::os::unix::fs::symlink(version.file_name().unwrap(), &tmp).unwrap();
    fs::rename(&tmp, volume.join("..data")).unwrap();
}

async fn start() -> (OidcProvider, Platform, Configuration) {
    let key = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("platform-key-1");
    let server = OidcProvider::start(
        vec![client(
            CLIENT_ID,
            "private_key_jwt",
            json!({
                "token_endpoint_auth_signing_alg": "ES256",
                "jwks": { "keys": [key.public_jwk()] },
                "oidckit_reusable_assertions": true,
            }),
        )],
        None,
    );
    let mut platform = Platform {
        key,
        dir: tempfile::tempdir().unwrap(),
        issuer: String::new(),
        rotations: 0,
    };
    let config = oidckit::discovery(
        server.issuer.clone(),
        CLIENT_ID,
        ClientAuth::client_assertion_file(platform.token_path()),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    platform.issuer = config.issuer().to_owned();
    (server, platform, config)
}

/// The `jti`s of the assertions the provider accepted from the client.
async fn accepted(server: &OidcProvider) -> Vec<String> {
    let url = server.issuer.join("/oidckit/assertions").unwrap();
    let response = oidckit::reqwest::get(url).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let all: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    all[CLIENT_ID]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|j| j.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn grants_and_the_token_manager_across_rotations() {
    let (server, mut platform, config) = start().await;
    let first = platform.rotate(3600);
    // The same platform token, twice: accepted each time.
    for _ in 0..2 {
        client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap();
    }
    assert_eq!(accepted(&server).await, [first.clone(), first.clone()]);

    let manager = TokenManager::builder(config.clone()).scope("read").build();
    manager.token().await.unwrap();
    // The platform rotates; the next token request sends the new token.
    let second = platform.rotate(3600);
    manager.force_refresh().await.unwrap();
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let third = platform.rotate(3600);
    manager.force_refresh().await.unwrap();
    assert_eq!(
        accepted(&server).await,
        [
            first.clone(),
            first.clone(),
            first,
            second.clone(),
            second,
            third
        ]
    );
    assert_eq!(manager.stats().failures, 0);
}

#[tokio::test]
async fn a_token_the_provider_does_not_trust_is_refused() {
    let (_server, mut platform, config) = start().await;
    platform.key = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("platform-key-1");
    platform.rotate(3600);
    let e = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
}

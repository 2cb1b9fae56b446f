//! Federated workload credentials against the mock server: the test plays
//! the platform (Kubernetes, a SPIFFE helper) that writes a signed client
//! assertion to a file and rotates it; grants and the token manager send
//! whatever the file holds, follow the rotation, and never send an expired
//! assertion.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oidckit::testing::{sign_jwt, MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, ClientAuth, Configuration, ErrorKind, JwsAlgorithm, ManualClock,
    PrivateKey, TokenManager, JWT_BEARER_CLIENT_ASSERTION_TYPE,
};
use serde_json::json;

const START: u64 = 2_000_000_000;
const CLIENT_ID: &str = "workload";

/// The platform: its signing key, trusted by the server for the client, and
/// the projected-volume layout Kubernetes uses (a `..data` symlink swapped
/// atomically to a new directory on rotation).
struct Platform {
    key: PrivateKey,
    dir: tempfile::TempDir,
    audience: String,
    rotations: usize,
}

impl Platform {
    fn new(audience: &str) -> Self {
        Platform {
            key: PrivateKey::generate(JwsAlgorithm::ES256)
                .unwrap()
                .with_kid("platform-1"),
            dir: tempfile::tempdir().unwrap(),
            audience: audience.to_owned(),
            rotations: 0,
        }
    }

    /// Where the workload reads its token: `<volume>/token`, a symlink
    /// through `..data`.
    fn token_path(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    /// Issues a token valid from `now` for `lifetime` seconds and swaps it
    /// in; returns it.
    fn rotate(&mut self, now: u64, lifetime: u64) -> String {
        self.rotations += 1;
        let claims = json!({
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": format!("platform-token-{}", self.rotations),
        });
        let token = sign_jwt(&self.key, claims).unwrap();
        let version = self.dir.path().join(format!("..{}", self.rotations));
        fs::create_dir(&version).unwrap();
        fs::write(version.join("token"), &token).unwrap();
        swap_link(self.dir.path(), &version);
        if self.rotations == 1 {
            std::os::unix::fs::symlink("..data/token", self.token_path()).unwrap();
        }
        token
    }
}

/// `..data` → `version`, replaced atomically (a new link renamed over it).
fn swap_link(volume: &Path, version: &Path) {
    let tmp = volume.join("..data_tmp");
    std::os::unix::fs::symlink(version.file_name().unwrap(), &tmp).unwrap();
    fs::rename(&tmp, volume.join("..data")).unwrap();
}

struct Setup {
    server: MockAuthorizationServer,
    config: Configuration,
    clock: ManualClock,
    platform: Platform,
}

async fn setup() -> Setup {
    setup_with(3600).await
}

async fn setup_with(token_lifetime: u64) -> Setup {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    // The audience is the issuer, known once the server runs.
    let mut platform = Platform::new("");
    let server = MockAuthorizationServer::builder()
        .client(
            MockClient::private_key_jwt(CLIENT_ID, platform.key.public_jwk()).reusable_assertions(),
        )
        .clock(Arc::new(clock.clone()))
        .token_lifetime(Some(token_lifetime))
        .start()
        .await
        .unwrap();
    platform.audience = server.server_metadata().issuer.clone();
    let config = Configuration::builder(
        server.server_metadata(),
        CLIENT_ID,
        ClientAuth::client_assertion_file(platform.token_path()),
    )
    .allow_insecure_requests(true)
    .clock(Arc::new(clock.clone()))
    .build()
    .unwrap();
    Setup {
        server,
        config,
        clock,
        platform,
    }
}

fn sent_assertion(server: &MockAuthorizationServer) -> String {
    let request = server.last_token_request().expect("a token request");
    assert_eq!(
        request.param("client_assertion_type"),
        Some(JWT_BEARER_CLIENT_ASSERTION_TYPE)
    );
    assert_eq!(request.param("client_id"), Some(CLIENT_ID));
    request.param("client_assertion").unwrap().to_owned()
}

#[tokio::test]
async fn grants_send_the_platform_token_and_follow_its_rotation() {
    let mut s = setup().await;
    let first = s.platform.rotate(START, 3600);
    client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(sent_assertion(&s.server), first);
    // Reused as is for the next request: the platform's token is not
    // single-use.
    client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(sent_assertion(&s.server), first);

    // Kubernetes rotates at 80 % of the lifetime.
    s.clock.advance(Duration::from_secs(2880));
    let second = s.platform.rotate(START + 2880, 3600);
    client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(
        sent_assertion(&s.server),
        second,
        "the rotated token is sent"
    );
}

#[tokio::test]
async fn an_expired_token_that_was_not_rotated_is_never_sent() {
    let mut s = setup().await;
    s.platform.rotate(START, 600);
    client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap();
    let sent = s.server.token_request_count();
    s.clock.advance(Duration::from_secs(600));
    let e = client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClientCredential, "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
    assert!(e.is_retryable());
    assert_eq!(s.server.token_request_count(), sent, "nothing was sent");
    // The platform catches up: the next call works.
    let fresh = s.platform.rotate(START + 600, 600);
    client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(sent_assertion(&s.server), fresh);
}

#[tokio::test]
async fn a_missing_file_is_a_typed_error_and_no_request() {
    let s = setup().await;
    let e = client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClientCredential, "{e}");
    assert!(e.to_string().contains("token"), "names the file: {e}");
    assert_eq!(s.server.token_request_count(), 0);
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused_by_the_server() {
    let mut s = setup().await;
    s.platform.key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    s.platform.rotate(START, 600);
    let e = client_credentials_grant(&s.config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
}

#[tokio::test]
async fn the_token_manager_keeps_working_across_rotations() {
    // Access tokens live 300 s; the platform's tokens an hour.
    let mut s = setup_with(300).await;
    let first = s.platform.rotate(START, 3600);
    let manager = TokenManager::builder(s.config.clone())
        .scope("read")
        .clock(Arc::new(s.clock.clone()))
        .build();
    manager.token().await.unwrap();
    assert_eq!(sent_assertion(&s.server), first);

    let mut sent = vec![first];
    let (mut now, mut rotated) = (START, START);
    // Six hours: the access token is refreshed over and over, the platform
    // rotates its token at 75 % of its lifetime.
    for _ in 0..72 {
        now += 300;
        s.clock.advance(Duration::from_secs(300));
        if now - rotated >= 2700 {
            sent.push(s.platform.rotate(now, 3600));
            rotated = now;
        }
        manager.token().await.unwrap();
        assert_eq!(
            &sent_assertion(&s.server),
            sent.last().unwrap(),
            "at +{} s",
            now - START
        );
    }
    assert!(sent.len() >= 7, "{} rotations", sent.len());
    assert_eq!(manager.stats().failures, 0);
}

/// A callback as the source (a SPIFFE Workload API client, a cloud
/// metadata service): called per request, its errors typed.
#[tokio::test]
async fn a_callback_source() {
    let s = setup().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let token = sign_jwt(
        &s.platform.key,
        json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": s.platform.audience,
               "iat": START, "exp": START + 600}),
    )
    .unwrap();
    let counted = calls.clone();
    let config = Configuration::builder(
        s.server.server_metadata(),
        CLIENT_ID,
        ClientAuth::client_assertion_callback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(token.clone())
        }),
    )
    .allow_insecure_requests(true)
    .clock(Arc::new(s.clock.clone()))
    .build()
    .unwrap();
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let failing = Configuration::builder(
        s.server.server_metadata(),
        CLIENT_ID,
        ClientAuth::client_assertion_callback(|| Err("workload API socket not found".into())),
    )
    .allow_insecure_requests(true)
    .build()
    .unwrap();
    let e = client_credentials_grant(&failing, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ClientCredential);
    assert!(e.to_string().contains("socket not found"), "{e}");
}

#[test]
fn debug_names_the_source_not_the_token() {
    let auth = ClientAuth::client_assertion_file("/var/run/secrets/tokens/token");
    let debug = format!("{auth:?}");
    assert!(debug.contains("private_key_jwt"), "{debug}");
    assert!(debug.contains("/var/run/secrets/tokens/token"), "{debug}");
}

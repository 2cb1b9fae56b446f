//! Refresh, token exchange, JWT bearer, introspection, revocation and mTLS
//! (RFC 8705) against the real `oidc-provider` (tests/interop/provider.mjs).

#[path = "support/certs.rs"]
mod certs;
#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oidc_provider::{client, OidcProvider};
use oidckit::{
    certificate_thumbprint, client_credentials_grant, generic_grant_request, jwt_bearer_grant,
    refresh_token_grant, token_exchange, token_introspection, token_revocation, token_types,
    ClientAuth, ClientMetadata, Configuration, JwsAlgorithm, PrivateKey, TokenExchange,
};
use serde_json::json;

const NO_PARAMS: [(&str, &str); 0] = [];

struct Provider {
    server: OidcProvider,
    jb_key: PrivateKey,
}

fn provider() -> &'static Provider {
    static P: OnceLock<Provider> = OnceLock::new();
    P.get_or_init(|| {
        let jb_key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap().with_kid("jb-1");
        let clients = vec![
            client(
                "rt-client",
                "client_secret_basic",
                json!({"client_secret": "rt-secret",
                       "grant_types": ["urn:oidckit:grant-type:issue-refresh-token", "refresh_token"]}),
            ),
            client(
                "te-client",
                "client_secret_basic",
                json!({"client_secret": "te-secret",
                       "grant_types": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]}),
            ),
            client(
                "jb-client",
                "client_secret_basic",
                json!({"client_secret": "jb-secret",
                       "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
                       "jwks": {"keys": [jb_key.public_jwk()]}}),
            ),
        ];
        Provider {
            server: OidcProvider::start(clients, None),
            jb_key,
        }
    })
}

async fn config(id: &str, secret: &str) -> Configuration {
    oidckit::discovery(
        provider().server.issuer.clone(),
        id,
        ClientAuth::client_secret_basic(secret),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap()
}

#[tokio::test]
async fn refresh_token_grant_against_oidc_providers_own_handler() {
    let config = config("rt-client", "rt-secret").await;
    let first = generic_grant_request(
        &config,
        "urn:oidckit:grant-type:issue-refresh-token",
        &[
            ("scope", "offline_access read"),
            ("resource", "urn:oidckit:opaque"),
        ],
        None,
    )
    .await
    .unwrap();
    let rt = first.refresh_token().expect("a refresh token").clone();
    let second = refresh_token_grant(&config, &rt, &[("resource", "urn:oidckit:opaque")], None)
        .await
        .unwrap();
    assert_ne!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    let info = token_introspection(
        &config,
        second.access_token().secret(),
        Some("access_token"),
    )
    .await
    .unwrap();
    assert!(info.active);
    // A wider scope than granted is refused by the server, typed.
    let err = refresh_token_grant(
        &config,
        &rt,
        &[("scope", "offline_access read write admin")],
        None,
    )
    .await
    .unwrap_err();
    assert!(err.is_oauth(), "{err}");
}

#[tokio::test]
async fn token_exchange_then_introspect_and_revoke() {
    let config = config("te-client", "te-secret").await;
    let subject = client_credentials_grant(
        &config,
        &[("scope", "read write"), ("resource", "urn:oidckit:opaque")],
        None,
    )
    .await
    .unwrap();
    let exchange = TokenExchange::new(
        subject.access_token().secret().clone(),
        token_types::ACCESS_TOKEN,
    )
    .requested_token_type(token_types::ACCESS_TOKEN)
    .resource("urn:oidckit:opaque")
    .scope("read");
    let exchanged = token_exchange(&config, &exchange, None).await.unwrap();
    assert_eq!(
        exchanged.issued_token_type(),
        Some(token_types::ACCESS_TOKEN)
    );
    assert!(exchanged.token_type().is_bearer());

    let at = exchanged.access_token().secret();
    let info = token_introspection(&config, at, Some("access_token"))
        .await
        .unwrap();
    assert!(info.active);
    assert_eq!(info.scope.as_deref(), Some("read"));
    assert_eq!(
        info.sub.as_deref(),
        Some("te-client"),
        "sub of the subject token"
    );
    token_revocation(&config, at, Some("access_token"))
        .await
        .unwrap();
    let info = token_introspection(&config, at, None).await.unwrap();
    assert!(!info.active);

    let err = token_exchange(
        &config,
        &TokenExchange::new("bogus", token_types::ACCESS_TOKEN),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_grant");
}

#[tokio::test]
async fn jwt_bearer_grant_with_a_signed_assertion() {
    let p = provider();
    let config = config("jb-client", "jb-secret").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = oidckit::testing::sign_jwt(
        &p.jb_key,
        json!({"iss": "jb-client", "sub": "alice", "aud": config.issuer(), "iat": now, "exp": now + 60}),
    )
    .unwrap();
    let token = jwt_bearer_grant(
        &config,
        &assertion,
        &[("scope", "read"), ("resource", "urn:oidckit:opaque")],
        None,
    )
    .await
    .unwrap();
    let info = token_introspection(&config, token.access_token().secret(), None)
        .await
        .unwrap();
    assert_eq!(info.sub.as_deref(), Some("alice"));
    let expired = oidckit::testing::sign_jwt(
        &p.jb_key,
        json!({"iss": "jb-client", "sub": "alice", "aud": config.issuer(), "iat": now - 600, "exp": now - 300}),
    )
    .unwrap();
    let err = jwt_bearer_grant(&config, &expired, NO_PARAMS, None)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_grant");
}

/// mTLS: a provider over HTTPS that asks for client certificates.
#[tokio::test]
async fn mtls_tls_client_auth_self_signed_and_certificate_bound_tokens() {
    /// Removes the directory (it holds a private key) even if the test panics.
    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let tmp = TempDir(std::env::temp_dir().join(format!(
        "oidckit-mtls-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )));
    let dir = &tmp.0;
    std::fs::create_dir_all(dir).unwrap();
    let ca = certs::ca();
    let server_cert = certs::server(&ca);
    let pki_client = certs::client("mtls-client", Some(&ca));
    let self_signed = certs::client("mtls-self", None);
    let write = |name: &str, data: Vec<u8>| {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path.to_string_lossy().into_owned()
    };
    let env = [
        (
            "INTEROP_TLS_CERT",
            write("server.pem", server_cert.cert_pem()),
        ),
        (
            "INTEROP_TLS_KEY",
            write("server.key", server_cert.key_pem()),
        ),
        ("INTEROP_TLS_CA", write("ca.pem", ca.cert_pem())),
    ];
    let self_signed_jwk = {
        let key = PrivateKey::from_pem_with_alg(
            &self_signed.key.private_key_to_pem_pkcs8().unwrap(),
            JwsAlgorithm::ES256,
        )
        .unwrap();
        let mut jwk = key.public_jwk().clone();
        jwk.insert(
            "x5c".into(),
            json!([STANDARD.encode(self_signed.cert.to_der().unwrap())]),
        );
        jwk
    };
    let clients = vec![
        client(
            "mtls-pki",
            "tls_client_auth",
            json!({"tls_client_auth_subject_dn": "CN=mtls-client,O=oidckit,C=US",
                   "tls_client_certificate_bound_access_tokens": true}),
        ),
        client(
            "mtls-self",
            "self_signed_tls_client_auth",
            json!({"jwks": {"keys": [self_signed_jwk]},
                   "tls_client_certificate_bound_access_tokens": true}),
        ),
    ];
    let server = OidcProvider::start_with_env(clients, &env);
    assert_eq!(server.issuer.scheme(), "https");
    let ca_cert = oidckit::reqwest::Certificate::from_pem(&ca.cert_pem()).unwrap();

    for (id, cert, auth) in [
        ("mtls-pki", &pki_client, ClientAuth::tls_client_auth()),
        (
            "mtls-self",
            &self_signed,
            ClientAuth::self_signed_tls_client_auth(),
        ),
    ] {
        let http = oidckit::mtls_client_builder_from_pem(&cert.cert_pem(), &cert.key_pem())
            .unwrap()
            .add_root_certificate(ca_cert.clone())
            .build()
            .unwrap();
        let config = oidckit::discovery(server.issuer.clone(), id, auth)
            .http_client(http)
            .client_metadata(ClientMetadata::default().with_mtls_endpoint_aliases())
            .await
            .unwrap_or_else(|e| panic!("{id}: discovery: {e}"));
        assert!(
            config.server_metadata().mtls_endpoint_aliases.is_some(),
            "{id}"
        );
        let thumbprint = certificate_thumbprint(&cert.cert_pem()).unwrap();

        // A JWT access token carries the certificate's thumbprint.
        let token = client_credentials_grant(
            &config,
            &[("scope", "read"), ("resource", "urn:oidckit:api")],
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            support::jwt_claims(token.access_token().secret())["cnf"]["x5t#S256"],
            thumbprint,
            "{id}"
        );
        // So does introspection of an opaque one, over the alias endpoints.
        let token = client_credentials_grant(
            &config,
            &[("scope", "read"), ("resource", "urn:oidckit:opaque")],
            None,
        )
        .await
        .unwrap();
        let info = token_introspection(&config, token.access_token().secret(), None)
            .await
            .unwrap();
        assert!(info.active);
        assert_eq!(info.cnf.unwrap()["x5t#S256"], thumbprint, "{id}");
        token_revocation(&config, token.access_token().secret(), None)
            .await
            .unwrap();
        let body = config.client_metadata();
        assert_eq!(
            body.token_endpoint_auth_method.as_deref(),
            Some(config.client_auth().method_name())
        );
    }

    // Without a certificate, the server refuses the client.
    let http = oidckit::http_client_builder()
        .add_root_certificate(ca_cert)
        .build()
        .unwrap();
    let config = oidckit::discovery(
        server.issuer.clone(),
        "mtls-pki",
        ClientAuth::tls_client_auth(),
    )
    .http_client(http)
    .await
    .unwrap();
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_error().map(|e| e.error.as_str()),
        Some("invalid_client"),
        "{err}"
    );
}

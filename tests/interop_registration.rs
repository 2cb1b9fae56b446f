//! Interop: dynamic client registration (RFC 7591) and management (RFC
//! 7592) against panva's `oidc-provider` (tests/interop/provider.mjs, its
//! `features.registration` with a fixed initial access token and
//! `features.registrationManagement` rotating the registration access
//! token with each update).

use oidckit::{
    client_credentials_grant, delete_client_registration, dynamic_client_registration,
    read_client_registration, update_client_registration, ClientAuth, ClientMetadata, ErrorKind,
    JwsAlgorithm, PrivateKey, Registration,
};
use serde_json::json;

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use oidc_provider::OidcProvider;

/// provider.mjs's default initial access token.
const INITIAL_ACCESS_TOKEN: &str = "oidckit-initial-access-token";

/// A client credentials client, as oidc-provider wants one.
fn service(method: &str) -> ClientMetadata {
    let mut metadata = ClientMetadata::default();
    metadata.client_name = Some("interop service".into());
    metadata.token_endpoint_auth_method = Some(method.into());
    metadata.grant_types = Some(vec!["client_credentials".into()]);
    metadata.response_types = Some(vec![]);
    metadata.redirect_uris = Some(vec![]);
    metadata
}

async fn register(provider: &OidcProvider, metadata: ClientMetadata) -> Registration {
    dynamic_client_registration(provider.issuer.clone(), metadata)
        .initial_access_token(INITIAL_ACCESS_TOKEN)
        .allow_insecure_requests(true)
        .await
        .unwrap_or_else(|e| panic!("registration: {e}"))
}

#[tokio::test]
async fn register_grant_read_update_delete() {
    let provider = OidcProvider::start(Vec::new(), None);
    let Registration { config, client, .. } =
        register(&provider, service("client_secret_basic")).await;
    assert!(!client.client_id().is_empty());
    assert!(client.client_secret.is_some());
    assert_eq!(client.client_secret_expires_at, Some(0));
    assert!(client.metadata.client_id_issued_at.is_some());
    let old_token = client.registration_access_token.clone().unwrap();
    assert!(client.registration_client_uri.is_some());

    let token = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert!(token.token_type().is_bearer());

    let read = read_client_registration(&config, &client).await.unwrap();
    assert_eq!(read.client_id(), client.client_id());
    assert_eq!(
        read.metadata.client_name.as_deref(),
        Some("interop service")
    );

    // Update from what the server has, renamed and narrowed to `read`.
    let mut metadata = read.metadata.clone();
    metadata.client_name = Some("renamed".into());
    metadata.scope = Some("read".into());
    let updated = update_client_registration(&config, &read, &metadata)
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    assert_eq!(updated.metadata.client_name.as_deref(), Some("renamed"));
    assert_eq!(updated.metadata.scope.as_deref(), Some("read"));
    // oidc-provider rotated the registration access token: the old one is
    // gone, the new one works; the secret is unchanged.
    let new_token = updated.registration_access_token.clone().unwrap();
    assert_ne!(new_token.secret(), old_token.secret());
    let e = read_client_registration(&config, &client)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
    let again = read_client_registration(&config, &updated).await.unwrap();
    assert_eq!(again.metadata.client_name.as_deref(), Some("renamed"));
    assert_eq!(
        again.client_secret.as_ref().map(|s| s.secret().clone()),
        client.client_secret.as_ref().map(|s| s.secret().clone())
    );
    // The narrowed scope holds at the token endpoint.
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let e = client_credentials_grant(&config, &[("scope", "write")], None)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_scope", "{e}");

    delete_client_registration(&config, &again).await.unwrap();
    let e = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client", "{e}");
    let e = read_client_registration(&config, &again).await.unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token", "{e}");
}

#[tokio::test]
async fn other_methods_and_refusals() {
    let provider = OidcProvider::start(Vec::new(), None);
    for method in ["client_secret_post", "client_secret_jwt"] {
        let mut metadata = service(method);
        if method == "client_secret_jwt" {
            metadata.token_endpoint_auth_signing_alg = Some("HS256".into());
        }
        let registration = register(&provider, metadata).await;
        assert_eq!(registration.config.client_auth().method_name(), method);
        client_credentials_grant(&registration.config, &[("scope", "read")], None)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
    }
    // private_key_jwt, the key the caller's.
    let key = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("dcr-1");
    let mut metadata = service("private_key_jwt");
    metadata.jwks = Some(json!({"keys": [key.public_jwk()]}));
    let registration = dynamic_client_registration(provider.issuer.clone(), metadata)
        .initial_access_token(INITIAL_ACCESS_TOKEN)
        .client_auth(ClientAuth::private_key_jwt(key))
        .allow_insecure_requests(true)
        .await
        .unwrap();
    client_credentials_grant(&registration.config, &[("scope", "read")], None)
        .await
        .unwrap();

    // Without the initial access token, or with another.
    for token in [None, Some("wrong")] {
        let mut registration =
            dynamic_client_registration(provider.issuer.clone(), service("client_secret_basic"))
                .allow_insecure_requests(true);
        if let Some(token) = token {
            registration = registration.initial_access_token(token);
        }
        let e = registration.await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
        assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
    }
    // RFC 7591 §3.2.2: bad metadata.
    let mut bad = service("client_secret_basic");
    bad.token_endpoint_auth_method = Some("magic".into());
    let e = dynamic_client_registration(provider.issuer.clone(), bad)
        .initial_access_token(INITIAL_ACCESS_TOKEN)
        .allow_insecure_requests(true)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client_metadata");
}

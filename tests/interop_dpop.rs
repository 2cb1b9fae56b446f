//! DPoP interop against the real `oidc-provider`, in its three nonce modes:
//! off, required (the first request gets `use_dpop_nonce`), and offered on
//! success.

#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use oidc_provider::{client, OidcProvider};
use oidckit::{client_credentials_grant, ClientAuth, Configuration, DPoPHandle, JwsAlgorithm};
use serde_json::{json, Value};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

fn clients() -> Vec<Value> {
    vec![
        client(
            "dpop-post",
            "client_secret_post",
            json!({"client_secret": "dpop-secret"}),
        ),
        client(
            "dpop-bound",
            "client_secret_post",
            json!({"client_secret": "bound-secret", "dpop_bound_access_tokens": true}),
        ),
    ]
}

fn provider(mode: Option<&'static str>) -> &'static OidcProvider {
    static OFF: OnceLock<OidcProvider> = OnceLock::new();
    static REQUIRED: OnceLock<OidcProvider> = OnceLock::new();
    static OFFERED: OnceLock<OidcProvider> = OnceLock::new();
    let cell = match mode {
        None => &OFF,
        Some("required") => &REQUIRED,
        Some(_) => &OFFERED,
    };
    cell.get_or_init(|| OidcProvider::start(clients(), mode))
}

async fn config(mode: Option<&'static str>, id: &str, secret: &str) -> Configuration {
    oidckit::discovery(
        provider(mode).issuer.clone(),
        id,
        ClientAuth::client_secret_post(secret),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap()
}

/// Counts the HTTP requests oidckit sends (its `oidckit.http` spans).
struct RequestCounter(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for RequestCounter {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        if attrs.metadata().name() == "oidckit.http" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn count_requests() -> (Arc<AtomicUsize>, tracing::subscriber::DefaultGuard) {
    let count = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(RequestCounter(count.clone()));
    (count, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn every_proof_algorithm_binds_the_jwt_access_token_to_the_key() {
    let config = config(None, "dpop-post", "dpop-secret").await;
    for alg in [
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::RS256,
        JwsAlgorithm::PS256,
        JwsAlgorithm::EdDSA,
    ] {
        let dpop = DPoPHandle::generate(&config, alg).unwrap();
        let token = client_credentials_grant(
            &config,
            &[("scope", "read"), ("resource", "urn:oidckit:api")],
            Some(&dpop),
        )
        .await
        .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert!(token.token_type().is_dpop(), "{alg}");
        let at = support::jwt_claims(token.access_token().secret());
        assert_eq!(
            at["cnf"]["jkt"],
            dpop.thumbprint(),
            "{alg}: cnf.jkt is the key's thumbprint"
        );
        assert_eq!(at["aud"], "urn:oidckit:api");
    }
}

#[tokio::test]
async fn required_nonce_costs_one_retry_then_is_reused() {
    let config = config(Some("required"), "dpop-post", "dpop-secret").await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let (count, _guard) = count_requests();
    let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    assert!(token.token_type().is_dpop());
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "use_dpop_nonce, then one retry"
    );
    assert!(dpop.nonce(config.token_endpoint().unwrap()).is_some());
    let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    assert!(token.token_type().is_dpop());
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "the cached nonce saves the round trip"
    );
}

#[tokio::test]
async fn offered_nonce_is_recorded_from_a_successful_response() {
    let config = config(Some("offered"), "dpop-post", "dpop-secret").await;
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let (count, _guard) = count_requests();
    client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(dpop.nonce(config.token_endpoint().unwrap()).is_some());
    client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
        .await
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_client_registered_for_bound_tokens_needs_a_proof() {
    let config = config(None, "dpop-bound", "bound-secret").await;
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_error().map(|e| e.error.as_str()),
        Some("invalid_grant"),
        "{err}"
    );
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let token = client_credentials_grant(
        &config,
        &[("scope", "read"), ("resource", "urn:oidckit:api")],
        Some(&dpop),
    )
    .await
    .unwrap();
    assert_eq!(
        support::jwt_claims(token.access_token().secret())["cnf"]["jkt"],
        dpop.thumbprint()
    );
}

#[tokio::test]
async fn a_token_manager_with_dpop_keeps_serving_across_a_forced_expiry() {
    use oidckit::{ManualClock, TokenManager};
    use std::time::{Duration, SystemTime};

    let clock = ManualClock::new(SystemTime::now());
    let config = oidckit::discovery(
        provider(Some("required")).issuer.clone(),
        "dpop-post",
        ClientAuth::client_secret_post("dpop-secret"),
    )
    .allow_insecure_requests(true)
    .clock(Arc::new(clock.clone()))
    .await
    .unwrap();
    let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
    let tokens = TokenManager::builder(config)
        .scope("read")
        .resource("urn:oidckit:api")
        .dpop(dpop.clone())
        .build();
    let first = tokens.token().await.unwrap();
    assert!(first.token_type().is_dpop());
    assert_eq!(
        support::jwt_claims(first.access_token().secret())["cnf"]["jkt"],
        dpop.thumbprint()
    );
    assert_eq!(
        tokens.token().await.unwrap().access_token().secret(),
        first.access_token().secret()
    );
    // Past the token's lifetime (600 s on this provider): a new bound token.
    clock.advance(Duration::from_secs(601));
    let second = tokens.token().await.unwrap();
    assert_ne!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    assert_eq!(
        support::jwt_claims(second.access_token().secret())["cnf"]["jkt"],
        dpop.thumbprint()
    );
    // And once more, forced.
    let third = tokens.force_refresh().await.unwrap();
    assert_ne!(
        third.access_token().secret(),
        second.access_token().secret()
    );
    let stats = tokens.stats();
    assert_eq!((stats.refreshes, stats.failures), (3, 0));
}

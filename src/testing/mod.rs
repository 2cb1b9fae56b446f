//! An in-process authorization server for tests and examples (cargo feature
//! `testing`).
//!
//! It listens on a free port of 127.0.0.1 over plain HTTP (so configurations
//! pointing at it need
//! [`allow_insecure_requests`](crate::ConfigurationBuilder::allow_insecure_requests)),
//! serves discovery documents and a token endpoint for the client credentials
//! grant, **verifies** client authentication the way a real server does
//! (form-urldecoded Basic credentials, JWT assertion signatures and claims,
//! `jti` replay), records every request, and injects faults on demand. It
//! stops when dropped.
//!
//! ```
//! use oidckit::testing::{MockAuthorizationServer, MockClient};
//! use oidckit::{client_credentials_grant, discovery, ClientAuth};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockAuthorizationServer::builder()
//!     .client(MockClient::client_secret_basic("my-service", "s3cr3t"))
//!     .start()
//!     .await?;
//! let config = discovery(server.issuer(), "my-service", ClientAuth::client_secret_basic("s3cr3t"))
//!     .allow_insecure_requests(true)
//!     .await?;
//! let token = client_credentials_grant(&config, &[("scope", "read")], None).await?;
//! assert_eq!(token.scope(), Some("read"));
//! assert_eq!(server.token_request_count(), 1);
//! # Ok(()) }
//! ```

mod client;
mod dpop;
mod fault;
mod resource;
mod token;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use url::{form_urlencoded, Url};

pub use client::MockClient;
pub use fault::Fault;

use crate::clock::{Clock, SystemClock};
use crate::config::metadata::ServerMetadata;
use crate::jose::random_b64url;
use fault::respond;
use token::oauth_error;

/// Signs `claims` as a JWT with `key` (`kid` in the header when known): an
/// assertion for [`jwt_bearer_grant`](crate::jwt_bearer_grant) tests.
pub fn sign_jwt(key: &crate::PrivateKey, claims: Value) -> crate::Result<String> {
    let Value::Object(claims) = claims else {
        return Err(crate::Error::invalid_input("claims must be a JSON object"));
    };
    key.sign_jwt(Some("JWT"), &[], claims)
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The form parameters, in order (repeated names kept).
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a form parameter.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Builds a [`MockAuthorizationServer`].
#[must_use]
pub struct MockServerBuilder {
    clients: Vec<MockClient>,
    issuer_path: String,
    advertised_issuer: Option<String>,
    token_lifetime: Option<u64>,
    token_type: String,
    clock: Arc<dyn Clock>,
    require_dpop_nonce: bool,
    issue_refresh_tokens: bool,
    extension_grants: Vec<String>,
}

impl MockServerBuilder {
    /// Registers a client.
    pub fn client(mut self, client: MockClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Gives the issuer a path, e.g. `/tenant` (default: none).
    pub fn issuer_path(mut self, path: impl Into<String>) -> Self {
        self.issuer_path = path.into();
        self
    }

    /// Publishes this `issuer` in the discovery document instead of the real
    /// one (to test the issuer check).
    pub fn advertised_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.advertised_issuer = Some(issuer.into());
        self
    }

    /// The `expires_in` of issued tokens in seconds (default 3600); `None`
    /// sends no `expires_in`.
    pub fn token_lifetime(mut self, seconds: Option<u64>) -> Self {
        self.token_lifetime = seconds;
        self
    }

    /// The `token_type` of issued tokens (default `Bearer`).
    pub fn token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Demands a server-provided nonce in every DPoP proof, at the token
    /// endpoint (400 `use_dpop_nonce`) and the resource (401 with a `DPoP`
    /// challenge), and sends the current nonce in `DPoP-Nonce` on every
    /// response (RFC 9449 §8, §9).
    pub fn require_dpop_nonce(mut self, require: bool) -> Self {
        self.require_dpop_nonce = require;
        self
    }

    /// Issues a refresh token with every token (default: only in answer to
    /// the refresh token grant, which rotates them).
    pub fn issue_refresh_tokens(mut self, issue: bool) -> Self {
        self.issue_refresh_tokens = issue;
        self
    }

    /// Accepts an extension `grant_type` (issuing a token for any request
    /// with it). Client credentials, refresh token, token exchange and JWT
    /// bearer are always supported.
    pub fn extension_grant(mut self, grant_type: impl Into<String>) -> Self {
        self.extension_grants.push(grant_type.into());
        self
    }

    /// The clock used to check assertion times (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving on the current
    /// Tokio runtime.
    pub async fn start(self) -> std::io::Result<MockAuthorizationServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let path = self.issuer_path.trim_end_matches('/').to_owned();
        let issuer = format!("http://{addr}{path}");
        let state = Arc::new(ServerState {
            issuer: issuer.clone(),
            issuer_path: path,
            advertised_issuer: self.advertised_issuer,
            clients: self.clients,
            token_lifetime: self.token_lifetime,
            token_type: self.token_type,
            clock: self.clock,
            token_requests: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            token_faults: Mutex::new(VecDeque::new()),
            discovery_faults: Mutex::new(VecDeque::new()),
            seen_jti: Mutex::new(HashSet::new()),
            require_dpop_nonce: self.require_dpop_nonce,
            issue_refresh_tokens: self.issue_refresh_tokens,
            extension_grants: self.extension_grants,
            refresh_tokens: Mutex::new(HashSet::new()),
            endpoint_faults: Mutex::new(VecDeque::new()),
            dpop_nonce: Mutex::new(random_b64url(16).unwrap_or_default()),
            seen_dpop_jti: Mutex::new(HashSet::new()),
            issued: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockAuthorizationServer {
            addr,
            state,
            shutdown: Some(tx),
        })
    }
}

/// The in-process authorization server; see the [module docs](self).
pub struct MockAuthorizationServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for MockAuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockAuthorizationServer")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for MockAuthorizationServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl MockAuthorizationServer {
    /// A builder with no clients, tokens valid for an hour.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            clients: Vec::new(),
            issuer_path: String::new(),
            advertised_issuer: None,
            token_lifetime: Some(3600),
            token_type: "Bearer".into(),
            clock: Arc::new(SystemClock),
            require_dpop_nonce: false,
            issue_refresh_tokens: false,
            extension_grants: Vec::new(),
        }
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The issuer identifier, `http://127.0.0.1:<port>[/path]`.
    pub fn issuer(&self) -> Url {
        Url::parse(&self.state.issuer).expect("issuer is a URL")
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> Url {
        Url::parse(&format!("{}/token", self.state.issuer)).expect("a URL")
    }

    /// The server's metadata, as its discovery document has it.
    pub fn server_metadata(&self) -> ServerMetadata {
        serde_json::from_value(self.state.metadata()).expect("valid metadata")
    }

    /// The URL of the protected resource the server also plays: it accepts
    /// the tokens it issued, as `Bearer`, or as `DPoP` with a proof from the
    /// key the token is bound to.
    pub fn resource_url(&self) -> Url {
        Url::parse(&format!("{}/resource", self.state.issuer)).expect("a URL")
    }

    /// The DPoP nonce the server currently expects.
    pub fn dpop_nonce(&self) -> String {
        self.state.dpop_nonce.lock().expect("lock").clone()
    }

    /// Replaces the DPoP nonce, as a server does from time to time; proofs
    /// with the old one are then refused with `use_dpop_nonce`.
    pub fn rotate_dpop_nonce(&self) {
        *self.state.dpop_nonce.lock().expect("lock") = random_b64url(16).unwrap_or_default();
    }

    /// The thumbprint of the key an issued access token is bound to, if the
    /// server issued it and bound it.
    pub fn token_binding(&self, access_token: &str) -> Option<String> {
        self.state
            .issued
            .lock()
            .expect("lock")
            .get(access_token)
            .cloned()
            .flatten()
    }

    /// Forgets an issued access token, as if it were revoked: the resource
    /// then answers 401 `invalid_token`.
    pub fn revoke(&self, access_token: &str) {
        self.state.issued.lock().expect("lock").remove(access_token);
    }

    /// How many requests reached the token endpoint.
    pub fn token_request_count(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// The last request to the token endpoint.
    pub fn last_token_request(&self) -> Option<RecordedRequest> {
        self.requests()
            .into_iter()
            .rev()
            .find(|r| r.path.ends_with("/token"))
    }

    /// Answers the next token request with `fault` instead of normally.
    pub fn fail_next_token_request(&self, fault: Fault) {
        self.state
            .token_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// Answers the next introspection or revocation request with `fault`.
    pub fn fail_next_endpoint_request(&self, fault: Fault) {
        self.state
            .endpoint_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// Answers the next discovery request with `fault` instead of normally.
    pub fn fail_next_discovery(&self, fault: Fault) {
        self.state
            .discovery_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }
}

struct ServerState {
    issuer: String,
    issuer_path: String,
    advertised_issuer: Option<String>,
    clients: Vec<MockClient>,
    token_lifetime: Option<u64>,
    token_type: String,
    clock: Arc<dyn Clock>,
    token_requests: AtomicUsize,
    requests: Mutex<Vec<RecordedRequest>>,
    token_faults: Mutex<VecDeque<Fault>>,
    discovery_faults: Mutex<VecDeque<Fault>>,
    seen_jti: Mutex<HashSet<String>>,
    require_dpop_nonce: bool,
    issue_refresh_tokens: bool,
    extension_grants: Vec<String>,
    refresh_tokens: Mutex<HashSet<String>>,
    endpoint_faults: Mutex<VecDeque<Fault>>,
    dpop_nonce: Mutex<String>,
    seen_dpop_jti: Mutex<HashSet<String>>,
    /// Issued access tokens and the thumbprint of the DPoP key each is bound to.
    issued: Mutex<HashMap<String, Option<String>>>,
}

impl ServerState {
    fn metadata(&self) -> Value {
        let iss = &self.issuer;
        json!({
            "issuer": self.advertised_issuer.as_deref().unwrap_or(iss),
            "token_endpoint": format!("{iss}/token"),
            "jwks_uri": format!("{iss}/jwks"),
            "introspection_endpoint": format!("{iss}/introspect"),
            "revocation_endpoint": format!("{iss}/revoke"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "client_secret_jwt",
                "private_key_jwt", "none"
            ],
            "token_endpoint_auth_signing_alg_values_supported": [
                "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384",
                "PS512", "ES256", "ES384", "ES512", "EdDSA"
            ],
            "scopes_supported": ["read", "write"],
            "dpop_signing_alg_values_supported": ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"],
            "response_types_supported": [],
        })
    }
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    state.requests.lock().expect("lock").push(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
        form: form.clone(),
    });
    let p = &state.issuer_path;
    let oidc = format!("{p}/.well-known/openid-configuration");
    let oauth = format!("/.well-known/oauth-authorization-server{p}");
    if method == Method::GET && (path == oidc || path == oauth) {
        let fault = state.discovery_faults.lock().expect("lock").pop_front();
        let normal = || axum::Json(state.metadata()).into_response();
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/token") {
        state.token_requests.fetch_add(1, Ordering::SeqCst);
        let fault = state.token_faults.lock().expect("lock").pop_front();
        let normal = || {
            let mut response = token::token(&state, &headers, &form);
            state.add_nonce_header(&mut response);
            response
        };
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/introspect") {
        let fault = state.endpoint_faults.lock().expect("lock").pop_front();
        return respond(fault, || token::introspect(&state, &headers, &form)).await;
    }
    if method == Method::POST && path == format!("{p}/revoke") {
        let fault = state.endpoint_faults.lock().expect("lock").pop_front();
        return respond(fault, || token::revoke(&state, &headers, &form)).await;
    }
    if path == format!("{p}/resource") {
        let mut response = resource::resource(&state, &method, &headers);
        state.add_nonce_header(&mut response);
        return response;
    }
    oauth_error(StatusCode::NOT_FOUND, "invalid_request", "no such endpoint")
}

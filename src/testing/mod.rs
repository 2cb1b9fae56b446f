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

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use url::{form_urlencoded, Url};

use crate::client_auth::JWT_BEARER_CLIENT_ASSERTION_TYPE;
use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::config::metadata::ServerMetadata;
use crate::jose::{random_b64url, JwsAlgorithm};

/// Signs `claims` as a JWT with `key` (`kid` in the header when known): an
/// assertion for [`jwt_bearer_grant`](crate::jwt_bearer_grant) tests.
pub fn sign_jwt(key: &crate::PrivateKey, claims: Value) -> crate::Result<String> {
    let Value::Object(claims) = claims else {
        return Err(crate::Error::invalid_input("claims must be a JSON object"));
    };
    key.sign_jwt(Some("JWT"), &[], claims)
}

/// A client registered with the [`MockAuthorizationServer`], with the one
/// authentication method it must use.
#[derive(Clone)]
pub struct MockClient {
    client_id: String,
    method: MockAuth,
    scopes: Option<Vec<String>>,
}

#[derive(Clone)]
enum MockAuth {
    Basic(String),
    /// Basic credentials compared as sent, not form-decoded (a server that
    /// does not follow RFC 6749 §2.3.1).
    BasicRaw(String),
    Post(String),
    SecretJwt(String),
    PrivateKeyJwt(Jwk),
    None,
}

impl std::fmt::Debug for MockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClient")
            .field("client_id", &self.client_id)
            .field("method", &self.method_name())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl MockClient {
    /// A client that must use `client_secret_basic` with `secret`.
    pub fn client_secret_basic(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::Basic(secret.into()))
    }

    /// A client that must use `client_secret_basic` with `secret`, checked
    /// as a server that does not form-decode the credentials would (RFC 6749
    /// §2.3.1 says servers must): to test
    /// [`ClientAuth::client_secret_basic_without_form_encoding`](crate::ClientAuth::client_secret_basic_without_form_encoding).
    pub fn client_secret_basic_without_form_decoding(
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self::with(client_id, MockAuth::BasicRaw(secret.into()))
    }

    /// A client that must use `client_secret_post` with `secret`.
    pub fn client_secret_post(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::Post(secret.into()))
    }

    /// A client that must use `client_secret_jwt` (any HS algorithm) with `secret`.
    pub fn client_secret_jwt(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::SecretJwt(secret.into()))
    }

    /// A client that must use `private_key_jwt`, verified with `public_jwk`
    /// (e.g. [`PrivateKey::public_jwk`](crate::PrivateKey::public_jwk)).
    ///
    /// # Panics
    /// If `public_jwk` is not a JWK.
    pub fn private_key_jwt(client_id: impl Into<String>, public_jwk: &Map<String, Value>) -> Self {
        let jwk = Jwk::from_map(public_jwk.clone()).expect("a public JWK");
        Self::with(client_id, MockAuth::PrivateKeyJwt(jwk))
    }

    /// A public client (`none`), or one authenticated by TLS: only
    /// `client_id` is checked.
    pub fn none(client_id: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::None)
    }

    /// Restricts the scopes the client may request; others give `invalid_scope`.
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    fn with(client_id: impl Into<String>, method: MockAuth) -> Self {
        MockClient {
            client_id: client_id.into(),
            method,
            scopes: None,
        }
    }

    fn method_name(&self) -> &'static str {
        match self.method {
            MockAuth::Basic(_) | MockAuth::BasicRaw(_) => "client_secret_basic",
            MockAuth::Post(_) => "client_secret_post",
            MockAuth::SecretJwt(_) => "client_secret_jwt",
            MockAuth::PrivateKeyJwt(_) => "private_key_jwt",
            MockAuth::None => "none",
        }
    }
}

/// A response the server gives instead of its normal one, once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Fault {
    /// Any status, headers and body.
    Response {
        /// The status code.
        status: u16,
        /// Response headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Send the headers, then trickle the normal body out one byte per
    /// `interval` (a slow body).
    SlowBody(Duration),
    /// Send the headers and the first half of the normal body, then drop
    /// the connection (a reset mid-body).
    ResetMidBody,
    /// A redirect to `location`.
    Redirect {
        /// The 3xx status code.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// A 200 JSON response of about `bytes` bytes, streamed without a
    /// `Content-Length`.
    LargeBody {
        /// The body size.
        bytes: usize,
    },
}

impl Fault {
    /// A JSON response.
    pub fn json(status: u16, body: Value) -> Self {
        Fault::Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A response with this content type and body.
    pub fn body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Fault::Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// Adds a header to a [`Fault::Response`].
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Fault::Response { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
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
            let mut response = token(&state, &headers, &form);
            state.add_nonce_header(&mut response);
            response
        };
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/introspect") {
        let fault = state.endpoint_faults.lock().expect("lock").pop_front();
        return respond(fault, || introspect(&state, &headers, &form)).await;
    }
    if method == Method::POST && path == format!("{p}/revoke") {
        let fault = state.endpoint_faults.lock().expect("lock").pop_front();
        return respond(fault, || revoke(&state, &headers, &form)).await;
    }
    if path == format!("{p}/resource") {
        let mut response = resource(&state, &method, &headers);
        state.add_nonce_header(&mut response);
        return response;
    }
    oauth_error(StatusCode::NOT_FOUND, "invalid_request", "no such endpoint")
}

async fn respond(fault: Option<Fault>, normal: impl FnOnce() -> Response) -> Response {
    match fault {
        None => normal(),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            normal()
        }
        Some(Fault::ResetMidBody) => {
            let (parts, body) = normal().into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "reset",
                )),
            ];
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tokio::spawn(async move {
                for c in chunks {
                    let _ = tx.send(c).await;
                }
            });
            let mut response = Response::from_parts(parts, Body::from_stream(ReceiverStream(rx)));
            response
                .headers_mut()
                .remove(axum::http::header::CONTENT_LENGTH);
            response
        }
        Some(Fault::SlowBody(interval)) => {
            let (parts, body) = normal().into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let stream = async_stream(bytes, interval);
            let mut response = Response::from_parts(parts, Body::from_stream(stream));
            response
                .headers_mut()
                .remove(axum::http::header::CONTENT_LENGTH);
            response
        }
        Some(Fault::Response {
            status,
            headers,
            body,
        }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    response.headers_mut().append(k, v);
                }
            }
            response
        }
        Some(Fault::Redirect { status, location }) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            if let Ok(v) = HeaderValue::from_str(&location) {
                response
                    .headers_mut()
                    .insert(axum::http::header::LOCATION, v);
            }
            response
        }
        Some(Fault::LargeBody { bytes }) => {
            // Streamed in chunks with no Content-Length, so the client can
            // only find out by reading.
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'a'; 64 * 1024]);
                let _ = tx
                    .send(Ok(Bytes::from_static(b"{\"access_token\":\"")))
                    .await;
                let mut sent = 0;
                while sent < bytes {
                    let n = chunk.len().min(bytes - sent);
                    if tx.send(Ok(chunk.slice(..n))).await.is_err() {
                        return;
                    }
                    sent += n;
                }
                let _ = tx.send(Ok(Bytes::from_static(b"\"}"))).await;
            });
            let mut response = Response::new(Body::from_stream(ReceiverStream(rx)));
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

/// The body, one byte per `interval`.
fn async_stream(
    bytes: Bytes,
    interval: Duration,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        for i in 0..bytes.len() {
            tokio::time::sleep(interval).await;
            if tx.send(Ok(bytes.slice(i..i + 1))).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream(rx)
}

struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn token(state: &ServerState, headers: &HeaderMap, form: &[(String, String)]) -> Response {
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let client = match authenticate(state, headers, form) {
        Ok(c) => c,
        Err(reason) => {
            let mut r = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &reason);
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mock\", error=\"invalid_client\""),
            );
            return r;
        }
    };
    if form.iter().filter(|(k, _)| k == "grant_type").count() != 1 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "one grant_type required",
        );
    }
    let invalid_grant = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let mut extra = Map::new();
    let mut token_type_override = None;
    match param("grant_type").unwrap_or_default() {
        "client_credentials" => {}
        "refresh_token" => {
            let rt = param("refresh_token").unwrap_or_default();
            // Rotation: a refresh token works once.
            if !state.refresh_tokens.lock().expect("lock").remove(rt) {
                return invalid_grant("unknown or used refresh token");
            }
        }
        crate::TOKEN_EXCHANGE_GRANT_TYPE => {
            let subject = param("subject_token").unwrap_or_default();
            if param("subject_token_type").is_none() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "subject_token_type missing",
                );
            }
            if !state.issued.lock().expect("lock").contains_key(subject) {
                return invalid_grant("unknown subject_token");
            }
            let requested =
                param("requested_token_type").unwrap_or(crate::token_types::ACCESS_TOKEN);
            if requested != crate::token_types::ACCESS_TOKEN {
                token_type_override = Some("N_A".to_owned());
            }
            extra.insert("issued_token_type".into(), requested.into());
        }
        crate::JWT_BEARER_GRANT_TYPE => {
            if param("assertion").is_none_or(|a| a.split('.').count() != 3) {
                return invalid_grant("the assertion is not a JWT");
            }
        }
        g if state.extension_grants.iter().any(|e| e == g) => {}
        g => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {g:?} is not supported"),
            )
        }
    }
    let scope = param("scope");
    if let (Some(allowed), Some(scope)) = (&client.scopes, scope) {
        if let Some(bad) = scope.split(' ').find(|s| !allowed.iter().any(|a| a == s)) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("scope {bad} is not allowed"),
            );
        }
    }
    let token_endpoint = format!("{}/token", state.issuer);
    let jkt = match headers.get_all("dpop").iter().count() {
        0 => None,
        1 => match verify_dpop_proof(state, headers, "POST", &token_endpoint, None) {
            Ok(jkt) => Some(jkt),
            Err(DPoPFailure::Nonce) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "use_dpop_nonce",
                    "Authorization server requires nonce in DPoP proof",
                )
            }
            Err(DPoPFailure::Invalid(reason)) => {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", &reason)
            }
        },
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "several DPoP headers",
            )
        }
    };
    let access_token = random_b64url(32).unwrap_or_default();
    // N_A (not an access token) stays N_A even with a proof: nothing to bind.
    let token_type = match (token_type_override, &jkt) {
        (Some(na), _) => na,
        (None, Some(_)) => "DPoP".to_owned(),
        (None, None) => state.token_type.clone(),
    };
    if state.issue_refresh_tokens || param("grant_type") == Some("refresh_token") {
        let rt = random_b64url(32).unwrap_or_default();
        state
            .refresh_tokens
            .lock()
            .expect("lock")
            .insert(rt.clone());
        extra.insert("refresh_token".into(), rt.into());
    }
    state
        .issued
        .lock()
        .expect("lock")
        .insert(access_token.clone(), jkt);
    let mut body = extra;
    body.insert("access_token".into(), access_token.into());
    body.insert("token_type".into(), token_type.into());
    if let Some(l) = state.token_lifetime {
        body.insert("expires_in".into(), l.into());
    }
    if let Some(scope) = scope {
        body.insert("scope".into(), scope.into());
    }
    let mut response = axum::Json(Value::Object(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

fn invalid_client(reason: &str) -> Response {
    let mut r = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", reason);
    r.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"mock\", error=\"invalid_client\""),
    );
    r
}

/// RFC 7662: authenticated; `active` and what the server knows of the token.
fn introspect(state: &ServerState, headers: &HeaderMap, form: &[(String, String)]) -> Response {
    let client = match authenticate(state, headers, form) {
        Ok(c) => c,
        Err(reason) => return invalid_client(&reason),
    };
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str());
    let Some(token) = token else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token missing");
    };
    let binding = state.issued.lock().expect("lock").get(token).cloned();
    let body = match binding {
        None => json!({"active": false}),
        Some(jkt) => {
            let mut b = json!({
                "active": true,
                "client_id": client.client_id,
                "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
                "iss": state.issuer,
                "aud": "urn:mock:api",
                "iat": unix_seconds(state.clock.now()),
            });
            if let Some(jkt) = jkt {
                b["cnf"] = json!({"jkt": jkt});
            }
            b
        }
    };
    axum::Json(body).into_response()
}

/// RFC 7009: authenticated; 200 with an empty body, known token or not.
fn revoke(state: &ServerState, headers: &HeaderMap, form: &[(String, String)]) -> Response {
    if let Err(reason) = authenticate(state, headers, form) {
        return invalid_client(&reason);
    }
    let Some((_, token)) = form.iter().find(|(k, _)| k == "token") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token missing");
    };
    state.issued.lock().expect("lock").remove(token);
    state.refresh_tokens.lock().expect("lock").remove(token);
    StatusCode::OK.into_response()
}

impl ServerState {
    fn add_nonce_header(&self, response: &mut Response) {
        if self.require_dpop_nonce {
            let nonce = self.dpop_nonce.lock().expect("lock").clone();
            if let Ok(v) = HeaderValue::from_str(&nonce) {
                response.headers_mut().insert("dpop-nonce", v);
            }
        }
    }
}

/// Why a DPoP proof was refused.
enum DPoPFailure {
    /// The proof lacks the current nonce.
    Nonce,
    /// Anything else.
    Invalid(String),
}

/// Verifies a DPoP proof as RFC 9449 §4.3 says, returning the thumbprint of
/// its key.
fn verify_dpop_proof(
    state: &ServerState,
    headers: &HeaderMap,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<String, DPoPFailure> {
    let invalid = |m: &str| DPoPFailure::Invalid(m.to_owned());
    let proof = headers
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| invalid("no DPoP proof"))?;
    let mut parts = proof.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the proof is not a compact JWS"));
    };
    let decode = |part: &str| -> Result<Value, DPoPFailure> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| invalid("bad base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| invalid("bad JSON"))
    };
    let header = decode(h)?;
    if header["typ"] != "dpop+jwt" {
        return Err(invalid("typ must be dpop+jwt"));
    }
    let alg: JwsAlgorithm = header["alg"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| invalid("unsupported alg"))?;
    let jwk_map = header["jwk"].as_object().ok_or_else(|| invalid("no jwk"))?;
    if jwk_map.contains_key("d") {
        return Err(invalid("the jwk contains a private key"));
    }
    let jwk = Jwk::from_map(jwk_map.clone()).map_err(|_| invalid("bad jwk"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid("bad signature encoding"))?;
    verifier_for(alg, &jwk)
        .map_err(|e| invalid(&e))?
        .verify(format!("{h}.{p}").as_bytes(), &signature)
        .map_err(|_| invalid("the proof signature does not verify"))?;
    let claims = decode(p)?;
    if claims["htm"] != htm {
        return Err(invalid("htm does not match"));
    }
    if claims["htu"] != htu {
        return Err(invalid("htu does not match"));
    }
    let now = unix_seconds(state.clock.now()) as i64;
    let iat = claims["iat"].as_i64().ok_or_else(|| invalid("no iat"))?;
    if (iat - now).abs() > 60 {
        return Err(invalid("iat is outside the acceptable window"));
    }
    if let Some(token) = access_token {
        let expected = URL_SAFE_NO_PAD.encode(
            openssl::hash::hash(openssl::hash::MessageDigest::sha256(), token.as_bytes())
                .map_err(|e| invalid(&e.to_string()))?,
        );
        if claims["ath"] != expected.as_str() {
            return Err(invalid("ath does not match the access token"));
        }
    }
    if state.require_dpop_nonce {
        let nonce = state.dpop_nonce.lock().expect("lock").clone();
        if claims["nonce"] != nonce.as_str() {
            return Err(DPoPFailure::Nonce);
        }
    }
    let jti = claims["jti"].as_str().ok_or_else(|| invalid("no jti"))?;
    if !state
        .seen_dpop_jti
        .lock()
        .expect("lock")
        .insert(jti.to_owned())
    {
        return Err(invalid("jti replayed"));
    }
    crate::jose::jwk_thumbprint(jwk_map).map_err(|e| invalid(&e.to_string()))
}

/// The protected resource: accepts issued tokens, checking DPoP binding.
fn resource(state: &ServerState, method: &Method, headers: &HeaderMap) -> Response {
    let challenge = |scheme: &str, error: &str| {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": error})),
        )
            .into_response();
        let value =
            format!("{scheme} error=\"{error}\", algs=\"ES256 ES384 ES512 RS256 PS256 EdDSA\"");
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, v);
        }
        r
    };
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some((scheme, token)) = authorization.split_once(' ') else {
        return challenge("Bearer", "invalid_request");
    };
    let binding = state.issued.lock().expect("lock").get(token).cloned();
    let url = format!("{}/resource", state.issuer);
    match (scheme.to_ascii_lowercase().as_str(), binding) {
        ("bearer", Some(None)) => {}
        ("dpop", Some(Some(jkt))) => {
            match verify_dpop_proof(state, headers, method.as_str(), &url, Some(token)) {
                Ok(proof_jkt) if proof_jkt == jkt => {}
                Ok(_) => return challenge("DPoP", "invalid_token"),
                Err(DPoPFailure::Nonce) => return challenge("DPoP", "use_dpop_nonce"),
                Err(DPoPFailure::Invalid(_)) => return challenge("DPoP", "invalid_dpop_proof"),
            }
        }
        ("bearer", Some(Some(_))) => return challenge("DPoP", "invalid_token"),
        _ => return challenge("Bearer", "invalid_token"),
    }
    axum::Json(json!({"resource": "ok", "method": method.as_str()})).into_response()
}

/// Verifies client authentication as a real server would; the error string
/// says why it failed.
fn authenticate<'s>(
    state: &'s ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<&'s MockClient, String> {
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let basic = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|h| decode_basic(h.as_bytes()))
        .transpose()?;
    let client_id = match (&basic, param("client_id")) {
        (Some((id, _)), None) => form_decode(id),
        (None, Some(id)) => id.to_owned(),
        (Some(_), Some(_)) => return Err("client_id both in Basic and in the body".into()),
        (None, None) => return Err("no client authentication".into()),
    };
    // Basic credentials are form-decoded (RFC 6749 §2.3.1), except for a
    // client registered as one of a server that does not decode them.
    let client = state
        .clients
        .iter()
        .find(|c| match (&c.method, &basic) {
            (MockAuth::BasicRaw(_), Some((raw_id, _))) => c.client_id == *raw_id,
            (_, Some((raw_id, _))) => c.client_id == form_decode(raw_id),
            _ => c.client_id == client_id,
        })
        .ok_or_else(|| format!("unknown client {client_id:?}"))?;
    let used = match (&basic, param("client_secret"), param("client_assertion")) {
        (Some(_), None, None) => "client_secret_basic",
        (None, Some(_), None) => "client_secret_post",
        (None, None, Some(_)) => "jwt",
        (None, None, None) => "none",
        _ => return Err("more than one client authentication method".into()),
    };
    match (&client.method, used) {
        (MockAuth::Basic(secret), "client_secret_basic") => {
            let (_, given) = basic.as_ref().ok_or("no Basic credentials")?;
            check_secret(&form_decode(given), secret)?;
        }
        (MockAuth::BasicRaw(secret), "client_secret_basic") => {
            let (_, given) = basic.as_ref().ok_or("no Basic credentials")?;
            check_secret(given, secret)?;
        }
        (MockAuth::Post(secret), "client_secret_post") => {
            check_secret(param("client_secret").unwrap_or_default(), secret)?;
        }
        (MockAuth::SecretJwt(_) | MockAuth::PrivateKeyJwt(_), "jwt") => {
            if param("client_assertion_type") != Some(JWT_BEARER_CLIENT_ASSERTION_TYPE) {
                return Err("wrong client_assertion_type".into());
            }
            let assertion = param("client_assertion").unwrap_or_default();
            verify_assertion(state, client, assertion)?;
        }
        (MockAuth::None, "none") => {}
        _ => {
            return Err(format!(
                "client {client_id:?} is registered for {}, used {used}",
                client.method_name()
            ))
        }
    }
    Ok(client)
}

fn check_secret(given: &str, expected: &str) -> Result<(), String> {
    if given.len() == expected.len() && openssl::memcmp::eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err("invalid secret".into())
    }
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Splits `Basic base64(id:secret)`; the parts are returned as sent (still
/// form-encoded, RFC 6749 §2.3.1).
fn decode_basic(value: &[u8]) -> Result<(String, String), String> {
    let value = std::str::from_utf8(value).map_err(|_| "non-UTF-8 Authorization")?;
    let encoded = value
        .strip_prefix("Basic ")
        .ok_or("Authorization is not Basic")?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or("Basic credentials without ':'")?;
    Ok((id.to_owned(), secret.to_owned()))
}

fn verify_assertion(state: &ServerState, client: &MockClient, jwt: &str) -> Result<(), String> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("assertion is not a compact JWS".into());
    };
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|_| "bad header")?)
            .map_err(|_| "bad header JSON")?;
    let alg: JwsAlgorithm = header["alg"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| "unsupported alg")?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "bad signature encoding")?;
    let signing_input = format!("{h}.{p}");
    match &client.method {
        MockAuth::SecretJwt(secret) => {
            let digest = match alg {
                JwsAlgorithm::HS256 => openssl::hash::MessageDigest::sha256(),
                JwsAlgorithm::HS384 => openssl::hash::MessageDigest::sha384(),
                JwsAlgorithm::HS512 => openssl::hash::MessageDigest::sha512(),
                _ => return Err("client_secret_jwt needs an HS algorithm".into()),
            };
            let key = openssl::pkey::PKey::hmac(secret.as_bytes()).map_err(|e| e.to_string())?;
            let mut signer = openssl::sign::Signer::new(digest, &key).map_err(|e| e.to_string())?;
            signer
                .update(signing_input.as_bytes())
                .map_err(|e| e.to_string())?;
            let mac = signer.sign_to_vec().map_err(|e| e.to_string())?;
            if mac.len() != signature.len() || !openssl::memcmp::eq(&mac, &signature) {
                return Err("assertion MAC does not verify".into());
            }
        }
        MockAuth::PrivateKeyJwt(jwk) => {
            let verifier = verifier_for(alg, jwk)?;
            verifier
                .verify(signing_input.as_bytes(), &signature)
                .map_err(|_| "assertion signature does not verify")?;
        }
        _ => return Err("client is not registered for JWT authentication".into()),
    }
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|_| "bad payload")?)
            .map_err(|_| "bad payload JSON")?;
    let id = client.client_id.as_str();
    if claims["iss"] != id || claims["sub"] != id {
        return Err("assertion iss/sub must be the client_id".into());
    }
    let token_endpoint = format!("{}/token", state.issuer);
    let aud_ok = |a: &Value| a == state.issuer.as_str() || a == token_endpoint.as_str();
    let aud_valid = match &claims["aud"] {
        Value::Array(list) => list.iter().any(aud_ok),
        other => aud_ok(other),
    };
    if !aud_valid {
        return Err(format!(
            "assertion aud {} is neither issuer nor token endpoint",
            claims["aud"]
        ));
    }
    let now = unix_seconds(state.clock.now()) as i64;
    let exp = claims["exp"].as_i64().ok_or("assertion without exp")?;
    if exp <= now {
        return Err("assertion expired".into());
    }
    if claims["iat"].as_i64().is_none() {
        return Err("assertion without iat".into());
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 5) {
        return Err("assertion not yet valid".into());
    }
    let jti = claims["jti"].as_str().ok_or("assertion without jti")?;
    if !state.seen_jti.lock().expect("lock").insert(jti.to_owned()) {
        return Err("assertion jti replayed".into());
    }
    Ok(())
}

fn verifier_for(alg: JwsAlgorithm, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, String> {
    use JwsAlgorithm::*;
    let e = |e: josekit::JoseError| e.to_string();
    Ok(match alg {
        RS256 => Box::new(jws::RS256.verifier_from_jwk(jwk).map_err(e)?),
        RS384 => Box::new(jws::RS384.verifier_from_jwk(jwk).map_err(e)?),
        RS512 => Box::new(jws::RS512.verifier_from_jwk(jwk).map_err(e)?),
        PS256 => Box::new(jws::PS256.verifier_from_jwk(jwk).map_err(e)?),
        PS384 => Box::new(jws::PS384.verifier_from_jwk(jwk).map_err(e)?),
        PS512 => Box::new(jws::PS512.verifier_from_jwk(jwk).map_err(e)?),
        ES256 => Box::new(jws::ES256.verifier_from_jwk(jwk).map_err(e)?),
        ES384 => Box::new(jws::ES384.verifier_from_jwk(jwk).map_err(e)?),
        ES512 => Box::new(jws::ES512.verifier_from_jwk(jwk).map_err(e)?),
        EdDSA => Box::new(jws::EdDSA.verifier_from_jwk(jwk).map_err(e)?),
        other => return Err(format!("{other} cannot verify with a public key")),
    })
}

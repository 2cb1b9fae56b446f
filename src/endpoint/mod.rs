//! The shared endpoint request path, and the low-level layer under it.
//!
//! Every call to an authorization server endpoint goes the same way:
//!
//! 1. **build** the request from plain metadata ([`EndpointContext`]: server
//!    metadata, client metadata, client authentication, a clock) — the
//!    public `build_*_request` functions, no I/O;
//! 2. **authenticate** it (client authentication, fresh per attempt) and add
//!    the DPoP proof;
//! 3. **send** it through the transport (the only code that sends);
//! 4. **process** the response — the public `process_*_response` functions,
//!    no I/O — into a value or a typed error;
//! 5. once more with a fresh proof and a fresh client assertion if the
//!    server asks for a DPoP nonce (RFC 9449 §8), never more.
//!
//! [`send`] is that path; the high-level functions (grants, introspection,
//! revocation, and the next flows) are thin compositions over it. Endpoints
//! are data ([`Endpoint`]): which metadata member names the URL, which mTLS
//! alias replaces it.

pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod signed_response;
pub(crate) mod www_authenticate;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use url::Url;

use crate::client_auth::ClientAuth;
use crate::clock::{self, Clock, SystemClock};
use crate::config::client_metadata::ClientMetadata;
use crate::config::metadata::{MtlsEndpointAliases, ServerMetadata};
use crate::config::{Configuration, DEFAULT_CLOCK_TOLERANCE};
use crate::dpop::DPoPHandle;
use crate::error::{Error, ErrorKind, Result};
use crate::options::RequestOptions;
use crate::transport::{self, EndpointResponse};
use request::UnauthenticatedRequest;

/// An authorization server endpoint, described as data: the server metadata
/// member that names it, its `mtls_endpoint_aliases` counterpart (RFC 8705
/// §5), and its name in traces.
#[derive(Clone, Copy)]
pub(crate) struct Endpoint {
    /// The metadata member, e.g. `token_endpoint`.
    pub name: &'static str,
    /// Its name in tracing spans, e.g. `token`.
    pub span: &'static str,
    url: fn(&ServerMetadata) -> Option<&Url>,
    mtls_alias: fn(&MtlsEndpointAliases) -> Option<&Url>,
}

impl Endpoint {
    /// The URL of this endpoint for `client`: its `mtls_endpoint_aliases`
    /// entry when the client metadata sets `use_mtls_endpoint_aliases` and
    /// the server has one (RFC 8705 §5), else the metadata member; refused
    /// unless `https:` (or `http:` with insecure requests allowed).
    pub(crate) fn url_for<'s>(
        &self,
        server: &'s ServerMetadata,
        client: &ClientMetadata,
        allow_insecure_requests: bool,
    ) -> Result<&'s Url> {
        let alias = client
            .use_mtls_endpoint_aliases
            .then_some(server.mtls_endpoint_aliases.as_ref())
            .flatten()
            .and_then(self.mtls_alias);
        let url = alias
            .or((self.url)(server))
            .ok_or_else(|| Error::missing_metadata(self.name))?;
        transport::check_url(url, allow_insecure_requests)?;
        Ok(url)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// The token endpoint (RFC 6749 §3.2).
pub(crate) static TOKEN: Endpoint = Endpoint {
    name: "token_endpoint",
    span: "token",
    url: |m| m.token_endpoint.as_ref(),
    mtls_alias: |a| a.token_endpoint.as_ref(),
};

/// The introspection endpoint (RFC 7662).
pub(crate) static INTROSPECTION: Endpoint = Endpoint {
    name: "introspection_endpoint",
    span: "introspection",
    url: |m| m.introspection_endpoint.as_ref(),
    mtls_alias: |a| a.introspection_endpoint.as_ref(),
};

/// The revocation endpoint (RFC 7009).
pub(crate) static REVOCATION: Endpoint = Endpoint {
    name: "revocation_endpoint",
    span: "revocation",
    url: |m| m.revocation_endpoint.as_ref(),
    mtls_alias: |a| a.revocation_endpoint.as_ref(),
};

/// The device authorization endpoint (RFC 8628 §3.1).
pub(crate) static DEVICE_AUTHORIZATION: Endpoint = Endpoint {
    name: "device_authorization_endpoint",
    span: "device_authorization",
    url: |m| m.device_authorization_endpoint.as_ref(),
    mtls_alias: |a| a.device_authorization_endpoint.as_ref(),
};

/// The backchannel authentication endpoint (CIBA Core 1.0 §7).
pub(crate) static BACKCHANNEL_AUTHENTICATION: Endpoint = Endpoint {
    name: "backchannel_authentication_endpoint",
    span: "backchannel_authentication",
    url: |m| m.backchannel_authentication_endpoint.as_ref(),
    mtls_alias: |a| a.backchannel_authentication_endpoint.as_ref(),
};

/// The pushed authorization request endpoint (RFC 9126).
pub(crate) static PAR: Endpoint = Endpoint {
    name: "pushed_authorization_request_endpoint",
    span: "par",
    url: |m| m.pushed_authorization_request_endpoint.as_ref(),
    mtls_alias: |a| a.pushed_authorization_request_endpoint.as_ref(),
};

/// The dynamic client registration endpoint (RFC 7591 §3).
pub(crate) static REGISTRATION: Endpoint = Endpoint {
    name: "registration_endpoint",
    span: "registration",
    url: |m| m.registration_endpoint.as_ref(),
    mtls_alias: |a| a.registration_endpoint.as_ref(),
};

/// What the low-level functions need, and nothing more: plain server
/// metadata, client metadata, client authentication and a clock. No
/// [`Configuration`], no HTTP client, so callers with their own HTTP stack
/// (or a test without I/O) can build requests and process responses.
/// [`Configuration::context`] lends one.
///
/// ```
/// use oidckit::{build_token_request, ClientAuth, ClientMetadata, EndpointContext, ServerMetadata};
///
/// let server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// let client = ClientMetadata::new("my-service");
/// let auth = ClientAuth::client_secret_post("s3cr3t");
/// let ctx = EndpointContext::new(&server, &client, &auth);
/// let request = build_token_request(&ctx, "client_credentials", &[("scope", "read")])?;
/// assert_eq!(request.url().as_str(), "https://as.example/token");
/// assert_eq!(
///     request.body(),
///     "grant_type=client_credentials&scope=read&client_id=my-service&client_secret=s3cr3t"
/// );
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct EndpointContext<'a> {
    pub(crate) server: &'a ServerMetadata,
    pub(crate) client: &'a ClientMetadata,
    pub(crate) auth: &'a ClientAuth,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) clock_skew: i64,
    pub(crate) clock_tolerance: Duration,
    pub(crate) allow_insecure_requests: bool,
    pub(crate) fapi2: bool,
}

impl fmt::Debug for EndpointContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointContext")
            .field("issuer", &self.server.issuer)
            .field("client_id", &self.client.client_id)
            .field("auth", self.auth)
            .field("clock_skew", &self.clock_skew)
            .field("clock_tolerance", &self.clock_tolerance)
            .field("allow_insecure_requests", &self.allow_insecure_requests)
            .field("fapi2", &self.fapi2)
            .finish_non_exhaustive()
    }
}

impl<'a> EndpointContext<'a> {
    /// A context with the system clock, no clock skew, the default clock
    /// tolerance (30 s) and `https:` only. The client id is
    /// `client.client_id`.
    pub fn new(
        server: &'a ServerMetadata,
        client: &'a ClientMetadata,
        auth: &'a ClientAuth,
    ) -> Self {
        EndpointContext {
            server,
            client,
            auth,
            clock: Arc::new(SystemClock),
            clock_skew: 0,
            clock_tolerance: DEFAULT_CLOCK_TOLERANCE,
            allow_insecure_requests: false,
            fapi2: false,
        }
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seconds added to the clock for claims this client creates.
    #[must_use]
    pub fn clock_skew(mut self, seconds: i64) -> Self {
        self.clock_skew = seconds;
        self
    }

    /// Leeway when checking time-based claims (default 30 s).
    #[must_use]
    pub fn clock_tolerance(mut self, tolerance: Duration) -> Self {
        self.clock_tolerance = tolerance;
        self
    }

    /// Allows `http:` endpoint URLs (local testing only).
    #[must_use]
    pub fn allow_insecure_requests(mut self, allow: bool) -> Self {
        self.allow_insecure_requests = allow;
        self
    }

    /// Enforces the client rules of the FAPI 2.0 Security Profile (see
    /// [`fapi`](crate::fapi)) in the low-level functions.
    #[must_use]
    pub fn fapi2_security_profile(mut self, on: bool) -> Self {
        self.fapi2 = on;
        self
    }

    /// The server metadata.
    pub fn server_metadata(&self) -> &'a ServerMetadata {
        self.server
    }

    /// The client metadata.
    pub fn client_metadata(&self) -> &'a ClientMetadata {
        self.client
    }

    /// "Now" for claims this client creates: the clock plus the skew.
    pub fn now(&self) -> SystemTime {
        clock::shift(self.clock.now(), self.clock_skew)
    }

    /// The URL of `endpoint`: its `mtls_endpoint_aliases` entry when the
    /// client metadata sets `use_mtls_endpoint_aliases` and the server has
    /// one (RFC 8705 §5), else the metadata member; refused unless `https:`
    /// (or `http:` with insecure requests allowed).
    pub(crate) fn endpoint_url(&self, endpoint: &Endpoint) -> Result<&'a Url> {
        endpoint.url_for(self.server, self.client, self.allow_insecure_requests)
    }

    /// The client id, which client authentication needs.
    pub(crate) fn client_id(&self) -> Result<&'a str> {
        let id = self.client.client_id.as_str();
        if id.is_empty() {
            return Err(Error::invalid_input("the client metadata has no client_id"));
        }
        Ok(id)
    }
}

/// The span of one call to `endpoint`: which endpoint, grant type, client
/// and method; whether DPoP is used is recorded by [`send`], once the
/// options are known. Never a secret: no parameter values, headers or
/// bodies.
pub(crate) fn span(
    config: &Configuration,
    endpoint: &Endpoint,
    grant_type: Option<&str>,
) -> tracing::Span {
    tracing::debug_span!(
        "oidckit.call",
        endpoint = endpoint.span,
        grant_type,
        client_id = config.client_id().as_str(),
        auth = config.client_auth().method_name(),
        dpop = tracing::field::Empty,
    )
}

/// The one request path of every authenticated form request (grants,
/// introspection, revocation, and the flows to come): client
/// authentication, the DPoP proof, the transport rules, nonce bookkeeping,
/// `process`; and once more with a fresh proof and a fresh client assertion
/// if the server asks for a DPoP nonce (RFC 9449 §8), never more.
pub(crate) async fn send<T>(
    config: &Configuration,
    endpoint: &Endpoint,
    request: UnauthenticatedRequest,
    options: &RequestOptions,
    dpop: Option<&DPoPHandle>,
    process: impl Fn(&EndpointContext<'_>, &EndpointResponse) -> Result<T>,
) -> Result<T> {
    tracing::Span::current().record("dpop", dpop.is_some());
    let ctx = config.context();
    let request = request.with_options(options)?;
    let attempt = |request| async {
        let response = send_once(config, &ctx, endpoint, request, dpop, options).await?;
        process(&ctx, &response).map_err(|e| {
            client_auth_hint(
                config.client_auth(),
                e.with_response_context(response.url(), response.status()),
            )
        })
    };
    let Some(_) = dpop else {
        return attempt(request).await;
    };
    match attempt(request.clone()).await {
        Err(e) if e.is_dpop_nonce_error() => {
            tracing::debug!("retrying once with the server's DPoP nonce");
            attempt(request).await
        }
        result => result,
    }
}

async fn send_once(
    config: &Configuration,
    ctx: &EndpointContext<'_>,
    endpoint: &Endpoint,
    request: UnauthenticatedRequest,
    dpop: Option<&DPoPHandle>,
    options: &RequestOptions,
) -> Result<EndpointResponse> {
    let mut request = request.authenticate(ctx)?;
    if let Some(dpop) = dpop {
        request.add_dpop_proof(dpop)?;
    }
    let response = transport::execute(
        &config.transport(),
        request.into_reqwest(config.http_client())?,
        endpoint.span,
        options.timeout,
    )
    .await?;
    if let Some(dpop) = dpop {
        dpop.record_nonce(response.url(), response.headers());
    }
    Ok(response)
}

/// A 401 or 403 without an OAuth error body usually means the server did not
/// accept the client authentication, and says nothing more: name the method
/// used, and for the JWT methods the usual culprit, the assertion's audience.
fn client_auth_hint(auth: &ClientAuth, error: Error) -> Error {
    let unauthorized = error.kind() == ErrorKind::UnexpectedStatus
        && error
            .status()
            .is_some_and(|s| s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN);
    if !unauthorized {
        return error;
    }
    let mut hint = format!("client authentication was {}", auth.method_name());
    if auth.signing_algorithm().is_some() && !auth.audience_is_endpoint() {
        hint.push_str(
            "; some servers want the endpoint's URL as the assertion audience: \
             ClientAuth::assertion_audience(AssertionAudience::TokenEndpoint)",
        );
    }
    error.with_hint(hint)
}

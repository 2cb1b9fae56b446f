//! # oidckit
//!
//! An OAuth 2.0 / OpenID Connect client in the style of panva's
//! `openid-client`: a [`Configuration`], built by [`discovery`] or from
//! explicit [`ServerMetadata`], holds what the client knows about the
//! authorization server and itself; grants and calls are free functions over
//! it.
//!
//! ## Discovery, then a grant
//!
//! ```no_run
//! use oidckit::{client_credentials_grant, ClientAuth};
//!
//! # async fn run() -> Result<(), oidckit::Error> {
//! let config = oidckit::discovery(
//!     "https://as.example.com",
//!     "my-service",
//!     ClientAuth::client_secret_basic("s3cr3t"),
//! ).await?;
//! let token = client_credentials_grant(
//!     &config,
//!     &[("scope", "read"), ("resource", "urn:example:api")],
//!     None, // or Some(&dpop_handle) for a DPoP-bound token
//! ).await?;
//! println!("{} token, expires in {:?}", token.token_type(), token.expires_in());
//! # Ok(()) }
//! ```
//!
//! Without the network, from explicit metadata:
//!
//! ```
//! use oidckit::{ClientAuth, Configuration, ServerMetadata};
//!
//! let config = Configuration::new(
//!     ServerMetadata::new("https://as.example.com", "https://as.example.com/token".parse()?),
//!     "my-service",
//!     ClientAuth::client_secret_post("s3cr3t"),
//! )?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! ## One way to pass options
//!
//! Every function that talks to a server returns a [`Call`] (or, for
//! [`discovery`] and [`fetch_protected_resource`], a builder): await it as
//! it is, or give it [`RequestOptions`] first — a timeout per request, a
//! deadline and a [`CancellationToken`] for the whole call, extra headers and
//! parameters, a [`DPoPHandle`]. Nothing is sent until it is awaited.
//!
//! ```no_run
//! use std::time::Duration;
//! use oidckit::{token_introspection, RequestOptions};
//!
//! # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
//! let answer = token_introspection(&config, "a-token", Some("access_token"))
//!     .options(RequestOptions::new().timeout(Duration::from_secs(2)).param("resource", "urn:api"))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! ## Client authentication
//!
//! [`ClientAuth`] has a constructor per method: `client_secret_basic`,
//! `client_secret_post`, `client_secret_jwt` (HS256/384/512),
//! `private_key_jwt` (RS, PS, ES, EdDSA; see [`PrivateKey`]), `none`,
//! `tls_client_auth` and `self_signed_tls_client_auth` (the certificate is
//! set on the HTTP client, see [`http_client_builder`]). A workload whose
//! platform vouches for it (Kubernetes, SPIFFE) sends the platform's token
//! instead of a secret: [`ClientAuth::client_assertion_file`] and
//! [`ClientAuth::client_assertion_callback`].
//!
//! ## Errors
//!
//! Every function returns [`Result`]. Its [`Error`] has a [`kind`](Error::kind)
//! to match on ([`ErrorKind::OAuth`] when the server said no, with `error`,
//! `error_description`, status and `WWW-Authenticate` challenges;
//! transport failures with their root cause; unusable responses; bad input
//! and configuration), keeps the underlying cause as `source()`, and answers
//! [`is_retryable`](Error::is_retryable).
//!
//! ## The low-level layer
//!
//! Under every call is a pair per endpoint: `build_*_request` and
//! `process_*_response` ([`build_token_request`] / [`process_token_response`],
//! introspection, revocation, discovery, PAR, device authorization, CIBA,
//! userinfo, JWKS). They take an [`EndpointContext`] —
//! plain server metadata, client metadata, client authentication and a
//! clock, no HTTP client — so callers with their own HTTP stack, or tests
//! without I/O, use the same rules.
//!
//! Client registration (RFC 7591, [`dynamic_client_registration`]) comes
//! before there is a client: its pairs ([`build_registration_request`] /
//! [`process_registration_response`], and the management ones of RFC 7592)
//! take the server metadata, the client metadata or the
//! [`RegisteredClient`] instead. So do those of a protected resource's
//! metadata (RFC 9728: [`build_resource_discovery_request`] /
//! [`process_resource_discovery_response`]), which take the resource's URL.
//!
//! ## Rules this crate enforces
//!
//! - `https:` only, unless [`allow_insecure_requests`](ConfigurationBuilder::allow_insecure_requests).
//! - No redirects are followed; bodies over 1 MiB (configurable) are refused;
//!   every request has a timeout (30 s by default).
//! - Discovery checks that the document's `issuer` is the one asked for.
//! - Secrets (client secrets, keys, assertions, tokens) never appear in
//!   `Debug`, `Display`, errors or `tracing` fields.
//!
//! ## Service-to-service: the token manager
//!
//! [`TokenManager`] caches client credentials tokens (lock-free reads),
//! refreshes them ahead of expiry with one request however many callers,
//! and can share them across a fleet through a [`TokenStore`].
//!
//! ## Sign-in without a browser on the client: polling flows
//!
//! Two flows start with one request and then poll the token endpoint
//! until the user has decided, with the same rules (one interval before
//! each poll, `slow_down`, `Retry-After`, `expires_in`; waits through the
//! configuration's [`Clock`], so tests poll in virtual time):
//!
//! - the device authorization grant (RFC 8628), for a device that shows a
//!   code the user enters elsewhere: [`initiate_device_authorization`],
//!   then [`poll_device_authorization_grant`];
//! - Client-Initiated Backchannel Authentication in poll mode (CIBA Core
//!   1.0), for a client that names the user, who approves on their own
//!   device: [`initiate_backchannel_authentication`], then
//!   [`poll_backchannel_authentication_grant`] (an ID Token required and
//!   validated).
//!
//! ## DPoP
//!
//! [`DPoPHandle`] binds tokens to a key (RFC 9449); pass it to any grant,
//! in [`RequestOptions::dpop`] to any call, or to the token manager.
//!
//! ## Where things are
//!
//! `docs/architecture.md` in the repository draws the layers: `transport`
//! (the only code that sends), `endpoint` (the shared request path and the
//! low-level layer), one folder per flow (`grants`, `tokens`, …), `jose`,
//! `config`, `token_manager`, `testing`.
//!
//! ## The receiving end: protecting an API
//!
//! [`ResourceServer`] validates the access token of an incoming request —
//! a JWT access token (RFC 9068) with the authorization server's keys, or
//! an opaque one through cached introspection — with its binding (a DPoP
//! proof, with replay detection and server nonces; a client certificate),
//! and turns a refusal into a [`Rejection`]: the status and the
//! `WWW-Authenticate` challenges to answer with. The steps are public and
//! sans-IO too: [`validate_jwt_access_token`], [`verify_dpop_proof`].
//!
//! ## Optional features
//!
//! - `testing`: `testing::MockAuthorizationServer`, an in-process
//!   authorization server for tests and examples.
//! - `redis`: `RedisTokenStore`, tokens shared by a fleet through Redis.
//! - `middleware`: `TokenMiddleware` for `reqwest-middleware` clients.
//! - `axum`: `ProtectedRequest`, an axum extractor that validates a
//!   request's token with a [`ResourceServer`].
//! - `vendored-openssl`: builds OpenSSL from source and links it statically,
//!   for machines without the OpenSSL headers.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::all)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authorization;
mod ciba;
mod client_auth;
mod clock;
mod config;
mod device;
mod dpop;
mod endpoint;
mod error;
pub mod fapi;
mod grants;
mod id_token;
mod into_url;
mod jose;
pub mod jwks;
mod options;
mod polling;
mod registration;
mod resource;
mod resource_metadata;
mod resource_server;
mod token_manager;
mod tokens;
mod transport;
mod userinfo;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use authorization::{
    authorization_code_grant, build_authorization_url, build_authorization_url_with_jar,
    build_authorization_url_with_par, build_end_session_url, build_pushed_authorization_request,
    build_request_object, calculate_pkce_code_challenge, implicit_authentication,
    process_pushed_authorization_response, random_nonce, random_pkce_code_verifier, random_state,
    validate_authorization_response, validate_jwt_authorization_response, AuthorizationChecks,
    AuthorizationCode, Callback, PushedAuthorizationResponse,
};
pub use ciba::{
    build_backchannel_authentication_request, initiate_backchannel_authentication,
    poll_backchannel_authentication_grant, process_backchannel_authentication_response,
    BackchannelAuthenticationResponse, CIBA_GRANT_TYPE,
};
pub use client_auth::mtls::{
    certificate_thumbprint, mtls_client_builder_from_pem, mtls_client_builder_from_pkcs12,
};
pub use client_auth::{
    AssertionAudience, CallbackError, ClientAuth, IntoClientSecret, ModifyAssertion,
    JWT_BEARER_CLIENT_ASSERTION_TYPE,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::client_metadata::ClientMetadata;
pub use config::discovery::{
    build_discovery_request, discovery, process_discovery_response, well_known_url, Discovery,
    DiscoveryAlgorithm,
};
pub use config::metadata::{MtlsEndpointAliases, ServerMetadata};
pub use config::{
    default_http_client, http_client_builder, Configuration, ConfigurationBuilder,
    DEFAULT_CLOCK_TOLERANCE, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_TIMEOUT,
};
pub use device::{
    build_device_authorization_request, initiate_device_authorization,
    poll_device_authorization_grant, process_device_authorization_response,
    DeviceAuthorizationResponse, DEVICE_CODE_GRANT_TYPE,
};
pub use dpop::{DPoPHandle, DPOP_HEADER, DPOP_NONCE_HEADER};
pub use endpoint::request::{EndpointRequest, FormParam};
pub use endpoint::www_authenticate::{parse_www_authenticate, Challenge};
pub use endpoint::EndpointContext;
pub use error::{Error, ErrorKind, OAuthError, Result};
pub use grants::response::{process_token_response, TokenEndpointResponse, TokenType};
pub use grants::token_exchange::{
    token_exchange, token_types, TokenExchange, TOKEN_EXCHANGE_GRANT_TYPE,
};
pub use grants::{
    build_token_request, client_credentials_grant, generic_grant_request, jwt_bearer_grant,
    refresh_token_grant, RefreshTokenRef, JWT_BEARER_GRANT_TYPE,
};
pub use id_token::{id_token_claims, validate_id_token, IdTokenChecks, IdTokenClaims};
pub use into_url::IntoUrl;
pub use jose::{jwk_thumbprint, JwkSet, JwsAlgorithm, PrivateKey};
pub use jwks::{build_jwks_request, process_jwks_response, JwksCacheSnapshot};
pub use options::{BoxFuture, Call, RequestOptions};
pub use registration::{
    build_client_delete_request, build_client_read_request, build_client_update_request,
    build_registration_request, delete_client_registration, dynamic_client_registration,
    process_client_delete_response, process_client_information_response,
    process_registration_response, read_client_registration, update_client_registration,
    DynamicClientRegistration, RegisteredClient, Registration,
};
pub use resource::{fetch_protected_resource, ResourceRequest};
pub use resource_metadata::metadata::ProtectedResourceMetadata;
pub use resource_metadata::{
    build_resource_discovery_request, discover_protected_resource,
    process_resource_discovery_response, protected_resource_metadata_url, ResourceDiscovery,
};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use resource_server::axum::{ClientCertificate, ProtectedRequest};
pub use resource_server::{
    validate_jwt_access_token, verify_dpop_proof, AccessTokenChecks, AccessTokenClaims, DPoPNonces,
    DPoPProofChecks, InMemoryReplayCache, IncomingRequest, IntrospectionCacheSettings, Rejection,
    RejectionCode, ReplayCache, ResourceServer, ResourceServerBuilder, TokenScheme,
    ValidatedRequest, VerifiedDPoPProof, DEFAULT_ACCESS_TOKEN_ALGORITHMS, DEFAULT_DPOP_ALGORITHMS,
    DEFAULT_NONCE_ROTATION, DEFAULT_PROOF_MAX_AGE, RFC9068_CLAIMS, RFC9068_TYPES,
};
pub use token_manager::audiences::{AudienceTokenManager, TokenAudience, DEFAULT_MAX_AUDIENCES};
#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
pub use token_manager::middleware::TokenMiddleware;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use token_manager::redis::RedisTokenStore;
pub use token_manager::store::{InMemoryTokenStore, TokenStore};
pub use token_manager::{
    TokenFetcher, TokenManager, TokenManagerBuilder, TokenManagerStats, DEFAULT_REFRESH_SKEW,
    DEFAULT_TOKEN_LIFETIME,
};
pub use tokens::introspection::{
    build_introspection_request, process_introspection_response, token_introspection,
    IntrospectionResponse, TOKEN_INTROSPECTION_JWT_MEDIA_TYPE,
};
pub use tokens::revocation::{
    build_revocation_request, process_revocation_response, token_revocation,
};
pub use tokio_util::sync::CancellationToken;
pub use transport::EndpointResponse;
pub use userinfo::{fetch_userinfo, process_userinfo_response, UserInfo};

/// The OAuth vocabulary of the `oauth2` crate, used in this crate's API.
pub use oauth2::{AccessToken, ClientId, ClientSecret, RefreshToken, Scope, TokenResponse};
/// Re-exported so callers can build HTTP clients and headers without a
/// direct dependency.
pub use reqwest;
pub use url::Url;

#[cfg(doctest)]
mod doctests;

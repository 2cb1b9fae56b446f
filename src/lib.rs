//! # oidckit
//!
//! An OAuth 2.0 / OpenID Connect client in the style of panva's
//! `openid-client`: a [`Configuration`], built by [`discovery`] or from
//! explicit [`ServerMetadata`], holds what the client knows about the
//! authorization server and itself; grants are free async functions over it.
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
//! ## Client authentication
//!
//! [`ClientAuth`] has a constructor per method: `client_secret_basic`,
//! `client_secret_post`, `client_secret_jwt` (HS256/384/512),
//! `private_key_jwt` (RS, PS, ES, EdDSA; see [`PrivateKey`]), `none`,
//! `tls_client_auth` and `self_signed_tls_client_auth` (the certificate is
//! set on the HTTP client, see [`http_client_builder`]).
//!
//! ## Errors
//!
//! Every function returns [`Result`], whose [`Error`] tells an OAuth error
//! from the server ([`ErrorKind::OAuth`], with `error`, `error_description`,
//! status and `WWW-Authenticate` challenges) from transport failures,
//! unexpected responses and configuration mistakes;
//! [`Error::is_retryable`] says whether trying again may help.
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
//! ## Low-level layer
//!
//! [`build_token_request`] and [`process_token_response`] are the two halves
//! of every grant, for callers who send requests with their own HTTP stack.
//!
//! ## Service-to-service: the token manager
//!
//! [`TokenManager`] caches client credentials tokens (lock-free reads),
//! refreshes them ahead of expiry with one request however many callers,
//! and can share them across a fleet through a [`TokenStore`].
//!
//! ## DPoP
//!
//! [`DPoPHandle`] binds tokens to a key (RFC 9449); pass it to any grant,
//! to [`fetch_protected_resource`] or to the token manager.
//!
//! ## Optional features
//!
//! - `testing`: [`testing::MockAuthorizationServer`], an in-process
//!   authorization server for tests and examples.
//! - `redis`: `RedisTokenStore`, tokens shared by a fleet through Redis.
//! - `middleware`: `TokenMiddleware` for `reqwest-middleware` clients.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::all)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client_auth;
mod clock;
mod config;
mod dpop;
mod endpoint;
mod error;
mod grants;
mod into_url;
mod jose;
#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
mod middleware;
mod options;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
mod redis_store;
mod resource;
mod token_manager;
mod token_store;
mod tokens;
mod transport;

// Old module paths, for the token manager files until they move into their folder.
use endpoint::www_authenticate;
use grants as grant;
use grants::response;
use transport as http;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use client_auth::mtls::{
    certificate_thumbprint, mtls_client_builder_from_pem, mtls_client_builder_from_pkcs12,
};
pub use client_auth::{
    AssertionAudience, ClientAuth, IntoClientSecret, ModifyAssertion,
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
    refresh_token_grant, JWT_BEARER_GRANT_TYPE,
};
pub use into_url::IntoUrl;
pub use jose::{jwk_thumbprint, JwsAlgorithm, PrivateKey};
#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
pub use middleware::TokenMiddleware;
pub use options::{Call, RequestOptions};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::RedisTokenStore;
pub use resource::{fetch_protected_resource, ResourceRequest};
pub use token_manager::{
    TokenFetcher, TokenManager, TokenManagerBuilder, TokenManagerStats, DEFAULT_REFRESH_SKEW,
    DEFAULT_TOKEN_LIFETIME,
};
pub use token_store::{BoxFuture, InMemoryTokenStore, TokenStore};
pub use tokens::introspection::{
    build_introspection_request, process_introspection_response, token_introspection,
    IntrospectionResponse,
};
pub use tokens::revocation::{
    build_revocation_request, process_revocation_response, token_revocation,
};
pub use tokio_util::sync::CancellationToken;
pub use transport::EndpointResponse;

/// The OAuth vocabulary of the `oauth2` crate, used in this crate's API.
pub use oauth2::{AccessToken, ClientId, ClientSecret, RefreshToken, Scope, TokenResponse};
/// Re-exported so callers can build HTTP clients and headers without a
/// direct dependency.
pub use reqwest;
pub use url::Url;

/// The README's and the guides' examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../docs/client-authentication.md")]
#[doc = include_str!("../docs/dpop.md")]
#[doc = include_str!("../docs/token-manager.md")]
#[doc = include_str!("../docs/refresh-token.md")]
#[doc = include_str!("../docs/token-exchange.md")]
#[doc = include_str!("../docs/jwt-bearer.md")]
#[doc = include_str!("../docs/generic-grants.md")]
#[doc = include_str!("../docs/introspection.md")]
#[doc = include_str!("../docs/revocation.md")]
#[doc = include_str!("../docs/mtls.md")]
struct DocsDoctests;

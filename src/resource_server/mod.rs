//! The receiving end of a call: a resource server (an API) validating the
//! access token a request brings — a JWT access token (RFC 9068) checked
//! with the authorization server's keys, or an opaque one through cached
//! introspection (RFC 7662) — with its binding: a DPoP proof (RFC 9449
//! §4.3, §7) with replay detection and server nonces, or the client
//! certificate (RFC 8705 §3). A refusal is a [`Rejection`]: the status and
//! the `WWW-Authenticate` challenges to answer with.
//!
//! [`ResourceServer::validate_request`] is the whole check; the steps are
//! public too: [`validate_jwt_access_token`] and [`verify_dpop_proof`] are
//! sans-IO. With the `axum` feature, [`ProtectedRequest`](crate::ProtectedRequest)
//! does it as an extractor.

pub(crate) mod access_token;
#[cfg(feature = "axum")]
pub(crate) mod axum;
pub(crate) mod dpop_proof;
pub(crate) mod introspection_cache;
pub(crate) mod nonce;
pub(crate) mod rejection;
pub(crate) mod replay;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION};
use url::Url;

pub use access_token::{
    validate_jwt_access_token, AccessTokenChecks, AccessTokenClaims,
    DEFAULT_ACCESS_TOKEN_ALGORITHMS, RFC9068_CLAIMS, RFC9068_TYPES,
};
pub use dpop_proof::{
    verify_dpop_proof, DPoPProofChecks, VerifiedDPoPProof, DEFAULT_DPOP_ALGORITHMS,
    DEFAULT_PROOF_MAX_AGE,
};
pub use introspection_cache::IntrospectionCacheSettings;
pub use nonce::{DPoPNonces, DEFAULT_NONCE_ROTATION};
pub use rejection::{Rejection, RejectionCode};
pub use replay::{InMemoryReplayCache, ReplayCache};

use crate::client_auth::mtls::certificate_thumbprint;
use crate::config::Configuration;
use crate::error::{Error, Result};
use crate::jose::JwsAlgorithm;
use introspection_cache::IntrospectionCache;
use rejection::Challenges;

/// The request header a DPoP proof comes in (RFC 9449 §4.1).
const DPOP: &str = "dpop";

/// Validates the access tokens of incoming requests for one resource.
/// Built with [`ResourceServer::builder`] from a [`Configuration`] of the
/// authorization server (by discovery: its issuer and keys, and for opaque
/// tokens its introspection endpoint and this resource's credentials
/// there); cheap to clone.
///
/// ```
/// use oidckit::reqwest::header::HeaderMap;
/// use oidckit::{ClientAuth, IncomingRequest, ResourceServer, ServerMetadata, Configuration, RejectionCode};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let config = Configuration::new(ServerMetadata::new("https://as.example", "https://as.example/token".parse()?), "orders-api", ClientAuth::none())?;
/// let api = ResourceServer::builder(config, "https://orders.example.com").build();
/// let url = "https://orders.example.com/orders".parse()?;
/// let headers = HeaderMap::new(); // the request's
/// let refused = api.validate_request(&IncomingRequest::new("GET", &url, &headers)).await.unwrap_err();
/// assert_eq!(refused.code(), RejectionCode::MissingToken);
/// assert_eq!(refused.status(), 401);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ResourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    config: Configuration,
    audience: String,
    algorithms: Vec<JwsAlgorithm>,
    dpop_algorithms: Vec<JwsAlgorithm>,
    proof_max_age: Duration,
    nonces: Option<DPoPNonces>,
    replay: Arc<dyn ReplayCache>,
    bearer: bool,
    introspection: Option<Arc<IntrospectionCache>>,
    token_types: Vec<&'static str>,
    required_claims: Vec<&'static str>,
    challenges: Challenges,
    base_url: Option<Url>,
}

impl fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ResourceServer")
            .field("issuer", &i.config.issuer())
            .field("audience", &i.audience)
            .field("bearer", &i.bearer)
            .field("dpop_nonces", &i.nonces.is_some())
            .field("introspection", &i.introspection.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`ResourceServer`]; setters never fail.
#[must_use]
pub struct ResourceServerBuilder {
    config: Configuration,
    audience: String,
    algorithms: Vec<JwsAlgorithm>,
    dpop_algorithms: Vec<JwsAlgorithm>,
    proof_max_age: Duration,
    nonces: Option<DPoPNonces>,
    replay: Option<Arc<dyn ReplayCache>>,
    bearer: bool,
    introspection: Option<IntrospectionCacheSettings>,
    token_types: Vec<&'static str>,
    required_claims: Vec<&'static str>,
    realm: Option<String>,
    resource_metadata: Option<String>,
    base_url: Option<Url>,
}

impl fmt::Debug for ResourceServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceServerBuilder")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl ResourceServerBuilder {
    /// The algorithms JWT access tokens may be signed with (default: every
    /// asymmetric one, [`DEFAULT_ACCESS_TOKEN_ALGORITHMS`]).
    pub fn algorithms(mut self, algorithms: &[JwsAlgorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// The algorithms DPoP proofs may use (default
    /// [`DEFAULT_DPOP_ALGORITHMS`]); sent as the DPoP challenge's `algs`.
    pub fn dpop_algorithms(mut self, algorithms: &[JwsAlgorithm]) -> Self {
        self.dpop_algorithms = algorithms.to_vec();
        self
    }

    /// How old a DPoP proof may be by its `iat` (default 60 s).
    pub fn dpop_proof_max_age(mut self, max_age: Duration) -> Self {
        self.proof_max_age = max_age;
        self
    }

    /// Requires DPoP proofs to carry a nonce of `nonces` (RFC 9449 §9): a
    /// proof without a current one is answered `use_dpop_nonce` with a
    /// fresh nonce in `DPoP-Nonce`.
    pub fn dpop_nonces(mut self, nonces: DPoPNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Where accepted DPoP proofs are remembered (default: an
    /// [`InMemoryReplayCache`] of 100,000).
    pub fn replay_cache(mut self, cache: Arc<dyn ReplayCache>) -> Self {
        self.replay = Some(cache);
        self
    }

    /// Refuses Bearer tokens: every token must come with a DPoP proof.
    pub fn require_dpop(mut self) -> Self {
        self.bearer = false;
        self
    }

    /// Validates tokens that are not JWTs by introspection (RFC 7662) at
    /// the configuration's `introspection_endpoint`, with its client
    /// authentication, answers cached as `settings` say. Without it, only
    /// JWT access tokens are accepted.
    pub fn introspect_opaque_tokens(mut self, settings: IntrospectionCacheSettings) -> Self {
        self.introspection = Some(settings);
        self
    }

    /// The `typ`s a JWT access token may have (default: `at+jwt`, RFC 9068
    /// §2.1). For a server that does not follow RFC 9068 — Keycloak and
    /// Microsoft Entra type theirs `JWT` — add its type (`""` accepts a JWT
    /// without `typ`). Then no header says the token is an access token:
    /// the `aud` check (your resource, which is never a client's id) is
    /// what keeps the server's ID Tokens out, so give this resource an
    /// identifier of its own.
    pub fn token_types(mut self, types: &[&'static str]) -> Self {
        self.token_types = types.to_vec();
        self
    }

    /// The claims a JWT access token must have besides `iss`, `aud`, `exp`
    /// and `iat` (default: RFC 9068 §2.2's `sub`, `client_id`, `jti`). For a
    /// server that names them otherwise (Entra: `azp`/`appid`, `uti`),
    /// require what it sends.
    pub fn required_claims(mut self, claims: &[&'static str]) -> Self {
        self.required_claims = claims.to_vec();
        self
    }

    /// The `realm` of the challenges.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The URL of this resource's metadata (RFC 9728), named in every
    /// challenge as `resource_metadata` (§5.1) so a client can find where
    /// to get a token.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Where clients reach this API (scheme, host, port and any path
    /// prefix before the routes), for the request URL a DPoP proof's `htu`
    /// is compared with when the URL is rebuilt from a request's path (the
    /// `axum` extractor). Default: the audience, when it is an `http(s)`
    /// URL. Behind a proxy that rewrites paths, set it to the public URL.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// Builds the resource server.
    pub fn build(self) -> ResourceServer {
        let base_url = self.base_url.or_else(|| {
            Url::parse(&self.audience)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
        });
        ResourceServer {
            inner: Arc::new(Inner {
                challenges: Challenges {
                    bearer: self.bearer,
                    dpop_algs: Some(self.dpop_algorithms.clone()),
                    realm: self.realm,
                    resource_metadata: self.resource_metadata,
                },
                config: self.config,
                audience: self.audience,
                algorithms: self.algorithms,
                dpop_algorithms: self.dpop_algorithms,
                proof_max_age: self.proof_max_age,
                nonces: self.nonces,
                replay: self
                    .replay
                    .unwrap_or_else(|| Arc::new(InMemoryReplayCache::new(100_000))),
                bearer: self.bearer,
                introspection: self
                    .introspection
                    .map(|s| Arc::new(IntrospectionCache::new(s))),
                base_url,
                token_types: self.token_types,
                required_claims: self.required_claims,
            }),
        }
    }
}

/// The parts of an incoming request that the validation needs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct IncomingRequest<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The URL the client called (scheme, host and path as the client saw
    /// them: behind a proxy, rebuild it from the forwarded headers).
    pub url: &'a Url,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The client certificate of the TLS connection (DER or PEM), for
    /// certificate-bound tokens (RFC 8705 §3).
    pub client_certificate: Option<&'a [u8]>,
}

impl<'a> IncomingRequest<'a> {
    /// A request without a client certificate.
    pub fn new(method: &'a str, url: &'a Url, headers: &'a HeaderMap) -> Self {
        IncomingRequest {
            method,
            url,
            headers,
            client_certificate: None,
        }
    }

    /// The same request, with the connection's client certificate.
    pub fn client_certificate(mut self, certificate: &'a [u8]) -> Self {
        self.client_certificate = Some(certificate);
        self
    }
}

/// How the token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenScheme {
    /// `Authorization: Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `Authorization: DPoP` with a proof (RFC 9449 §7.1).
    DPoP,
}

/// A request whose token was accepted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ValidatedRequest {
    /// The token's claims.
    pub claims: Arc<AccessTokenClaims>,
    /// How it was presented.
    pub scheme: TokenScheme,
    /// The verified DPoP proof, for [`TokenScheme::DPoP`].
    pub dpop_proof: Option<VerifiedDPoPProof>,
    /// A fresh nonce to send in the response's `DPoP-Nonce` header, when
    /// the server uses nonces (RFC 9449 §9: so the client's next proof
    /// carries a current one).
    pub dpop_nonce: Option<String>,
}

impl ResourceServer {
    /// A resource server for the resource `audience` (its identifier: the
    /// `aud` its tokens carry, RFC 9068 §3), with tokens from `config`'s
    /// authorization server.
    pub fn builder(config: Configuration, audience: impl Into<String>) -> ResourceServerBuilder {
        ResourceServerBuilder {
            config,
            audience: audience.into(),
            algorithms: DEFAULT_ACCESS_TOKEN_ALGORITHMS.to_vec(),
            dpop_algorithms: DEFAULT_DPOP_ALGORITHMS.to_vec(),
            proof_max_age: DEFAULT_PROOF_MAX_AGE,
            nonces: None,
            replay: None,
            bearer: true,
            introspection: None,
            token_types: RFC9068_TYPES.to_vec(),
            required_claims: RFC9068_CLAIMS.to_vec(),
            realm: None,
            resource_metadata: None,
            base_url: None,
        }
    }

    /// The URL a request to `path_and_query` was made to: the base URL
    /// (see [`ResourceServerBuilder::base_url`]) with the path appended.
    pub fn request_url(&self, path_and_query: &str) -> std::result::Result<Url, Rejection> {
        let base = self.inner.base_url.as_ref().ok_or_else(|| {
            self.reject(
                RejectionCode::InvalidRequest,
                "the resource server has no base URL to check DPoP proofs against",
            )
        })?;
        let mut url = base.clone();
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let prefix = base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(Some(query).filter(|q| !q.is_empty()));
        Ok(url)
    }

    /// The configuration of the authorization server.
    pub fn config(&self) -> &Configuration {
        &self.inner.config
    }

    /// This resource's metadata (RFC 9728 §2), as this server is set up:
    /// the resource identifier, the issuer as its authorization server,
    /// `bearer_methods_supported` (`header`), the DPoP algorithms and
    /// whether DPoP is required, certificate-bound tokens when the
    /// configuration uses mutual TLS. Serve it (as JSON) at the URL given
    /// to [`ResourceServerBuilder::resource_metadata`]; add what else you
    /// publish (`scopes_supported`, `resource_name`, …) first.
    ///
    /// ```
    /// # fn run(api: oidckit::ResourceServer) {
    /// let mut metadata = api.protected_resource_metadata();
    /// metadata.scopes_supported = Some(vec!["orders:read".into()]);
    /// let json = serde_json::to_string(&metadata).unwrap();
    /// # }
    /// ```
    pub fn protected_resource_metadata(&self) -> crate::ProtectedResourceMetadata {
        let inner = &*self.inner;
        let mut metadata = crate::ProtectedResourceMetadata::new(inner.audience.clone());
        metadata.authorization_servers = Url::parse(inner.config.issuer()).ok().map(|u| vec![u]);
        metadata.bearer_methods_supported = Some(vec!["header".into()]);
        metadata.dpop_signing_alg_values_supported = Some(
            inner
                .dpop_algorithms
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
        );
        metadata.dpop_bound_access_tokens_required = Some(!inner.bearer);
        metadata
    }

    /// Validates the token of `request`: present once, in a scheme this
    /// server accepts; valid (JWT, or introspected); for this resource;
    /// presented with its binding (a DPoP proof for a DPoP-bound token and
    /// never as Bearer, RFC 9449 §7.2; the client certificate for a
    /// certificate-bound one). The scopes a route needs are checked after,
    /// with [`require_scopes`](Self::require_scopes).
    pub async fn validate_request(
        &self,
        request: &IncomingRequest<'_>,
    ) -> std::result::Result<ValidatedRequest, Rejection> {
        let (scheme, token) = self.credentials(request.headers)?;
        let scheme_name = match scheme {
            TokenScheme::Bearer => "Bearer",
            TokenScheme::DPoP => "DPoP",
        };
        let invalid_token = |message: &str, cause: Option<Error>| {
            let r = self
                .reject(RejectionCode::InvalidToken, message)
                .scheme(scheme_name);
            match cause {
                Some(e) => r.caused_by(e),
                None => r,
            }
        };
        let claims = self
            .claims(token)
            .await
            .map_err(|e| invalid_token("the access token is not valid", Some(e)))?;

        // The binding (RFC 9449 §7.1, §7.2; RFC 8705 §3).
        let jkt = claims.dpop_jkt();
        let dpop_proof =
            match (scheme, jkt) {
                (TokenScheme::Bearer, Some(_)) => return Err(invalid_token(
                    "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
                    None,
                )),
                (TokenScheme::DPoP, None) => {
                    return Err(invalid_token(
                        "the access token is not DPoP-bound: present it as a Bearer token",
                        None,
                    ))
                }
                (TokenScheme::DPoP, Some(jkt)) => Some(self.check_proof(request, token, jkt)?),
                (TokenScheme::Bearer, None) => None,
            };
        if let Some(bound) = claims.certificate_thumbprint() {
            let presented = request
                .client_certificate
                .map(certificate_thumbprint)
                .transpose()
                .map_err(|e| invalid_token("the client certificate cannot be read", Some(e)))?;
            if presented.as_deref() != Some(bound) {
                return Err(invalid_token(
                    "the access token is bound to another client certificate (cnf x5t#S256)",
                    None,
                ));
            }
        }
        Ok(ValidatedRequest {
            claims,
            scheme,
            dpop_proof,
            dpop_nonce: self.current_nonce(),
        })
    }

    /// Refuses a validated request whose token lacks any of `scopes` with
    /// `insufficient_scope` (403, the scopes in the challenge, RFC 6750
    /// §3.1).
    pub fn require_scopes(
        &self,
        request: &ValidatedRequest,
        scopes: &[&str],
    ) -> std::result::Result<(), Rejection> {
        if request.claims.has_scopes(scopes) {
            return Ok(());
        }
        let scheme = match request.scheme {
            TokenScheme::Bearer => "Bearer",
            TokenScheme::DPoP => "DPoP",
        };
        Err(self
            .reject(
                RejectionCode::InsufficientScope,
                format!("this needs the scope {}", scopes.join(" ")),
            )
            .scheme(scheme)
            .scope(scopes.join(" ")))
    }

    /// The `Authorization` scheme and token: exactly one header, Bearer or
    /// DPoP (case-insensitive, RFC 9110 §11.1).
    fn credentials<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> std::result::Result<(TokenScheme, &'h str), Rejection> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Err(self.reject(
                RejectionCode::MissingToken,
                "this resource needs an access token",
            ));
        };
        if values.next().is_some() {
            return Err(self.reject(
                RejectionCode::InvalidRequest,
                "more than one Authorization header",
            ));
        }
        let value = value.to_str().unwrap_or_default();
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        let token = token.trim_start_matches(' ');
        let scheme = if scheme.eq_ignore_ascii_case("bearer") && self.inner.bearer {
            TokenScheme::Bearer
        } else if scheme.eq_ignore_ascii_case("dpop") {
            TokenScheme::DPoP
        } else {
            return Err(self.reject(
                RejectionCode::InvalidRequest,
                format!(
                    "the Authorization scheme is not {}",
                    if self.inner.bearer {
                        "Bearer or DPoP"
                    } else {
                        "DPoP"
                    }
                ),
            ));
        };
        // RFC 6750 §2.1: b64token, one of them.
        let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
        if token.is_empty() || !token.chars().all(b64token) {
            return Err(self.reject(RejectionCode::InvalidRequest, "a malformed access token"));
        }
        Ok((scheme, token))
    }

    /// The claims of `token`: a JWT access token checked locally, or an
    /// opaque one introspected (when enabled).
    async fn claims(&self, token: &str) -> Result<Arc<AccessTokenClaims>> {
        let inner = &*self.inner;
        let looks_like_jwt = token.bytes().filter(|b| *b == b'.').count() == 2;
        match (&inner.introspection, looks_like_jwt) {
            (Some(cache), false) => cache.claims(&inner.config, token, &inner.audience).await,
            _ => self.jwt_claims(token).await.map(Arc::new),
        }
    }

    async fn jwt_claims(&self, token: &str) -> Result<AccessTokenClaims> {
        let inner = &*self.inner;
        let config = &inner.config;
        let checks = AccessTokenChecks {
            issuer: config.issuer(),
            audience: &inner.audience,
            algorithms: &inner.algorithms,
            clock_tolerance: config.clock_tolerance(),
            now: config.clock().now(),
            token_types: &inner.token_types,
            required_claims: &inner.required_claims,
        };
        let jwt = access_token::decode(token, &checks)?;
        let key = crate::jwks::key_for(config, jwt.alg, jwt.kid.as_deref()).await?;
        jwt.verify(&key, "the access token")?;
        access_token::validate_claims(jwt, &checks)
    }

    /// The DPoP proof of `request`, for `token` bound to `jkt`, with the
    /// nonce rule.
    fn check_proof(
        &self,
        request: &IncomingRequest<'_>,
        token: &str,
        jkt: &str,
    ) -> std::result::Result<VerifiedDPoPProof, Rejection> {
        let inner = &*self.inner;
        let bad_proof = |message: &str| {
            self.reject(RejectionCode::InvalidDPoPProof, message)
                .scheme("DPoP")
                .nonce(self.current_nonce())
        };
        let mut proofs = request.headers.get_all(DPOP).iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(bad_proof(
                "a DPoP request needs exactly one DPoP proof header",
            ));
        };
        let proof = proof
            .to_str()
            .map_err(|_| bad_proof("the DPoP proof is not text"))?;
        let now = inner.config.clock().now();
        let checks = DPoPProofChecks {
            method: request.method,
            url: request.url,
            access_token: Some(token),
            jkt: Some(jkt),
            algorithms: &inner.dpop_algorithms,
            max_age: inner.proof_max_age,
            clock_tolerance: inner.config.clock_tolerance().min(Duration::from_secs(5)),
            now,
        };
        let verified = verify_dpop_proof(proof, &checks, &*inner.replay)
            .map_err(|e| bad_proof("the DPoP proof is not valid").caused_by(e))?;
        if let Some(nonces) = &inner.nonces {
            let fresh = verified
                .nonce
                .as_deref()
                .is_some_and(|n| nonces.is_valid(n, now));
            if !fresh {
                return Err(self
                    .reject(
                        RejectionCode::UseDPoPNonce,
                        "the DPoP proof must carry the nonce in the DPoP-Nonce header",
                    )
                    .scheme("DPoP")
                    .nonce(Some(nonces.current(now))));
            }
        }
        Ok(verified)
    }

    fn current_nonce(&self) -> Option<String> {
        let inner = &*self.inner;
        inner
            .nonces
            .as_ref()
            .map(|n| n.current(inner.config.clock().now()))
    }

    fn reject(&self, code: RejectionCode, message: impl Into<String>) -> Rejection {
        Rejection::new(code, message, &self.inner.challenges)
    }
}

#[cfg(test)]
mod tests;

//! [`Configuration`]: what the client knows about the authorization server,
//! itself, and how to reach it.

pub(crate) mod client_metadata;
pub(crate) mod discovery;
pub(crate) mod metadata;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth2::ClientId;
use url::Url;

use crate::client_auth::ClientAuth;
use crate::clock::{self, Clock, SystemClock};
use crate::config::client_metadata::ClientMetadata;
use crate::config::metadata::ServerMetadata;
use crate::endpoint::{EndpointContext, INTROSPECTION, REVOCATION, TOKEN};
use crate::error::{Error, Result};
use crate::jwks::{JwksCache, JwksCacheSnapshot};
use crate::transport::Transport;

/// Default timeout of every request (as openid-client 6.9).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default clock tolerance for time-based claim checks (as openid-client).
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(30);
/// Default cap on the size of a response body.
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 1024 * 1024;

/// The `User-Agent` of the default HTTP client.
pub(crate) const USER_AGENT: &str = concat!("oidckit/", env!("CARGO_PKG_VERSION"));

/// The settings a [`ConfigurationBuilder`] and [`Discovery`](crate::Discovery)
/// share.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub http_client: Option<reqwest::Client>,
    pub timeout: Duration,
    pub allow_insecure_requests: bool,
    pub clock_skew: i64,
    pub clock_tolerance: Duration,
    pub clock: Arc<dyn Clock>,
    pub max_response_size: usize,
    pub client_metadata: ClientMetadata,
    pub jwks_max_age: Duration,
    pub fapi2: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http_client: None,
            timeout: DEFAULT_TIMEOUT,
            allow_insecure_requests: false,
            clock_skew: 0,
            clock_tolerance: DEFAULT_CLOCK_TOLERANCE,
            clock: Arc::new(SystemClock),
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
            client_metadata: ClientMetadata::default(),
            jwks_max_age: crate::jwks::DEFAULT_JWKS_MAX_AGE,
            fapi2: false,
        }
    }
}

impl Settings {
    /// The HTTP client to use: the caller's, or a new default one.
    pub(crate) fn http_client(&self) -> Result<reqwest::Client> {
        match &self.http_client {
            Some(c) => Ok(c.clone()),
            None => default_http_client(),
        }
    }

    pub(crate) fn transport<'a>(&self, client: &'a reqwest::Client) -> Transport<'a> {
        Transport {
            client,
            timeout: self.timeout,
            allow_insecure_requests: self.allow_insecure_requests,
            max_response_size: self.max_response_size,
        }
    }
}

/// A new HTTP client with this crate's defaults: no redirects, a 30 s
/// timeout and an `oidckit/<version>` user agent.
///
/// Each [`Configuration`] builds its own unless given one. A client is not
/// shared process-wide on purpose: its pooled connections belong to the Tokio
/// runtime that opened them, and would fail when used from another runtime
/// (as in `#[tokio::test]`s, each with its own runtime).
pub fn default_http_client() -> Result<reqwest::Client> {
    http_client_builder()
        .build()
        .map_err(|e| Error::invalid_configuration("cannot build the HTTP client").with_source(e))
}

/// A `reqwest::ClientBuilder` with this crate's defaults (no redirects, 30 s
/// timeout, `oidckit/<version>` user agent), to add a client certificate,
/// proxy or root certificate to before passing the client to
/// [`ConfigurationBuilder::http_client`].
///
/// ```no_run
/// // A private CA for the authorization server (for mTLS, start from
/// // oidckit::mtls_client_builder_from_pem instead).
/// let ca = reqwest::Certificate::from_pem(&std::fs::read("ca.pem")?)?;
/// let client = oidckit::http_client_builder().add_root_certificate(ca).build()?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEFAULT_TIMEOUT)
        .user_agent(USER_AGENT)
}

/// The setters of how requests are sent (HTTP client, timeout, `http:`
/// URLs, response size), shared by every builder that sends requests:
/// [`ConfigurationBuilder`], [`Discovery`](crate::Discovery) (through
/// `settings_setters`) and [`ResourceDiscovery`](crate::ResourceDiscovery).
/// The builder has a `settings: Settings` field.
macro_rules! transport_setters {
    () => {
        /// The HTTP client for every request (default: a new client from
        /// [`http_client_builder`](crate::http_client_builder)). Configure
        /// client certificates (mTLS), proxies and extra root certificates
        /// here, starting from [`http_client_builder`](crate::http_client_builder).
        ///
        /// **Build it with `redirect::Policy::none()`** (as
        /// `http_client_builder` does). A client that follows redirects
        /// re-sends the request, credentials included, before this crate
        /// sees the response; the redirect is then reported as
        /// [`ErrorKind::Redirect`](crate::ErrorKind::Redirect), but too late to
        /// protect the credentials.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.settings.http_client = Some(client);
            self
        }

        /// The timeout of each request, from connecting until the body is
        /// read (default 30 s).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.settings.timeout = timeout;
            self
        }

        /// Allows `http:` URLs. Off by default: every `http:` URL is refused.
        /// For local testing only; tokens and secrets cross the wire in clear.
        pub fn allow_insecure_requests(mut self, allow: bool) -> Self {
            self.settings.allow_insecure_requests = allow;
            self
        }

        /// The largest response body accepted, in bytes (default 1 MiB).
        pub fn max_response_size(mut self, bytes: usize) -> Self {
            self.settings.max_response_size = bytes;
            self
        }
    };
}
pub(crate) use transport_setters;

/// [`transport_setters`] and the setters of time and checks: every
/// builder that makes a [`Configuration`] ([`ConfigurationBuilder`],
/// [`Discovery`](crate::Discovery), the registration builder). They never
/// fail; problems are reported when the configuration is built.
macro_rules! transport_settings_setters {
    () => {
        crate::config::transport_setters!();

        /// Seconds added to the local clock when building time-based claims,
        /// for a server whose clock differs from ours (default 0; negative if
        /// the server is behind).
        pub fn clock_skew(mut self, seconds: i64) -> Self {
            self.settings.clock_skew = seconds;
            self
        }

        /// Leeway when checking time-based claims (default 30 s).
        pub fn clock_tolerance(mut self, tolerance: std::time::Duration) -> Self {
            self.settings.clock_tolerance = tolerance;
            self
        }

        /// The clock (default: the system clock). Tests inject a
        /// [`ManualClock`](crate::ManualClock) to move time without sleeping.
        pub fn clock(mut self, clock: std::sync::Arc<dyn crate::Clock>) -> Self {
            self.settings.clock = clock;
            self
        }

        /// How long the server's JWK Set is used before it is fetched again
        /// (default 300 s). A JWT signed with a key the set lacks makes the
        /// cache fetch earlier, at most once per
        /// [`MIN_REFETCH_INTERVAL`](crate::jwks::MIN_REFETCH_INTERVAL).
        pub fn jwks_max_age(mut self, max_age: std::time::Duration) -> Self {
            self.settings.jwks_max_age = max_age;
            self
        }

        /// Enforces the client rules of the FAPI 2.0 Security Profile (see
        /// [`fapi`](crate::fapi)): pushed authorization requests with PKCE
        /// S256, `private_key_jwt` (assertions for the issuer alone) or
        /// mutual TLS client authentication (checked by `build`),
        /// sender-constrained tokens, RFC 9207 `iss`, PS256/ES256/EdDSA only.
        /// Off by default.
        pub fn fapi2_security_profile(mut self, on: bool) -> Self {
            self.settings.fapi2 = on;
            self
        }
    };
}
pub(crate) use transport_settings_setters;

/// [`transport_settings_setters`] and the client metadata setter.
macro_rules! settings_setters {
    () => {
        crate::config::transport_settings_setters!();

        /// The client's registered metadata (default: only the client id and
        /// the auth method).
        pub fn client_metadata(mut self, metadata: crate::ClientMetadata) -> Self {
            self.settings.client_metadata = metadata;
            self
        }
    };
}
pub(crate) use settings_setters;

/// Builds a [`Configuration`]; see [`Configuration::builder`].
#[must_use]
#[derive(Debug)]
pub struct ConfigurationBuilder {
    server: ServerMetadata,
    client_id: String,
    auth: ClientAuth,
    settings: Settings,
}

impl ConfigurationBuilder {
    settings_setters!();

    pub(crate) fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Checks the configuration and builds it.
    pub fn build(self) -> Result<Configuration> {
        let ConfigurationBuilder {
            server,
            client_id,
            auth,
            mut settings,
        } = self;
        if client_id.is_empty() {
            return Err(Error::invalid_configuration("client_id must not be empty"));
        }
        if server.issuer.is_empty() {
            return Err(Error::invalid_configuration(
                "server metadata has an empty issuer",
            ));
        }
        auth.validate()?;
        if settings.fapi2 {
            crate::fapi::check_client_auth(&auth, &server.issuer)?;
        }
        let auth = auth.prepared(&client_id)?;
        let client = &mut settings.client_metadata;
        if client.client_id.is_empty() {
            client.client_id.clone_from(&client_id);
        } else if client.client_id != client_id {
            return Err(Error::invalid_configuration(format!(
                "client metadata client_id {:?} differs from client_id {client_id:?}",
                client.client_id
            )));
        }
        match &client.token_endpoint_auth_method {
            None => client.token_endpoint_auth_method = Some(auth.method_name().into()),
            Some(m) if m != auth.method_name() => {
                return Err(Error::invalid_configuration(format!(
                    "client metadata token_endpoint_auth_method {m:?} differs from the client authentication {:?}",
                    auth.method_name()
                )))
            }
            Some(_) => {}
        }
        match (&client.token_endpoint_auth_signing_alg, auth.signing_algorithm()) {
            (None, Some(alg)) => client.token_endpoint_auth_signing_alg = Some(alg.name().into()),
            (Some(registered), Some(alg)) if registered != alg.name() => {
                return Err(Error::invalid_configuration(format!(
                    "client metadata token_endpoint_auth_signing_alg {registered:?} differs from the assertion algorithm {:?}",
                    alg.name()
                )))
            }
            _ => {}
        }
        let http = settings.http_client()?;
        Ok(Configuration {
            inner: Arc::new(Inner {
                client_id: ClientId::new(client_id),
                server,
                auth,
                http,
                jwks: JwksCache::new(),
                settings,
            }),
        })
    }
}

/// Everything needed to talk to one authorization server as one client:
/// server metadata, client metadata, client authentication, the HTTP client
/// and the rules for using it.
///
/// Built by [`discovery`](crate::discovery) or, with no network, by
/// [`Configuration::new`] / [`Configuration::builder`]. Cheap to clone (one
/// `Arc`), `Send + Sync`; `Debug` never prints a secret.
///
/// ```
/// use oidckit::{ClientAuth, Configuration, ServerMetadata};
///
/// let server = ServerMetadata::new(
///     "https://as.example.com",
///     "https://as.example.com/token".parse()?,
/// );
/// let config = Configuration::builder(server, "my-service", ClientAuth::client_secret_basic("s3cr3t"))
///     .timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// assert_eq!(config.client_id().as_str(), "my-service");
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Configuration {
    inner: Arc<Inner>,
}

struct Inner {
    server: ServerMetadata,
    client_id: ClientId,
    auth: ClientAuth,
    http: reqwest::Client,
    settings: Settings,
    jwks: JwksCache,
}

impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.settings;
        f.debug_struct("Configuration")
            .field("issuer", &self.inner.server.issuer)
            .field("client_id", &self.inner.client_id.as_str())
            .field("auth", &self.inner.auth)
            .field("timeout", &s.timeout)
            .field("allow_insecure_requests", &s.allow_insecure_requests)
            .field("clock_skew", &s.clock_skew)
            .field("clock_tolerance", &s.clock_tolerance)
            .field("max_response_size", &s.max_response_size)
            .finish_non_exhaustive()
    }
}

impl Configuration {
    /// A configuration from explicit server metadata, with every default.
    pub fn new(
        server: ServerMetadata,
        client_id: impl Into<String>,
        auth: ClientAuth,
    ) -> Result<Self> {
        Self::builder(server, client_id, auth).build()
    }

    /// A builder, to change the defaults (timeout, HTTP client, clock, …).
    pub fn builder(
        server: ServerMetadata,
        client_id: impl Into<String>,
        auth: ClientAuth,
    ) -> ConfigurationBuilder {
        ConfigurationBuilder {
            server,
            client_id: client_id.into(),
            auth,
            settings: Settings::default(),
        }
    }

    /// The authorization server's metadata.
    pub fn server_metadata(&self) -> &ServerMetadata {
        &self.inner.server
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.inner.server.issuer
    }

    /// The client's metadata.
    pub fn client_metadata(&self) -> &ClientMetadata {
        &self.inner.settings.client_metadata
    }

    /// The client identifier.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.client_id
    }

    /// The client authentication method.
    pub fn client_auth(&self) -> &ClientAuth {
        &self.inner.auth
    }

    /// The HTTP client used for every request.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The timeout of each request.
    pub fn timeout(&self) -> Duration {
        self.inner.settings.timeout
    }

    /// Whether `http:` URLs are allowed.
    pub fn allow_insecure_requests(&self) -> bool {
        self.inner.settings.allow_insecure_requests
    }

    /// Seconds added to the local clock for time-based claims.
    pub fn clock_skew(&self) -> i64 {
        self.inner.settings.clock_skew
    }

    /// Leeway for time-based claim checks.
    pub fn clock_tolerance(&self) -> Duration {
        self.inner.settings.clock_tolerance
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.settings.clock
    }

    /// The largest response body accepted, in bytes.
    pub fn max_response_size(&self) -> usize {
        self.inner.settings.max_response_size
    }

    /// "Now" for claims this client creates: the clock plus the clock skew.
    pub fn now(&self) -> SystemTime {
        clock::shift(self.clock().now(), self.clock_skew())
    }

    /// The token endpoint to use: the `mtls_endpoint_aliases` one when the
    /// client metadata sets `use_mtls_endpoint_aliases` and the server has
    /// one (RFC 8705 §5), else `token_endpoint`. An error when the metadata
    /// has none ([`ErrorKind::MissingMetadata`](crate::ErrorKind::MissingMetadata))
    /// or it is not `https:` without insecure requests allowed
    /// ([`ErrorKind::InsecureUrl`](crate::ErrorKind::InsecureUrl)).
    pub fn token_endpoint(&self) -> Result<&Url> {
        self.context().endpoint_url(&TOKEN)
    }

    /// The introspection endpoint to use (RFC 7662; mTLS alias as for
    /// [`token_endpoint`](Self::token_endpoint)).
    pub fn introspection_endpoint(&self) -> Result<&Url> {
        self.context().endpoint_url(&INTROSPECTION)
    }

    /// The revocation endpoint to use (RFC 7009; mTLS alias as for
    /// [`token_endpoint`](Self::token_endpoint)).
    pub fn revocation_endpoint(&self) -> Result<&Url> {
        self.context().endpoint_url(&REVOCATION)
    }

    /// The parts of this configuration the low-level functions take:
    /// server and client metadata, client authentication, the clock and the
    /// rules, without the HTTP client.
    pub fn context(&self) -> EndpointContext<'_> {
        let s = &self.inner.settings;
        EndpointContext {
            server: &self.inner.server,
            client: &s.client_metadata,
            auth: &self.inner.auth,
            clock: s.clock.clone(),
            clock_skew: s.clock_skew,
            clock_tolerance: s.clock_tolerance,
            allow_insecure_requests: s.allow_insecure_requests,
            fapi2: s.fapi2,
        }
    }

    pub(crate) fn transport(&self) -> Transport<'_> {
        self.inner.settings.transport(&self.inner.http)
    }

    /// How long the server's JWK Set is used before it is fetched again.
    pub fn jwks_max_age(&self) -> Duration {
        self.inner.settings.jwks_max_age
    }

    pub(crate) fn jwks_cache(&self) -> &JwksCache {
        &self.inner.jwks
    }

    /// The cached JWK Set of the server and when it was fetched, to store
    /// and [`import`](Self::import_jwks_cache) into another process's
    /// configuration (openid-client's `getJwksCache`); `None` before the
    /// first fetch.
    pub fn export_jwks_cache(&self) -> Option<JwksCacheSnapshot> {
        self.inner.jwks.export()
    }

    /// Loads a cached JWK Set (from [`export_jwks_cache`](Self::export_jwks_cache)),
    /// so validations skip the first fetch while it is younger than
    /// [`jwks_max_age`](ConfigurationBuilder::jwks_max_age). Shared with every
    /// clone of this configuration.
    pub fn import_jwks_cache(&self, snapshot: JwksCacheSnapshot) -> Result<()> {
        self.inner.jwks.import(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::metadata::MtlsEndpointAliases;
    use crate::ErrorKind;

    fn server() -> ServerMetadata {
        ServerMetadata::new(
            "https://as.example",
            "https://as.example/token".parse().unwrap(),
        )
    }

    #[test]
    fn configuration_is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Configuration>();
    }

    #[test]
    fn build_checks_client_id_and_metadata() {
        let auth = || ClientAuth::client_secret_post("s");
        assert!(Configuration::new(server(), "", auth()).is_err());
        let md = ClientMetadata {
            client_id: "other".into(),
            ..Default::default()
        };
        let err = Configuration::builder(server(), "me", auth())
            .client_metadata(md)
            .build()
            .unwrap_err();
        assert!(err.kind() == ErrorKind::InvalidConfiguration, "{err}");
        let md = ClientMetadata {
            token_endpoint_auth_method: Some("client_secret_basic".into()),
            ..Default::default()
        };
        assert!(Configuration::builder(server(), "me", auth())
            .client_metadata(md)
            .build()
            .is_err());
        let config = Configuration::new(server(), "me", auth()).unwrap();
        assert_eq!(config.client_metadata().client_id, "me");
        assert_eq!(
            config
                .client_metadata()
                .token_endpoint_auth_method
                .as_deref(),
            Some("client_secret_post")
        );
    }

    #[test]
    fn mtls_alias_is_used_only_when_asked() {
        let mut s = server();
        s.mtls_endpoint_aliases = Some(MtlsEndpointAliases {
            token_endpoint: Some("https://mtls.as.example/token".parse().unwrap()),
            ..Default::default()
        });
        let plain = Configuration::new(s.clone(), "me", ClientAuth::tls_client_auth()).unwrap();
        assert_eq!(
            plain.token_endpoint().unwrap().host_str(),
            Some("as.example")
        );
        let mtls = Configuration::builder(s, "me", ClientAuth::tls_client_auth())
            .client_metadata(ClientMetadata::default().with_mtls_endpoint_aliases())
            .build()
            .unwrap();
        assert_eq!(
            mtls.token_endpoint().unwrap().host_str(),
            Some("mtls.as.example")
        );
    }

    #[test]
    fn skew_shifts_now() {
        let clock = crate::ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1000));
        let config = Configuration::builder(server(), "me", ClientAuth::none())
            .clock(Arc::new(clock))
            .clock_skew(-10)
            .build()
            .unwrap();
        assert_eq!(
            config.now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(990)
        );
    }
}

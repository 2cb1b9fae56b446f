//! [`TokenManager`]: client credentials tokens for service-to-service calls,
//! cached, refreshed ahead of expiry, fetched by one refresh at a time
//! however many callers wait (single flight), and optionally shared through
//! a [`TokenStore`].
//!
//! The hot path — a cached token with time to spare — reads the manager's
//! generation number (one atomic load of a line only refreshes write),
//! finds this thread's copy of the current entry, reads the clock once,
//! takes a reference on the thread's own `Arc` of the token and counts the
//! hit in the thread's own cell: no lock, no allocation, no cache line that
//! two threads write, and one locked instruction (the reference count).
//! The first call on a thread after a refresh copies the entry (read from
//! an `arc-swap`) into the thread's slot. The slots belong to the manager,
//! so no copy of a token outlives it.

pub(crate) mod audiences;
#[cfg(feature = "middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "middleware")))]
pub(crate) mod middleware;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub(crate) mod redis;
pub(crate) mod single_flight;
pub(crate) mod store;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use thread_local::ThreadLocal;
use url::Url;

use crate::clock::Clock;
use crate::config::Configuration;
use crate::dpop::DPoPHandle;
use crate::error::{Error, Result};
use crate::grants::client_credentials_grant;
use crate::grants::response::TokenEndpointResponse;
use crate::jose::b64url;
use crate::options::{BoxFuture, RequestOptions};
use crate::resource::{authorization_value, authorize};
use crate::transport::check_url;
use single_flight::{Begin, Flight, SingleFlight};
use store::TokenStore;

/// Default time before expiry at which a token is refreshed.
pub const DEFAULT_REFRESH_SKEW: Duration = Duration::from_secs(30);
/// Default lifetime assumed for a token the server sent without `expires_in`.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// OAuth errors after which asking again with the same request cannot help
/// (RFC 6749 §5.2): the manager does not retry them in the background.
const PERMANENT_ERRORS: [&str; 4] = [
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "unsupported_grant_type",
];

type OnUpdate = Arc<dyn Fn(&TokenEndpointResponse) + Send + Sync>;
type Provider = Arc<
    dyn Fn(
            Option<Arc<TokenEndpointResponse>>,
            TokenFetcher,
        ) -> BoxFuture<'static, Result<TokenEndpointResponse>>
        + Send
        + Sync,
>;

/// Builds a [`TokenManager`]; see [`TokenManager::builder`]. Setters never
/// fail; a bad parameter shows up as the error of the first token request.
/// Clones share the configuration, DPoP key, store and hooks.
#[must_use]
#[derive(Clone)]
pub struct TokenManagerBuilder {
    config: Configuration,
    params: Vec<(String, String)>,
    dpop: Option<DPoPHandle>,
    refresh_skew: Duration,
    default_lifetime: Duration,
    background_jitter: Option<Duration>,
    on_update: Option<OnUpdate>,
    provider: Option<Provider>,
    store: Option<Arc<dyn TokenStore>>,
    clock: Option<Arc<dyn Clock>>,
    backoff: (Duration, Duration),
    options: RequestOptions,
}

impl fmt::Debug for TokenManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManagerBuilder")
            .field("config", &self.config)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("dpop", &self.dpop)
            .field("refresh_skew", &self.refresh_skew)
            .finish_non_exhaustive()
    }
}

impl TokenManagerBuilder {
    /// The `scope` to request (replaces an earlier one).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.params.retain(|(k, _)| k != "scope");
        self.params.push(("scope".into(), scope.into()));
        self
    }

    /// A `resource` indicator (RFC 8707); call again for several.
    pub fn resource(self, resource: impl Into<String>) -> Self {
        self.param("resource", resource)
    }

    /// Any other request parameter (repeatable).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Requests DPoP-bound tokens with this handle.
    pub fn dpop(mut self, dpop: DPoPHandle) -> Self {
        self.dpop = Some(dpop);
        self
    }

    /// How long before expiry a token is refreshed (default 30 s). Capped at
    /// half the token's lifetime, so a 20-second token is refreshed after 10.
    /// This is also the margin for clock differences with the servers that
    /// check the token.
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        self.refresh_skew = skew;
        self
    }

    /// How long a token the server sent without `expires_in` is kept
    /// (default 5 minutes).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// Refreshes in a background task before the refresh time, earlier by a
    /// random amount up to `jitter`, so a fleet of instances does not
    /// refresh in lockstep. Off by default: then the first caller inside the
    /// refresh window triggers the refresh. The task holds no reference to
    /// the manager while it waits: it ends at its next wake-up after the last
    /// clone of the manager (and of any [`TokenFetcher`]) is dropped.
    pub fn background_refresh(mut self, jitter: Duration) -> Self {
        self.background_jitter = Some(jitter);
        self
    }

    /// Called with every newly issued token (not with tokens loaded from a
    /// store or handed over with [`TokenManager::set_token`]), e.g. to
    /// persist it.
    pub fn on_update(mut self, f: impl Fn(&TokenEndpointResponse) + Send + Sync + 'static) -> Self {
        self.on_update = Some(Arc::new(f));
        self
    }

    /// Decides how a token is obtained when one is needed: called with the
    /// last token (if any) and a [`TokenFetcher`]; return a token loaded from
    /// your own storage, or `fetcher.fetch().await` for a new one.
    ///
    /// ```
    /// # use oidckit::{TokenManager, Configuration};
    /// # fn f(config: Configuration) {
    /// let tokens = TokenManager::builder(config)
    ///     .token_provider(|last, fetcher| async move {
    ///         // e.g. read a token another process saved, if still valid …
    ///         match last {
    ///             Some(t) if t.expires_in().is_some_and(|d| d.as_secs() > 60) => Ok((*t).clone()),
    ///             _ => fetcher.fetch().await,
    ///         }
    ///     })
    ///     .build();
    /// # }
    /// ```
    pub fn token_provider<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Option<Arc<TokenEndpointResponse>>, TokenFetcher) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<TokenEndpointResponse>> + Send + 'static,
    {
        self.provider = Some(Arc::new(move |last, fetcher| Box::pin(f(last, fetcher))));
        self
    }

    /// Shares tokens through `store` (see [`TokenStore`]): an
    /// [`InMemoryTokenStore`](crate::InMemoryTokenStore) for managers in one
    /// process, a `RedisTokenStore` (feature `redis`) for a fleet.
    pub fn store(mut self, store: impl TokenStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Like [`store`](Self::store), for a store shared with other managers.
    pub fn shared_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock (default: the configuration's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Backoff between background retries after a failed refresh while the
    /// old token is still valid: `initial`, doubling up to `max` (defaults
    /// 1 s and 60 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = (initial, max);
        self
    }

    /// The options of every token request the manager sends (a timeout per
    /// request, extra headers or parameters), as for any call. Parameters and
    /// headers choose the token, so they are part of the store key as the
    /// [`param`](Self::param)s are; a DPoP handle in them is the manager's,
    /// as if given to [`dpop`](Self::dpop); a cancellation token stops every
    /// refresh once cancelled (at shutdown, say). A deadline would end every
    /// later refresh: it is refused at the first token request.
    pub fn request_options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    /// Builds the manager. With background refresh, the task starts here if
    /// called inside a Tokio runtime, else at the first
    /// [`TokenManager::token`] call that has to wait for a token.
    pub fn build(self) -> TokenManager {
        let clock = self.clock.unwrap_or_else(|| self.config.clock().clone());
        let mut options = self.options;
        let dpop = self.dpop.or_else(|| options.dpop.take());
        // The options' parameters are the manager's own: they choose the
        // token (an audience, a resource), so they key the store too.
        let mut params = self.params;
        params.append(&mut options.params);
        // A deadline would end every later refresh: refused at the first
        // token request (builders never fail).
        let refused = options.deadline.take().map(|_| {
            Error::invalid_input(
                "a deadline in the token manager's request options would end every later \
                 refresh; set deadlines on your own calls instead",
            )
        });
        let store_key = store_key(&self.config, &params, &options.headers, dpop.as_ref());
        // A fetch may take two requests (a DPoP nonce retry), each up to the
        // timeout; the lock must outlive it.
        let timeout = options.timeout.unwrap_or_else(|| self.config.timeout());
        let lock_ttl = timeout * 2 + Duration::from_secs(5);
        let manager = TokenManager {
            inner: Arc::new(Inner {
                config: self.config,
                params,
                dpop,
                options,
                refused,
                refresh_skew: self.refresh_skew,
                default_lifetime: self.default_lifetime,
                background_jitter: self.background_jitter,
                on_update: self.on_update,
                provider: self.provider,
                store: self.store,
                store_key,
                lock_ttl,
                clock,
                backoff: self.backoff,
                current: ArcSwapOption::empty(),
                generation: AtomicU64::new(0),
                local: ThreadLocal::new(),
                refreshes: SingleFlight::default(),
                retry_not_before: AtomicU64::new(0),
                failures_in_row: AtomicU64::new(0),
                background_started: AtomicBool::new(false),
                stats: Stats::default(),
            }),
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            manager.start_background();
        }
        manager
    }
}

/// Client credentials tokens for service-to-service calls: cached, refreshed
/// ahead of expiry, one request at a time however many callers, and
/// optionally shared with other instances through a [`TokenStore`].
///
/// Cheap to clone (clones share everything); `Send + Sync`.
///
/// ```
/// use std::time::Duration;
/// use oidckit::testing::{MockAuthorizationServer, MockClient};
/// use oidckit::{ClientAuth, Configuration, TokenManager};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = MockAuthorizationServer::builder()
/// #     .client(MockClient::client_secret_basic("svc", "s3cr3t")).start().await?;
/// # let config = Configuration::builder(server.server_metadata(), "svc", ClientAuth::client_secret_basic("s3cr3t"))
/// #     .allow_insecure_requests(true).build()?;
/// let tokens = TokenManager::builder(config)
///     .scope("read")
///     .refresh_skew(Duration::from_secs(30))
///     .build();
/// let first = tokens.token().await?;
/// let again = tokens.token().await?; // cached: no request
/// assert_eq!(first.access_token().secret(), again.access_token().secret());
/// assert_eq!(tokens.stats().refreshes, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("issuer", &self.inner.config.issuer())
            .field("client_id", &self.inner.config.client_id().as_str())
            .field("store", &self.inner.store)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Counters of a [`TokenManager`], for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenManagerStats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls of [`TokenManager::token`] that found no usable token and
    /// waited for one.
    pub misses: u64,
    /// Refreshes started. Each obtains one token: from the store, from the
    /// [`token_provider`](TokenManagerBuilder::token_provider), or by one
    /// client credentials grant (two requests when the server asks for a
    /// DPoP nonce).
    pub refreshes: u64,
    /// Refreshes that failed.
    pub failures: u64,
}

/// Hands a [`token_provider`](TokenManagerBuilder::token_provider) the way to
/// fetch a new token with the manager's configuration, parameters and DPoP
/// handle.
#[derive(Clone)]
pub struct TokenFetcher {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFetcher").finish_non_exhaustive()
    }
}

impl TokenFetcher {
    /// Requests a new token (the client credentials grant), and calls the
    /// manager's `on_update` hook with it.
    pub async fn fetch(&self) -> Result<TokenEndpointResponse> {
        let inner = &self.inner;
        if let Some(refused) = &inner.refused {
            return Err(refused.clone());
        }
        let token = client_credentials_grant(&inner.config, &inner.params, inner.dpop.as_ref())
            .options(inner.options.clone())
            .await?;
        if let Some(on_update) = &inner.on_update {
            on_update(&token);
        }
        Ok(token)
    }
}

struct Inner {
    config: Configuration,
    params: Vec<(String, String)>,
    dpop: Option<DPoPHandle>,
    refresh_skew: Duration,
    default_lifetime: Duration,
    background_jitter: Option<Duration>,
    on_update: Option<OnUpdate>,
    provider: Option<Provider>,
    store: Option<Arc<dyn TokenStore>>,
    store_key: String,
    lock_ttl: Duration,
    clock: Arc<dyn Clock>,
    backoff: (Duration, Duration),
    /// The options of every token request (their parameters are in
    /// `params`).
    options: RequestOptions,
    /// Why every token request is refused, if the options cannot work.
    refused: Option<Error>,
    /// The token being served, with its refresh and expiry times.
    current: ArcSwapOption<Entry>,
    /// Bumped after every change of `current`.
    generation: AtomicU64,
    /// Each thread's copy of `current` (see [`TokenManager::local_entry`]).
    /// Owned by the manager, so every copy of its token is dropped with it,
    /// on every thread, whether or not that thread runs again.
    local: ThreadLocal<LocalSlot>,
    /// The refresh in flight, which every caller needing a token waits on.
    refreshes: SingleFlight<Arc<Entry>>,
    /// Unix milliseconds before which the refresh window does not start
    /// another attempt (backoff after a failure).
    retry_not_before: AtomicU64,
    failures_in_row: AtomicU64,
    background_started: AtomicBool,
    stats: Stats,
}

/// A thread's slot for its copy of the entry, alone on its cache lines:
/// the manager keeps the slots of all threads side by side, and the hot path
/// writes its own (the `RefCell` flag), so two slots on one line would make
/// threads on different cores contend.
#[repr(align(128))]
#[derive(Default)]
struct LocalSlot(RefCell<Option<LocalEntry>>);

/// A thread's copy of a manager's current entry.
struct LocalEntry {
    generation: u64,
    refresh_at: SystemTime,
    expires_at: SystemTime,
    token: Arc<TokenEndpointResponse>,
}

/// A served token and when to refresh it.
struct Entry {
    token: Arc<TokenEndpointResponse>,
    refresh_at: SystemTime,
    expires_at: SystemTime,
}

impl TokenManager {
    /// A builder for a manager of client credentials tokens for `config`.
    pub fn builder(config: Configuration) -> TokenManagerBuilder {
        TokenManagerBuilder {
            config,
            params: Vec::new(),
            dpop: None,
            refresh_skew: DEFAULT_REFRESH_SKEW,
            default_lifetime: DEFAULT_TOKEN_LIFETIME,
            background_jitter: None,
            on_update: None,
            provider: None,
            store: None,
            clock: None,
            backoff: (Duration::from_secs(1), Duration::from_secs(60)),
            options: RequestOptions::default(),
        }
    }

    /// A valid token: the cached one while it has more than the refresh skew
    /// left; inside the skew window still the cached one while a single
    /// refresh runs in the background; otherwise, after the one refresh in
    /// flight (which every waiting caller shares, success or error).
    pub async fn token(&self) -> Result<Arc<TokenEndpointResponse>> {
        // Read before looking: if a refresh lands in between, the flight
        // sees the generation moved and serves the new token.
        let seen = self.inner.generation.load(Ordering::Acquire);
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        self.inner.stats.misses.increment();
        tracing::debug!(target: "oidckit::token_manager", "cache miss");
        self.start_background();
        self.await_refresh(Some(seen)).await
    }

    /// The cached token if it is usable now, without waiting; inside the
    /// refresh window it also starts a refresh in the background (when
    /// called inside a Tokio runtime).
    pub fn cached(&self) -> Option<Arc<TokenEndpointResponse>> {
        let inner = &*self.inner;
        let (token, refresh_at, expires_at, generation) = self.local_entry()?;
        let now = inner.clock.now();
        if now < refresh_at {
            inner.stats.hits.increment();
            tracing::trace!(target: "oidckit::token_manager", "cache hit");
            return Some(token);
        }
        if now < expires_at {
            inner.stats.hits.increment();
            self.refresh_ahead(now, generation);
            return Some(token);
        }
        None
    }

    /// The current entry as this thread's copy. Each thread serves its own
    /// `Arc` of the token (copied once per thread per refresh), so callers
    /// on different cores never write the same reference count; a shared
    /// generation number, only read on the hot path, tells when the copy is
    /// stale. The copies live in the manager (a per-object thread-local),
    /// not in the threads: they are dropped with the manager.
    fn local_entry(&self) -> Option<(Arc<TokenEndpointResponse>, SystemTime, SystemTime, u64)> {
        let inner = &*self.inner;
        let generation = inner.generation.load(Ordering::Acquire);
        let mut local = inner.local.get_or_default().0.borrow_mut();
        if let Some(e) = local.as_ref().filter(|e| e.generation == generation) {
            return Some((e.token.clone(), e.refresh_at, e.expires_at, generation));
        }
        // Stale: drop the old copy before anything else.
        *local = None;
        let guard = inner.current.load();
        let entry = guard.as_ref()?;
        let token = Arc::new((*entry.token).clone());
        *local = Some(LocalEntry {
            generation,
            refresh_at: entry.refresh_at,
            expires_at: entry.expires_at,
            token: token.clone(),
        });
        Some((token, entry.refresh_at, entry.expires_at, generation))
    }

    /// Fetches a new token now (joining a refresh already in flight), e.g.
    /// after a resource server rejected the current one. The current token
    /// is not taken back from the store.
    pub async fn force_refresh(&self) -> Result<Arc<TokenEndpointResponse>> {
        self.await_refresh(None).await
    }

    /// Drops the cached token (and the stored one, if it is the same), so
    /// the next call fetches a new one.
    pub async fn invalidate(&self) {
        let previous = self.inner.current.swap(None);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(entry) = previous {
            self.remove_from_store(&entry.token).await;
        }
    }

    /// Drops the cached token only if it is `access_token` — the one a
    /// resource server rejected — and not a newer one another task already
    /// fetched.
    pub async fn invalidate_token(&self, access_token: &str) {
        let current = self.inner.current.load_full();
        if let Some(entry) = current {
            if entry.token.access_token().secret() == access_token {
                let swapped = self
                    .inner
                    .current
                    .compare_and_swap(&Some(entry.clone()), None);
                if swapped.as_ref().is_some_and(|e| Arc::ptr_eq(e, &entry)) {
                    self.inner.generation.fetch_add(1, Ordering::AcqRel);
                    self.remove_from_store(&entry.token).await;
                }
            }
        }
    }

    /// Hands the manager a token obtained elsewhere; it is served (and
    /// saved to the store) like a fetched one.
    pub async fn set_token(&self, token: TokenEndpointResponse) {
        let token = Arc::new(token);
        self.inner.install(token.clone());
        self.inner.save_to_store(&token).await;
    }

    /// The counters.
    pub fn stats(&self) -> TokenManagerStats {
        let s = &self.inner.stats;
        TokenManagerStats {
            hits: s.hits.get(),
            misses: s.misses.get(),
            refreshes: s.refreshes.get(),
            failures: s.failures.get(),
        }
    }

    /// The DPoP handle tokens are bound to, if any.
    pub fn dpop(&self) -> Option<&DPoPHandle> {
        self.inner.dpop.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &Configuration {
        &self.inner.config
    }

    /// The `Authorization` header value for a Bearer token, in one call:
    /// `Bearer <token>` from [`token`](Self::token) (cached, or after the one
    /// refresh in flight), marked sensitive. For callers that do not use
    /// `TokenMiddleware` (feature `middleware`).
    ///
    /// Only send it over `https:` (the manager does not see the URL; use
    /// [`authorization_headers`](Self::authorization_headers) to have it
    /// checked), and on a 401 `invalid_token` call
    /// [`invalidate_token`](Self::invalidate_token) before asking again.
    ///
    /// A DPoP-bound token is an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput): the header alone
    /// would be refused, as each request needs its own proof for its method
    /// and URL. Use [`authorization_headers`](Self::authorization_headers),
    /// which gives both.
    ///
    /// ```
    /// use oidckit::reqwest::header::AUTHORIZATION;
    /// use oidckit::testing::{MockAuthorizationServer, MockClient};
    /// use oidckit::{ClientAuth, Configuration, TokenManager};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = MockAuthorizationServer::builder()
    /// #     .client(MockClient::client_secret_basic("svc", "s3cr3t")).start().await?;
    /// # let config = Configuration::builder(server.server_metadata(), "svc", ClientAuth::client_secret_basic("s3cr3t"))
    /// #     .allow_insecure_requests(true).build()?;
    /// let tokens = TokenManager::builder(config).scope("read").build();
    /// let authorization = tokens.authorization_header().await?;
    /// assert!(authorization.is_sensitive());
    /// let response = tokens
    ///     .config()
    ///     .http_client()
    ///     .get(server.resource_url())
    ///     .header(AUTHORIZATION, authorization)
    ///     .send()
    ///     .await?;
    /// assert_eq!(response.status(), 200);
    /// # Ok(()) }
    /// ```
    pub async fn authorization_header(&self) -> Result<HeaderValue> {
        let token = self.token().await?;
        if token.token_type().is_dpop() {
            return Err(Error::invalid_input(
                "the token is DPoP-bound: every request needs its own DPoP proof; \
                 use TokenManager::authorization_headers(method, url), which returns \
                 the Authorization and DPoP headers",
            ));
        }
        authorization_value("Bearer", token.access_token())
    }

    /// The headers that authorize one `method` request to `url`:
    /// `Authorization: Bearer <token>`, or for a DPoP-bound token
    /// `Authorization: DPoP <token>` and a `DPoP` header with a fresh proof
    /// for this method and URL (with `ath`, and the nonce last received from
    /// the URL's origin). Both are marked sensitive. The token comes from
    /// [`token`](Self::token); `TokenMiddleware` (feature `middleware`)
    /// authorizes its requests with the same code.
    ///
    /// Tokens go only to `https:` URLs (or `http:` ones when the
    /// configuration allows insecure requests); others are
    /// [`ErrorKind::InsecureUrl`](crate::ErrorKind::InsecureUrl). A DPoP-bound token needs the manager's DPoP
    /// handle ([`TokenManagerBuilder::dpop`]).
    ///
    /// Make one call per request: a proof is for one request. Afterwards,
    /// pass the response's headers to
    /// [`DPoPHandle::record_nonce`] (the next proof then carries the
    /// resource server's nonce), and on a 401 `invalid_token` call
    /// [`invalidate_token`](Self::invalidate_token) before asking again.
    ///
    /// ```
    /// use oidckit::reqwest::Method;
    /// use oidckit::testing::{MockAuthorizationServer, MockClient};
    /// use oidckit::{ClientAuth, Configuration, DPoPHandle, JwsAlgorithm, TokenManager};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = MockAuthorizationServer::builder()
    /// #     .client(MockClient::client_secret_basic("svc", "s3cr3t")).start().await?;
    /// # let config = Configuration::builder(server.server_metadata(), "svc", ClientAuth::client_secret_basic("s3cr3t"))
    /// #     .allow_insecure_requests(true).build()?;
    /// let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256)?;
    /// let tokens = TokenManager::builder(config).dpop(dpop.clone()).build();
    /// let url = server.resource_url();
    /// let headers = tokens.authorization_headers(&Method::GET, &url).await?;
    /// assert!(headers.contains_key("dpop"));
    /// let response = tokens.config().http_client().get(url.clone()).headers(headers).send().await?;
    /// dpop.record_nonce(&url, response.headers());
    /// assert_eq!(response.status(), 200);
    /// # Ok(()) }
    /// ```
    pub async fn authorization_headers(&self, method: &Method, url: &Url) -> Result<HeaderMap> {
        let token = self.token().await?;
        self.authorization_headers_for(&token, method, url)
    }

    /// The `Authorization` header (and, for a DPoP-bound token, the `DPoP`
    /// proof) authorizing `method` `url` with `token`; shared with the
    /// middleware.
    pub(crate) fn authorization_headers_for(
        &self,
        token: &TokenEndpointResponse,
        method: &Method,
        url: &Url,
    ) -> Result<HeaderMap> {
        // Tokens go only where the configuration allows requests: https:,
        // or http: with insecure requests allowed.
        check_url(url, self.config().allow_insecure_requests())?;
        let dpop = match token.token_type().is_dpop() {
            true => Some(self.dpop().ok_or_else(|| {
                Error::invalid_input(
                    "the token is DPoP-bound but the token manager has no DPoP handle \
                     to sign proofs with",
                )
            })?),
            false => None,
        };
        let mut headers = HeaderMap::with_capacity(2);
        authorize(&mut headers, method, url, token.access_token(), dpop)?;
        Ok(headers)
    }

    /// Inside the refresh window: start one refresh unless one runs or the
    /// last one failed too recently.
    fn refresh_ahead(&self, now: SystemTime, seen: u64) {
        let inner = &self.inner;
        if inner.refreshes.is_running() {
            return;
        }
        if millis(now) < inner.retry_not_before.load(Ordering::Acquire) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return; // called outside a runtime: the next async call refreshes
        }
        tracing::debug!(target: "oidckit::token_manager", "refreshing ahead of expiry");
        drop(self.flight(Some(seen)));
    }

    /// Waits for the refresh in flight (starting one if needed). With
    /// `seen`, the generation the caller found stale: if the entry changed
    /// since and is fresh, it is served without another refresh.
    async fn await_refresh(&self, seen: Option<u64>) -> Result<Arc<TokenEndpointResponse>> {
        let entry = self.flight(seen).result().await?;
        Ok(entry.token.clone())
    }

    /// Joins the refresh in flight, or starts one.
    fn flight(&self, seen: Option<u64>) -> Flight<Arc<Entry>> {
        let inner = &self.inner;
        inner.refreshes.join_or_begin(|| {
            if let Some(seen) = seen {
                if inner.generation.load(Ordering::Acquire) != seen {
                    if let Some(entry) = inner.current.load_full() {
                        if inner.clock.now() < entry.refresh_at {
                            return Begin::Done(Ok(entry));
                        }
                    }
                }
            }
            inner.stats.refreshes.increment();
            let inner = inner.clone();
            Begin::Run(async move { inner.refresh().await })
        })
    }

    fn start_background(&self) {
        let Some(jitter) = self.inner.background_jitter else {
            return;
        };
        if self.inner.background_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(background_refresh(weak, jitter));
    }

    async fn remove_from_store(&self, token: &TokenEndpointResponse) {
        if let Some(store) = &self.inner.store {
            if let Err(e) = store
                .remove(&self.inner.store_key, token.access_token().secret())
                .await
            {
                tracing::warn!(target: "oidckit::token_manager", error = %e, "token store unavailable");
            }
        }
    }
}

/// Refreshes before the refresh time, earlier by a random part of `jitter`
/// (at most half the time left), and never more often than the initial
/// backoff, even for tokens that expire at once.
async fn background_refresh(weak: Weak<Inner>, jitter: Duration) {
    let mut refreshed = false;
    loop {
        let (wait, seen) = {
            let Some(inner) = weak.upgrade() else { return };
            // The entry this wait is computed for: if another one is
            // installed meanwhile (set_token, force_refresh, a caller's
            // refresh), it is not refreshed again at once.
            let seen = inner.generation.load(Ordering::Acquire);
            let now = inner.clock.now();
            let wait = match inner.current.load_full() {
                Some(entry) => {
                    let until = entry.refresh_at.duration_since(now).unwrap_or_default();
                    until.saturating_sub(random_fraction(jitter.min(until / 2)))
                }
                None => Duration::ZERO,
            };
            let wait = if refreshed {
                wait.max(inner.backoff.0)
            } else {
                wait
            };
            (wait, seen)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let Some(inner) = weak.upgrade() else { return };
        let manager = TokenManager { inner };
        // Wait out the backoff of a failed attempt before trying again.
        let not_before = manager.inner.retry_not_before.load(Ordering::Acquire);
        let now = millis(manager.inner.clock.now());
        if now < not_before {
            drop(manager);
            tokio::time::sleep(Duration::from_millis(not_before - now)).await;
            continue;
        }
        let result = manager.await_refresh(Some(seen)).await;
        refreshed = true;
        if let Err(e) = result {
            tracing::warn!(target: "oidckit::token_manager", error = %e, "background refresh failed");
        }
    }
}

impl Inner {
    /// One refresh: from the store if another instance has a fresh token,
    /// else from the server (via the provider hook, if any).
    async fn refresh(self: &Arc<Self>) -> Result<Arc<Entry>> {
        let last = self.current.load_full().map(|e| e.token.clone());
        match self.obtain(last).await {
            Ok(token) => {
                self.failures_in_row.store(0, Ordering::Release);
                self.retry_not_before.store(0, Ordering::Release);
                tracing::debug!(target: "oidckit::token_manager", "token refreshed");
                Ok(self.install(Arc::new(token)))
            }
            Err(e) => {
                self.stats.failures.increment();
                self.schedule_retry(&e);
                tracing::warn!(target: "oidckit::token_manager", error = %e, "token refresh failed");
                Err(e)
            }
        }
    }

    /// After a failure: back off exponentially; a permanent error is not
    /// retried in the background at all (the next caller after expiry tries).
    fn schedule_retry(&self, error: &Error) {
        let now = self.clock.now();
        let permanent = error
            .oauth_error()
            .is_some_and(|e| PERMANENT_ERRORS.contains(&e.error.as_str()));
        let (initial, max) = self.backoff;
        let not_before = if permanent {
            // Not again while the old token lasts, and never sooner than
            // the longest backoff.
            let expiry = self.current.load().as_ref().map(|entry| entry.expires_at);
            expiry.map_or(now + max, |at| at.max(now + max))
        } else {
            let n = self.failures_in_row.fetch_add(1, Ordering::AcqRel).min(16) as u32;
            now + initial.saturating_mul(1 << n).min(max)
        };
        self.retry_not_before
            .store(millis(not_before), Ordering::Release);
    }

    async fn obtain(
        self: &Arc<Self>,
        last: Option<Arc<TokenEndpointResponse>>,
    ) -> Result<TokenEndpointResponse> {
        let Some(store) = &self.store else {
            return self.fetch(last).await;
        };
        let key = &self.store_key;
        match store.load(key).await {
            Ok(Some(token)) if self.adoptable(&token, last.as_deref()) => {
                tracing::debug!(target: "oidckit::token_manager", "token taken from the store");
                return Ok(token);
            }
            Ok(_) => {}
            Err(e) => return self.fetch_without_store(last, &e).await,
        }
        // Take the fetch lock, or wait for the instance holding it: poll
        // the store for its token and retry the lock (so a holder that
        // fails fast hands over at once), bounded by the lock's lifetime.
        let lock_key = format!("{key}:lock");
        let deadline = tokio::time::Instant::now() + self.lock_ttl;
        let mut pause = Duration::from_millis(10);
        let owner = loop {
            match store.try_lock(&lock_key, self.lock_ttl).await {
                Ok(Some(owner)) => break Some(owner),
                Ok(None) => {}
                Err(e) => return self.fetch_without_store(last, &e).await,
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(target: "oidckit::token_manager", "no token from the instance holding the lock; fetching");
                break None;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
            match store.load(key).await {
                Ok(Some(token)) if self.adoptable(&token, last.as_deref()) => return Ok(token),
                Ok(_) => {}
                Err(e) => return self.fetch_without_store(last, &e).await,
            }
        };
        // Another instance may have saved a token between the load and the lock.
        let stored = store.load(key).await.ok().flatten();
        let result = match stored {
            Some(token) if self.adoptable(&token, last.as_deref()) => Ok(token),
            _ => {
                let fetched = self.fetch(last).await;
                if let Ok(token) = &fetched {
                    self.save_to_store(token).await;
                }
                fetched
            }
        };
        if let Some(owner) = owner {
            if let Err(e) = store.unlock(&lock_key, &owner).await {
                tracing::warn!(target: "oidckit::token_manager", error = %e, "token store unlock failed");
            }
        }
        result
    }

    async fn fetch_without_store(
        self: &Arc<Self>,
        last: Option<Arc<TokenEndpointResponse>>,
        error: &Error,
    ) -> Result<TokenEndpointResponse> {
        tracing::warn!(target: "oidckit::token_manager", error = %error, "token store unavailable; fetching without it");
        self.fetch(last).await
    }

    async fn fetch(
        self: &Arc<Self>,
        last: Option<Arc<TokenEndpointResponse>>,
    ) -> Result<TokenEndpointResponse> {
        let fetcher = TokenFetcher {
            inner: self.clone(),
        };
        match &self.provider {
            Some(provider) => provider(last, fetcher).await,
            None => fetcher.fetch().await,
        }
    }

    async fn save_to_store(&self, token: &TokenEndpointResponse) {
        let Some(store) = &self.store else { return };
        let Some(ttl) = token.expires_in().filter(|d| !d.is_zero()) else {
            return;
        };
        let shared = token.without_refresh_and_id_token();
        if let Err(e) = store.save(&self.store_key, &shared, ttl).await {
            tracing::warn!(target: "oidckit::token_manager", error = %e, "token store unavailable; token not shared");
        }
    }

    /// Whether a stored token can be taken instead of fetching: fresh, and
    /// not the token being replaced (which a resource server may have
    /// rejected, or `invalidate` dropped).
    fn adoptable(
        &self,
        token: &TokenEndpointResponse,
        last: Option<&TokenEndpointResponse>,
    ) -> bool {
        let replaced =
            last.is_some_and(|l| l.access_token().secret() == token.access_token().secret());
        !replaced && self.is_fresh(token)
    }

    /// Whether a stored token can be served without refreshing at once.
    fn is_fresh(&self, token: &TokenEndpointResponse) -> bool {
        let (refresh_at, _) = self.times(token);
        self.clock.now() < refresh_at
    }

    /// When to refresh `token` and when it expires.
    fn times(&self, token: &TokenEndpointResponse) -> (SystemTime, SystemTime) {
        let now = self.clock.now();
        let expires_at = token
            .expires_at()
            .unwrap_or_else(|| now + self.default_lifetime);
        let lifetime = token
            .lifetime()
            .unwrap_or_else(|| expires_at.duration_since(now).unwrap_or_default());
        let skew = self.refresh_skew.min(lifetime / 2);
        let refresh_at = expires_at.checked_sub(skew).unwrap_or(expires_at);
        (refresh_at, expires_at)
    }

    fn install(&self, token: Arc<TokenEndpointResponse>) -> Arc<Entry> {
        let (refresh_at, expires_at) = self.times(&token);
        let entry = Arc::new(Entry {
            token,
            refresh_at,
            expires_at,
        });
        self.current.store(Some(entry.clone()));
        self.generation.fetch_add(1, Ordering::AcqRel);
        entry
    }
}

/// `<scheme> <access token>`, marked sensitive.
/// The store key: namespaced by issuer, client id, the request parameters
/// and the DPoP key (a DPoP-bound token is useless without its key), hashed;
/// never a secret.
fn store_key(
    config: &Configuration,
    params: &[(String, String)],
    headers: &HeaderMap,
    dpop: Option<&DPoPHandle>,
) -> String {
    let mut material = String::new();
    for part in [config.issuer(), config.client_id().as_str()] {
        material.push_str(part);
        material.push('\0');
    }
    let mut sorted: Vec<_> = params.iter().collect();
    sorted.sort();
    for (k, v) in sorted {
        material.push_str(k);
        material.push('=');
        material.push_str(v);
        material.push('\0');
    }
    // Extra headers may select what the server issues (a tenant, a
    // version): tokens requested with other headers are other tokens.
    let mut sorted: Vec<_> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    sorted.sort();
    for (k, v) in sorted {
        material.push_str(k);
        material.push(':');
        material.push_str(&String::from_utf8_lossy(v));
        material.push('\0');
    }
    if let Some(dpop) = dpop {
        material.push_str(dpop.thumbprint());
    }
    // `openssl::sha::sha256` cannot fail: no fallback that could map
    // different managers to one shared key.
    let digest = b64url(&openssl::sha::sha256(material.as_bytes()));
    format!("oidckit:token:v1:{digest}")
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A uniformly random duration in `[0, max)`.
fn random_fraction(max: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    let fraction = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(fraction)
}

/// The counters. Hits, counted on the hot path, have a cell per thread;
/// the others, counted when a caller waits or a refresh starts anyway, are
/// striped over cache lines, so concurrent callers do not all write one
/// shared line.
#[derive(Default)]
struct Stats {
    hits: PerThreadCounter,
    misses: StripedCounter,
    refreshes: StripedCounter,
    failures: StripedCounter,
}

const STRIPES: usize = 8;

#[repr(align(64))]
#[derive(Default)]
struct Padded(AtomicU64);

#[derive(Default)]
struct StripedCounter([Padded; STRIPES]);

/// Hands threads their stripes in turn, so two busy threads never share one.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

impl StripedCounter {
    fn increment(&self) {
        let i = STRIPE.with(|s| *s);
        self.0[i].0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

/// A counter with a cell per thread, owned by the manager: a thread adds to
/// its own cell with a plain load and store — a locked add alone costs
/// about as much as the rest of a cache hit's bookkeeping — and `get` sums
/// the cells.
#[derive(Default)]
struct PerThreadCounter(ThreadLocal<CounterCell>);

/// One thread's cell, alone on its cache lines (as [`LocalSlot`]).
#[repr(align(128))]
#[derive(Default)]
struct CounterCell(AtomicU64);

impl PerThreadCounter {
    fn increment(&self) {
        let cell = &self.0.get_or_default().0;
        // Only this thread writes its cell: a thread's slot is handed to
        // another thread only after the first one has exited.
        cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<TokenManager>();
        check::<TokenFetcher>();
    }

    #[test]
    fn striped_counter_counts_across_threads() {
        let c = Arc::new(StripedCounter::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.increment()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.get(), 4000);
    }

    #[test]
    fn per_thread_counter_counts_across_threads() {
        let c = Arc::new(PerThreadCounter::default());
        // More threads than run at once, so thread slots are reused.
        for _ in 0..3 {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let c = c.clone();
                    std::thread::spawn(move || (0..1000).for_each(|_| c.increment()))
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
        }
        c.increment();
        assert_eq!(c.get(), 24_001);
    }

    #[test]
    fn store_keys_are_hashes_that_tell_managers_apart() {
        use crate::{ClientAuth, JwsAlgorithm, ServerMetadata};
        let config = |client_id: &str| {
            let token_endpoint = "https://as.example/token".parse().unwrap();
            let server = ServerMetadata::new("https://as.example", token_endpoint);
            Configuration::new(server, client_id, ClientAuth::none()).unwrap()
        };
        let params = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let no_headers = HeaderMap::new();
        let mut tenant = HeaderMap::new();
        tenant.insert("x-tenant", HeaderValue::from_static("blue"));
        let read = params(&[("scope", "read"), ("resource", "urn:api")]);
        let key = store_key(&config("svc"), &read, &no_headers, None);
        let digest = key.strip_prefix("oidckit:token:v1:").unwrap();
        assert_eq!(digest.len(), 43, "base64url SHA-256: {key}");
        assert!(!key.contains("svc") && !key.contains("read"));
        let reordered = params(&[("resource", "urn:api"), ("scope", "read")]);
        assert_eq!(
            store_key(&config("svc"), &reordered, &no_headers, None),
            key
        );
        let write = params(&[("scope", "write"), ("resource", "urn:api")]);
        let dpop = DPoPHandle::generate(&config("svc"), JwsAlgorithm::ES256).unwrap();
        let others = [
            store_key(&config("other"), &read, &no_headers, None),
            store_key(&config("svc"), &write, &no_headers, None),
            store_key(&config("svc"), &read, &no_headers, Some(&dpop)),
            store_key(&config("svc"), &read, &tenant, None),
        ];
        for other in &others {
            assert_ne!(other, &key);
        }
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            assert!(random_fraction(Duration::from_secs(10)) < Duration::from_secs(10));
        }
        assert_eq!(random_fraction(Duration::ZERO), Duration::ZERO);
    }
}

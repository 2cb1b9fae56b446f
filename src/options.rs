//! One options shape for every network call: [`RequestOptions`], and the
//! [`Call`] every high-level function returns so they can be set.
//!
//! A call does nothing until it is awaited. Await it directly for the
//! defaults, or give it options first:
//!
//! ```no_run
//! use std::time::Duration;
//! use oidckit::{client_credentials_grant, RequestOptions};
//!
//! # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
//! let token = client_credentials_grant(&config, &[("scope", "read")], None).await?;
//! let token = client_credentials_grant(&config, &[("scope", "read")], None)
//!     .options(RequestOptions::new().timeout(Duration::from_secs(2)))
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;

use crate::dpop::DPoPHandle;
use crate::endpoint::request::refuse_library_headers;
use crate::error::{Error, ErrorKind, Result};

/// A boxed, `Send` future, as [`Call`] and the
/// [`TokenStore`](crate::TokenStore) methods return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Per-request options, the same for every network call (as oauth4webapi's
/// `HttpRequestOptions`): extra headers, additional parameters, a timeout
/// per HTTP request, a deadline and a cancellation token for the whole call
/// (a DPoP nonce retry included), and a DPoP handle.
///
/// Setters never fail; a header or parameter the library owns is refused
/// when the call starts ([`ErrorKind::InvalidInput`]). Dropping a call's
/// future cancels it too.
///
/// ```
/// use std::time::{Duration, Instant};
/// use oidckit::{CancellationToken, RequestOptions};
/// use oidckit::reqwest::header::{HeaderName, HeaderValue};
///
/// let shutdown = CancellationToken::new();
/// let options = RequestOptions::new()
///     .timeout(Duration::from_secs(2))
///     .deadline(Instant::now() + Duration::from_secs(5))
///     .cancel_on(shutdown.clone())
///     .header(HeaderName::from_static("x-request-id"), HeaderValue::from_static("42"))
///     .param("audience", "https://api.example.com");
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct RequestOptions {
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Option<Duration>,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) dpop: Option<DPoPHandle>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) cancel: Option<CancellationToken>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values and parameter values may be credentials of the
        // caller's: show names only.
        f.debug_struct("RequestOptions")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("dpop", &self.dpop.is_some())
            .field("deadline", &self.deadline)
            .field("cancel_on", &self.cancel.is_some())
            .finish()
    }
}

impl RequestOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header to the request. Headers the library sets or that
    /// control the connection (`Authorization`, `DPoP`, `Content-Type`,
    /// `Content-Length`, `Transfer-Encoding`, `Host`, `Connection`, `TE`,
    /// `Upgrade`, `Accept`) are refused when the call starts.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// A timeout for each HTTP request of the call, from connecting until
    /// the body is read, instead of the configuration's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A deadline for the whole call, retries included: past it the call
    /// fails with [`ErrorKind::Timeout`].
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Cancels the call when `token` is cancelled: it then fails with
    /// [`ErrorKind::Cancelled`] and sends nothing more.
    pub fn cancel_on(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Adds a form parameter, for the calls that send a form (grants,
    /// introspection, revocation). Parameters the library sets
    /// (`grant_type`, `client_id`, `client_secret`, `client_assertion`,
    /// `client_assertion_type`, and those of the call itself) are refused
    /// when the call starts.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Sends a DPoP proof made with `dpop` (RFC 9449), with one retry when
    /// the server asks for a nonce. For the grants this is the same as their
    /// `dpop` argument (which wins when both are given).
    pub fn dpop(mut self, dpop: &DPoPHandle) -> Self {
        self.dpop = Some(dpop.clone());
        self
    }
}

/// A network call, ready to start: await it, or set its
/// [`options`](Self::options) first. Every high-level function of this crate
/// that talks to a server returns one.
///
/// ```no_run
/// use std::time::Duration;
/// use oidckit::{token_introspection, RequestOptions};
///
/// # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
/// let introspection = token_introspection(&config, "some-token", Some("access_token"))
///     .options(RequestOptions::new().timeout(Duration::from_secs(1)))
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<'a, T> {
    options: RequestOptions,
    start: Box<dyn FnOnce(RequestOptions) -> BoxFuture<'a, Result<T>> + Send + Sync + 'a>,
}

impl<T> fmt::Debug for Call<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a, T: 'a> Call<'a, T> {
    /// A call that runs `start` with its options when awaited.
    pub(crate) fn new<F>(start: impl FnOnce(RequestOptions) -> F + Send + Sync + 'a) -> Self
    where
        F: Future<Output = Result<T>> + Send + 'a,
    {
        Call {
            options: RequestOptions::default(),
            start: Box::new(move |options| Box::pin(start(options))),
        }
    }

    /// A call that fails with `error` when awaited: builders never fail, so
    /// bad input is reported here.
    pub(crate) fn fail(error: Error) -> Self
    where
        T: Send + Sync,
    {
        Self::new(move |_| std::future::ready(Err(error)))
    }

    /// A call that runs this one, then `next` with its value (with the same
    /// options, deadline and cancellation): a second, asynchronous step of
    /// processing, such as fetching the keys a response was signed with.
    pub(crate) fn and_then<U, F, Fut>(self, next: F) -> Call<'a, U>
    where
        T: Send,
        F: FnOnce(T) -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<U>> + Send + 'a,
    {
        let Call { options, start } = self;
        Call {
            options,
            start: Box::new(move |options| {
                Box::pin(async move { next(start(options).await?).await })
            }),
        }
    }

    /// Sets the options of this call (replacing any set before).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a, T: Send + 'a> IntoFuture for Call<'a, T> {
    type Output = Result<T>;
    type IntoFuture = BoxFuture<'a, Result<T>>;

    fn into_future(self) -> Self::IntoFuture {
        let Call { options, start } = self;
        let deadline = options.deadline;
        let cancel = options.cancel.clone();
        let call = start(options);
        if deadline.is_none() && cancel.is_none() {
            return call;
        }
        Box::pin(guarded(call, deadline, cancel))
    }
}

/// Runs `call` until it ends, the deadline passes or `cancel` fires.
pub(crate) async fn guarded<T>(
    call: impl Future<Output = Result<T>>,
    deadline: Option<Instant>,
    cancel: Option<CancellationToken>,
) -> Result<T> {
    // A deadline already passed ends the call before it signs or sends
    // anything (a timer polls its future once before looking at the time).
    if deadline.is_some_and(|at| Instant::now() >= at) {
        return Err(deadline_passed());
    }
    let bounded = async {
        match deadline {
            Some(at) => tokio::time::timeout_at(at.into(), call)
                .await
                .unwrap_or_else(|_| Err(deadline_passed())),
            None => call.await,
        }
    };
    match cancel {
        Some(token) => tokio::select! {
            biased;
            _ = token.cancelled() => Err(Error::new(ErrorKind::Cancelled, "the call was cancelled")),
            result = bounded => result,
        },
        None => bounded.await,
    }
}

fn deadline_passed() -> Error {
    Error::new(ErrorKind::Timeout, "the call's deadline passed")
}

/// What a call can do with the options it is given: those it cannot use
/// are refused rather than silently ignored.
#[derive(Clone, Copy)]
pub(crate) struct Accepts {
    /// The call sends a form, so `param`s have a place.
    pub form_params: bool,
    /// The call can send a DPoP proof.
    pub dpop: bool,
    /// Headers the library owns for this call (lowercase names).
    pub owned_headers: &'static [&'static str],
}

impl RequestOptions {
    /// Refuses what the call cannot use: parameters without a form, a DPoP
    /// handle where no proof is sent, a header the library owns.
    pub(crate) fn check(&self, accepts: Accepts) -> Result<()> {
        if !accepts.form_params && !self.params.is_empty() {
            return Err(Error::invalid_input(
                "this call sends no form: parameters have no place (put them in the URL or the body)",
            ));
        }
        if !accepts.dpop && self.dpop.is_some() {
            return Err(Error::invalid_input("this call sends no DPoP proof"));
        }
        refuse_library_headers(&self.headers, accepts.owned_headers)
    }
}

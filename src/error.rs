//! The one error type of the crate.
//!
//! Every fallible function returns [`Result<T>`](crate::Result), whose error is
//! [`Error`]: one opaque type (as reqwest's) with a [`kind`](Error::kind) a
//! caller can match on, `is_*` predicates for the common questions ("did the
//! server say no?", "is it worth retrying?"), the URL and HTTP status when
//! there was a response, and the underlying cause as
//! [`source()`](std::error::Error::source). No error ever holds a secret:
//! client secrets, private keys, assertions and tokens are never copied into
//! one.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use reqwest::StatusCode;
use url::Url;

use crate::endpoint::www_authenticate::{asks_for_dpop_nonce, Challenge};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many bytes of an unexpected response body an error keeps.
pub(crate) const BODY_SNIPPET_LEN: usize = 512;

/// The longest `error_description` kept.
pub(crate) const DESCRIPTION_LEN: usize = 1024;

/// What kind of failure an [`Error`] is. Match on it to act on a failure;
/// new kinds may be added, so keep a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    // The server answered, but not as hoped.
    /// The authorization server answered with an OAuth error
    /// ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)),
    /// for example `invalid_client`; see [`Error::oauth_error`].
    OAuth,
    /// A status code the operation does not expect, without an OAuth error
    /// body; see [`Error::body_snippet`].
    UnexpectedStatus,
    /// A response that could not be used: not JSON, the wrong content type,
    /// a required member missing or of the wrong type, …
    InvalidResponse,
    /// A response body larger than the configured limit (reading stopped
    /// there).
    BodyTooLarge,
    /// A redirect. Requests never follow redirects: one could carry
    /// credentials to another host.
    Redirect,

    // The request did not complete.
    /// The request timed out, or the call's deadline passed.
    Timeout,
    /// The request failed below HTTP: DNS, connection refused or reset, TLS.
    /// [`Display`](fmt::Display) names the root cause.
    Transport,
    /// The call was cancelled through its
    /// `RequestOptions::cancel_on` token.
    Cancelled,

    // A rule refused the request or the response.
    /// A URL that is not `https:` (or, with insecure requests allowed, not
    /// `http:` either).
    InsecureUrl,
    /// A metadata document whose `issuer` is not the issuer asked for (a
    /// mix-up defence, RFC 8414 §3.3).
    IssuerMismatch,
    /// A protected resource metadata document whose `resource` is not the
    /// resource asked for (RFC 9728 §3.3: a defence against a resource
    /// server that points clients at another resource's metadata).
    ResourceMismatch,

    // Server metadata.
    /// The server metadata lacks a member the operation needs, such as
    /// `introspection_endpoint`.
    MissingMetadata,
    /// A server metadata member is present but unusable (not a URL, the
    /// wrong type).
    InvalidMetadata,

    // The caller's input.
    /// The configuration cannot work: an empty client id, client metadata
    /// that contradicts the client authentication, … Only reported while a
    /// configuration (or a key, a client certificate) is being built.
    InvalidConfiguration,
    /// An argument of a call was refused, for example a parameter the
    /// library sets itself, or an `Authorization` header in the per-request
    /// headers.
    InvalidInput,

    // Keys and JOSE.
    /// A key could not be loaded or does not fit: the wrong key type for the
    /// algorithm, an unknown curve, a malformed JWK or PEM.
    InvalidKey,
    /// A JWS algorithm that is unknown or not allowed for this use.
    UnsupportedAlgorithm,
    /// Signing a JWT (an assertion, a DPoP proof) failed at run time.
    Signing,
    /// No key, or more than one, matches a JWT's header in a JWK Set.
    KeySelection,
    /// A JWT's signature does not verify.
    SignatureVerification,
    /// A JWT that is not well formed: not three parts, not base64url, not a
    /// JSON object, `crit` present, …
    InvalidJwt,
    /// Something this crate does not do, sent by a server or asked by the
    /// caller: an encrypted (JWE) ID Token, an `id_token` in an
    /// authorization code response (a hybrid flow), …
    UnsupportedOperation,
    /// A time-based claim check failed: `exp` passed, `nbf` or `iat` in the
    /// future, `auth_time` older than `max_age` (with the clock tolerance).
    TimestampCheck,
    /// A claim does not have the expected value (`iss`, `aud`, `nonce`,
    /// `azp`, `state`, …) or is missing.
    ClaimComparison,

    // Federated credentials.
    /// A client assertion from outside the process could not be had: the
    /// file the platform writes is missing or unreadable, holds no JWT, or
    /// holds one past its `exp` that has not been replaced; or the callback
    /// failed (see [`ClientAuth::client_assertion_file`](crate::ClientAuth::client_assertion_file)).
    /// Retryable: the platform may rotate the credential in a moment.
    ClientCredential,

    // Storage.
    /// A [`TokenStore`](crate::TokenStore) failed (e.g. Redis is down). A
    /// token manager logs these and carries on without the store.
    TokenStore,
}

/// Everything that can go wrong while talking to an authorization server.
///
/// Ask [`kind`](Self::kind) what happened, or the predicates
/// ([`is_oauth`](Self::is_oauth), [`is_retryable`](Self::is_retryable), …).
/// The URL, status and `WWW-Authenticate` challenges of the response are kept
/// when there was one; the underlying error (reqwest, OpenSSL, serde, Redis)
/// is [`source()`](std::error::Error::source). Cheap to clone (a token manager
/// hands one failure to every waiting caller) and one pointer wide.
///
/// ```
/// use oidckit::{ClientAuth, Configuration, ErrorKind, ServerMetadata};
///
/// let err = Configuration::new(
///     ServerMetadata::new("https://as.example", "https://as.example/token".parse()?),
///     "",
///     ClientAuth::none(),
/// )
/// .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
/// assert!(!err.is_retryable());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    /// What went wrong, printable; never a secret.
    message: String,
    url: Option<Url>,
    status: Option<StatusCode>,
    oauth: Option<OAuthError>,
    body_snippet: Option<String>,
    challenges: Vec<Challenge>,
    /// Advice for the caller, shown after the message.
    hint: Option<String>,
    /// A response's `Retry-After` (RFC 9110 §10.2.3), in seconds form.
    retry_after: Option<std::time::Duration>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

/// An OAuth error response
/// ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OAuthError {
    /// The `error` code, e.g. `invalid_client`.
    pub error: String,
    /// The human-readable `error_description`, if sent.
    pub error_description: Option<String>,
    /// The `error_uri`, if sent.
    pub error_uri: Option<String>,
    /// The HTTP status of the response; `None` for an error returned in an
    /// authorization response (through the browser's redirect, RFC 6749
    /// §4.1.2.1), which has no status of its own.
    pub status: Option<StatusCode>,
    /// The URL that was requested, when known.
    pub url: Option<Url>,
    /// The parsed `WWW-Authenticate` challenges of the response, if any.
    pub challenges: Vec<Challenge>,
    /// The `state` of an error authorization response (RFC 6749 §4.1.2.1),
    /// when it had one.
    pub state: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authorization server error `{}`", self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        match self.status {
            Some(status) => write!(f, " (HTTP {status}")?,
            None => f.write_str(" (in the authorization response")?,
        }
        if let Some(url) = &self.url {
            write!(f, " from {url}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind);
        if !i.message.is_empty() {
            d.field("message", &i.message);
        }
        if let Some(url) = &i.url {
            d.field("url", &url.as_str());
        }
        if let Some(status) = i.status {
            d.field("status", &status);
        }
        if let Some(oauth) = &i.oauth {
            d.field("oauth", oauth);
        }
        if let Some(hint) = &i.hint {
            d.field("hint", hint);
        }
        if let Some(source) = &i.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let url = || {
            i.url
                .as_ref()
                .map_or_else(|| "the server".to_owned(), Url::to_string)
        };
        match i.kind {
            ErrorKind::OAuth => match &i.oauth {
                Some(oauth) => write!(f, "{oauth}")?,
                None => f.write_str(&i.message)?,
            },
            ErrorKind::UnexpectedStatus => {
                let status = i.status.map_or(0, |s| s.as_u16());
                write!(f, "unexpected HTTP status {status} from {}", url())?;
                if let Some(snippet) = i.body_snippet.as_deref().filter(|s| !s.is_empty()) {
                    write!(f, ": {snippet}")?;
                }
            }
            ErrorKind::InvalidResponse => {
                write!(f, "invalid response from {}: {}", url(), i.message)?
            }
            ErrorKind::Timeout => {
                write!(f, "request to {} timed out", url())?;
                if !i.message.is_empty() {
                    write!(f, " ({})", i.message)?;
                }
            }
            ErrorKind::Transport => write!(f, "request to {} failed", url())?,
            ErrorKind::InvalidConfiguration => write!(f, "invalid configuration: {}", i.message)?,
            ErrorKind::InvalidInput => write!(f, "invalid input: {}", i.message)?,
            ErrorKind::TokenStore => write!(f, "token store error: {}", i.message)?,
            _ => f.write_str(&i.message)?,
        }
        if let Some(source) = &i.source {
            // The whole chain, as "top: …: root cause": reqwest's own line
            // ("error sending request") says little without the root
            // ("connection refused", the DNS or TLS failure).
            let mut cause: Option<&(dyn StdError + 'static)> = Some(source.as_ref());
            let mut last = String::new();
            while let Some(e) = cause {
                let text = e.to_string();
                if !text.is_empty() && !last.contains(&text) {
                    write!(f, ": {text}")?;
                }
                last = text;
                cause = e.source();
            }
        }
        if let Some(hint) = &i.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// Error codes after which trying again may succeed
/// ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)).
const TRANSIENT_OAUTH_ERRORS: [&str; 2] = ["temporarily_unavailable", "server_error"];

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// True when the authorization server answered with an OAuth error.
    pub fn is_oauth(&self) -> bool {
        self.inner.kind == ErrorKind::OAuth
    }

    /// The OAuth error, when the server answered with one.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        self.inner.oauth.as_ref()
    }

    /// True when the server asks for a DPoP nonce: the OAuth error
    /// `use_dpop_nonce` from an authorization server (RFC 9449 §8), or a
    /// `DPoP` challenge with that error from a resource server (§9). Every
    /// call that sends a DPoP proof retries such a request once by itself.
    pub fn is_dpop_nonce_error(&self) -> bool {
        asks_for_dpop_nonce(self.challenges())
            || self
                .oauth_error()
                .is_some_and(|e| e.error == "use_dpop_nonce")
    }

    /// True when the request timed out or the call's deadline passed.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// True when the request failed below HTTP (connect, DNS, TLS, reset).
    pub fn is_transport(&self) -> bool {
        self.inner.kind == ErrorKind::Transport
    }

    /// True when the call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.kind == ErrorKind::Cancelled
    }

    /// True when the error comes with an HTTP response status: an OAuth
    /// error, an unexpected status, a redirect, or an unusable response
    /// (which may have had status 200). See [`Error::status`].
    pub fn is_status(&self) -> bool {
        self.status().is_some()
    }

    /// True when the response could not be used ([`ErrorKind::InvalidResponse`]
    /// or [`ErrorKind::BodyTooLarge`]).
    pub fn is_invalid_response(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::InvalidResponse | ErrorKind::BodyTooLarge
        )
    }

    /// The HTTP status of the response that caused the error, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// The URL that was requested, when known.
    pub fn url(&self) -> Option<&Url> {
        self.inner.url.as_ref()
    }

    /// The parsed `WWW-Authenticate` challenges of the response, if any.
    pub fn challenges(&self) -> &[Challenge] {
        &self.inner.challenges
    }

    /// The response's `Retry-After`, when it sent one in seconds (e.g. a 503
    /// or a `slow_down`); polling waits at least this long.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.inner.retry_after
    }

    /// For [`ErrorKind::UnexpectedStatus`]: the start of the body (at most
    /// 512 bytes, lossily decoded as UTF-8, control characters replaced).
    pub fn body_snippet(&self) -> Option<&str> {
        self.inner.body_snippet.as_deref()
    }

    /// True when trying the same request again later may succeed: a timeout,
    /// a connection failure, a 5xx or 429 status, the OAuth errors
    /// `temporarily_unavailable` and `server_error`, or a token store
    /// failure. Client errors such as `invalid_client` or `invalid_scope` are
    /// permanent.
    pub fn is_retryable(&self) -> bool {
        let retryable_status =
            |s: StatusCode| s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS;
        let i = &self.inner;
        match i.kind {
            ErrorKind::Timeout | ErrorKind::TokenStore | ErrorKind::ClientCredential => true,
            // A request that could not even be built, or a redirect policy
            // error, fails the same way next time.
            ErrorKind::Transport => !i
                .source
                .as_deref()
                .and_then(|s| s.downcast_ref::<reqwest::Error>())
                .is_some_and(|e| e.is_builder() || e.is_redirect()),
            ErrorKind::OAuth => i.oauth.as_ref().is_some_and(|e| {
                e.status.is_some_and(retryable_status)
                    || TRANSIENT_OAUTH_ERRORS.contains(&e.error.as_str())
            }),
            ErrorKind::UnexpectedStatus | ErrorKind::InvalidResponse => {
                i.status.is_some_and(retryable_status)
            }
            _ => false,
        }
    }

    // Constructors, for the crate only.

    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                url: None,
                status: None,
                oauth: None,
                body_snippet: None,
                challenges: Vec::new(),
                hint: None,
                retry_after: None,
                source: None,
            }),
        }
    }

    /// Keeps a response's `Retry-After` (delta-seconds; an HTTP date is
    /// ignored), capped at an hour.
    pub(crate) fn with_retry_after(mut self, headers: &reqwest::header::HeaderMap) -> Self {
        self.inner.retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| std::time::Duration::from_secs(secs.min(3600)));
        self
    }

    /// Keeps `source` as the cause.
    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Keeps a boxed error (a caller's callback's) as the cause.
    pub(crate) fn with_boxed_source(mut self, source: Box<dyn StdError + Send + Sync>) -> Self {
        self.inner.source = Some(Arc::from(source));
        self
    }

    /// Advice shown after the message.
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.inner.hint = Some(hint.into());
        self
    }

    /// The same failure as another kind: a check shared by configuration
    /// building and the low-level layer reports `InvalidConfiguration` in
    /// the first and `InvalidInput` in the second.
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.inner.kind = kind;
        self
    }

    pub(crate) fn with_url(mut self, url: Url) -> Self {
        self.inner.url = Some(url);
        self
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub(crate) fn invalid_configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfiguration, message)
    }

    pub(crate) fn invalid_key(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidKey, message)
    }

    pub(crate) fn signing(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Signing, message)
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // only Redis fails
    pub(crate) fn token_store(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TokenStore, message)
    }

    /// The server metadata has no `member`.
    pub(crate) fn missing_metadata(member: &str) -> Self {
        Self::new(
            ErrorKind::MissingMetadata,
            format!("the server metadata has no {member}"),
        )
    }

    pub(crate) fn invalid_response(message: impl Into<String>) -> Self {
        // Messages quote what the server sent (a content type, a token
        // type): keep them printable.
        Self::new(
            ErrorKind::InvalidResponse,
            server_text(&message.into(), DESCRIPTION_LEN),
        )
    }

    pub(crate) fn oauth(error: OAuthError) -> Self {
        let mut e = Self::new(ErrorKind::OAuth, String::new());
        e.inner.status = error.status;
        e.inner.url.clone_from(&error.url);
        e.inner.challenges.clone_from(&error.challenges);
        e.inner.oauth = Some(error);
        e
    }

    pub(crate) fn unexpected_status(
        status: StatusCode,
        body: &[u8],
        challenges: Vec<Challenge>,
    ) -> Self {
        let mut e = Self::new(ErrorKind::UnexpectedStatus, String::new());
        e.inner.status = Some(status);
        e.inner.body_snippet = Some(body_snippet(body));
        e.inner.challenges = challenges;
        e
    }

    pub(crate) fn insecure_url(url: &Url) -> Self {
        let hint = if url.scheme() == "http" {
            " (enable allow_insecure_requests to permit http: for testing)"
        } else {
            ""
        };
        Self::new(
            ErrorKind::InsecureUrl,
            format!("refusing to send a request to {url}: only https: URLs are allowed{hint}"),
        )
        .with_url(url.clone())
    }

    pub(crate) fn redirect(url: &Url, status: StatusCode, location: Option<&str>) -> Self {
        let mut e = Self::new(
            ErrorKind::Redirect,
            format!(
                "refusing to follow redirect ({status}) from {url} to {}",
                location.map_or_else(|| "<no location>".into(), |l| server_text(l, 256))
            ),
        )
        .with_url(url.clone());
        e.inner.status = Some(status);
        e
    }

    pub(crate) fn body_too_large(url: &Url, limit: usize) -> Self {
        Self::new(
            ErrorKind::BodyTooLarge,
            format!("response body from {url} exceeds the limit of {limit} bytes"),
        )
        .with_url(url.clone())
    }

    pub(crate) fn resource_mismatch(expected: &str, found: &str) -> Self {
        Self::new(
            ErrorKind::ResourceMismatch,
            format!(
                "the protected resource metadata is about {:?}, not the resource {expected:?}",
                server_text(found, 256)
            ),
        )
    }

    pub(crate) fn issuer_mismatch(expected: &str, found: &str) -> Self {
        Self::new(
            ErrorKind::IssuerMismatch,
            format!(
                "discovered issuer {:?} does not match the expected issuer {expected:?}",
                server_text(found, 256)
            ),
        )
    }

    pub(crate) fn from_reqwest(url: Option<Url>, source: reqwest::Error) -> Self {
        let kind = if source.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transport
        };
        let mut e = Self::new(kind, String::new()).with_source(source);
        e.inner.url = url;
        e
    }

    /// Attaches the request URL and the status to errors raised while
    /// processing a response, which know neither.
    pub(crate) fn with_response_context(mut self, url: &Url, status: StatusCode) -> Self {
        let i = &mut self.inner;
        if let Some(oauth) = &mut i.oauth {
            oauth.url.get_or_insert_with(|| url.clone());
        }
        if i.url.is_none() {
            i.url = Some(url.clone());
        }
        if i.status.is_none()
            && matches!(
                i.kind,
                ErrorKind::InvalidResponse | ErrorKind::UnexpectedStatus | ErrorKind::OAuth
            )
        {
            i.status = Some(status);
        }
        self
    }
}

/// Cuts a body down to a short, printable snippet for an error message.
pub(crate) fn body_snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(BODY_SNIPPET_LEN)];
    let mut s = server_text(&String::from_utf8_lossy(cut), BODY_SNIPPET_LEN);
    if body.len() > BODY_SNIPPET_LEN && !s.ends_with('…') {
        s.push('…');
    }
    s
}

/// Server-controlled text made safe to print: control characters (which
/// could forge log lines or drive a terminal) become U+FFFD, and the text is
/// cut at `max` bytes on a character boundary.
pub(crate) fn server_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = if c.is_control() { '\u{FFFD}' } else { c };
        if out.len() + c.len_utf8() > max {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(error: &str, status: u16) -> Error {
        Error::oauth(OAuthError {
            error: error.into(),
            error_description: None,
            error_uri: None,
            status: Some(StatusCode::from_u16(status).unwrap()),
            url: None,
            challenges: vec![],
            state: None,
        })
    }

    #[test]
    fn error_is_send_sync_clone_and_one_pointer_wide() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn retryable_classification() {
        assert!(!oauth("invalid_client", 401).is_retryable());
        assert!(!oauth("invalid_scope", 400).is_retryable());
        assert!(oauth("temporarily_unavailable", 400).is_retryable());
        assert!(oauth("whatever", 503).is_retryable());
        assert!(Error::new(ErrorKind::Timeout, "").is_retryable());
        assert!(!Error::invalid_configuration("x").is_retryable());
        assert!(Error::unexpected_status(StatusCode::BAD_GATEWAY, b"", vec![]).is_retryable());
        assert!(!Error::unexpected_status(StatusCode::NOT_FOUND, b"", vec![]).is_retryable());
    }

    #[test]
    fn snippet_is_bounded_and_printable() {
        let body = vec![b'a'; 10_000];
        let s = body_snippet(&body);
        assert!(s.len() <= BODY_SNIPPET_LEN + 3);
        assert!(s.ends_with('…'));
        // Invalid UTF-8 expands to U+FFFD (3 bytes each) yet stays bounded.
        let s = body_snippet(&[0xff; 2000]);
        assert!(s.len() <= BODY_SNIPPET_LEN + 3, "{}", s.len());
        let s = server_text("line\n\u{1b}[31mforged", 100);
        assert!(!s.chars().any(char::is_control), "{s:?}");
    }

    #[test]
    fn display_names_the_oauth_error() {
        let e = Error::oauth(OAuthError {
            error: "invalid_client".into(),
            error_description: Some("client authentication failed".into()),
            error_uri: None,
            status: Some(StatusCode::UNAUTHORIZED),
            state: None,
            url: Some("https://as.example/token".parse().unwrap()),
            challenges: vec![],
        });
        let s = e.to_string();
        assert!(s.contains("invalid_client"), "{s}");
        assert!(s.contains("401"), "{s}");
        assert!(s.contains("https://as.example/token"), "{s}");
        assert_eq!(e.status(), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(e.url().unwrap().as_str(), "https://as.example/token");
    }

    #[derive(Debug)]
    struct Outer(Inner2);
    #[derive(Debug)]
    struct Inner2;
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("error sending request")
        }
    }
    impl fmt::Display for Inner2 {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection refused")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }
    impl StdError for Inner2 {}

    #[test]
    fn display_shows_the_root_cause_and_source_is_kept() {
        let e = Error::new(ErrorKind::Transport, "")
            .with_url("https://as.example/token".parse().unwrap())
            .with_source(Outer(Inner2));
        let s = e.to_string();
        assert_eq!(
            s,
            "request to https://as.example/token failed: error sending request: connection refused"
        );
        assert!(e.source().unwrap().source().is_some());
        let e = Error::invalid_key("bad").with_hint("try this");
        assert_eq!(e.to_string(), "bad (try this)");
    }
}

//! The one error type of the crate.
//!
//! Every fallible function returns [`Result<T>`](crate::Result), whose error is
//! [`Error`]: a `#[non_exhaustive]` enum whose variants a caller can match, plus
//! `is_*` predicates for the common questions ("did the server say no?",
//! "is it worth retrying?"). No variant ever holds a secret: client secrets,
//! private keys, assertions and tokens are never copied into an error.

use std::fmt;
use std::sync::Arc;

use reqwest::StatusCode;
use url::Url;

use crate::endpoint::www_authenticate::Challenge;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How many bytes of an unexpected response body an error keeps.
pub(crate) const BODY_SNIPPET_LEN: usize = 512;

/// Everything that can go wrong while talking to an authorization server.
///
/// Match on the variant, or ask the predicates ([`Error::is_oauth`],
/// [`Error::is_retryable`], …). Variants with much data box it so the error
/// stays small.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server answered with an OAuth error
    /// ([RFC 6749 §5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)),
    /// for example `invalid_client` or `invalid_scope`.
    #[error("{0}")]
    OAuth(Box<OAuthError>),

    /// The server answered with a status code the operation does not expect,
    /// and the body was not an OAuth error.
    #[error("unexpected HTTP status {} from {}{}", .0.status, display_opt_url(&.0.url), snippet_suffix(&.0.body_snippet))]
    UnexpectedStatus(Box<UnexpectedStatus>),

    /// The response could not be used: not JSON, the wrong content type, a
    /// required member missing or of the wrong type, and so on.
    #[error("invalid response from {}: {}", display_opt_url(&.0.url), .0.message)]
    InvalidResponse(Box<InvalidResponse>),

    /// The response body was larger than the configured limit; reading stopped
    /// at the limit.
    #[error("response body from {url} exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The URL that was requested.
        url: Url,
        /// The limit in bytes.
        limit: usize,
    },

    /// The server answered with a redirect. Requests to an authorization
    /// server never follow redirects (a redirect could leak credentials to
    /// another host).
    #[error("refusing to follow redirect ({status}) from {url} to {}", .location.as_deref().unwrap_or("<no location>"))]
    Redirect {
        /// The URL that was requested.
        url: Url,
        /// The 3xx status code. If a caller-supplied HTTP client followed
        /// the redirect by itself, the status of the final response.
        status: StatusCode,
        /// The `Location` header, or the URL a caller-supplied client ended
        /// up at.
        location: Option<String>,
    },

    /// The request timed out (connecting, sending, or reading the body).
    #[error("request to {} timed out", display_opt_url(.url))]
    Timeout {
        /// The URL that was requested.
        url: Option<Url>,
    },

    /// The request failed below HTTP: DNS, connection refused or reset, TLS.
    #[error("request to {} failed: {source}", display_opt_url(.url))]
    Transport {
        /// The URL that was requested.
        url: Option<Url>,
        /// The underlying HTTP client error (shared, so the error is `Clone`:
        /// a token manager hands one failure to every waiting caller).
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// A URL was refused because it is not `https:` (or, with
    /// insecure requests allowed, not `http:` either).
    #[error("refusing to send a request to {url}: only https: URLs are allowed{}", insecure_hint(.url))]
    InsecureUrl {
        /// The refused URL.
        url: Url,
    },

    /// Discovery found a document whose `issuer` is not the issuer that was
    /// asked for (a mix-up defence, RFC 8414 §3.3).
    #[error("discovered issuer {found:?} does not match the expected issuer {expected:?}")]
    IssuerMismatch {
        /// The issuer the caller asked for.
        expected: String,
        /// The issuer the document named.
        found: String,
    },

    /// The configuration cannot work: an endpoint is missing, a key does not
    /// fit the algorithm, the client id is empty, …
    #[error("invalid configuration: {0}")]
    InvalidConfiguration(String),

    /// An argument of a call was refused, for example a parameter the library
    /// sets itself, or an `Authorization` header in the per-request headers.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A key could not be read, or a JWT could not be signed.
    #[error("JOSE error: {0}")]
    Jose(String),

    /// A [`TokenStore`](crate::TokenStore) failed (e.g. Redis is down). A
    /// token manager logs these and carries on without the store.
    #[error("token store error: {0}")]
    TokenStore(String),
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
    /// The HTTP status of the response.
    pub status: StatusCode,
    /// The URL that was requested, when known.
    pub url: Option<Url>,
    /// The parsed `WWW-Authenticate` challenges of the response, if any.
    pub challenges: Vec<Challenge>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authorization server error `{}`", self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        write!(f, " (HTTP {}", self.status)?;
        if let Some(url) = &self.url {
            write!(f, " from {url}")?;
        }
        f.write_str(")")
    }
}

/// A response with a status code the operation did not expect.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnexpectedStatus {
    /// The status code.
    pub status: StatusCode,
    /// The URL that was requested, when known.
    pub url: Option<Url>,
    /// The start of the body (at most 512 bytes, lossily decoded as UTF-8).
    pub body_snippet: String,
    /// The parsed `WWW-Authenticate` challenges of the response, if any.
    pub challenges: Vec<Challenge>,
}

/// A response that could not be used.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InvalidResponse {
    /// The URL that was requested, when known.
    pub url: Option<Url>,
    /// The HTTP status of the response, when known.
    pub status: Option<StatusCode>,
    /// What was wrong.
    pub message: String,
}

fn display_opt_url(url: &Option<Url>) -> String {
    url.as_ref()
        .map_or_else(|| "the server".to_owned(), Url::to_string)
}

fn snippet_suffix(snippet: &str) -> String {
    if snippet.is_empty() {
        String::new()
    } else {
        format!(": {snippet}")
    }
}

fn insecure_hint(url: &Url) -> &'static str {
    if url.scheme() == "http" {
        " (enable allow_insecure_requests to permit http: for testing)"
    } else {
        ""
    }
}

/// Error codes after which trying again may succeed
/// ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)).
const TRANSIENT_OAUTH_ERRORS: [&str; 2] = ["temporarily_unavailable", "server_error"];

impl Error {
    /// True when the authorization server answered with an OAuth error.
    pub fn is_oauth(&self) -> bool {
        matches!(self, Error::OAuth(_))
    }

    /// The OAuth error, when the server answered with one.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        match self {
            Error::OAuth(e) => Some(e),
            _ => None,
        }
    }

    /// True when the server asks for a DPoP nonce: the OAuth error
    /// `use_dpop_nonce` from an authorization server (RFC 9449 §8), or a
    /// `DPoP` challenge with that error from a resource server (§9). The
    /// grant functions and [`fetch_protected_resource`](crate::fetch_protected_resource)
    /// retry such a request once by themselves.
    pub fn is_dpop_nonce_error(&self) -> bool {
        let challenge = self
            .challenges()
            .iter()
            .any(|c| c.scheme() == "dpop" && c.error() == Some("use_dpop_nonce"));
        challenge
            || self
                .oauth_error()
                .is_some_and(|e| e.error == "use_dpop_nonce")
    }

    /// True when the request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True when the request failed below HTTP (connect, DNS, TLS, reset).
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Transport { .. })
    }

    /// True when the error comes with an HTTP response status: an OAuth
    /// error, an unexpected status, a redirect, or an unusable response
    /// (which may have had status 200). See [`Error::status`].
    pub fn is_status(&self) -> bool {
        self.status().is_some()
    }

    /// True when the response could not be used (see [`Error::InvalidResponse`]
    /// and [`Error::BodyTooLarge`]).
    pub fn is_invalid_response(&self) -> bool {
        matches!(self, Error::InvalidResponse(_) | Error::BodyTooLarge { .. })
    }

    /// The HTTP status of the response that caused the error, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::OAuth(e) => Some(e.status),
            Error::UnexpectedStatus(e) => Some(e.status),
            Error::InvalidResponse(e) => e.status,
            Error::Redirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The URL that was requested, when known.
    pub fn url(&self) -> Option<&Url> {
        match self {
            Error::OAuth(e) => e.url.as_ref(),
            Error::UnexpectedStatus(e) => e.url.as_ref(),
            Error::InvalidResponse(e) => e.url.as_ref(),
            Error::BodyTooLarge { url, .. }
            | Error::Redirect { url, .. }
            | Error::InsecureUrl { url } => Some(url),
            Error::Timeout { url } | Error::Transport { url, .. } => url.as_ref(),
            _ => None,
        }
    }

    /// The parsed `WWW-Authenticate` challenges of the response, if any.
    pub fn challenges(&self) -> &[Challenge] {
        match self {
            Error::OAuth(e) => &e.challenges,
            Error::UnexpectedStatus(e) => &e.challenges,
            _ => &[],
        }
    }

    /// True when trying the same request again later may succeed: a timeout,
    /// a connection failure, a 5xx or 429 status, or the OAuth errors
    /// `temporarily_unavailable` and `server_error`. Client errors such as
    /// `invalid_client` or `invalid_scope` are permanent.
    pub fn is_retryable(&self) -> bool {
        let retryable_status =
            |s: StatusCode| s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS;
        match self {
            Error::Timeout { .. } | Error::TokenStore(_) => true,
            // A request that could not even be built, or a redirect policy
            // error, fails the same way next time.
            Error::Transport { source, .. } => !(source.is_builder() || source.is_redirect()),
            Error::OAuth(e) => {
                retryable_status(e.status) || TRANSIENT_OAUTH_ERRORS.contains(&e.error.as_str())
            }
            Error::UnexpectedStatus(e) => retryable_status(e.status),
            Error::InvalidResponse(e) => e.status.is_some_and(retryable_status),
            _ => false,
        }
    }

    pub(crate) fn invalid_response(message: impl Into<String>) -> Self {
        Error::InvalidResponse(Box::new(InvalidResponse {
            url: None,
            status: None,
            // Messages quote what the server sent (a content type, a token
            // type): keep them printable.
            message: server_text(&message.into(), DESCRIPTION_LEN),
        }))
    }

    pub(crate) fn from_reqwest(url: Option<Url>, source: reqwest::Error) -> Self {
        if source.is_timeout() {
            Error::Timeout { url }
        } else {
            Error::Transport {
                url,
                source: Arc::new(source),
            }
        }
    }

    pub(crate) fn jose(e: impl fmt::Display) -> Self {
        Error::Jose(e.to_string())
    }

    /// Attaches the request URL and the status to errors raised while
    /// processing a response, which know neither.
    pub(crate) fn with_response_context(mut self, url: &Url, status: StatusCode) -> Self {
        match &mut self {
            Error::OAuth(e) => {
                e.url.get_or_insert_with(|| url.clone());
            }
            Error::UnexpectedStatus(e) => {
                e.url.get_or_insert_with(|| url.clone());
            }
            Error::InvalidResponse(e) => {
                e.url.get_or_insert_with(|| url.clone());
                e.status.get_or_insert(status);
            }
            _ => {}
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

/// The longest `error_description` kept.
pub(crate) const DESCRIPTION_LEN: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_clone_and_small() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Error>();
        // Boxed variants keep the error a few words wide.
        assert!(std::mem::size_of::<Error>() <= 128);
    }

    #[test]
    fn retryable_classification() {
        let oauth = |error: &str, status: u16| {
            Error::OAuth(Box::new(OAuthError {
                error: error.into(),
                error_description: None,
                error_uri: None,
                status: StatusCode::from_u16(status).unwrap(),
                url: None,
                challenges: vec![],
            }))
        };
        assert!(!oauth("invalid_client", 401).is_retryable());
        assert!(!oauth("invalid_scope", 400).is_retryable());
        assert!(oauth("temporarily_unavailable", 400).is_retryable());
        assert!(oauth("whatever", 503).is_retryable());
        assert!(Error::Timeout { url: None }.is_retryable());
        assert!(!Error::InvalidConfiguration("x".into()).is_retryable());
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
        let e = Error::OAuth(Box::new(OAuthError {
            error: "invalid_client".into(),
            error_description: Some("client authentication failed".into()),
            error_uri: None,
            status: StatusCode::UNAUTHORIZED,
            url: Some("https://as.example/token".parse().unwrap()),
            challenges: vec![],
        }));
        let s = e.to_string();
        assert!(s.contains("invalid_client"), "{s}");
        assert!(s.contains("401"), "{s}");
        assert!(s.contains("https://as.example/token"), "{s}");
    }
}

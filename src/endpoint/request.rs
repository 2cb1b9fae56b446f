//! Building token requests: the low-level half of every grant, public for
//! callers with their own HTTP stack (as oauth4webapi is under openid-client).

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use url::{form_urlencoded, Url};

use crate::client_auth::AuthContext;
use crate::config::{Configuration, Endpoint};
use crate::dpop::DPoPHandle;
use crate::error::{Error, Result};
use crate::transport::check_url;

/// One form parameter: a `(name, value)` pair of anything string-like, or a
/// reference to one. Lets grants take `&[("scope", "read")]`, a `Vec<(String,
/// String)>`, or any other iterator of pairs.
pub trait FormParam {
    /// The parameter name.
    fn name(&self) -> &str;
    /// The parameter value.
    fn value(&self) -> &str;
}

impl<K: AsRef<str>, V: AsRef<str>> FormParam for (K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

impl<T: FormParam + ?Sized> FormParam for &T {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn value(&self) -> &str {
        (**self).value()
    }
}

/// Parameters the library sets itself: `grant_type` and the client
/// authentication parameters. A caller passing one gets
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) rather than a silently changed request.
const LIBRARY_PARAMS: [&str; 5] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// Headers the library owns: credentials and proof headers must come from
/// the configured client authentication (and DPoP handle), never per call;
/// the others control the message framing and the connection, or would be
/// replaced silently.
const LIBRARY_HEADERS: [&str; 10] = [
    "authorization",
    "dpop",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "te",
    "upgrade",
    "accept",
];

/// Per-request options (as oauth4webapi's `TokenEndpointRequestOptions`):
/// extra headers, a timeout, and additional parameters. Dropping the future
/// of a grant cancels it.
///
/// ```
/// use std::time::Duration;
/// use oidckit::RequestOptions;
/// use reqwest::header::{HeaderName, HeaderValue};
///
/// let options = RequestOptions::new()
///     .timeout(Duration::from_secs(2))
///     .header(HeaderName::from_static("x-request-id"), HeaderValue::from_static("42"))
///     .param("audience", "https://api.example.com");
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct RequestOptions {
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Option<Duration>,
    pub(crate) params: Vec<(String, String)>,
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
    /// `Upgrade`, `Accept`) are refused when the request is built.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// A timeout for this request, instead of the configuration's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a form parameter. Parameters the library sets (`grant_type`,
    /// `client_id`, `client_secret`, `client_assertion`,
    /// `client_assertion_type`, and those of the grant) are refused when the
    /// request is built.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
}

/// A token request ready to send: `POST` to [`url`](Self::url) with these
/// headers and this `application/x-www-form-urlencoded` body.
///
/// `Debug` shows the URL, header names and parameter names only: the
/// `Authorization` header and body carry credentials.
#[derive(Clone)]
pub struct TokenRequest {
    url: Url,
    headers: HeaderMap,
    body: String,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("url", &self.url.as_str())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "params",
                &form_urlencoded::parse(self.body.as_bytes())
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TokenRequest {
    /// The endpoint URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The request headers, including the client authentication header if any.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The form-encoded body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The request as a `reqwest::Request` for `client`.
    pub fn into_reqwest(self, client: &reqwest::Client) -> Result<reqwest::Request> {
        let url = self.url;
        let mut request = client
            .post(url.clone())
            .body(self.body)
            .build()
            .map_err(|e| Error::from_reqwest(Some(url), e))?;
        *request.headers_mut() = self.headers;
        Ok(request)
    }

    /// The parts: URL, headers and body.
    pub fn into_parts(self) -> (Url, HeaderMap, String) {
        (self.url, self.headers, self.body)
    }

    /// Adds a DPoP proof for this request (RFC 9449 §5), for callers that
    /// send it with their own HTTP stack. Record the response's nonce with
    /// [`DPoPHandle::record_nonce`].
    pub fn add_dpop_proof(&mut self, dpop: &DPoPHandle) -> Result<()> {
        dpop.add_proof(&mut self.headers, "POST", &self.url, None)
    }
}

/// Builds a token request for any grant: `grant_type`, the caller's `params`
/// and the options' parameters, client authentication applied.
///
/// ```
/// use oidckit::{build_token_request, ClientAuth, Configuration, RequestOptions, ServerMetadata};
///
/// let config = Configuration::new(
///     ServerMetadata::new("https://as.example", "https://as.example/token".parse()?),
///     "client",
///     ClientAuth::client_secret_post("s"),
/// )?;
/// let request = build_token_request(
///     &config, "client_credentials", &[("scope", "read")], &RequestOptions::new())?;
/// assert_eq!(request.body(), "grant_type=client_credentials&scope=read&client_id=client&client_secret=s");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_token_request<I>(
    config: &Configuration,
    grant_type: &str,
    params: I,
    options: &RequestOptions,
) -> Result<TokenRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    UnauthenticatedRequest::grant(config, grant_type, &[], params, options)?.authenticate(config)
}

/// A token request with its parameters and headers but not yet the client's
/// credentials. Each attempt (a DPoP nonce retry is a second one) adds fresh
/// credentials to it: a JWT assertion's `jti` must not be reused.
#[derive(Clone)]
pub(crate) struct UnauthenticatedRequest {
    url: Url,
    headers: HeaderMap,
    body: String,
}

impl UnauthenticatedRequest {
    /// A request to `endpoint` with the library's own parameters first
    /// (`grant_type` and the grant's, such as `refresh_token`; or `token` for
    /// introspection), which callers may not set, then the caller's.
    pub(crate) fn new<I>(
        config: &Configuration,
        endpoint: Endpoint,
        owned_params: &[(&str, &str)],
        params: I,
        options: &RequestOptions,
    ) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: FormParam,
    {
        let url = config.endpoint(endpoint)?.clone();
        check_url(&url, config.allow_insecure_requests())?;

        let owned = |name: &str| {
            LIBRARY_PARAMS.contains(&name) || owned_params.iter().any(|(k, _)| *k == name)
        };
        // The body is encoded as it is assembled: no intermediate list.
        let mut form = form_urlencoded::Serializer::new(String::with_capacity(256));
        form.extend_pairs(owned_params);
        for param in params {
            refuse_library_param(param.name(), owned)?;
            form.append_pair(param.name(), param.value());
        }
        for (name, value) in &options.params {
            refuse_library_param(name, owned)?;
            form.append_pair(name, value);
        }

        refuse_library_headers(&options.headers, &LIBRARY_HEADERS)?;
        let mut headers = HeaderMap::with_capacity(5 + options.headers.len());
        for (name, value) in &options.headers {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Ok(UnauthenticatedRequest {
            url,
            headers,
            body: form.finish(),
        })
    }

    /// A token endpoint request for `grant_type`, followed by the grant's own
    /// parameters (such as `refresh_token`), then the caller's.
    pub(crate) fn grant<I>(
        config: &Configuration,
        grant_type: &str,
        grant_params: &[(&str, &str)],
        params: I,
        options: &RequestOptions,
    ) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: FormParam,
    {
        if grant_type.is_empty() {
            return Err(Error::invalid_input("grant_type must not be empty"));
        }
        let mut owned = Vec::with_capacity(1 + grant_params.len());
        owned.push(("grant_type", grant_type));
        owned.extend_from_slice(grant_params);
        Self::new(config, Endpoint::Token, &owned, params, options)
    }

    /// Adds the client's credentials.
    pub(crate) fn authenticate(self, config: &Configuration) -> Result<TokenRequest> {
        let UnauthenticatedRequest {
            url,
            mut headers,
            body,
        } = self;
        let ctx = AuthContext {
            client_id: config.client_id().as_str(),
            issuer: config.issuer(),
            endpoint: url.as_str(),
            now: config.now(),
        };
        // Continue the encoded body where it ends.
        let mut form = form_urlencoded::Serializer::for_suffix(body, 0);
        config.client_auth().apply(&ctx, &mut form, &mut headers)?;
        debug_assert!(headers
            .get(AUTHORIZATION)
            .is_none_or(HeaderValue::is_sensitive));
        Ok(TokenRequest {
            body: form.finish(),
            url,
            headers,
        })
    }
}

/// Refuses a caller's header among `owned` (lowercase names).
pub(crate) fn refuse_library_headers(headers: &HeaderMap, owned: &[&str]) -> Result<()> {
    match headers.keys().find(|name| owned.contains(&name.as_str())) {
        Some(name) => Err(Error::invalid_input(format!(
            "the header `{name}` is set by the library and cannot be passed"
        ))),
        None => Ok(()),
    }
}

fn refuse_library_param(name: &str, owned: impl Fn(&str) -> bool) -> Result<()> {
    if owned(name) {
        return Err(Error::invalid_input(format!(
            "the parameter `{name}` is set by the library and cannot be passed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::{ClientAuth, ServerMetadata};

    fn config(auth: ClientAuth) -> Configuration {
        Configuration::new(
            ServerMetadata::new(
                "https://as.example",
                "https://as.example/token".parse().unwrap(),
            ),
            "client",
            auth,
        )
        .unwrap()
    }

    #[test]
    fn repeated_parameters_and_encoding() {
        let c = config(ClientAuth::none());
        let req = build_token_request(
            &c,
            "client_credentials",
            vec![
                ("resource".to_string(), "urn:a".to_string()),
                (
                    "resource".to_string(),
                    "https://b.example/?x=1&y".to_string(),
                ),
                ("scope".to_string(), "read write".to_string()),
            ],
            &RequestOptions::new(),
        )
        .unwrap();
        assert_eq!(
            req.body(),
            "grant_type=client_credentials&resource=urn%3Aa&resource=https%3A%2F%2Fb.example%2F%3Fx%3D1%26y&scope=read+write&client_id=client"
        );
        assert_eq!(
            req.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(req.headers()[ACCEPT], "application/json");
    }

    #[test]
    fn library_parameters_and_headers_cannot_be_overridden() {
        let c = config(ClientAuth::client_secret_basic("s"));
        for name in ["grant_type", "client_id", "client_assertion"] {
            let e = build_token_request(
                &c,
                "client_credentials",
                [(name, "x")],
                &RequestOptions::new(),
            )
            .unwrap_err();
            assert!(e.kind() == ErrorKind::InvalidInput, "{name}: {e}");
        }
        let opts = RequestOptions::new().param("grant_type", "password");
        assert!(build_token_request(&c, "client_credentials", [("a", "b")], &opts).is_err());
        let opts =
            RequestOptions::new().header(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(build_token_request(&c, "client_credentials", [("a", "b")], &opts).is_err());
        let opts = RequestOptions::new().header(
            HeaderName::from_static("x-trace"),
            HeaderValue::from_static("1"),
        );
        let req = build_token_request(&c, "client_credentials", [("a", "b")], &opts).unwrap();
        assert_eq!(req.headers()["x-trace"], "1");
    }

    #[test]
    fn debug_hides_credentials() {
        let c = config(ClientAuth::client_secret_post("hunter2"));
        let req = build_token_request(
            &c,
            "client_credentials",
            [("scope", "x")],
            &RequestOptions::new(),
        )
        .unwrap();
        let d = format!("{req:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("client_secret"), "{d}");
    }

    #[test]
    fn insecure_token_endpoint_is_refused() {
        let c = Configuration::new(
            ServerMetadata::new(
                "http://as.example",
                "http://as.example/token".parse().unwrap(),
            ),
            "client",
            ClientAuth::none(),
        )
        .unwrap();
        let e = build_token_request(
            &c,
            "client_credentials",
            [("a", "b")],
            &RequestOptions::new(),
        )
        .unwrap_err();
        assert!(e.kind() == ErrorKind::InsecureUrl);
    }
}

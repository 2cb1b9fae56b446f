//! Building endpoint requests: form parameters, the parameters and headers
//! the library owns, client authentication. [`EndpointRequest`] is public
//! for callers with their own HTTP stack (as oauth4webapi is under
//! openid-client).

use std::fmt;

use oauth2::AccessToken;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use url::{form_urlencoded, Url};

use super::{Endpoint, EndpointContext};
use crate::client_auth::AuthContext;
use crate::dpop::DPoPHandle;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{Accepts, RequestOptions};

/// One form parameter: a `(name, value)` pair of anything string-like, or a
/// reference to one. Lets calls take `&[("scope", "read")]`, a `Vec<(String,
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
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) rather than a
/// silently changed request.
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
pub(crate) const LIBRARY_HEADERS: [&str; 10] = [
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

/// The headers the library owns on a protected-resource call: the body and
/// what it accepts are the caller's.
pub(crate) const RESOURCE_LIBRARY_HEADERS: [&str; 8] = [
    "authorization",
    "dpop",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "te",
    "upgrade",
];

/// `client_id` as a request parameter of its own, for endpoints whose
/// requests carry it (PAR, RFC 9126 §2.1; device authorization, RFC 8628
/// §3.1) — unless the client authentication already puts it in the form.
pub(crate) fn client_id_param<'c>(ctx: &EndpointContext<'c>) -> Option<(&'static str, &'c str)> {
    (!ctx.auth.sends_client_id_in_form()).then_some(("client_id", ctx.client.client_id.as_str()))
}

/// A request ready to send: [`method`](Self::method) to [`url`](Self::url)
/// with these headers and this body (for the form endpoints,
/// `application/x-www-form-urlencoded`). What the `build_*_request`
/// functions return, for callers that send requests with their own HTTP
/// stack.
///
/// `Debug` shows the method, URL, header names and parameter names only: the
/// `Authorization` header and body carry credentials.
#[derive(Clone)]
pub struct EndpointRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: String,
}

impl fmt::Debug for EndpointRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("EndpointRequest");
        d.field("method", &self.method.as_str())
            .field("url", &self.url.as_str())
            .field("headers", &self.headers.keys().collect::<Vec<_>>());
        if self.is_json() {
            // A JSON body (client registration) is shown by its length only.
            d.field("body_len", &self.body.len());
        } else {
            d.field(
                "params",
                &form_urlencoded::parse(self.body.as_bytes())
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            );
        }
        d.finish()
    }
}

impl EndpointRequest {
    /// A `GET` with `Accept: application/json` and no body (discovery).
    pub(crate) fn get_json(url: Url) -> Self {
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        EndpointRequest {
            method: Method::GET,
            url,
            headers,
            body: String::new(),
        }
    }

    /// A request with a JSON body (or none), `Accept: application/json`, and
    /// `Authorization: Bearer <token>` when a token is given (client
    /// registration and management, RFC 7591 §3, RFC 7592 §2).
    pub(crate) fn json(
        method: Method,
        url: Url,
        body: Option<String>,
        bearer: Option<&AccessToken>,
    ) -> Result<Self> {
        let mut headers = HeaderMap::with_capacity(3);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(token) = bearer {
            headers.insert(
                AUTHORIZATION,
                crate::resource::authorization_value("Bearer", token)?,
            );
        }
        Ok(EndpointRequest {
            method,
            url,
            headers,
            body: body.unwrap_or_default(),
        })
    }

    fn is_json(&self) -> bool {
        self.headers
            .get(CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"))
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The endpoint URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The request headers, including the client authentication header if any.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request headers, to add one before sending.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The body (form-encoded for the form endpoints, JSON for client
    /// registration; empty for a `GET`).
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The request as a `reqwest::Request` for `client`.
    pub fn into_reqwest(self, client: &reqwest::Client) -> Result<reqwest::Request> {
        let url = self.url;
        let mut builder = client.request(self.method, url.clone());
        if !self.body.is_empty() {
            builder = builder.body(self.body);
        }
        let mut request = builder
            .build()
            .map_err(|e| Error::from_reqwest(Some(url), e))?;
        *request.headers_mut() = self.headers;
        Ok(request)
    }

    /// The parts: method, URL, headers and body.
    pub fn into_parts(self) -> (Method, Url, HeaderMap, String) {
        (self.method, self.url, self.headers, self.body)
    }

    /// Adds a DPoP proof for this request (RFC 9449 §5), for callers that
    /// send it with their own HTTP stack. Record the response's nonce with
    /// [`DPoPHandle::record_nonce`].
    pub fn add_dpop_proof(&mut self, dpop: &DPoPHandle) -> Result<()> {
        dpop.add_proof(&mut self.headers, self.method.as_str(), &self.url, None)
    }
}

/// A form request with its parameters and headers but not yet the client's
/// credentials. Each attempt (a DPoP nonce retry is a second one) adds fresh
/// credentials to it: a JWT assertion's `jti` must not be reused.
#[derive(Clone)]
pub(crate) struct UnauthenticatedRequest {
    url: Url,
    headers: HeaderMap,
    body: String,
    /// The parameters the library set beyond [`LIBRARY_PARAMS`] (such as
    /// `refresh_token`), refused from the caller's options too.
    owned: Vec<&'static str>,
}

impl UnauthenticatedRequest {
    /// A request to `endpoint` with the library's own parameters first
    /// (`grant_type` and the grant's, such as `refresh_token`; or `token` for
    /// introspection), which callers may not set, then the caller's.
    pub(crate) fn new<I>(
        ctx: &EndpointContext<'_>,
        endpoint: &Endpoint,
        owned_params: &[(&'static str, &str)],
        params: I,
    ) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: FormParam,
    {
        let url = ctx.endpoint_url(endpoint)?.clone();
        let owned: Vec<&'static str> = owned_params.iter().map(|(k, _)| *k).collect();
        // The body is encoded as it is assembled: no intermediate list.
        let mut form = form_urlencoded::Serializer::new(String::with_capacity(256));
        form.extend_pairs(owned_params);
        for param in params {
            refuse_library_param(param.name(), &owned)?;
            form.append_pair(param.name(), param.value());
        }
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Ok(UnauthenticatedRequest {
            url,
            headers,
            body: form.finish(),
            owned,
        })
    }

    /// Replaces the `Accept` header (`application/json` by default), for an
    /// endpoint asked to answer in another media type.
    pub(crate) fn accept(mut self, media_type: &'static str) -> Self {
        self.headers
            .insert(ACCEPT, HeaderValue::from_static(media_type));
        self
    }

    /// Adds the per-request options' parameters and headers, refusing those
    /// the library owns.
    pub(crate) fn with_options(mut self, options: &RequestOptions) -> Result<Self> {
        if options.params.is_empty() && options.headers.is_empty() {
            return Ok(self);
        }
        options.check(Accepts {
            form_params: true,
            dpop: true,
            owned_headers: &LIBRARY_HEADERS,
        })?;
        for (name, value) in &options.headers {
            self.headers.append(name.clone(), value.clone());
        }
        let mut form = form_urlencoded::Serializer::for_suffix(self.body, 0);
        for (name, value) in &options.params {
            refuse_library_param(name, &self.owned)?;
            form.append_pair(name, value);
        }
        self.body = form.finish();
        Ok(self)
    }

    /// Adds the client's credentials.
    pub(crate) fn authenticate(self, ctx: &EndpointContext<'_>) -> Result<EndpointRequest> {
        let UnauthenticatedRequest {
            url,
            mut headers,
            body,
            owned: _,
        } = self;
        let auth_ctx = AuthContext {
            client_id: ctx.client_id()?,
            issuer: &ctx.server.issuer,
            endpoint: url.as_str(),
            now: ctx.now(),
        };
        // A configuration checked its client authentication when it was
        // built; a context made by hand is checked here, as input.
        ctx.auth
            .validate()
            .map_err(|e| e.with_kind(ErrorKind::InvalidInput))?;
        // Continue the encoded body where it ends.
        let mut form = form_urlencoded::Serializer::for_suffix(body, 0);
        ctx.auth.apply(&auth_ctx, &mut form, &mut headers)?;
        debug_assert!(headers
            .get(AUTHORIZATION)
            .is_none_or(HeaderValue::is_sensitive));
        Ok(EndpointRequest {
            method: Method::POST,
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

fn refuse_library_param(name: &str, owned: &[&str]) -> Result<()> {
    if LIBRARY_PARAMS.contains(&name) || owned.contains(&name) {
        return Err(Error::invalid_input(format!(
            "the parameter `{name}` is set by the library and cannot be passed"
        )));
    }
    Ok(())
}

//! Calls to protected resources with an access token
//! ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1),
//! [RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)).

use std::fmt;
use std::future::IntoFuture;

use bytes::Bytes;
use oauth2::AccessToken;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::config::Configuration;
use crate::dpop::DPoPHandle;
use crate::endpoint::request::{refuse_library_headers, RESOURCE_LIBRARY_HEADERS};
use crate::endpoint::response::error_from_response;
use crate::endpoint::www_authenticate::challenges_from_headers;
use crate::error::{Error, Result};
use crate::into_url::IntoUrl;
use crate::options::{Accepts, BoxFuture, Call, RequestOptions};
use crate::transport;

/// Starts a request to a protected resource with an access token; await
/// the returned [`ResourceRequest`] for the response, its body unread.
///
/// Without a DPoP handle the token goes as `Authorization: Bearer <token>`;
/// with one (in the options, [`RequestOptions::dpop`]), as
/// `Authorization: DPoP <token>` plus a proof whose `ath` binds it to the
/// token. When the resource server answers 401 with
/// `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce`, the
/// request is sent once more with a fresh proof carrying the nonce.
///
/// A 401 with a `WWW-Authenticate` challenge becomes an error with the parsed
/// challenges ([`Error::challenges`]): [`ErrorKind::OAuth`](crate::ErrorKind::OAuth)
/// when a challenge names an `error` (e.g. `invalid_token`), else
/// [`ErrorKind::UnexpectedStatus`](crate::ErrorKind::UnexpectedStatus). Any
/// other status is returned as the response. The HTTPS, redirect and timeout
/// rules of the configuration apply; `Authorization` and `DPoP` may not be
/// set as headers.
///
/// ```no_run
/// use oidckit::reqwest::Method;
/// use oidckit::{client_credentials_grant, fetch_protected_resource, DPoPHandle, JwsAlgorithm, RequestOptions};
///
/// # async fn run(config: oidckit::Configuration) -> Result<(), Box<dyn std::error::Error>> {
/// let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256)?;
/// let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop)).await?;
/// let response = fetch_protected_resource(&config, token.access_token(), Method::POST, "https://api.example.com/items")
///     .json(&serde_json::json!({"name": "new item"}))
///     .options(RequestOptions::new().dpop(&dpop))
///     .await?;
/// println!("{}", response.text().await?);
/// # Ok(()) }
/// ```
pub fn fetch_protected_resource<'a>(
    config: &'a Configuration,
    access_token: &'a AccessToken,
    method: Method,
    url: impl IntoUrl,
) -> ResourceRequest<'a> {
    ResourceRequest {
        config,
        access_token,
        method,
        url: url.into_url(),
        headers: HeaderMap::new(),
        body: Ok(None),
        options: RequestOptions::default(),
    }
}

/// A request to a protected resource, built with setters that never fail
/// (problems are reported when it is awaited); see
/// [`fetch_protected_resource`].
#[must_use = "a request does nothing until it is awaited"]
pub struct ResourceRequest<'a> {
    config: &'a Configuration,
    access_token: &'a AccessToken,
    method: Method,
    url: Result<Url>,
    headers: HeaderMap,
    body: Result<Option<Bytes>>,
    options: RequestOptions,
}

impl fmt::Debug for ResourceRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_ref().map(Url::as_str).ok())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ResourceRequest<'_> {
    /// Adds a header (not `Authorization` or `DPoP`, which the library sets).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds headers (not `Authorization` or `DPoP`).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in &headers {
            self.headers.append(name.clone(), value.clone());
        }
        self
    }

    /// The request body: bytes, a `String`, a `Vec<u8>`, a `&'static str`.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Ok(Some(body.into()));
        self
    }

    /// A JSON body, with `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value)
            .map(|json| Some(Bytes::from(json)))
            .map_err(|e| Error::invalid_input("the JSON body cannot be serialised").with_source(e));
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self
    }

    /// The per-request options: timeout, deadline, cancellation, extra
    /// headers and the DPoP handle.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a> IntoFuture for ResourceRequest<'a> {
    type Output = Result<reqwest::Response>;
    type IntoFuture = BoxFuture<'a, Result<reqwest::Response>>;

    fn into_future(self) -> Self::IntoFuture {
        let ResourceRequest {
            config,
            access_token,
            method,
            url,
            headers,
            body,
            options,
        } = self;
        Call::new(move |options: RequestOptions| async move {
            let (url, body) = (url?, body?);
            refuse_library_headers(&headers, &RESOURCE_LIBRARY_HEADERS)?;
            options.check(Accepts {
                form_params: false,
                dpop: true,
                owned_headers: &RESOURCE_LIBRARY_HEADERS,
            })?;
            let mut headers = headers;
            for (name, value) in &options.headers {
                headers.append(name.clone(), value.clone());
            }
            let dpop = options.dpop.as_ref();
            let attempt = || Attempt {
                config,
                access_token,
                method: &method,
                url: &url,
                headers: headers.clone(),
                body: body.clone(),
                dpop,
                options: &options,
            };
            match attempt().run().await {
                Err(e) if dpop.is_some() && e.is_dpop_nonce_error() => {
                    tracing::debug!("retrying once with the resource server's DPoP nonce");
                    attempt().run().await
                }
                result => result,
            }
        })
        .options(options)
        .into_future()
    }
}

/// Adds what authorizes a request to a protected resource with
/// `access_token`: `Authorization: Bearer <token>`, or with a DPoP handle
/// `Authorization: DPoP <token>` and a fresh proof whose `ath` binds it
/// (RFC 6750 §2.1, RFC 9449 §7.1). The one place such headers are made:
/// resource calls, the token manager and its middleware use it.
pub(crate) fn authorize(
    headers: &mut HeaderMap,
    method: &Method,
    url: &Url,
    access_token: &AccessToken,
    dpop: Option<&DPoPHandle>,
) -> Result<()> {
    let scheme = match dpop {
        Some(dpop) => {
            dpop.add_proof(headers, method.as_str(), url, Some(access_token))?;
            "DPoP"
        }
        None => "Bearer",
    };
    headers.insert(AUTHORIZATION, authorization_value(scheme, access_token)?);
    Ok(())
}

/// `<scheme> <access token>`, marked sensitive.
pub(crate) fn authorization_value(scheme: &str, access_token: &AccessToken) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {}", access_token.secret()))
        .map_err(|_| Error::invalid_input("the access token is not a valid header value"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// One try at a protected resource request.
struct Attempt<'r> {
    config: &'r Configuration,
    access_token: &'r AccessToken,
    method: &'r Method,
    url: &'r Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    dpop: Option<&'r DPoPHandle>,
    options: &'r RequestOptions,
}

impl Attempt<'_> {
    async fn run(self) -> Result<reqwest::Response> {
        let Attempt {
            config,
            access_token,
            method,
            url,
            mut headers,
            body,
            dpop,
            options,
        } = self;
        authorize(&mut headers, method, url, access_token, dpop)?;

        let mut builder = config
            .http_client()
            .request(method.clone(), url.clone())
            .headers(headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let request = builder
            .build()
            .map_err(|e| Error::from_reqwest(Some(url.clone()), e))?;
        let response =
            transport::send(&config.transport(), request, "resource", options.timeout).await?;
        if let Some(dpop) = dpop {
            dpop.record_nonce(url, response.headers());
        }
        if response.status() == StatusCode::UNAUTHORIZED
            && !challenges_from_headers(response.headers()).is_empty()
        {
            let error = error_from_response(response.status(), response.headers(), b"");
            return Err(error.with_response_context(url, response.status()));
        }
        Ok(response)
    }
}

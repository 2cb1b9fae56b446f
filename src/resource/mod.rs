//! Calls to protected resources with an access token
//! ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1),
//! [RFC 9449 §7](https://www.rfc-editor.org/rfc/rfc9449#section-7)).

use bytes::Bytes;
use oauth2::AccessToken;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::config::Configuration;
use crate::dpop::{DPoPHandle, DPOP_HEADER};
use crate::endpoint::request::refuse_library_headers;
use crate::endpoint::www_authenticate::challenges_from_headers;
use crate::error::{Error, Result};
use crate::grants::response::error_from_response;
use crate::transport;

/// Sends a request to a protected resource with an access token, and returns
/// the response with its body unread.
///
/// Without a DPoP handle the token goes as `Authorization: Bearer <token>`;
/// with one, as `Authorization: DPoP <token>` plus a proof whose `ath` binds
/// it to the token. When the resource server answers 401 with
/// `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a `DPoP-Nonce`, the
/// request is sent once more with a fresh proof carrying the nonce.
///
/// A 401 with a `WWW-Authenticate` challenge becomes an error with the parsed
/// challenges ([`Error::challenges`]): [`ErrorKind::OAuth`](crate::ErrorKind::OAuth) when a challenge names
/// an `error` (e.g. `invalid_token`), else [`ErrorKind::UnexpectedStatus`](crate::ErrorKind::UnexpectedStatus). Any
/// other status is returned as the response. The HTTPS, redirect and timeout
/// rules of the configuration apply; `Authorization` and `DPoP` may not be
/// passed in `headers`.
///
/// ```no_run
/// use oidckit::reqwest::{header::HeaderMap, Method};
/// use oidckit::{client_credentials_grant, fetch_protected_resource, DPoPHandle, JwsAlgorithm};
///
/// # async fn run(config: oidckit::Configuration) -> Result<(), Box<dyn std::error::Error>> {
/// let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256)?;
/// let token = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop)).await?;
/// let response = fetch_protected_resource(
///     &config,
///     token.access_token(),
///     Method::GET,
///     "https://api.example.com/items".parse()?,
///     HeaderMap::new(),
///     None,
///     Some(&dpop),
/// )
/// .await?;
/// println!("{}", response.text().await?);
/// # Ok(()) }
/// ```
pub async fn fetch_protected_resource(
    config: &Configuration,
    access_token: &AccessToken,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    dpop: Option<&DPoPHandle>,
) -> Result<reqwest::Response> {
    refuse_library_headers(&headers, &[AUTHORIZATION.as_str(), DPOP_HEADER.as_str()])?;
    let attempt = || {
        send(
            config,
            access_token,
            &method,
            &url,
            headers.clone(),
            body.clone(),
            dpop,
        )
    };
    match attempt().await {
        Err(e) if dpop.is_some() && e.is_dpop_nonce_error() => {
            tracing::debug!("retrying once with the resource server's DPoP nonce");
            attempt().await
        }
        result => result,
    }
}

async fn send(
    config: &Configuration,
    access_token: &AccessToken,
    method: &Method,
    url: &Url,
    mut headers: HeaderMap,
    body: Option<Bytes>,
    dpop: Option<&DPoPHandle>,
) -> Result<reqwest::Response> {
    let scheme = match dpop {
        Some(dpop) => {
            dpop.add_proof(&mut headers, method.as_str(), url, Some(access_token))?;
            "DPoP"
        }
        None => "Bearer",
    };
    let mut authorization =
        HeaderValue::from_str(&format!("{scheme} {}", access_token.secret()))
            .map_err(|_| Error::invalid_input("the access token is not a valid header value"))?;
    authorization.set_sensitive(true);
    headers.insert(AUTHORIZATION, authorization);

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
    let response = transport::send(&config.transport(), request, "resource", None).await?;
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

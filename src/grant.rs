//! Grants: free async functions over a [`Configuration`].
//!
//! Every grant is a few lines over one shared path, [`token_endpoint_request`]:
//! build the request (parameters, client authentication), send it under the
//! transport rules, process the response. Proof headers and the one-time
//! DPoP nonce retry belong in that one place too.

use tracing::Instrument as _;

use crate::config::Configuration;
use crate::dpop::DPoPHandle;
use crate::error::{Error, Result};
use crate::http;
use crate::request::{FormParam, RequestOptions, UnauthenticatedRequest};
use crate::response::{process_token_response, TokenEndpointResponse};

/// The client credentials grant
/// ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)):
/// the client asks for a token for itself.
///
/// `params` are any pairs of strings, repeated names allowed, e.g. several
/// `resource` indicators (RFC 8707). `grant_type` is set by the library.
/// With a [`DPoPHandle`], the request carries a DPoP proof and the token is
/// bound to its key (RFC 9449). Every call sends one request (two when the
/// server asks for a DPoP nonce); see the token manager for caching.
///
/// ```no_run
/// use oidckit::{ClientAuth, client_credentials_grant};
///
/// # async fn run() -> Result<(), oidckit::Error> {
/// let config = oidckit::discovery(
///     "https://as.example.com".parse().unwrap(),
///     "my-service",
///     ClientAuth::client_secret_basic("s3cr3t"),
/// ).await?;
/// let token = client_credentials_grant(
///     &config,
///     &[("scope", "read"), ("resource", "urn:example:api")],
///     None,
/// ).await?;
/// println!("{} token, expires in {:?}", token.token_type(), token.expires_in());
/// # Ok(()) }
/// ```
pub async fn client_credentials_grant<I>(
    config: &Configuration,
    params: I,
    dpop: Option<&DPoPHandle>,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    client_credentials_grant_with(config, params, dpop, &RequestOptions::default()).await
}

/// [`client_credentials_grant`] with per-request options (extra headers, a
/// timeout, more parameters).
pub async fn client_credentials_grant_with<I>(
    config: &Configuration,
    params: I,
    dpop: Option<&DPoPHandle>,
    options: &RequestOptions,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    token_endpoint_request(config, "client_credentials", &[], params, dpop, options).await
}

/// The shared token request path of every grant: build, authenticate, add
/// the DPoP proof, send, process; once more with a fresh proof and
/// assertion if the server asks for a DPoP nonce (RFC 9449 §8), never more.
pub(crate) async fn token_endpoint_request<I>(
    config: &Configuration,
    grant_type: &str,
    grant_params: &[(&str, &str)],
    params: I,
    dpop: Option<&DPoPHandle>,
    options: &RequestOptions,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let span = tracing::debug_span!(
        "oidckit.grant",
        grant_type,
        client_id = config.client_id().as_str(),
        auth = config.client_auth().method_name(),
        dpop = dpop.is_some(),
    );
    async {
        let request =
            UnauthenticatedRequest::new(config, grant_type, grant_params, params, options)?;
        let Some(dpop) = dpop else {
            return send_token_request(config, request, None, options).await;
        };
        match send_token_request(config, request.clone(), Some(dpop), options).await {
            Err(e) if e.is_dpop_nonce_error() => {
                tracing::debug!("retrying once with the server's DPoP nonce");
                send_token_request(config, request, Some(dpop), options).await
            }
            result => result,
        }
    }
    .instrument(span)
    .await
}

async fn send_token_request(
    config: &Configuration,
    request: UnauthenticatedRequest,
    dpop: Option<&DPoPHandle>,
    options: &RequestOptions,
) -> Result<TokenEndpointResponse> {
    let mut request = request.authenticate(config)?;
    if let Some(dpop) = dpop {
        request.add_dpop_proof(dpop)?;
    }
    let response = http::execute(
        &config.transport(),
        request.into_reqwest(config.http_client())?,
        "token",
        options.timeout,
    )
    .await?;
    if let Some(dpop) = dpop {
        dpop.record_nonce(&response.url, &response.headers);
    }
    let context = |e: Error| e.with_response_context(&response.url, response.status);
    let token = process_token_response(config, response.status, &response.headers, &response.body)
        .map_err(context)?;
    check_token_type(&token, dpop.is_some()).map_err(context)?;
    Ok(token)
}

/// RFC 9449 §5: a request with a proof gets a `DPoP` token; a `DPoP` token
/// without a proof could not be used.
fn check_token_type(token: &TokenEndpointResponse, dpop_used: bool) -> Result<()> {
    match (dpop_used, token.token_type().is_dpop()) {
        (true, false) => Err(Error::invalid_response(format!(
            "a DPoP proof was sent but the token_type is {:?}, not DPoP",
            token.token_type().as_str()
        ))),
        (false, true) => Err(Error::invalid_response(
            "the token_type is DPoP but no DPoP proof was sent",
        )),
        _ => Ok(()),
    }
}

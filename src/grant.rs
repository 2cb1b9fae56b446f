//! Grants: free async functions over a [`Configuration`].
//!
//! Every grant is a few lines over one shared path, [`token_endpoint_request`]:
//! build the request (parameters, client authentication), send it under the
//! transport rules, process the response. Proof headers and the one-time
//! DPoP nonce retry belong in that one place too.

use tracing::Instrument as _;

use crate::config::Configuration;
use crate::error::Result;
use crate::http;
use crate::request::{build_grant_request, FormParam, RequestOptions};
use crate::response::{process_token_response, TokenEndpointResponse};

/// The client credentials grant
/// ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)):
/// the client asks for a token for itself.
///
/// `params` are any pairs of strings, repeated names allowed, e.g. several
/// `resource` indicators (RFC 8707). `grant_type` is set by the library.
/// Every call sends one request; see the token manager for caching.
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
/// ).await?;
/// println!("{} token, expires in {:?}", token.token_type(), token.expires_in());
/// # Ok(()) }
/// ```
pub async fn client_credentials_grant<I>(
    config: &Configuration,
    params: I,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    client_credentials_grant_with(config, params, &RequestOptions::default()).await
}

/// [`client_credentials_grant`] with per-request options (extra headers, a
/// timeout, more parameters).
pub async fn client_credentials_grant_with<I>(
    config: &Configuration,
    params: I,
    options: &RequestOptions,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    token_endpoint_request(config, "client_credentials", &[], params, options).await
}

/// The shared token request path of every grant.
pub(crate) async fn token_endpoint_request<I>(
    config: &Configuration,
    grant_type: &str,
    grant_params: &[(&str, &str)],
    params: I,
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
    );
    async {
        let request = build_grant_request(config, grant_type, grant_params, params, options)?;
        let response = http::execute(
            &config.transport(),
            request.into_reqwest(config.http_client())?,
            "token",
            options.timeout,
        )
        .await?;
        process_token_response(config, response.status, &response.headers, &response.body)
            .map_err(|e| e.with_response_context(&response.url, response.status))
    }
    .instrument(span)
    .await
}

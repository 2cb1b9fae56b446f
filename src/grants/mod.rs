//! Grants: free async functions over a [`Configuration`].
//!
//! Every grant is a few lines over one shared path, [`token_endpoint_request`]:
//! build the request (parameters, client authentication), send it under the
//! transport rules, process the response. Proof headers and the one-time
//! DPoP nonce retry belong in that one place too.

pub(crate) mod response;
pub(crate) mod token_exchange;

use tracing::Instrument as _;

use oauth2::RefreshToken;
use reqwest::StatusCode;

use crate::config::{Configuration, Endpoint};
use crate::dpop::DPoPHandle;
use crate::endpoint::request::{FormParam, RequestOptions, UnauthenticatedRequest};
use crate::error::{Error, Result};
use crate::grants::response::{process_token_response, TokenEndpointResponse, TokenType};
use crate::transport::{self, HttpResponse};

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

/// The refresh token grant
/// ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)): a new
/// access token for a refresh token. The response may carry a new refresh
/// token (rotation); use it next time.
pub async fn refresh_token_grant<I>(
    config: &Configuration,
    refresh_token: &RefreshToken,
    params: I,
    dpop: Option<&DPoPHandle>,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let owned = [("refresh_token", refresh_token.secret().as_str())];
    token_endpoint_request(
        config,
        "refresh_token",
        &owned,
        params,
        dpop,
        &RequestOptions::default(),
    )
    .await
}

/// The JWT bearer grant
/// ([RFC 7523 §2.1](https://www.rfc-editor.org/rfc/rfc7523#section-2.1)):
/// a token for a JWT `assertion` (issued by a party the server trusts).
pub async fn jwt_bearer_grant<I>(
    config: &Configuration,
    assertion: &str,
    params: I,
    dpop: Option<&DPoPHandle>,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    if assertion.is_empty() {
        return Err(Error::invalid_input("the assertion must not be empty"));
    }
    let owned = [("assertion", assertion)];
    token_endpoint_request(
        config,
        JWT_BEARER_GRANT_TYPE,
        &owned,
        params,
        dpop,
        &RequestOptions::default(),
    )
    .await
}

/// The `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Any grant, e.g. an extension grant
/// ([RFC 6749 §4.5](https://www.rfc-editor.org/rfc/rfc6749#section-4.5)):
/// `grant_type` and `params` as given; the library still owns
/// `grant_type` and the client authentication parameters.
pub async fn generic_grant_request<I>(
    config: &Configuration,
    grant_type: &str,
    params: I,
    dpop: Option<&DPoPHandle>,
) -> Result<TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    token_endpoint_request(
        config,
        grant_type,
        &[],
        params,
        dpop,
        &RequestOptions::default(),
    )
    .await
}

/// The shared token request path of every grant: the request with
/// `grant_type` and the grant's own parameters, sent by
/// [`authenticated_request`], processed into a token response.
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
            UnauthenticatedRequest::grant(config, grant_type, grant_params, params, options)?;
        authenticated_request(
            config,
            Endpoint::Token,
            request,
            dpop,
            options,
            |response| {
                let token = process_token_response(
                    config,
                    response.status,
                    &response.headers,
                    &response.body,
                )?;
                check_token_type(&token, dpop.is_some())?;
                Ok(token)
            },
        )
        .await
    }
    .instrument(span)
    .await
}

/// The one request path of every authenticated form request (grants,
/// introspection, revocation): client authentication, the DPoP proof, the
/// transport rules, nonce bookkeeping, `process`; and once more with a fresh
/// proof and a fresh client assertion if the server asks for a DPoP nonce
/// (RFC 9449 §8), never more.
pub(crate) async fn authenticated_request<T>(
    config: &Configuration,
    endpoint: Endpoint,
    request: UnauthenticatedRequest,
    dpop: Option<&DPoPHandle>,
    options: &RequestOptions,
    process: impl Fn(&HttpResponse) -> Result<T>,
) -> Result<T> {
    let attempt = |request| async {
        let response = send_once(config, endpoint, request, dpop, options).await?;
        process(&response).map_err(|e| {
            client_auth_hint(
                config,
                e.with_response_context(&response.url, response.status),
            )
        })
    };
    let Some(_) = dpop else {
        return attempt(request).await;
    };
    match attempt(request.clone()).await {
        Err(e) if e.is_dpop_nonce_error() => {
            tracing::debug!("retrying once with the server's DPoP nonce");
            attempt(request).await
        }
        result => result,
    }
}

async fn send_once(
    config: &Configuration,
    endpoint: Endpoint,
    request: UnauthenticatedRequest,
    dpop: Option<&DPoPHandle>,
    options: &RequestOptions,
) -> Result<HttpResponse> {
    let mut request = request.authenticate(config)?;
    if let Some(dpop) = dpop {
        request.add_dpop_proof(dpop)?;
    }
    let response = transport::execute(
        &config.transport(),
        request.into_reqwest(config.http_client())?,
        endpoint.span_name(),
        options.timeout,
    )
    .await?;
    if let Some(dpop) = dpop {
        dpop.record_nonce(&response.url, &response.headers);
    }
    Ok(response)
}

/// A 401 or 403 without an OAuth error body usually means the server did not
/// accept the client authentication, and says nothing more: name the method
/// used, and for the JWT methods the usual culprit, the assertion's audience.
fn client_auth_hint(config: &Configuration, error: Error) -> Error {
    let unauthorized = error.kind() == crate::ErrorKind::UnexpectedStatus
        && error
            .status()
            .is_some_and(|s| s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN);
    if !unauthorized {
        return error;
    }
    let auth = config.client_auth();
    let mut hint = format!("client authentication was {}", auth.method_name());
    if auth.signing_algorithm().is_some() {
        hint.push_str(
            "; some servers want the token endpoint as the assertion audience: \
             ClientAuth::assertion_audience(AssertionAudience::TokenEndpoint)",
        );
    }
    error.with_hint(hint)
}

/// RFC 9449 §5: a request with a proof gets a `DPoP` token; a `DPoP` token
/// without a proof could not be used.
fn check_token_type(token: &TokenEndpointResponse, dpop_used: bool) -> Result<()> {
    // `N_A`: not an access token (token exchange), so nothing to bind.
    if *token.token_type() == TokenType::NotApplicable {
        return Ok(());
    }
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

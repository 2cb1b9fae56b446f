//! Token revocation ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)).

use reqwest::StatusCode;

use super::{no_params, token_call, token_request};
use crate::config::Configuration;
use crate::endpoint::request::{EndpointRequest, FormParam};
use crate::endpoint::response::expect_status;
use crate::endpoint::{EndpointContext, REVOCATION};
use crate::error::Result;
use crate::options::Call;
use crate::transport::EndpointResponse;

/// Revokes `token` (RFC 7009 §2.1), with an optional `token_type_hint`
/// (`access_token`, `refresh_token`). A 200 is success whatever the body
/// (§2.2: an unknown token is not an error); anything else is the server's
/// error. More parameters go in the call's options
/// ([`RequestOptions::param`](crate::RequestOptions::param)).
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
/// oidckit::token_revocation(&config, "a-refresh-token", Some("refresh_token")).await?;
/// # Ok(()) }
/// ```
pub fn token_revocation<'a>(
    config: &'a Configuration,
    token: &str,
    token_type_hint: Option<&str>,
) -> Call<'a, ()> {
    let request = token_request(
        &config.context(),
        &REVOCATION,
        token,
        token_type_hint,
        no_params(),
    );
    token_call(config, &REVOCATION, request, process_revocation_response)
}

/// Builds a revocation request (the low-level half of
/// [`token_revocation`]): `token`, the hint, `params`, client
/// authentication.
pub fn build_revocation_request<I>(
    ctx: &EndpointContext<'_>,
    token: &str,
    token_type_hint: Option<&str>,
    params: I,
) -> Result<EndpointRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    token_request(ctx, &REVOCATION, token, token_type_hint, params)?.authenticate(ctx)
}

/// Processes a revocation response (RFC 7009 §2.2): a 200 is success.
pub fn process_revocation_response(
    _ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
) -> Result<()> {
    expect_status(response, StatusCode::OK)
}

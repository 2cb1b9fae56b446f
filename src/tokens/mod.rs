//! Endpoints that take a token: introspection (RFC 7662) and revocation
//! (RFC 7009). Both send the token (and an optional hint) as a form with
//! client authentication, over the shared endpoint path.

pub(crate) mod introspection;
pub(crate) mod revocation;

use tracing::Instrument as _;

use crate::config::Configuration;
use crate::endpoint::request::{FormParam, UnauthenticatedRequest};
use crate::endpoint::{self, Endpoint, EndpointContext};
use crate::error::{Error, Result};
use crate::options::Call;
use crate::transport::EndpointResponse;

/// A call to `endpoint` with `token` and its hint, read by `process`.
fn token_call<'a, T: Send + 'a>(
    config: &'a Configuration,
    endpoint: &'static Endpoint,
    token: &str,
    token_type_hint: Option<&str>,
    process: fn(&EndpointContext<'_>, &EndpointResponse) -> Result<T>,
) -> Call<'a, T> {
    let no_params = std::iter::empty::<(&str, &str)>();
    let request = token_request(
        &config.context(),
        endpoint,
        token,
        token_type_hint,
        no_params,
    );
    let span = endpoint::span(config, endpoint, None, false);
    Call::new(move |options| {
        async move {
            let dpop = options.dpop.as_ref();
            endpoint::send(config, endpoint, request?, &options, dpop, process).await
        }
        .instrument(span)
    })
}

/// The request both endpoints take: `token`, then `token_type_hint`, then
/// the caller's parameters.
fn token_request<I>(
    ctx: &EndpointContext<'_>,
    endpoint: &Endpoint,
    token: &str,
    token_type_hint: Option<&str>,
    params: I,
) -> Result<UnauthenticatedRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    if token.is_empty() {
        return Err(Error::invalid_input("the token must not be empty"));
    }
    let mut owned = vec![("token", token)];
    if let Some(hint) = token_type_hint {
        owned.push(("token_type_hint", hint));
    }
    UnauthenticatedRequest::new(ctx, endpoint, &owned, params)
}

//! Pushed Authorization Requests ([RFC 9126](https://www.rfc-editor.org/rfc/rfc9126)):
//! the authorization parameters go to the server directly, with client
//! authentication (and DPoP), and the browser carries only a reference.

use reqwest::StatusCode;
use serde_json::Value;
use tracing::Instrument as _;
use url::Url;

use crate::config::Configuration;
use crate::endpoint::request::{
    client_id_param, EndpointRequest, FormParam, UnauthenticatedRequest,
};
use crate::endpoint::response::expect_status;
use crate::endpoint::{self, EndpointContext, PAR};
use crate::error::{server_text, Error, Result};
use crate::options::Call;
use crate::transport::{json_object, EndpointResponse};

/// The answer to a pushed authorization request (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushedAuthorizationResponse {
    /// The reference to the pushed parameters, for the authorization URL.
    pub request_uri: String,
    /// How long the reference is valid, in seconds.
    pub expires_in: u64,
}

/// Builds a pushed authorization request (the low-level half of
/// [`build_authorization_url_with_par`]): a form `POST` of `client_id` and
/// `params` (the authorization request's parameters, or a signed `request`
/// object from [`build_request_object`](crate::build_request_object)) to the
/// `pushed_authorization_request_endpoint`, with the client's
/// authentication.
pub fn build_pushed_authorization_request<I>(
    ctx: &EndpointContext<'_>,
    params: I,
) -> Result<EndpointRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    par_request(ctx, params)?.authenticate(ctx)
}

fn par_request<I>(ctx: &EndpointContext<'_>, params: I) -> Result<UnauthenticatedRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let params: Vec<I::Item> = params.into_iter().collect();
    // RFC 9126 §2.1: a pushed request must not itself be a reference.
    if params.iter().any(|p| p.name() == "request_uri") {
        return Err(Error::invalid_input(
            "`request_uri` cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    let client_id = client_id_param(ctx);
    UnauthenticatedRequest::new(ctx, &PAR, client_id.as_slice(), params)
}

/// Processes the answer (the low-level half of
/// [`build_authorization_url_with_par`]): a **201** with a string
/// `request_uri` and a numeric `expires_in` (RFC 9126 §2.2); an OAuth error
/// or an unexpected status otherwise.
pub fn process_pushed_authorization_response(
    _ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
) -> Result<PushedAuthorizationResponse> {
    expect_status(response, StatusCode::CREATED)?;
    let map = json_object(response.headers(), response.body())?;
    let request_uri = match map.get("request_uri") {
        Some(Value::String(uri)) if !uri.is_empty() => uri.clone(),
        _ => {
            return Err(Error::invalid_response(
                "the pushed authorization response has no `request_uri` string",
            ))
        }
    };
    let expires_in = match map.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    }
    .ok_or_else(|| {
        Error::invalid_response(format!(
            "the pushed authorization response's `expires_in` is not a number of seconds (request_uri {:?})",
            server_text(&request_uri, 80)
        ))
    })?;
    Ok(PushedAuthorizationResponse {
        request_uri,
        expires_in,
    })
}

/// Pushes the authorization parameters (RFC 9126) and returns the URL to
/// send the browser to: the `authorization_endpoint` with only `client_id`
/// and the `request_uri` the server gave. The parameters travel
/// authenticated and unseen by the browser; with a DPoP handle in the
/// [`options`](Call::options), the push carries a proof and the code is
/// bound to its key (RFC 9449 §10.1).
///
/// `params` are those of [`build_authorization_url`](crate::build_authorization_url)
/// (`response_type=code` and the one registered `redirect_uri` are added
/// the same way), or a signed `request` object.
///
/// ```no_run
/// use oidckit::{build_authorization_url_with_par, calculate_pkce_code_challenge, random_pkce_code_verifier};
///
/// # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
/// let verifier = random_pkce_code_verifier();
/// let url = build_authorization_url_with_par(&config, &[
///     ("redirect_uri", "https://app.example/cb"),
///     ("scope", "openid"),
///     ("code_challenge", &calculate_pkce_code_challenge(&verifier)),
///     ("code_challenge_method", "S256"),
/// ]).await?;
/// assert!(url.query_pairs().any(|(k, _)| k == "request_uri"));
/// # Ok(()) }
/// ```
pub fn build_authorization_url_with_par<'a, I>(
    config: &'a Configuration,
    params: I,
) -> Call<'a, Url>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let ctx = config.context();
    let authorization_endpoint = super::authorization_endpoint(&ctx).cloned();
    let params = super::with_defaults(&ctx, params, true);
    let request = params.and_then(|params| par_request(&ctx, &params));
    let span = endpoint::span(config, &PAR, None);
    Call::new(move |options| {
        async move {
            let authorization_endpoint = authorization_endpoint?;
            let dpop = options.dpop.as_ref();
            let pushed = endpoint::send(
                config,
                &PAR,
                request?,
                &options,
                dpop,
                process_pushed_authorization_response,
            )
            .await?;
            let mut url = authorization_endpoint;
            url.query_pairs_mut()
                .append_pair("client_id", config.client_id().as_str())
                .append_pair("request_uri", &pushed.request_uri);
            Ok(url)
        }
        .instrument(span)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, ClientMetadata, ErrorKind, ServerMetadata};
    use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

    fn server() -> ServerMetadata {
        let mut s = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        s.pushed_authorization_request_endpoint = Some("https://as.example/par".parse().unwrap());
        s
    }

    fn answer(status: u16, body: &str) -> EndpointResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        EndpointResponse::new(
            "https://as.example/par".parse().unwrap(),
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.to_owned(),
        )
    }

    #[test]
    fn the_push_and_its_answer_without_io() {
        let server = server();
        let client = ClientMetadata::new("app");
        let basic = ClientAuth::client_secret_basic("s");
        let ctx = EndpointContext::new(&server, &client, &basic);
        let request = build_pushed_authorization_request(&ctx, [("scope", "openid")]).unwrap();
        assert_eq!(request.url().as_str(), "https://as.example/par");
        assert_eq!(request.body(), "client_id=app&scope=openid");
        assert!(request.headers().contains_key("authorization"));
        // Other methods send client_id themselves: once, not twice.
        let post = ClientAuth::client_secret_post("s");
        let ctx_post = EndpointContext::new(&server, &client, &post);
        let request = build_pushed_authorization_request(&ctx_post, [("scope", "openid")]).unwrap();
        assert_eq!(request.body(), "scope=openid&client_id=app&client_secret=s");
        let e = build_pushed_authorization_request(&ctx, [("request_uri", "urn:x")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);

        let ok = process_pushed_authorization_response(
            &ctx,
            &answer(
                201,
                r#"{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok.request_uri, "urn:ietf:params:oauth:request_uri:abc");
        assert_eq!(ok.expires_in, 60);
        let cases = [
            (
                200,
                r#"{"request_uri":"urn:x","expires_in":60}"#,
                ErrorKind::UnexpectedStatus,
            ),
            (
                201,
                r#"{"request_uri":5,"expires_in":60}"#,
                ErrorKind::InvalidResponse,
            ),
            (201, r#"{"expires_in":60}"#, ErrorKind::InvalidResponse),
            (
                201,
                r#"{"request_uri":"urn:x","expires_in":"60"}"#,
                ErrorKind::InvalidResponse,
            ),
            (
                201,
                r#"{"request_uri":"urn:x"}"#,
                ErrorKind::InvalidResponse,
            ),
            (400, r#"{"error":"invalid_request"}"#, ErrorKind::OAuth),
            (201, "<html>", ErrorKind::InvalidResponse),
        ];
        for (status, body, kind) in cases {
            let e = process_pushed_authorization_response(&ctx, &answer(status, body)).unwrap_err();
            assert_eq!(e.kind(), kind, "{status} {body}: {e}");
        }
    }
}

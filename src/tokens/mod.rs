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

/// A call sending `request` to `endpoint`, read by `process`.
fn token_call<'a, T: Send + 'a>(
    config: &'a Configuration,
    endpoint: &'static Endpoint,
    request: Result<UnauthenticatedRequest>,
    process: fn(&EndpointContext<'_>, &EndpointResponse) -> Result<T>,
) -> Call<'a, T> {
    let span = endpoint::span(config, endpoint, None);
    Call::new(move |options| {
        async move {
            let dpop = options.dpop.as_ref();
            endpoint::send(config, endpoint, request?, &options, dpop, process).await
        }
        .instrument(span)
    })
}

/// The caller's parameters of a high-level call: none (more come from the
/// options).
fn no_params() -> std::iter::Empty<(&'static str, &'static str)> {
    std::iter::empty()
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

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
    use reqwest::StatusCode;

    use crate::{
        build_introspection_request, build_revocation_request, process_introspection_response,
        process_revocation_response, ClientAuth, ClientMetadata, EndpointContext, EndpointResponse,
        ErrorKind, ServerMetadata,
    };

    fn server() -> ServerMetadata {
        let mut server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        server.introspection_endpoint = Some("https://as.example/introspect".parse().unwrap());
        server.revocation_endpoint = Some("https://as.example/revoke".parse().unwrap());
        server
    }

    fn answer(status: u16, body: &str) -> EndpointResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        EndpointResponse::new(
            "https://as.example/introspect".parse().unwrap(),
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.to_owned(),
        )
    }

    #[test]
    fn introspection_and_revocation_pairs_without_io() {
        let server = server();
        let client = ClientMetadata::new("rs");
        let auth = ClientAuth::client_secret_post("s");
        let ctx = EndpointContext::new(&server, &client, &auth);

        let request =
            build_introspection_request(&ctx, "tok", Some("access_token"), [("resource", "urn:x")])
                .unwrap();
        assert_eq!(request.url().as_str(), "https://as.example/introspect");
        assert_eq!(
            request.body(),
            "token=tok&token_type_hint=access_token&resource=urn%3Ax&client_id=rs&client_secret=s"
        );
        let e = build_introspection_request(&ctx, "tok", None, [("token", "other")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = build_introspection_request(&ctx, "", None, [("a", "b")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);

        let active = process_introspection_response(
            &ctx,
            &answer(
                200,
                r#"{"active":true,"scope":"read","aud":"api","cnf":{"jkt":"x"}}"#,
            ),
            None,
        )
        .unwrap();
        assert!(active.active);
        assert_eq!(active.aud.as_deref(), Some(&["api".to_owned()][..]));
        let e = process_introspection_response(&ctx, &answer(200, r#"{"active":"yes"}"#), None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        let e = process_introspection_response(
            &ctx,
            &answer(401, r#"{"error":"invalid_client"}"#),
            None,
        )
        .unwrap_err();
        assert_eq!(e.oauth_error().unwrap().error, "invalid_client");

        let request =
            build_revocation_request(&ctx, "rt", Some("refresh_token"), [("a", "b")]).unwrap();
        assert_eq!(request.url().as_str(), "https://as.example/revoke");
        assert!(request
            .body()
            .starts_with("token=rt&token_type_hint=refresh_token&a=b"));
        assert!(process_revocation_response(&ctx, &answer(200, "whatever")).is_ok());
        let e = process_revocation_response(&ctx, &answer(503, "busy")).unwrap_err();
        assert!(e.is_retryable());

        // A server without the endpoint: the metadata is missing, not the input.
        let bare = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        let ctx = EndpointContext::new(&bare, &client, &auth);
        let e = build_revocation_request(&ctx, "rt", None, [("a", "b")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingMetadata);
    }
}

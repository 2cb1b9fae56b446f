//! Grants at the token endpoint: free functions over a [`Configuration`].
//!
//! Every grant is the same three steps: its parameters become a token
//! request ([`build_token_request`] is the public, low-level form), the
//! shared endpoint path sends it (client authentication, DPoP, transport,
//! nonce retry), and [`process_token_response`] reads the answer. A grant
//! function only says which `grant_type` and which parameters of its own.

pub(crate) mod response;
pub(crate) mod token_exchange;

use oauth2::RefreshToken;
use tracing::Instrument as _;

use crate::config::Configuration;
use crate::dpop::DPoPHandle;
use crate::endpoint::request::{EndpointRequest, FormParam, UnauthenticatedRequest};
use crate::endpoint::{self, EndpointContext, TOKEN};
use crate::error::{Error, Result};
use crate::id_token::{self, IdTokenExpectations};
use crate::options::{Call, RequestOptions};
use response::{process_token_response, TokenEndpointResponse, TokenType};

/// The client credentials grant
/// ([RFC 6749 §4.4](https://www.rfc-editor.org/rfc/rfc6749#section-4.4)):
/// the client asks for a token for itself.
///
/// `params` are any pairs of strings, repeated names allowed, e.g. several
/// `resource` indicators (RFC 8707). `grant_type` is set by the library.
/// With a [`DPoPHandle`], the request carries a DPoP proof and the token is
/// bound to its key (RFC 9449). Every call sends one request (two when the
/// server asks for a DPoP nonce); see the token manager for caching. Await
/// it, or set [`RequestOptions`] first with [`Call::options`].
///
/// ```no_run
/// use oidckit::{ClientAuth, client_credentials_grant};
///
/// # async fn run() -> Result<(), oidckit::Error> {
/// let config = oidckit::discovery(
///     "https://as.example.com",
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
pub fn client_credentials_grant<'a, I>(
    config: &'a Configuration,
    params: I,
    dpop: Option<&'a DPoPHandle>,
) -> Call<'a, TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    grant(config, "client_credentials", &[], params, dpop)
}

/// The refresh token grant
/// ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)): a new
/// access token for a refresh token. The response may carry a new refresh
/// token (rotation); use it next time.
///
/// `refresh_token` is a [`RefreshToken`], or the [`TokenEndpointResponse`]
/// that carried it. An ID Token in the response is validated as the one of
/// the original sign-in was (OIDC Core §12.2), and — given the previous
/// response and its validated claims — its `sub` must be the original one.
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration, tokens: oidckit::TokenEndpointResponse) -> Result<(), oidckit::Error> {
/// let refreshed = oidckit::refresh_token_grant(&config, &tokens, &[("scope", "openid")], None).await?;
/// if let Some(claims) = refreshed.claims() {
///     assert_eq!(Some(claims.subject()), tokens.claims().map(|c| c.subject()));
/// }
/// # Ok(()) }
/// ```
pub fn refresh_token_grant<'a, 'r, I>(
    config: &'a Configuration,
    refresh_token: impl Into<RefreshTokenRef<'r>>,
    params: I,
    dpop: Option<&'a DPoPHandle>,
) -> Call<'a, TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let RefreshTokenRef { token, subject } = refresh_token.into();
    let Some(token) = token else {
        return Call::fail(Error::invalid_input(
            "the token response has no refresh_token to refresh with",
        ));
    };
    let owned = [("refresh_token", token.secret().as_str())];
    let expected = IdTokenExpectations::after_refresh(subject);
    checked_grant(
        config,
        "refresh_token",
        &owned,
        params,
        dpop,
        ResponseCheck::IdToken(expected),
    )
}

/// The refresh token of a [`refresh_token_grant`]: a [`RefreshToken`], or the
/// [`TokenEndpointResponse`] that carried it (which also gives the subject
/// of its validated ID Token, to compare with the new one's).
#[derive(Debug, Clone, Copy)]
pub struct RefreshTokenRef<'r> {
    token: Option<&'r RefreshToken>,
    subject: Option<&'r str>,
}

impl<'r> From<&'r RefreshToken> for RefreshTokenRef<'r> {
    fn from(token: &'r RefreshToken) -> Self {
        RefreshTokenRef {
            token: Some(token),
            subject: None,
        }
    }
}

impl<'r> From<&'r TokenEndpointResponse> for RefreshTokenRef<'r> {
    fn from(response: &'r TokenEndpointResponse) -> Self {
        RefreshTokenRef {
            token: response.refresh_token(),
            subject: response.claims().map(|c| c.subject()),
        }
    }
}

/// The JWT bearer grant
/// ([RFC 7523 §2.1](https://www.rfc-editor.org/rfc/rfc7523#section-2.1)):
/// a token for a JWT `assertion` (issued by a party the server trusts).
pub fn jwt_bearer_grant<'a, I>(
    config: &'a Configuration,
    assertion: &str,
    params: I,
    dpop: Option<&'a DPoPHandle>,
) -> Call<'a, TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    if assertion.is_empty() {
        return Call::fail(Error::invalid_input("the assertion must not be empty"));
    }
    let owned = [("assertion", assertion)];
    grant(config, JWT_BEARER_GRANT_TYPE, &owned, params, dpop)
}

/// The `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Any grant, e.g. an extension grant
/// ([RFC 6749 §4.5](https://www.rfc-editor.org/rfc/rfc6749#section-4.5)):
/// `grant_type` and `params` as given; the library still owns
/// `grant_type` and the client authentication parameters.
pub fn generic_grant_request<'a, I>(
    config: &'a Configuration,
    grant_type: &str,
    params: I,
    dpop: Option<&'a DPoPHandle>,
) -> Call<'a, TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    grant(config, grant_type, &[], params, dpop)
}

/// Builds a token request for any grant (the low-level half of every
/// grant, for callers with their own HTTP stack): `grant_type`, then
/// `params`, then the client authentication of `ctx`. Send it, wrap the
/// answer in an [`EndpointResponse`](crate::EndpointResponse) and read it
/// with [`process_token_response`].
///
/// ```
/// use oidckit::{build_token_request, ClientAuth, ClientMetadata, EndpointContext, ServerMetadata};
///
/// let server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// let client = ClientMetadata::new("client");
/// let auth = ClientAuth::client_secret_post("s");
/// let request = build_token_request(
///     &EndpointContext::new(&server, &client, &auth),
///     "client_credentials",
///     &[("scope", "read")],
/// )?;
/// assert_eq!(request.body(), "grant_type=client_credentials&scope=read&client_id=client&client_secret=s");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_token_request<I>(
    ctx: &EndpointContext<'_>,
    grant_type: &str,
    params: I,
) -> Result<EndpointRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    token_request(ctx, grant_type, &[], params)?.authenticate(ctx)
}

/// A token endpoint request for `grant_type`, followed by the grant's own
/// parameters (such as `refresh_token`), then the caller's.
fn token_request<I>(
    ctx: &EndpointContext<'_>,
    grant_type: &str,
    grant_params: &[(&'static str, &str)],
    params: I,
) -> Result<UnauthenticatedRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    if grant_type.is_empty() {
        return Err(Error::invalid_input("grant_type must not be empty"));
    }
    let mut owned = Vec::with_capacity(1 + grant_params.len());
    owned.push(("grant_type", grant_type));
    owned.extend_from_slice(grant_params);
    UnauthenticatedRequest::new(ctx, &TOKEN, &owned, params)
}

/// A grant as a [`Call`]: the request is built now (so the parameters need
/// not outlive the call), sent when the call is awaited.
fn grant<'a, I>(
    config: &'a Configuration,
    grant_type: &str,
    grant_params: &[(&'static str, &str)],
    params: I,
    dpop: Option<&'a DPoPHandle>,
) -> Call<'a, TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    checked_grant(
        config,
        grant_type,
        grant_params,
        params,
        dpop,
        ResponseCheck::None,
    )
}

/// What a grant checks in its response beyond RFC 6749 §5.1.
pub(crate) enum ResponseCheck {
    /// Nothing more.
    None,
    /// A grant-specific rule (token exchange requires `issued_token_type`),
    /// whose error keeps the response's URL and status.
    Rule(fn(&TokenEndpointResponse) -> Result<()>),
    /// An ID Token, validated with the server's keys (OpenID Connect).
    IdToken(IdTokenExpectations),
}

/// [`grant`] with a [`ResponseCheck`].
pub(crate) fn checked_grant<'a, I>(
    config: &'a Configuration,
    grant_type: &str,
    grant_params: &[(&'static str, &str)],
    params: I,
    dpop: Option<&'a DPoPHandle>,
    check: ResponseCheck,
) -> Call<'a, TokenEndpointResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let request = token_request(&config.context(), grant_type, grant_params, params);
    let span = endpoint::span(config, &TOKEN, Some(grant_type));
    Call::new(move |options| request_token(config, request, options, dpop, check).instrument(span))
}

/// Sends a token request and processes the response: the shared path of
/// every grant.
async fn request_token(
    config: &Configuration,
    request: Result<UnauthenticatedRequest>,
    options: RequestOptions,
    dpop: Option<&DPoPHandle>,
    check: ResponseCheck,
) -> Result<TokenEndpointResponse> {
    let request = request?;
    let dpop = dpop.or(options.dpop.as_ref());
    // FAPI 2.0 §5.3.2.2: the OpenID Connect grants (those that validate an
    // ID Token) issue sender-constrained tokens only.
    if matches!(check, ResponseCheck::IdToken(_)) && config.context().fapi2 {
        crate::fapi::check_sender_constrained(config.client_auth(), dpop.is_some())?;
    }
    let mut token = endpoint::send(config, &TOKEN, request, &options, dpop, |ctx, response| {
        let token = process_token_response(ctx, response)?;
        check_token_type(&token, dpop.is_some())?;
        if let ResponseCheck::Rule(rule) = &check {
            rule(&token)?;
        }
        Ok(token)
    })
    .await?;
    if let ResponseCheck::IdToken(expected) = &check {
        let claims = id_token::validate_returned(config, &token, expected).await?;
        if let Some(claims) = claims {
            token.set_claims(claims);
        }
    }
    Ok(token)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::{ClientAuth, ClientMetadata, ServerMetadata};
    use reqwest::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};

    fn server(endpoint: &str) -> ServerMetadata {
        ServerMetadata::new("https://as.example", endpoint.parse().unwrap())
    }

    fn build<I>(auth: &ClientAuth, grant_type: &str, params: I) -> Result<EndpointRequest>
    where
        I: IntoIterator,
        I::Item: FormParam,
    {
        let server = server("https://as.example/token");
        let client = ClientMetadata::new("client");
        build_token_request(
            &EndpointContext::new(&server, &client, auth),
            grant_type,
            params,
        )
    }

    /// The request the high-level path sends, options applied.
    fn with_options(auth: &ClientAuth, options: &RequestOptions) -> Result<EndpointRequest> {
        let server = server("https://as.example/token");
        let client = ClientMetadata::new("client");
        let ctx = EndpointContext::new(&server, &client, auth);
        token_request(&ctx, "client_credentials", &[], [("a", "b")])?
            .with_options(options)?
            .authenticate(&ctx)
    }

    #[test]
    fn repeated_parameters_and_encoding() {
        let req = build(
            &ClientAuth::none(),
            "client_credentials",
            vec![
                ("resource".to_string(), "urn:a".to_string()),
                (
                    "resource".to_string(),
                    "https://b.example/?x=1&y".to_string(),
                ),
                ("scope".to_string(), "read write".to_string()),
            ],
        )
        .unwrap();
        assert_eq!(
            req.body(),
            "grant_type=client_credentials&resource=urn%3Aa&resource=https%3A%2F%2Fb.example%2F%3Fx%3D1%26y&scope=read+write&client_id=client"
        );
        assert_eq!(
            req.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(req.headers()[ACCEPT], "application/json");
    }

    #[test]
    fn library_parameters_and_headers_cannot_be_overridden() {
        let auth = ClientAuth::client_secret_basic("s");
        for name in ["grant_type", "client_id", "client_assertion"] {
            let e = build(&auth, "client_credentials", [(name, "x")]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
        }
        let opts = RequestOptions::new().param("grant_type", "password");
        assert!(with_options(&auth, &opts).is_err());
        let opts =
            RequestOptions::new().header(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(with_options(&auth, &opts).is_err());
        let opts = RequestOptions::new()
            .header(
                HeaderName::from_static("x-trace"),
                HeaderValue::from_static("1"),
            )
            .param("audience", "api");
        let req = with_options(&auth, &opts).unwrap();
        assert_eq!(req.headers()["x-trace"], "1");
        assert_eq!(req.body(), "grant_type=client_credentials&a=b&audience=api");
    }

    #[test]
    fn a_grants_own_parameters_are_refused_from_options_too() {
        let server = server("https://as.example/token");
        let client = ClientMetadata::new("client");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let request = token_request(
            &ctx,
            "refresh_token",
            &[("refresh_token", "rt")],
            [("a", "b")],
        )
        .unwrap();
        let Err(e) = request.with_options(&RequestOptions::new().param("refresh_token", "other"))
        else {
            panic!("a grant's own parameter was accepted from the options");
        };
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn debug_hides_credentials() {
        let req = build(
            &ClientAuth::client_secret_post("hunter2"),
            "client_credentials",
            [("scope", "x")],
        )
        .unwrap();
        let d = format!("{req:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("client_secret"), "{d}");
    }

    #[test]
    fn insecure_token_endpoint_is_refused_and_empty_client_id_too() {
        let server = server("http://as.example/token");
        let client = ClientMetadata::new("client");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let e = build_token_request(&ctx, "client_credentials", [("a", "b")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InsecureUrl);
        let ok = build_token_request(
            &ctx.clone().allow_insecure_requests(true),
            "client_credentials",
            [("a", "b")],
        );
        assert!(ok.is_ok());
        let no_id = ClientMetadata::default();
        let https = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        let e = build_token_request(
            &EndpointContext::new(&https, &no_id, &auth),
            "x",
            [("a", "b")],
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}

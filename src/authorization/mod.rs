//! Signing a user in: the authorization code flow with PKCE
//! ([RFC 6749 §4.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1),
//! [RFC 7636](https://www.rfc-editor.org/rfc/rfc7636),
//! [OIDC Core §3.1](https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)),
//! and signing out (RP-Initiated Logout).
//!
//! 1. [`build_authorization_url`] with a PKCE challenge, a `state` and a
//!    `nonce` from [`random_pkce_code_verifier`], [`random_state`] and
//!    [`random_nonce`], kept in the user's session;
//! 2. the browser comes back to the redirect URI: [`authorization_code_grant`]
//!    checks the authorization response ([`validate_authorization_response`]
//!    is that step alone), redeems the code and validates the ID Token;
//! 3. [`build_end_session_url`] signs the user out at the server.

mod callback;
mod jar;
mod logout;
mod par;
#[cfg(test)]
mod tests;

pub use callback::{
    validate_authorization_response, validate_jwt_authorization_response, AuthorizationCode,
    Callback,
};
pub use jar::{build_authorization_url_with_jar, build_request_object};
pub use logout::build_end_session_url;
pub use par::{
    build_authorization_url_with_par, build_pushed_authorization_request,
    process_pushed_authorization_response, PushedAuthorizationResponse,
};

use std::fmt;

use url::Url;

use crate::config::Configuration;
use crate::endpoint::request::FormParam;
use crate::endpoint::EndpointContext;
use crate::error::{Error, Result};
use crate::grants::{checked_grant, response::TokenEndpointResponse, ResponseCheck};
use crate::id_token::IdTokenExpectations;
use crate::jose::{b64url, sha256};
use crate::options::{Call, RequestOptions};
use crate::transport;

/// Parameters [`build_authorization_url`] sets itself.
const LIBRARY_PARAMS: [&str; 1] = ["client_id"];

/// 32 random bytes, base64url-encoded (43 characters): a PKCE
/// `code_verifier` (RFC 7636 §4.1), to keep in the user's session and give to
/// [`AuthorizationChecks::pkce_code_verifier`].
///
/// # Panics
///
/// If the operating system's random number generator fails (as the `rand`
/// crate does): nothing sensible can be done without randomness.
pub fn random_pkce_code_verifier() -> String {
    random_32()
}

/// A random `state` (32 bytes, base64url) for the authorization request: it
/// ties the response to the browser session that started the flow (RFC 6749
/// §10.12). Panics as [`random_pkce_code_verifier`].
pub fn random_state() -> String {
    random_32()
}

/// A random `nonce` (32 bytes, base64url) for the authorization request: the
/// ID Token must carry it back, which stops a replayed ID Token (OIDC Core
/// §15.5.2). Panics as [`random_pkce_code_verifier`].
pub fn random_nonce() -> String {
    random_32()
}

fn random_32() -> String {
    let mut bytes = [0u8; 32];
    #[allow(clippy::expect_used)]
    openssl::rand::rand_bytes(&mut bytes).expect("the random number generator failed");
    b64url(&bytes)
}

/// The PKCE `code_challenge` for `code_verifier` with method `S256`:
/// `BASE64URL(SHA256(code_verifier))` (RFC 7636 §4.2). The `plain` method is
/// not offered: it protects nothing if the request leaks.
pub fn calculate_pkce_code_challenge(code_verifier: &str) -> String {
    b64url(&sha256(code_verifier.as_bytes()))
}

/// The URL to send the user's browser to: the server's
/// `authorization_endpoint` with `client_id`, `response_type=code` (unless
/// given), the client's one registered `redirect_uri` (unless given), and
/// `params`.
///
/// The endpoint must be `https:` (unless insecure requests are allowed);
/// `client_id` is the library's. The parameters are not checked against the
/// flow: give `code_challenge` with `code_challenge_method=S256`, `state`
/// and, for OpenID Connect, `scope=openid …` and a `nonce`.
///
/// ```
/// use oidckit::{build_authorization_url, calculate_pkce_code_challenge, random_nonce,
///     random_pkce_code_verifier, random_state, ClientAuth, Configuration, ServerMetadata};
///
/// let mut server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// server.authorization_endpoint = Some("https://as.example/authorize".parse()?);
/// let config = Configuration::new(server, "app", ClientAuth::client_secret_basic("s"))?;
///
/// let verifier = random_pkce_code_verifier();
/// let (state, nonce) = (random_state(), random_nonce());
/// let url = build_authorization_url(&config, &[
///     ("redirect_uri", "https://app.example/cb"),
///     ("scope", "openid email"),
///     ("code_challenge", &calculate_pkce_code_challenge(&verifier)),
///     ("code_challenge_method", "S256"),
///     ("state", &state),
///     ("nonce", &nonce),
/// ])?;
/// assert!(url.as_str().starts_with("https://as.example/authorize?client_id=app&response_type=code&"));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_authorization_url<I>(config: &Configuration, params: I) -> Result<Url>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    build_authorization_url_in(&config.context(), params)
}

/// [`build_authorization_url`] over the low-level context.
pub(crate) fn build_authorization_url_in<I>(ctx: &EndpointContext<'_>, params: I) -> Result<Url>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    refuse_without_par(ctx, "build_authorization_url_with_par")?;
    let mut url = authorization_endpoint(ctx)?.clone();
    let params = with_defaults(ctx, params, false)?;
    url.query_pairs_mut()
        .append_pair("client_id", &ctx.client.client_id)
        .extend_pairs(&params);
    Ok(url)
}

/// The `authorization_endpoint`, which must be `https:` unless insecure
/// requests are allowed.
pub(crate) fn authorization_endpoint<'c>(ctx: &EndpointContext<'c>) -> Result<&'c Url> {
    let endpoint = ctx
        .server
        .authorization_endpoint
        .as_ref()
        .ok_or_else(|| Error::missing_metadata("authorization_endpoint"))?;
    transport::check_url(endpoint, ctx.allow_insecure_requests)?;
    Ok(endpoint)
}

/// The caller's parameters with `response_type=code` and the one registered
/// `redirect_uri` added when not given; `client_id` refused (the library
/// sets it). In a push (`pushed`), a signed `request` object passes as it
/// is: it carries its own parameters.
pub(crate) fn with_defaults<I>(
    ctx: &EndpointContext<'_>,
    params: I,
    pushed: bool,
) -> Result<Vec<(String, String)>>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let params: Vec<(String, String)> = params
        .into_iter()
        .map(|p| (p.name().to_owned(), p.value().to_owned()))
        .collect();
    if let Some((name, _)) = params
        .iter()
        .find(|(n, _)| LIBRARY_PARAMS.contains(&n.as_str()))
    {
        return Err(Error::invalid_input(format!(
            "`{name}` is set by the library"
        )));
    }
    let given = |name: &str| params.iter().any(|(n, _)| n == name);
    if ctx.fapi2 {
        crate::fapi::check_authorization_params(&params)?;
    }
    // A pushed request object carries its own parameters (RFC 9126 §3).
    if pushed && given("request") {
        return Ok(params);
    }
    let mut out = Vec::with_capacity(params.len() + 2);
    if !given("response_type") {
        out.push(("response_type".to_owned(), "code".to_owned()));
    }
    if !given("redirect_uri") {
        if let Some([only]) = ctx.client.redirect_uris.as_deref() {
            out.push(("redirect_uri".to_owned(), only.clone()));
        }
    }
    out.extend(params);
    Ok(out)
}

/// Refuses a request that does not go through PAR when the server or the
/// client requires PAR (`require_pushed_authorization_requests`, RFC 9126 §5, §6).
pub(crate) fn refuse_without_par(ctx: &EndpointContext<'_>, instead: &str) -> Result<()> {
    if ctx.fapi2 {
        return Err(crate::fapi::par_required());
    }
    if ctx.server.require_pushed_authorization_requests == Some(true)
        || ctx.client.require_pushed_authorization_requests == Some(true)
    {
        return Err(Error::invalid_input(format!(
            "the {} requires pushed authorization requests (require_pushed_authorization_requests): use {instead}",
            if ctx.server.require_pushed_authorization_requests == Some(true) {
                "server"
            } else {
                "client's registration"
            }
        )));
    }
    Ok(())
}

/// What the authorization response and the ID Token must match: the values
/// the application kept in the user's session when it built the
/// authorization URL. Setters never fail.
///
/// ```
/// # let (verifier, state, nonce) = ("v", "s", "n");
/// let checks = oidckit::AuthorizationChecks::new()
///     .pkce_code_verifier(verifier)
///     .expected_state(state)
///     .expected_nonce(nonce)
///     .max_age(3600);
/// ```
#[derive(Clone, Default)]
pub struct AuthorizationChecks {
    pub(crate) pkce_code_verifier: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) max_age: Option<u64>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) id_token_expected: bool,
    pub(crate) jarm: bool,
    pub(crate) flow: callback::Flow,
}

impl fmt::Debug for AuthorizationChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationChecks")
            .field(
                "pkce_code_verifier",
                &self.pkce_code_verifier.as_ref().map(|_| "[redacted]"),
            )
            .field("state", &self.state)
            .field("nonce", &self.nonce)
            .field("max_age", &self.max_age)
            .field("redirect_uri", &self.redirect_uri)
            .field("id_token_expected", &self.id_token_expected)
            .field("jarm", &self.jarm)
            .field("flow", &self.flow)
            .finish()
    }
}

impl AuthorizationChecks {
    /// No expectations: no `state`, no PKCE, no `nonce` (each then must be
    /// absent from the responses).
    pub fn new() -> Self {
        Self::default()
    }

    /// The PKCE `code_verifier` whose challenge the authorization request
    /// sent; sent with the code (RFC 7636 §4.5).
    #[must_use]
    pub fn pkce_code_verifier(mut self, verifier: impl Into<String>) -> Self {
        self.pkce_code_verifier = Some(verifier.into());
        self
    }

    /// The `state` the authorization request sent: the response must carry
    /// exactly it. Without one, a response with a `state` is refused.
    #[must_use]
    pub fn expected_state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// The `nonce` the authorization request sent: the ID Token must carry
    /// exactly it, and an ID Token is then required. Without one, an ID
    /// Token with a `nonce` is refused.
    #[must_use]
    pub fn expected_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self.id_token_expected = true;
        self
    }

    /// The `max_age` the authorization request sent (seconds): the ID Token
    /// must have an `auth_time` no older than that (OIDC Core §3.1.2.1). An
    /// ID Token is then required.
    #[must_use]
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age = Some(seconds);
        self.id_token_expected = true;
        self
    }

    /// The `redirect_uri` to send with the code, when it is not the
    /// callback URL without its query (for example behind a proxy that
    /// rewrites the host).
    #[must_use]
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// Requires an ID Token in the token response (the authorization
    /// request had `scope=openid`) even without a nonce or max_age.
    #[must_use]
    pub fn expect_id_token(mut self) -> Self {
        self.id_token_expected = true;
        self
    }

    /// The authorization request asked for `response_type=code id_token`
    /// (the hybrid flow, OIDC Core §3.3; openid-client's
    /// `useCodeIdTokenResponseType`): the response carries an ID Token as
    /// well as the code. It is validated before the code is redeemed — its
    /// `nonce` (required: set [`expected_nonce`](Self::expected_nonce)),
    /// `c_hash` (required, for the code) and `s_hash` (when present, for the
    /// `state`) — and the token endpoint's ID Token must be about the same
    /// user.
    #[must_use]
    pub fn hybrid(mut self) -> Self {
        self.flow = callback::Flow::Hybrid;
        self.id_token_expected = true;
        self
    }

    /// The authorization request asked for a JWT Secured Authorization
    /// Response (`response_mode=jwt`, `query.jwt` or `form_post.jwt`): the
    /// response must be a `response` JWT signed by the server. Implied when
    /// the client registered `authorization_signed_response_alg`.
    #[must_use]
    pub fn jarm(mut self) -> Self {
        self.jarm = true;
        self
    }
}

/// Finishes a sign-in: checks the authorization response the browser
/// brought back ([`validate_authorization_response`]: `iss`, `state`,
/// errors), redeems its code at the token endpoint (with the PKCE verifier
/// and the `redirect_uri`), and validates the ID Token with the server's
/// keys (OIDC Core §3.1.3.7; see [`TokenEndpointResponse::claims`]).
///
/// `callback` is the URL the browser requested (a [`Url`], query included),
/// or [`Callback::form_post`] for `response_mode=form_post`. DPoP, timeouts
/// and headers come through [`Call::options`].
///
/// ```no_run
/// use oidckit::{authorization_code_grant, AuthorizationChecks, Url};
///
/// # async fn run(config: oidckit::Configuration, verifier: String, state: String, nonce: String) -> Result<(), Box<dyn std::error::Error>> {
/// // The URL the browser requested, from the web framework's request.
/// let callback: Url = "https://app.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj".parse()?;
/// let tokens = authorization_code_grant(&config, &callback, &AuthorizationChecks::new()
///     .pkce_code_verifier(verifier)
///     .expected_state(state)
///     .expected_nonce(nonce))
///     .await?;
/// let claims = tokens.claims().expect("an ID Token, validated");
/// println!("hello {}", claims.subject());
/// # Ok(()) }
/// ```
pub fn authorization_code_grant<'a, 'c>(
    config: &'a Configuration,
    callback: impl Into<Callback<'c>>,
    checks: &AuthorizationChecks,
) -> Call<'a, TokenEndpointResponse> {
    let callback = callback.into();
    let jarm = checks.jarm
        || config
            .client_metadata()
            .authorization_signed_response_alg
            .is_some();
    let hybrid = checks.flow == callback::Flow::Hybrid;
    if !jarm && !hybrid {
        return match validate_authorization_response(&config.context(), callback, checks) {
            Ok(code) => redeem(config, &code, checks, None),
            Err(e) => Call::fail(e),
        };
    }
    // The server's keys are needed first: for the JARM response JWT, for
    // the hybrid response's ID Token.
    let callback = callback::OwnedCallback::new(callback);
    let checks = checks.clone();
    Call::new(move |options: RequestOptions| async move {
        let code = if jarm {
            callback::validate_jarm_with_cache(config, callback.borrow(), &checks).await?
        } else {
            validate_authorization_response(&config.context(), callback.borrow(), &checks)?
        };
        let subject = match (hybrid, code.id_token()) {
            (true, Some(id_token)) => {
                let claims =
                    front_channel_id_token(config, id_token, &checks, code.code(), code.state())
                        .await?;
                Some(claims.subject().to_owned())
            }
            _ => None,
        };
        redeem(config, &code, &checks, subject)
            .options(options)
            .await
    })
}

/// Validates the ID Token of a hybrid or implicit response (OIDC Core
/// §3.3.2.11, §3.2.2.11): a `nonce` is required; with a code, `c_hash` is
/// required and must match; `s_hash`, when present, must match the
/// `state`.
async fn front_channel_id_token(
    config: &Configuration,
    id_token: &str,
    checks: &AuthorizationChecks,
    code: &str,
    state: Option<&str>,
) -> Result<crate::IdTokenClaims> {
    if checks.nonce.is_none() {
        return Err(Error::invalid_input(
            "hybrid and implicit sign-in need a nonce: AuthorizationChecks::expected_nonce (OIDC Core §3.3.2.11)",
        ));
    }
    let expected = IdTokenExpectations {
        required: true,
        nonce: checks.nonce.clone(),
        max_age: checks.max_age,
        code: (!code.is_empty()).then(|| code.to_owned()),
        state: state.map(str::to_owned),
        ..Default::default()
    };
    let claims = crate::id_token::validate_with_cache(config, id_token, None, &expected).await?;
    if !code.is_empty() && claims.get("c_hash").is_none() {
        return Err(Error::new(
            crate::ErrorKind::ClaimComparison,
            "the hybrid response's ID Token has no `c_hash` (OIDC Core §3.3.2.11)",
        ));
    }
    Ok(claims)
}

/// Signs a user in with `response_type=id_token` (the implicit flow's
/// sign-in, OIDC Core §3.2; openid-client's `implicitAuthentication`): the
/// response (the callback URL with its fragment, as a browser script hands
/// it over, or a `form_post` body) must carry an ID Token, which is
/// validated with the server's keys — `nonce` required (set
/// [`AuthorizationChecks::expected_nonce`]), `state`, `iss`, `max_age`,
/// `s_hash` as for the code flow. No code, no access token.
///
/// Prefer the code flow; this is for servers and deployments that only
/// offer it.
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration, callback: oidckit::Url, state: String, nonce: String) -> Result<(), oidckit::Error> {
/// let claims = oidckit::implicit_authentication(&config, &callback, &oidckit::AuthorizationChecks::new()
///     .expected_state(state)
///     .expected_nonce(nonce))
///     .await?;
/// println!("{}", claims.subject());
/// # Ok(()) }
/// ```
pub fn implicit_authentication<'a, 'c>(
    config: &'a Configuration,
    callback: impl Into<Callback<'c>>,
    checks: &AuthorizationChecks,
) -> Call<'a, crate::IdTokenClaims> {
    let mut checks = checks.clone();
    checks.flow = callback::Flow::Implicit;
    let checked = callback
        .into()
        .params()
        .and_then(|params| callback::check_params(&config.context(), &params, &checks));
    Call::new(move |options: RequestOptions| async move {
        options.check(crate::options::Accepts {
            form_params: false,
            dpop: false,
            owned_headers: &[],
        })?;
        let checked = checked?;
        let id_token = checked.id_token.unwrap_or_default();
        front_channel_id_token(config, &id_token, &checks, "", checked.state.as_deref()).await
    })
}

/// Redeems a checked authorization code: the token request with the PKCE
/// verifier and the `redirect_uri`, the ID Token validated.
fn redeem<'a>(
    config: &'a Configuration,
    code: &AuthorizationCode,
    checks: &AuthorizationChecks,
    subject: Option<String>,
) -> Call<'a, TokenEndpointResponse> {
    let redirect_uri = checks
        .redirect_uri
        .clone()
        .unwrap_or_else(|| code.redirect_uri().to_string());
    let mut grant_params = vec![
        ("code", code.code()),
        ("redirect_uri", redirect_uri.as_str()),
    ];
    if let Some(verifier) = &checks.pkce_code_verifier {
        grant_params.push(("code_verifier", verifier));
    }
    let expected = IdTokenExpectations {
        required: checks.id_token_expected,
        nonce: checks.nonce.clone(),
        max_age: checks.max_age,
        code: Some(code.code().to_owned()),
        // OIDC Core §3.3.3.6: the same user as the front channel's ID Token.
        subject,
        ..Default::default()
    };
    checked_grant(
        config,
        "authorization_code",
        &grant_params,
        std::iter::empty::<(&str, &str)>(),
        None,
        ResponseCheck::IdToken(expected),
    )
}

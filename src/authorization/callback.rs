//! The authorization response: what the browser brings back to the
//! redirect URI, checked before its code is used (RFC 6749 §4.1.2, RFC 9207,
//! OAuth 2.0 Security BCP §4.4, §4.7).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use url::{form_urlencoded, Url};

use serde_json::Value;

use super::AuthorizationChecks;
use crate::clock::unix_seconds;
use crate::endpoint::EndpointContext;
use crate::error::{server_text, Error, ErrorKind, OAuthError, Result};
use crate::jose::jwt::{self, SignedJwt};
use crate::jose::JwkSet;

/// The longest value kept from a parameter in an error message.
const TEXT_LEN: usize = 200;

/// An authorization response as it reached the redirect URI: the URL the
/// browser requested (the query holds the response), or, for
/// `response_mode=form_post`, the URL and the form body.
#[derive(Clone, Copy)]
pub struct Callback<'a> {
    url: &'a Url,
    form: Option<&'a [u8]>,
}

impl fmt::Debug for Callback<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The query holds a code: only the redirect URI is shown.
        f.debug_struct("Callback")
            .field("redirect_uri", &redirect_uri(self.url).as_str())
            .field("form_post", &self.form.is_some())
            .finish()
    }
}

impl<'a> Callback<'a> {
    /// A `response_mode=form_post` response (OAuth 2.0 Form Post Response
    /// Mode): the URL the browser POSTed to and the
    /// `application/x-www-form-urlencoded` body.
    pub fn form_post(url: &'a Url, body: &'a [u8]) -> Self {
        Callback {
            url,
            form: Some(body),
        }
    }

    /// The parameters, each name once.
    pub(crate) fn params(&self) -> Result<Vec<(Cow<'a, str>, Cow<'a, str>)>> {
        let params: Vec<_> = match (self.form, self.url.query(), self.url.fragment()) {
            (Some(body), _, _) => form_urlencoded::parse(body).collect(),
            (None, Some(query), _) if !query.is_empty() => self.url.query_pairs().collect(),
            // Hybrid and implicit responses come in the fragment by default
            // (OIDC Core §3.3.2.5), which a browser script hands over.
            (None, _, Some(fragment)) => form_urlencoded::parse(fragment.as_bytes()).collect(),
            (None, _, None) => Vec::new(),
        };
        let mut seen = HashSet::new();
        for (name, _) in &params {
            if !seen.insert(name.as_ref()) {
                return Err(Error::invalid_response(format!(
                    "the authorization response has the parameter {:?} more than once",
                    server_text(name, 64)
                )));
            }
        }
        Ok(params)
    }
}

/// A [`Callback`] whose URL and body are owned, for a call that outlives the
/// caller's values.
pub(crate) struct OwnedCallback {
    url: Url,
    form: Option<Vec<u8>>,
}

impl OwnedCallback {
    pub(crate) fn new(callback: Callback<'_>) -> Self {
        OwnedCallback {
            url: callback.url.clone(),
            form: callback.form.map(<[u8]>::to_vec),
        }
    }

    pub(crate) fn borrow(&self) -> Callback<'_> {
        Callback {
            url: &self.url,
            form: self.form.as_deref(),
        }
    }
}

impl<'a> From<&'a Url> for Callback<'a> {
    fn from(url: &'a Url) -> Self {
        Callback { url, form: None }
    }
}

/// An authorization response that passed the checks: its code, ready to be
/// redeemed at the token endpoint.
#[derive(Clone)]
pub struct AuthorizationCode {
    code: String,
    redirect_uri: Url,
    state: Option<String>,
    issuer: Option<String>,
    id_token: Option<String>,
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field("code", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("state", &self.state)
            .field("iss", &self.issuer)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl AuthorizationCode {
    /// The authorization code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The callback URL without query and fragment: the `redirect_uri` the
    /// token request repeats (RFC 6749 §4.1.3).
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// The `state` of the response (equal to the expected one).
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The `iss` of the response (RFC 9207), when sent.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The front-channel ID Token of a hybrid response (`response_type=code
    /// id_token`), not yet validated: [`authorization_code_grant`](crate::authorization_code_grant)
    /// validates it, or [`validate_id_token`](crate::validate_id_token) with
    /// the code for `c_hash`.
    pub fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }
}

/// What the response must hold, by `response_type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Flow {
    /// `code`: no token in the front channel.
    #[default]
    Code,
    /// `code id_token` (OIDC Core §3.3).
    Hybrid,
    /// `id_token` (OIDC Core §3.2): sign-in without a code.
    Implicit,
}

/// The parameters that passed the checks.
pub(crate) struct Checked {
    pub code: Option<String>,
    pub id_token: Option<String>,
    pub state: Option<String>,
    pub issuer: Option<String>,
}

/// Checks an authorization response (the low-level first step of
/// [`authorization_code_grant`](crate::authorization_code_grant)), in
/// openid-client's order:
///
/// - every parameter at most once;
/// - no JARM `response` parameter (this is the plain response mode);
/// - `iss` (RFC 9207) equal to the issuer, and required when the server
///   advertises `authorization_response_iss_parameter_supported`
///   ([`IssuerMismatch`](ErrorKind::IssuerMismatch) otherwise: the mix-up
///   attack), except in a hybrid or implicit response with an ID Token,
///   whose `iss` claim names the server (RFC 9207 §4);
/// - `state` exactly the expected one, or absent when none was sent
///   ([`ClaimComparison`](ErrorKind::ClaimComparison));
/// - an `error` becomes an [`OAuth`](ErrorKind::OAuth) error with its
///   description, URI and `state`;
/// - `id_token` or `token` (a hybrid or implicit response) are refused
///   ([`UnsupportedOperation`](ErrorKind::UnsupportedOperation));
/// - a non-empty `code`.
///
/// ```
/// use oidckit::{validate_authorization_response, AuthorizationChecks, ClientAuth,
///     ClientMetadata, EndpointContext, ServerMetadata, Url};
///
/// let server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// let client = ClientMetadata::new("app");
/// let auth = ClientAuth::none();
/// let ctx = EndpointContext::new(&server, &client, &auth);
/// let url: Url = "https://app.example/cb?code=c0de&state=s1&iss=https%3A%2F%2Fas.example".parse()?;
/// let code = validate_authorization_response(&ctx, (&url).into(), &AuthorizationChecks::new().expected_state("s1"))?;
/// assert_eq!((code.code(), code.redirect_uri().as_str()), ("c0de", "https://app.example/cb"));
///
/// let forged: Url = "https://app.example/cb?code=c0de&state=s1&iss=https%3A%2F%2Fevil.example".parse()?;
/// let e = validate_authorization_response(&ctx, (&forged).into(), &AuthorizationChecks::new().expected_state("s1"))
///     .unwrap_err();
/// assert_eq!(e.kind(), oidckit::ErrorKind::IssuerMismatch);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn validate_authorization_response(
    ctx: &EndpointContext<'_>,
    callback: Callback<'_>,
    checks: &AuthorizationChecks,
) -> Result<AuthorizationCode> {
    into_code(
        check_params(ctx, &callback.params()?, checks)?,
        callback.url,
    )
}

/// A checked code (or hybrid) response as an [`AuthorizationCode`].
fn into_code(checked: Checked, url: &Url) -> Result<AuthorizationCode> {
    let Some(code) = checked.code else {
        return Err(Error::invalid_response(
            "the authorization response has no `code`",
        ));
    };
    Ok(AuthorizationCode {
        code,
        redirect_uri: redirect_uri(url),
        state: checked.state,
        issuer: checked.issuer,
        id_token: checked.id_token,
    })
}

/// The checks of [`validate_authorization_response`] on the response's
/// parameters (from the URL or form, or from a verified JARM JWT).
pub(crate) fn check_params(
    ctx: &EndpointContext<'_>,
    params: &[(Cow<'_, str>, Cow<'_, str>)],
    checks: &AuthorizationChecks,
) -> Result<Checked> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    };

    if get("response").is_some() {
        return Err(Error::invalid_response(
            "the authorization response is a JARM `response` JWT, but a plain response was expected",
        ));
    }

    let issuer = get("iss");
    // A hybrid or implicit response carries an ID Token, whose `iss` is
    // checked before anything in the response is used: RFC 9207 §4 lets the
    // server leave the parameter out then (oidc-provider does; openid-client
    // does not require it either).
    let id_token_names_issuer =
        checks.flow != Flow::Code && get("id_token").is_some_and(|t| !t.is_empty());
    match issuer {
        Some(iss) if iss != ctx.server.issuer => {
            return Err(Error::issuer_mismatch(&ctx.server.issuer, iss));
        }
        None if ctx.fapi2 => return Err(crate::fapi::iss_required()),
        None if ctx.server.authorization_response_iss_parameter_supported == Some(true)
            && !id_token_names_issuer =>
        {
            return Err(Error::new(
                ErrorKind::IssuerMismatch,
                "the authorization response has no `iss`, which the server promises (RFC 9207)",
            ));
        }
        _ => {}
    }

    let state = get("state");
    match (state, checks.state.as_deref()) {
        (Some(got), Some(expected)) if got == expected => {}
        (None, None) => {}
        (Some(_), Some(_)) => {
            return Err(mismatch(
                "the authorization response's `state` is not the one sent",
            ))
        }
        (None, Some(_)) => return Err(mismatch("the authorization response has no `state`")),
        (Some(_), None) => {
            return Err(mismatch(
                "the authorization response has a `state`, but none was sent",
            ))
        }
    }

    if let Some(error) = get("error") {
        let text = |name: &str| get(name).map(|v| server_text(v, TEXT_LEN));
        return Err(Error::oauth(OAuthError {
            error: server_text(error, TEXT_LEN),
            error_description: text("error_description"),
            error_uri: text("error_uri"),
            status: None,
            url: None,
            challenges: Vec::new(),
            state: state.map(str::to_owned),
        }));
    }

    // The front channel carries what the response_type asked for, and no
    // access token ever (BCP §2.1.2: `token` response types are refused; an
    // access token comes back as `access_token`, OAuth 2.0 Multiple
    // Response Types §3, with `token_type`).
    let refused: &[&str] = match checks.flow {
        Flow::Code => &["id_token", "access_token", "token"],
        Flow::Hybrid => &["access_token", "token"],
        Flow::Implicit => &["code", "access_token", "token"],
    };
    if let Some(name) = refused.iter().find(|name| get(name).is_some()) {
        return Err(Error::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "the authorization response has `{name}`, which this response_type does not return (implicit `token` and unexpected hybrid responses are not supported)"
            ),
        ));
    }
    let non_empty = |name: &str| get(name).filter(|v| !v.is_empty()).map(str::to_owned);
    let code = non_empty("code");
    let id_token = non_empty("id_token");
    if checks.flow != Flow::Implicit && code.is_none() {
        return Err(Error::invalid_response(
            "the authorization response has no `code`",
        ));
    }
    if checks.flow != Flow::Code && id_token.is_none() {
        return Err(Error::invalid_response(
            "the authorization response has no `id_token`, which its response_type requires",
        ));
    }
    Ok(Checked {
        code,
        id_token,
        state: state.map(str::to_owned),
        issuer: issuer.map(str::to_owned),
    })
}

/// Checks a JWT Secured Authorization Response (JARM, OpenID Financial-grade
/// API JARM §4.4; the low-level step of
/// [`authorization_code_grant`](crate::authorization_code_grant) for a
/// `response_mode` of `jwt`, `query.jwt` or `form_post.jwt`): the
/// `response` JWT is verified with a key of `jwks` (its `alg` the client's
/// `authorization_signed_response_alg`, else one the server lists in
/// `authorization_signing_alg_values_supported`, else RS256; never `none` or
/// an HMAC), its `iss` must be the issuer, its `aud` contain the client,
/// its `exp` not have passed; then its claims are the response's parameters
/// and get every check of [`validate_authorization_response`].
pub fn validate_jwt_authorization_response(
    ctx: &EndpointContext<'_>,
    callback: Callback<'_>,
    jwks: &JwkSet,
    checks: &AuthorizationChecks,
) -> Result<AuthorizationCode> {
    let response = jarm_response(&callback)?;
    let jwt = decode_jarm(ctx, &response)?;
    let key = jwks.select(jwt.alg, jwt.kid.as_deref())?;
    jwt.verify(key, JARM)?;
    let params = jarm_params(ctx, jwt)?;
    into_code(check_params(ctx, &params, checks)?, callback.url)
}

const JARM: &str = "the JARM response";

/// The `response` parameter of a JARM callback.
pub(crate) fn jarm_response(callback: &Callback<'_>) -> Result<String> {
    let params = callback.params()?;
    params
        .into_iter()
        .find(|(n, _)| n == "response")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            Error::invalid_response(
                "the authorization response has no `response` JWT, but response_mode=jwt was asked for",
            )
        })
}

/// Decodes the JARM JWT and checks its `alg`, before any key is looked for.
pub(crate) fn decode_jarm<'j>(
    ctx: &EndpointContext<'_>,
    response: &'j str,
) -> Result<SignedJwt<'j>> {
    let jwt = jwt::decode(response, JARM)?;
    jwt::check_allowed_algorithm(
        ctx,
        jwt.alg,
        ctx.client.authorization_signed_response_alg.as_deref(),
        ctx.server
            .authorization_signing_alg_values_supported
            .as_deref(),
        JARM,
    )?;
    Ok(jwt)
}

/// The verified JWT's `iss`, `aud` and `exp` checks; its claims as the
/// response's parameters (JARM §4.4).
pub(crate) fn jarm_params(
    ctx: &EndpointContext<'_>,
    jwt: SignedJwt<'_>,
) -> Result<Vec<(Cow<'static, str>, Cow<'static, str>)>> {
    let claims = jwt.claims;
    if claims.get("iss").and_then(Value::as_str) != Some(ctx.server.issuer.as_str()) {
        return Err(mismatch("the JARM response's `iss` is not the issuer"));
    }
    let client_id = ctx.client.client_id.as_str();
    let ours = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !ours {
        return Err(mismatch(
            "the JARM response's `aud` does not contain this client's id",
        ));
    }
    let now = unix_seconds(ctx.now());
    let tolerance = ctx.clock_tolerance.as_secs();
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if now < exp.saturating_add(tolerance) => {}
        Some(_) => {
            return Err(Error::new(
                ErrorKind::TimestampCheck,
                "the JARM response has expired (`exp`)",
            ))
        }
        None => {
            return Err(Error::new(
                ErrorKind::TimestampCheck,
                "the JARM response has no numeric `exp`",
            ))
        }
    }
    Ok(claims
        .into_iter()
        .filter(|(name, _)| !matches!(name.as_str(), "aud" | "exp" | "iat" | "nbf"))
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (Cow::Owned(name), Cow::Owned(value))
        })
        .collect())
}

/// [`validate_jwt_authorization_response`] with the keys of `config`'s
/// JWKS cache.
pub(crate) async fn validate_jarm_with_cache(
    config: &crate::Configuration,
    callback: Callback<'_>,
    checks: &AuthorizationChecks,
) -> Result<AuthorizationCode> {
    let ctx = config.context();
    let response = jarm_response(&callback)?;
    let jwt = decode_jarm(&ctx, &response)?;
    let key = crate::jwks::key_for(config, jwt.alg, jwt.kid.as_deref()).await?;
    jwt.verify(&key, JARM)?;
    let params = jarm_params(&ctx, jwt)?;
    into_code(check_params(&ctx, &params, checks)?, callback.url)
}

fn mismatch(message: &str) -> Error {
    Error::new(ErrorKind::ClaimComparison, message)
}

/// The callback URL without query and fragment (openid-client's
/// `stripParams`).
fn redirect_uri(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, ClientMetadata, ServerMetadata};

    fn server(iss_supported: bool) -> ServerMetadata {
        let mut s = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        s.authorization_response_iss_parameter_supported = Some(iss_supported);
        s
    }

    fn check(
        server: &ServerMetadata,
        query: &str,
        checks: &AuthorizationChecks,
    ) -> Result<AuthorizationCode> {
        let client = ClientMetadata::new("app");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(server, &client, &auth);
        let url: Url = format!("https://app.example/cb?{query}#frag")
            .parse()
            .unwrap();
        validate_authorization_response(&ctx, (&url).into(), checks)
    }

    const ISS: &str = "iss=https%3A%2F%2Fas.example";

    #[test]
    fn a_good_response() {
        let checks = AuthorizationChecks::new().expected_state("s1");
        let code = check(&server(true), &format!("code=c&state=s1&{ISS}"), &checks).unwrap();
        assert_eq!(code.code(), "c");
        assert_eq!(code.redirect_uri().as_str(), "https://app.example/cb");
        assert_eq!(code.state(), Some("s1"));
        assert_eq!(code.issuer(), Some("https://as.example"));
        assert!(!format!("{code:?}").contains("\"c\""));
    }

    #[test]
    fn each_rule() {
        let s1 = AuthorizationChecks::new().expected_state("s1");
        let none = AuthorizationChecks::new();
        let cases: Vec<(&str, &AuthorizationChecks, bool, ErrorKind)> = vec![
            (
                "code=c&state=s1&state=s1",
                &s1,
                false,
                ErrorKind::InvalidResponse,
            ),
            (
                "code=c&state=s1&response=eyJ",
                &s1,
                false,
                ErrorKind::InvalidResponse,
            ),
            (
                "code=c&state=s1&iss=https%3A%2F%2Fevil.example",
                &s1,
                false,
                ErrorKind::IssuerMismatch,
            ),
            ("code=c&state=s1", &s1, true, ErrorKind::IssuerMismatch),
            ("code=c&state=s2", &s1, false, ErrorKind::ClaimComparison),
            ("code=c", &s1, false, ErrorKind::ClaimComparison),
            ("code=c&state=s1", &none, false, ErrorKind::ClaimComparison),
            ("error=access_denied&state=s1", &s1, false, ErrorKind::OAuth),
            (
                "code=c&state=s1&id_token=x",
                &s1,
                false,
                ErrorKind::UnsupportedOperation,
            ),
            (
                "code=c&state=s1&token=x",
                &s1,
                false,
                ErrorKind::UnsupportedOperation,
            ),
            (
                "code=c&state=s1&access_token=x&token_type=Bearer",
                &s1,
                false,
                ErrorKind::UnsupportedOperation,
            ),
            ("state=s1", &s1, false, ErrorKind::InvalidResponse),
            ("code=&state=s1", &s1, false, ErrorKind::InvalidResponse),
        ];
        for (query, checks, iss_supported, kind) in cases {
            let e = check(&server(iss_supported), query, checks).unwrap_err();
            assert_eq!(e.kind(), kind, "{query}: {e}");
        }
        // Without the server's promise, `iss` may be absent.
        check(&server(false), "code=c&state=s1", &s1).unwrap();
    }

    #[test]
    fn a_front_channel_id_token_stands_in_for_iss() {
        // RFC 9207 §4: a hybrid or implicit response names its server in
        // the ID Token (validated next), and servers leave `iss` out.
        let hybrid = AuthorizationChecks::new().expected_state("s1").hybrid();
        let mut implicit = AuthorizationChecks::new().expected_state("s1");
        implicit.flow = Flow::Implicit;
        check(&server(true), "code=c&id_token=x&state=s1", &hybrid).unwrap();
        let client = ClientMetadata::new("app");
        let auth = ClientAuth::none();
        let server_meta = server(true);
        let ctx = EndpointContext::new(&server_meta, &client, &auth);
        let params = |query: &'static str| -> Vec<(Cow<'static, str>, Cow<'static, str>)> {
            form_urlencoded::parse(query.as_bytes())
                .map(|(n, v)| (Cow::Owned(n.into_owned()), Cow::Owned(v.into_owned())))
                .collect()
        };
        assert!(check_params(&ctx, &params("id_token=x&state=s1"), &implicit).is_ok());
        // Present, it must still be the issuer's.
        let e = check(
            &server(true),
            "code=c&id_token=x&state=s1&iss=https%3A%2F%2Fevil.example",
            &hybrid,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IssuerMismatch);
        // Without an ID Token (a code response, or one that lost its ID
        // Token), the promise holds.
        let s1 = AuthorizationChecks::new().expected_state("s1");
        for (query, checks) in [
            ("code=c&state=s1", &hybrid),
            ("code=c&id_token=&state=s1", &hybrid),
            ("code=c&state=s1", &s1),
        ] {
            let e = check(&server(true), query, checks).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::IssuerMismatch, "{query}");
        }
        let refused =
            |ctx: &EndpointContext<'_>, query| match check_params(ctx, &params(query), &implicit) {
                Ok(_) => panic!("{query} passed"),
                Err(e) => e.kind(),
            };
        assert_eq!(refused(&ctx, "state=s1"), ErrorKind::IssuerMismatch);
        // The FAPI 2.0 switch wants `iss` whatever the response.
        let strict =
            EndpointContext::new(&server_meta, &client, &auth).fapi2_security_profile(true);
        assert_eq!(
            refused(&strict, "id_token=x&state=s1"),
            ErrorKind::IssuerMismatch
        );
    }

    #[test]
    fn an_error_response_is_a_typed_oauth_error() {
        let checks = AuthorizationChecks::new().expected_state("s1");
        let e = check(
            &server(false),
            "error=access_denied&error_description=the+user+said+no&error_uri=https%3A%2F%2Fas.example%2Fe&state=s1",
            &checks,
        )
        .unwrap_err();
        let oauth = e.oauth_error().unwrap();
        assert_eq!(oauth.error, "access_denied");
        assert_eq!(oauth.error_description.as_deref(), Some("the user said no"));
        assert_eq!(oauth.error_uri.as_deref(), Some("https://as.example/e"));
        assert_eq!(oauth.state.as_deref(), Some("s1"));
        assert_eq!(oauth.status, None);
        assert!(e.to_string().contains("access_denied"), "{e}");
    }

    #[test]
    fn form_post_bodies() {
        let client = ClientMetadata::new("app");
        let auth = ClientAuth::none();
        let server = server(true);
        let ctx = EndpointContext::new(&server, &client, &auth);
        let url: Url = "https://app.example/cb".parse().unwrap();
        let body = format!("code=c&state=s1&{ISS}");
        let checks = AuthorizationChecks::new().expected_state("s1");
        let code = validate_authorization_response(
            &ctx,
            Callback::form_post(&url, body.as_bytes()),
            &checks,
        )
        .unwrap();
        assert_eq!(code.code(), "c");
        let twice = format!("code=c&code=d&state=s1&{ISS}");
        assert!(validate_authorization_response(
            &ctx,
            Callback::form_post(&url, twice.as_bytes()),
            &checks
        )
        .is_err());
    }

    #[test]
    fn jarm_responses() {
        use crate::{JwsAlgorithm, PrivateKey};
        use serde_json::json;

        let mut server = server(true);
        server.authorization_signing_alg_values_supported = Some(vec!["ES256".into()]);
        let client = ClientMetadata::new("app");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let key = PrivateKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_kid("k");
        let jwks = JwkSet::from_json(json!({ "keys": [key.public_jwk()] }).to_string().as_bytes())
            .unwrap();
        let now = unix_seconds(std::time::SystemTime::now());
        let good = json!({
            "iss": "https://as.example", "aud": "app", "exp": now + 300, "iat": now,
            "code": "c", "state": "s1",
        });
        let sign = |claims: serde_json::Value| {
            key.sign_jwt(Some("JWT"), &[], claims.as_object().unwrap().clone())
                .unwrap()
        };
        let checks = AuthorizationChecks::new().expected_state("s1").jarm();
        let run = |response: &str| {
            let url: Url = format!("https://app.example/cb?response={response}")
                .parse()
                .unwrap();
            validate_jwt_authorization_response(&ctx, (&url).into(), &jwks, &checks)
        };
        let code = run(&sign(good.clone())).unwrap();
        assert_eq!((code.code(), code.state()), ("c", Some("s1")));
        assert_eq!(code.issuer(), Some("https://as.example"));

        let with = |k: &str, v: serde_json::Value| {
            let mut c = good.clone();
            c[k] = v;
            sign(c)
        };
        let cases = [
            (
                with("iss", "https://evil.example".into()),
                ErrorKind::ClaimComparison,
            ),
            (with("aud", "other".into()), ErrorKind::ClaimComparison),
            (with("exp", (now - 60).into()), ErrorKind::TimestampCheck),
            (with("state", "s2".into()), ErrorKind::ClaimComparison),
            (with("error", "access_denied".into()), ErrorKind::OAuth),
        ];
        for (response, kind) in cases {
            assert_eq!(run(&response).unwrap_err().kind(), kind);
        }
        // Unsigned, by an unknown key, or a plain response in JARM mode.
        let b64 = |v: serde_json::Value| crate::jose::b64url(v.to_string().as_bytes());
        let none = format!("{}.{}.", b64(json!({"alg": "none"})), b64(good.clone()));
        assert_eq!(
            run(&none).unwrap_err().kind(),
            ErrorKind::UnsupportedAlgorithm
        );
        let other = PrivateKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_kid("x");
        let forged = other
            .sign_jwt(Some("JWT"), &[], good.as_object().unwrap().clone())
            .unwrap();
        assert_eq!(run(&forged).unwrap_err().kind(), ErrorKind::KeySelection);
        let plain: Url = "https://app.example/cb?code=c&state=s1".parse().unwrap();
        let e =
            validate_jwt_authorization_response(&ctx, (&plain).into(), &jwks, &checks).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    }
}

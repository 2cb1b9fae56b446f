//! The UserInfo endpoint ([OIDC Core §5.3](https://openid.net/specs/openid-connect-core-1_0.html#UserInfo)):
//! claims about the signed-in user, for an access token.

use std::fmt;

use oauth2::AccessToken;
use reqwest::header::{HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::config::Configuration;
use crate::endpoint::response::error_from_response;
use crate::endpoint::signed_response::{self, Body, SignedResponse};
use crate::endpoint::EndpointContext;
use crate::error::{server_text, Error, ErrorKind, Result};
use crate::id_token::claims::standard_claims;
use crate::jose::JwkSet;
use crate::options::{Call, RequestOptions};
use crate::resource::fetch_protected_resource;
use crate::transport::{self, EndpointResponse};

const WHAT: &str = "the userinfo response";

/// The signed form (OIDC Core §5.3.2): `application/jwt`, the client's
/// `userinfo_signed_response_alg` (else the server's
/// `userinfo_signing_alg_values_supported`, else RS256), `iss` and `aud`
/// checked when present.
static USERINFO_JWT: SignedResponse = SignedResponse {
    what: WHAT,
    media_type: "application/jwt",
    typ: None,
    registered_name: "userinfo_signed_response_alg",
    registered: |c| c.userinfo_signed_response_alg.as_deref(),
    supported: |s| s.userinfo_signing_alg_values_supported.as_deref(),
    claims_required: false,
};

/// The claims of a userinfo response: `sub`, the standard claims (OIDC Core
/// §5.1) through accessors, and every claim by name.
#[derive(Clone, PartialEq)]
pub struct UserInfo {
    subject: String,
    all: Map<String, Value>,
}

impl fmt::Debug for UserInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: names only.
        f.debug_struct("UserInfo")
            .field("sub", &self.subject)
            .field("claims", &self.all.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl UserInfo {
    /// `sub`: the end-user's identifier (equal to the ID Token's when a
    /// subject was expected).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    standard_claims!();
}

/// Fetches the claims of the user an access token was issued for, from the
/// server's `userinfo_endpoint`.
///
/// `expected_subject` is the `sub` of the ID Token of the same sign-in: the
/// response must be about that user (OIDC Core §5.3.2, a defence against
/// token substitution). Pass `None` only to skip that check knowingly, for
/// an access token without an ID Token.
///
/// The token goes as `Authorization: Bearer`, or — with a DPoP handle in the
/// [`options`](Call::options) — `DPoP` with a proof (and one retry with the
/// server's nonce). The response may be JSON or a signed JWT
/// (`application/jwt`, required when the client registered
/// `userinfo_signed_response_alg`), verified with the server's keys. A 401
/// with `WWW-Authenticate` becomes an OAuth error with its challenges.
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration, tokens: oidckit::TokenEndpointResponse) -> Result<(), oidckit::Error> {
/// let claims = tokens.claims().expect("a validated ID Token");
/// let me = oidckit::fetch_userinfo(&config, tokens.access_token(), Some(claims.subject())).await?;
/// println!("{:?}", me.email());
/// # Ok(()) }
/// ```
pub fn fetch_userinfo<'a>(
    config: &'a Configuration,
    access_token: &'a AccessToken,
    expected_subject: Option<&str>,
) -> Call<'a, UserInfo> {
    let expected_subject = expected_subject.map(str::to_owned);
    Call::new(move |options: RequestOptions| async move {
        let url = config
            .server_metadata()
            .userinfo_endpoint
            .clone()
            .ok_or_else(|| Error::missing_metadata("userinfo_endpoint"))?;
        let response = fetch_protected_resource(config, access_token, Method::GET, url.clone())
            .header(
                ACCEPT,
                HeaderValue::from_static("application/json, application/jwt"),
            )
            .options(options)
            .await?;
        let response = transport::read_all(&config.transport(), response, url).await?;
        let jwks = signed_response::keys(config, &USERINFO_JWT, &response).await?;
        let ctx = config.context();
        process_userinfo_response(
            &ctx,
            &response,
            jwks.as_deref(),
            expected_subject.as_deref(),
        )
    })
}

/// Processes a userinfo response (the low-level half of
/// [`fetch_userinfo`]): a 200 with a JSON object, or a JWT signed with a key
/// of `jwks`, whose `sub` is `expected_subject` (when given).
pub fn process_userinfo_response(
    ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
    jwks: Option<&JwkSet>,
    expected_subject: Option<&str>,
) -> Result<UserInfo> {
    let with_context = |e: Error| e.with_response_context(response.url(), response.status());
    if response.status() != StatusCode::OK {
        return Err(with_context(error_from_response(
            response.status(),
            response.headers(),
            response.body(),
        )));
    }
    let claims = match USERINFO_JWT
        .body(ctx, response, jwks)
        .map_err(with_context)?
    {
        Body::Jwt(claims) | Body::Json(claims) => claims,
    };
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => {
            return Err(with_context(Error::invalid_response(format!(
                "{WHAT} has no `sub` string (OIDC Core §5.3.2)"
            ))))
        }
    };
    if let Some(expected) = expected_subject {
        if subject != expected {
            return Err(with_context(Error::new(
                ErrorKind::ClaimComparison,
                format!(
                    "{WHAT} is about {:?}, not the signed-in user {expected:?}",
                    server_text(&subject, 64)
                ),
            )));
        }
    }
    Ok(UserInfo {
        subject,
        all: claims,
    })
}

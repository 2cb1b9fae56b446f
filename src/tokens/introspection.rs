//! Token introspection ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)),
//! answered as JSON or, for a client that registered
//! `introspection_signed_response_alg`, as a signed JWT
//! ([RFC 9701](https://www.rfc-editor.org/rfc/rfc9701)).

use reqwest::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{no_params, token_call, token_request};
use crate::config::Configuration;
use crate::endpoint::request::{EndpointRequest, FormParam, UnauthenticatedRequest};
use crate::endpoint::response::expect_status;
use crate::endpoint::signed_response::{self, Body, SignedResponse};
use crate::endpoint::{EndpointContext, INTROSPECTION};
use crate::error::{Error, Result};
use crate::jose::JwkSet;
use crate::options::Call;
use crate::transport::EndpointResponse;

/// The media type of a JWT introspection response (RFC 9701 §4).
pub const TOKEN_INTROSPECTION_JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// The signed form (RFC 9701 §5): `application/token-introspection+jwt`,
/// header `typ: token-introspection+jwt`, the client's
/// `introspection_signed_response_alg` (else the server's
/// `introspection_signing_alg_values_supported`, else RS256), `iss` (the
/// issuer), `aud` (this client) and `iat` required.
static INTROSPECTION_JWT: SignedResponse = SignedResponse {
    what: "the introspection response",
    media_type: TOKEN_INTROSPECTION_JWT_MEDIA_TYPE,
    typ: Some("token-introspection+jwt"),
    registered_name: "introspection_signed_response_alg",
    registered: |c| c.introspection_signed_response_alg.as_deref(),
    supported: |s| s.introspection_signing_alg_values_supported.as_deref(),
    claims_required: true,
};

/// An introspection response (RFC 7662 §2.2). `active` is the one required
/// member; every other registered member is typed; the rest are in
/// [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IntrospectionResponse {
    /// Whether the token is active.
    pub active: bool,
    /// Its scopes, space separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The resource owner's human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Its type (`Bearer`, `DPoP`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issue time, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audiences (a single string is read as one).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Option::is_none"
    )]
    pub aud: Option<Vec<String>>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The token's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The confirmation claim (RFC 7800): `jkt` for DPoP-bound tokens,
    /// `x5t#S256` for certificate-bound ones (RFC 8705 §3.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Map<String, Value>>,
    /// Every other member, by name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn one_or_many<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(a)) => Some(vec![a]),
        Some(OneOrMany::Many(a)) => Some(a),
    })
}

/// Asks the server whether `token` is active (RFC 7662 §2.1), with an
/// optional `token_type_hint` (`access_token`, `refresh_token`). More
/// parameters go in the call's options ([`RequestOptions::param`](crate::RequestOptions::param)).
///
/// `active` must be a boolean; a response without it is an
/// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse).
///
/// When the client registered `introspection_signed_response_alg`
/// ([`ClientMetadata`](crate::ClientMetadata)), the answer must be a JWT
/// (RFC 9701), verified with the server's keys from the configuration's
/// JWK Set cache; see [`process_introspection_response`].
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
/// let answer = oidckit::token_introspection(&config, "an-access-token", Some("access_token")).await?;
/// if answer.active {
///     println!("scope: {:?}", answer.scope);
/// }
/// # Ok(()) }
/// ```
pub fn token_introspection<'a>(
    config: &'a Configuration,
    token: &str,
    token_type_hint: Option<&str>,
) -> Call<'a, IntrospectionResponse> {
    let request = introspection_request(&config.context(), token, token_type_hint, no_params());
    // The status is checked on the shared path (so that a DPoP nonce error
    // is retried and a bare 401 names the client authentication); a signed
    // body needs the server's keys, fetched after.
    token_call(config, &INTROSPECTION, request, |_, response| {
        expect_status(response, StatusCode::OK)?;
        Ok(response.clone())
    })
    .and_then(move |response| async move {
        let jwks = signed_response::keys(config, &INTROSPECTION_JWT, &response).await?;
        process_introspection_response(&config.context(), &response, jwks.as_deref())
    })
}

/// Builds an introspection request (the low-level half of
/// [`token_introspection`]): `token`, the hint, `params`, client
/// authentication; `Accept: application/token-introspection+jwt` when the
/// client registered `introspection_signed_response_alg` (RFC 9701 §4).
pub fn build_introspection_request<I>(
    ctx: &EndpointContext<'_>,
    token: &str,
    token_type_hint: Option<&str>,
    params: I,
) -> Result<EndpointRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    introspection_request(ctx, token, token_type_hint, params)?.authenticate(ctx)
}

fn introspection_request<I>(
    ctx: &EndpointContext<'_>,
    token: &str,
    token_type_hint: Option<&str>,
    params: I,
) -> Result<UnauthenticatedRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let request = token_request(ctx, &INTROSPECTION, token, token_type_hint, params)?;
    Ok(if INTROSPECTION_JWT.is_registered(ctx) {
        request.accept(TOKEN_INTROSPECTION_JWT_MEDIA_TYPE)
    } else {
        request
    })
}

/// Processes an introspection response (the low-level half of
/// [`token_introspection`]): a 200 with a JSON object whose `active` is a
/// boolean; anything else is the server's error.
///
/// A JWT response (`application/token-introspection+jwt`, RFC 9701 §5) is
/// verified with a key of `jwks` (the server's JWK Set): header `typ`
/// `token-introspection+jwt` ([`ErrorKind::InvalidJwt`](crate::ErrorKind::InvalidJwt)
/// otherwise), `alg` the client's `introspection_signed_response_alg` (else
/// one of the server's `introspection_signing_alg_values_supported`, else
/// RS256; never `none` or an HMAC:
/// [`ErrorKind::UnsupportedAlgorithm`](crate::ErrorKind::UnsupportedAlgorithm)),
/// the signature ([`ErrorKind::SignatureVerification`](crate::ErrorKind::SignatureVerification)),
/// `iss` the issuer, `aud` containing the client id and `iat` present
/// ([`ErrorKind::ClaimComparison`](crate::ErrorKind::ClaimComparison));
/// its `token_introspection` claim is then read as a JSON response is. A
/// JSON response when the client registered
/// `introspection_signed_response_alg` is refused
/// ([`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse)).
pub fn process_introspection_response(
    ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
    jwks: Option<&JwkSet>,
) -> Result<IntrospectionResponse> {
    let with_context = |e: Error| e.with_response_context(response.url(), response.status());
    expect_status(response, StatusCode::OK).map_err(with_context)?;
    let map = match INTROSPECTION_JWT
        .body(ctx, response, jwks)
        .map_err(with_context)?
    {
        Body::Json(map) => map,
        Body::Jwt(mut claims) => match claims.remove("token_introspection") {
            Some(Value::Object(map)) => map,
            _ => return Err(with_context(Error::invalid_response(
                "the introspection response JWT has no `token_introspection` object (RFC 9701 §5)",
            ))),
        },
    };
    introspection_from(map).map_err(with_context)
}

/// An introspection response from its members (RFC 7662 §2.2).
fn introspection_from(map: Map<String, Value>) -> Result<IntrospectionResponse> {
    if !matches!(map.get("active"), Some(Value::Bool(_))) {
        return Err(Error::invalid_response(
            "`active` is missing or not a boolean",
        ));
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| Error::invalid_response(format!("invalid introspection response: {e}")))
}

//! Token introspection ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)).

use reqwest::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{token_call, token_request};
use crate::config::Configuration;
use crate::endpoint::request::{EndpointRequest, FormParam};
use crate::endpoint::response::expect_status;
use crate::endpoint::{EndpointContext, INTROSPECTION};
use crate::error::{Error, Result};
use crate::options::Call;
use crate::transport::{json_object, EndpointResponse};

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
    token_call(
        config,
        &INTROSPECTION,
        token,
        token_type_hint,
        process_introspection_response,
    )
}

/// Builds an introspection request (the low-level half of
/// [`token_introspection`]): `token`, the hint, `params`, client
/// authentication.
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
    token_request(ctx, &INTROSPECTION, token, token_type_hint, params)?.authenticate(ctx)
}

/// Processes an introspection response (RFC 7662 §2.2): a 200 with a JSON
/// object whose `active` is a boolean; anything else is the server's error.
pub fn process_introspection_response(
    _ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
) -> Result<IntrospectionResponse> {
    expect_status(response, StatusCode::OK)?;
    let map = json_object(response.headers(), response.body())?;
    if !matches!(map.get("active"), Some(Value::Bool(_))) {
        return Err(Error::invalid_response(
            "`active` is missing or not a boolean",
        ));
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| Error::invalid_response(format!("invalid introspection response: {e}")))
}

//! Token introspection ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662))
//! and revocation ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)).

use reqwest::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::config::{Configuration, Endpoint};
use crate::endpoint::request::{FormParam, RequestOptions, UnauthenticatedRequest};
use crate::error::{Error, Result};
use crate::grants::authenticated_request;
use crate::grants::response::error_from_response;
use crate::transport::json_object;

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
/// optional `token_type_hint` (`access_token`, `refresh_token`).
///
/// `active` must be a boolean; a response without it is an
/// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse).
pub async fn token_introspection<I>(
    config: &Configuration,
    token: &str,
    token_type_hint: Option<&str>,
    params: I,
) -> Result<IntrospectionResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let request = token_request(
        config,
        Endpoint::Introspection,
        token,
        token_type_hint,
        params,
    )?;
    authenticated_request(
        config,
        Endpoint::Introspection,
        request,
        None,
        &RequestOptions::default(),
        |response| {
            if response.status != StatusCode::OK {
                return Err(error_from_response(
                    response.status,
                    &response.headers,
                    &response.body,
                ));
            }
            let map = json_object(&response.headers, &response.body)?;
            if !matches!(map.get("active"), Some(Value::Bool(_))) {
                return Err(Error::invalid_response(
                    "`active` is missing or not a boolean",
                ));
            }
            serde_json::from_value(Value::Object(map)).map_err(|e| {
                Error::invalid_response(format!("invalid introspection response: {e}"))
            })
        },
    )
    .await
}

/// Revokes `token` (RFC 7009 §2.1), with an optional `token_type_hint`.
/// A 200 is success whatever the body (§2.2: an unknown token is not an
/// error); anything else is the server's error.
pub async fn token_revocation<I>(
    config: &Configuration,
    token: &str,
    token_type_hint: Option<&str>,
    params: I,
) -> Result<()>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let request = token_request(config, Endpoint::Revocation, token, token_type_hint, params)?;
    authenticated_request(
        config,
        Endpoint::Revocation,
        request,
        None,
        &RequestOptions::default(),
        |response| {
            if response.status == StatusCode::OK {
                Ok(())
            } else {
                Err(error_from_response(
                    response.status,
                    &response.headers,
                    &response.body,
                ))
            }
        },
    )
    .await
}

fn token_request<I>(
    config: &Configuration,
    endpoint: Endpoint,
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
    UnauthenticatedRequest::new(config, endpoint, &owned, params, &RequestOptions::default())
}

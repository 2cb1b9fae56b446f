//! JWT introspection responses (RFC 9701) and the faults that spoil the
//! next one, for testing a client's validation of them.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::id_token::{change_claims, sign_spoiled, IdTokenFault};
use super::token::oauth_error;
use super::{MockAuthorizationServer, MockClient, ServerState};
use crate::TOKEN_INTROSPECTION_JWT_MEDIA_TYPE;

/// The `typ` of an introspection response JWT (RFC 9701 §5).
const TYP: &str = "token-introspection+jwt";

/// What is wrong with the next JWT introspection response (see
/// [`MockAuthorizationServer::tamper_next_introspection_response`]): each
/// is something a client must refuse (RFC 9701 §5, §8), or, for
/// [`Claims`](IntrospectionFault::Claims), whatever claims a test needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IntrospectionFault {
    /// Sets each member as a top-level claim (`iss`, `aud`, `iat`,
    /// `token_introspection`, …), a `null` removing it; then signed
    /// normally.
    Claims(Map<String, Value>),
    /// The header's `typ` is this instead of `token-introspection+jwt`
    /// (`None`: no `typ`); signed normally.
    Typ(Option<String>),
    /// Unsigned (`alg: none`), as [`IdTokenFault::AlgNone`].
    AlgNone,
    /// MACed with the public key as the secret, as
    /// [`IdTokenFault::HmacWithPublicKey`].
    HmacWithPublicKey,
    /// Signed with a key not in the JWK Set, as [`IdTokenFault::UnknownKid`].
    UnknownKid,
    /// A signature that does not verify, as [`IdTokenFault::Signature`].
    Signature,
}

impl IntrospectionFault {
    /// [`IntrospectionFault::Claims`] from a JSON object, e.g.
    /// `IntrospectionFault::claims(json!({"aud": "someone-else"}))`.
    ///
    /// # Panics
    /// If `claims` is not a JSON object.
    pub fn claims(claims: Value) -> Self {
        match claims {
            Value::Object(map) => IntrospectionFault::Claims(map),
            _ => panic!("IntrospectionFault::claims takes a JSON object"),
        }
    }
}

/// The introspection answer `body` for `client`: a JWT (RFC 9701 §5) when
/// the client registered `introspection_signed_response_alg` and the
/// request accepts `application/token-introspection+jwt` (§4), else JSON.
pub(super) fn answer(
    state: &ServerState,
    client: &MockClient,
    headers: &HeaderMap,
    body: Value,
) -> Response {
    let accepts_jwt = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case(TOKEN_INTROSPECTION_JWT_MEDIA_TYPE)
            })
        });
    if client.introspection_signed_response_alg.is_none() || !accepts_jwt {
        return axum::Json(body).into_response();
    }
    match signed(state, &client.client_id, body) {
        Ok(jwt) => {
            let mut r = jwt.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(TOKEN_INTROSPECTION_JWT_MEDIA_TYPE),
            );
            r
        }
        Err(e) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}

/// The JWT: `iss`, `aud` (the client), `iat` and `token_introspection`,
/// signed with the current key, spoiled by the next fault.
fn signed(state: &ServerState, client_id: &str, body: Value) -> crate::Result<String> {
    let key = state.signing.lock().expect("lock").current().clone();
    let mut claims = Map::new();
    claims.insert("iss".into(), state.issuer.clone().into());
    claims.insert("aud".into(), client_id.into());
    claims.insert("iat".into(), state.now().into());
    claims.insert("token_introspection".into(), body);
    let fault = state.introspection_faults.lock().expect("lock").pop_front();
    let mut typ = Some(TYP.to_owned());
    let how = match fault {
        Some(IntrospectionFault::Claims(changes)) => {
            change_claims(&mut claims, changes);
            None
        }
        Some(IntrospectionFault::Typ(other)) => {
            typ = other;
            None
        }
        Some(IntrospectionFault::AlgNone) => Some(IdTokenFault::AlgNone),
        Some(IntrospectionFault::HmacWithPublicKey) => Some(IdTokenFault::HmacWithPublicKey),
        Some(IntrospectionFault::UnknownKid) => Some(IdTokenFault::UnknownKid),
        Some(IntrospectionFault::Signature) => Some(IdTokenFault::Signature),
        None => None,
    };
    sign_spoiled(&key, typ.as_deref(), claims, how.as_ref())
}

/// JWT introspection faults.
impl MockAuthorizationServer {
    /// Spoils the next JWT introspection response with `fault`; later ones
    /// are normal again. Several calls queue several faults, one per
    /// response. (For a JSON answer where a JWT was asked for, or any other
    /// body, use [`fail_next_endpoint_request`](Self::fail_next_endpoint_request).)
    pub fn tamper_next_introspection_response(&self, fault: IntrospectionFault) {
        self.state
            .introspection_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }
}

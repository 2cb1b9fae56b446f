//! JWT Secured Authorization Response Mode for OAuth 2.0 (JARM): the
//! response modes `jwt`, `query.jwt` and `form_post.jwt` (§2.3), whose one
//! `response` parameter is a JWT signed by the server (§2.1), and the faults
//! that spoil it.

use serde_json::{Map, Value};

use super::authorize::AuthorizationResponseFault;
use super::id_token::{change_claims, sign_spoiled, IdTokenFault};
use super::ServerState;

/// How long a response JWT is valid: `exp` is `iat` plus this (JARM §2.1
/// recommends a short lifetime, e.g. 10 minutes at most).
const RESPONSE_LIFETIME: u64 = 300;

/// How the authorization response travels (OAuth 2.0 Multiple Response
/// Type Encoding Practices §2.1, Form Post Response Mode §2, JARM §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseMode {
    /// `query` (the default of the code flow): in the redirect's query.
    Query,
    /// `fragment` (the default of the hybrid and implicit flows): in the
    /// redirect's fragment.
    Fragment,
    /// `form_post`: a page that posts the parameters.
    FormPost,
    /// `query.jwt`, and `jwt` in the code flow (JARM §2.3.4): `response`
    /// in the redirect's query.
    QueryJwt,
    /// `form_post.jwt`: a page that posts `response`.
    FormPostJwt,
}

impl ResponseMode {
    /// The mode a `response_mode` value asks for, or `None` if it is not
    /// supported (e.g. `fragment.jwt`). Whether it suits the request's
    /// `response_type` is
    /// [`ResponseType::refuses`](super::response_type::ResponseType::refuses)'
    /// business.
    pub(super) fn of(value: &str) -> Option<Self> {
        match value {
            "query" => Some(ResponseMode::Query),
            "fragment" => Some(ResponseMode::Fragment),
            "form_post" => Some(ResponseMode::FormPost),
            "jwt" | "query.jwt" => Some(ResponseMode::QueryJwt),
            "form_post.jwt" => Some(ResponseMode::FormPostJwt),
            _ => None,
        }
    }

    /// Whether the response is a page that posts a form.
    pub(super) fn is_form_post(self) -> bool {
        matches!(self, ResponseMode::FormPost | ResponseMode::FormPostJwt)
    }

    /// Whether the response is a JWT (JARM).
    pub(super) fn is_jwt(self) -> bool {
        matches!(self, ResponseMode::QueryJwt | ResponseMode::FormPostJwt)
    }
}

/// The JWT of a JARM response (JARM §2.1, §2.3) to `client_id` carrying
/// `params` (the parameters of the plain response: `code`, `state` and
/// `iss`, or `error`, `error_description`, `state` and `iss`): each one a
/// string claim (a repeated name keeps its last value), then `aud` (the
/// client), `exp` (now + 300 s) and `iat` (now). The `iss` claim is the
/// `iss` parameter, i.e. the issuer. Signed with the current signing key
/// (header `alg`, `kid`, `typ: "JWT"`), and spoiled by a JARM `fault`.
pub(super) fn response_jwt(
    state: &ServerState,
    client_id: &str,
    params: &[(String, String)],
    fault: Option<&AuthorizationResponseFault>,
) -> crate::Result<String> {
    let key = state.signing.lock().expect("lock").current().clone();
    let now = state.now();
    let mut claims: Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    claims.insert("aud".into(), client_id.into());
    claims.insert("exp".into(), (now + RESPONSE_LIFETIME).into());
    claims.insert("iat".into(), now.into());
    let how = match fault {
        Some(AuthorizationResponseFault::JarmClaims(changes)) => {
            change_claims(&mut claims, changes.clone());
            None
        }
        Some(AuthorizationResponseFault::JarmAlgNone) => Some(IdTokenFault::AlgNone),
        Some(AuthorizationResponseFault::JarmUnknownKid) => Some(IdTokenFault::UnknownKid),
        Some(AuthorizationResponseFault::JarmSignature) => Some(IdTokenFault::Signature),
        _ => None,
    };
    sign_spoiled(&key, Some("JWT"), claims, how.as_ref())
}

//! The UserInfo endpoint (OIDC Core §5.3): the user's claims for an access
//! token of the authorization code flow with the `openid` scope, as JSON or
//! as a signed JWT; errors as RFC 6750 §3 says.

use std::sync::atomic::Ordering;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use url::Url;

use super::dpop::{verify_dpop_proof, DPoPFailure};
use super::{has_scope, Fault, MockAuthorizationServer, ServerState};

/// `GET` or `POST {issuer}/userinfo`. The access token comes in
/// `Authorization: Bearer` (or `DPoP`, with a proof, for a DPoP-bound
/// token), or, for a `POST`, as the `access_token` form parameter (RFC 6750
/// §2.2).
pub(super) fn userinfo(
    state: &ServerState,
    method: &Method,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let in_body = form
        .iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.as_str())
        .filter(|_| method == Method::POST);
    let (scheme, token) = match (authorization, in_body) {
        (None, None) => return challenge(StatusCode::UNAUTHORIZED, "Bearer", None),
        (Some(_), Some(_)) => {
            return challenge(
                StatusCode::BAD_REQUEST,
                "Bearer",
                Some(("invalid_request", "the access token is sent in two ways")),
            )
        }
        (None, Some(token)) => ("bearer".to_owned(), token),
        (Some(value), None) => match value.split_once(' ') {
            Some((scheme, token)) if !token.trim().is_empty() => {
                (scheme.to_ascii_lowercase(), token.trim())
            }
            _ => {
                return challenge(
                    StatusCode::BAD_REQUEST,
                    "Bearer",
                    Some(("invalid_request", "malformed Authorization header")),
                )
            }
        },
    };
    if scheme != "bearer" && scheme != "dpop" {
        // Not a token this endpoint understands: as if none were sent.
        return challenge(StatusCode::UNAUTHORIZED, "Bearer", None);
    }
    let invalid_token = |scheme: &str, why: &str| {
        challenge(
            StatusCode::UNAUTHORIZED,
            scheme,
            Some(("invalid_token", why)),
        )
    };
    let known = state.issued.lock().expect("lock").get(token).map(|t| {
        (
            t.jkt.clone(),
            t.expires_at,
            t.scope.clone(),
            t.grant.clone(),
        )
    });
    let Some((jkt, expires_at, scope, grant)) = known else {
        return invalid_token("Bearer", "the access token is unknown or revoked");
    };
    if expires_at.is_some_and(|at| state.now() >= at) {
        return invalid_token("Bearer", "the access token expired");
    }
    let url = format!("{}/userinfo", state.issuer);
    match (scheme.as_str(), jkt) {
        ("bearer", None) => {}
        ("dpop", Some(jkt)) => {
            match verify_dpop_proof(state, headers, method.as_str(), &url, Some(token)) {
                Ok(proof_jkt) if proof_jkt == jkt => {}
                Ok(_) => return invalid_token("DPoP", "the proof is not from the bound key"),
                Err(DPoPFailure::Nonce) => {
                    return challenge(
                        StatusCode::UNAUTHORIZED,
                        "DPoP",
                        Some(("use_dpop_nonce", "a DPoP nonce is required")),
                    )
                }
                Err(DPoPFailure::Invalid(why)) => {
                    return challenge(
                        StatusCode::UNAUTHORIZED,
                        "DPoP",
                        Some(("invalid_dpop_proof", &why)),
                    )
                }
            }
        }
        ("bearer", Some(_)) => return invalid_token("DPoP", "the access token is DPoP-bound"),
        _ => return invalid_token("Bearer", "the access token is not DPoP-bound"),
    }
    let grant = match grant {
        Some(g) if scope.as_deref().is_some_and(|s| has_scope(s, "openid")) => g,
        _ => {
            return challenge(
                StatusCode::FORBIDDEN,
                "Bearer",
                Some((
                    "insufficient_scope",
                    "the access token was not issued for the openid scope",
                )),
            )
        }
    };
    let mut claims = state.user.claims.clone();
    claims.insert("sub".into(), grant.subject.clone().into());
    if !state.userinfo_signed_response {
        return axum::Json(Value::Object(claims)).into_response();
    }
    claims.insert("iss".into(), state.issuer.clone().into());
    claims.insert("aud".into(), grant.client_id.clone().into());
    let key = state.signing.lock().expect("lock").current().clone();
    match key.sign_jwt(Some("JWT"), &[], claims) {
        Ok(jwt) => {
            let mut r = jwt.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwt"),
            );
            r
        }
        Err(e) => super::token::oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        ),
    }
}

/// A response with a `WWW-Authenticate` challenge of `scheme`: without
/// error attributes when `error` is `None` (RFC 6750 §3.1: the request had
/// no token), else with `error` and `error_description`, also in a JSON
/// body. A `DPoP` challenge lists the accepted `algs` (RFC 9449 §7.1).
fn challenge(status: StatusCode, scheme: &str, error: Option<(&str, &str)>) -> Response {
    let mut attributes = Vec::new();
    if let Some((code, description)) = error {
        attributes.push(format!("error=\"{code}\""));
        let description = description.replace(['"', '\\'], "'");
        attributes.push(format!("error_description=\"{description}\""));
    }
    if scheme == "DPoP" {
        attributes.push("algs=\"ES256 ES384 ES512 RS256 PS256 EdDSA\"".into());
    }
    if status == StatusCode::FORBIDDEN {
        attributes.push("scope=\"openid\"".into());
    }
    let value = if attributes.is_empty() {
        scheme.to_owned()
    } else {
        format!("{scheme} {}", attributes.join(", "))
    };
    let mut r = match error {
        Some((code, description)) => (
            status,
            axum::Json(json!({"error": code, "error_description": description})),
        )
            .into_response(),
        None => status.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// The UserInfo endpoint.
impl MockAuthorizationServer {
    /// The UserInfo endpoint URL, `{issuer}/userinfo`.
    pub fn userinfo_endpoint(&self) -> Url {
        self.endpoint("userinfo")
    }

    /// How many requests reached the UserInfo endpoint.
    pub fn userinfo_request_count(&self) -> usize {
        self.state.userinfo_requests.load(Ordering::SeqCst)
    }

    /// Answers the next UserInfo request with `fault` instead of normally.
    pub fn fail_next_userinfo_request(&self, fault: Fault) {
        self.state
            .userinfo_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }
}

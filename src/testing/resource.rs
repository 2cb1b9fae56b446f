//! The protected resource the server also plays.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::dpop::{verify_dpop_proof, DPoPFailure};
use super::ServerState;

/// The protected resource: accepts issued tokens, checking DPoP binding.
pub(super) fn resource(state: &ServerState, method: &Method, headers: &HeaderMap) -> Response {
    let challenge = |scheme: &str, error: &str| {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": error})),
        )
            .into_response();
        let value =
            format!("{scheme} error=\"{error}\", algs=\"ES256 ES384 ES512 RS256 PS256 EdDSA\"");
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, v);
        }
        r
    };
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some((scheme, token)) = authorization.split_once(' ') else {
        return challenge("Bearer", "invalid_request");
    };
    let binding = state
        .issued
        .lock()
        .expect("lock")
        .get(token)
        .map(|t| t.jkt.clone());
    let url = format!("{}/resource", state.issuer);
    match (scheme.to_ascii_lowercase().as_str(), binding) {
        ("bearer", Some(None)) => {}
        ("dpop", Some(Some(jkt))) => {
            match verify_dpop_proof(state, headers, method.as_str(), &url, Some(token)) {
                Ok(proof_jkt) if proof_jkt == jkt => {}
                Ok(_) => return challenge("DPoP", "invalid_token"),
                Err(DPoPFailure::Nonce) => return challenge("DPoP", "use_dpop_nonce"),
                Err(DPoPFailure::Invalid(_)) => return challenge("DPoP", "invalid_dpop_proof"),
            }
        }
        ("bearer", Some(Some(_))) => return challenge("DPoP", "invalid_token"),
        _ => return challenge("Bearer", "invalid_token"),
    }
    axum::Json(json!({"resource": "ok", "method": method.as_str()})).into_response()
}

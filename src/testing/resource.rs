//! The protected resource the server also plays, and its metadata
//! (RFC 9728).

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use url::Url;

use super::dpop::{verify_dpop_proof, DPoPFailure};
use super::fault::respond;
use super::id_token::change_claims;
use super::{Fault, MockAuthorizationServer, ServerState};
use crate::ProtectedResourceMetadata;

/// The DPoP proof algorithms the resource accepts (RFC 9449 §7.1 `algs`).
const DPOP_ALGS: [&str; 6] = ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"];

/// The resource's identifier, `{issuer}/resource`.
fn resource_identifier(state: &ServerState) -> String {
    format!("{}/resource", state.issuer)
}

/// The well-known URL of the resource's metadata (RFC 9728 §3.1).
pub(super) fn metadata_url(state: &ServerState) -> Url {
    let resource = Url::parse(&resource_identifier(state)).expect("a URL");
    crate::protected_resource_metadata_url(&resource).expect("no query, no fragment")
}

/// A 401 with a `WWW-Authenticate` challenge of `scheme` naming the
/// resource's metadata (RFC 9728 §5.1): without an error code when the
/// request had no token (RFC 6750 §3.1), else with `error` (also in a JSON
/// body). A `DPoP` challenge lists the accepted `algs` (RFC 9449 §7.1).
fn challenge(state: &ServerState, scheme: &str, error: Option<&str>) -> Response {
    let mut attributes = vec![format!("resource_metadata=\"{}\"", metadata_url(state))];
    let mut response = match error {
        Some(error) => {
            attributes.push(format!("error=\"{error}\""));
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({ "error": error })),
            )
                .into_response()
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    };
    if scheme == "DPoP" {
        attributes.push(format!("algs=\"{}\"", DPOP_ALGS.join(" ")));
    }
    let value = format!("{scheme} {}", attributes.join(", "));
    if let Ok(v) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, v);
    }
    response
}

/// The protected resource: accepts issued tokens, checking DPoP binding.
pub(super) fn resource(state: &ServerState, method: &Method, headers: &HeaderMap) -> Response {
    let challenge = |scheme: &str, error: &str| challenge(state, scheme, Some(error));
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some((scheme, token)) = authorization.split_once(' ') else {
        return self::challenge(state, "Bearer", None);
    };
    let binding = state
        .issued
        .lock()
        .expect("lock")
        .get(token)
        .map(|t| t.jkt.clone());
    let url = resource_identifier(state);
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

/// `GET /.well-known/oauth-protected-resource{issuer path}/resource`: the
/// resource's metadata (RFC 9728 §3.2), changed by the next
/// [`tamper_next_resource_metadata`](MockAuthorizationServer::tamper_next_resource_metadata)
/// or replaced by the next
/// [`fail_next_resource_metadata`](MockAuthorizationServer::fail_next_resource_metadata).
pub(super) async fn metadata(state: &ServerState) -> Response {
    let fault = state
        .resource_metadata_faults
        .lock()
        .expect("lock")
        .pop_front();
    respond(fault, || {
        let mut metadata = ProtectedResourceMetadata::new(resource_identifier(state));
        metadata.authorization_servers = Some(vec![Url::parse(&state.issuer).expect("a URL")]);
        metadata.scopes_supported = Some(vec!["read".into(), "write".into()]);
        metadata.bearer_methods_supported = Some(vec!["header".into()]);
        metadata.dpop_signing_alg_values_supported =
            Some(DPOP_ALGS.iter().map(|a| a.to_string()).collect());
        metadata.resource_name = Some("oidckit mock API".into());
        let Ok(Value::Object(mut document)) = serde_json::to_value(&metadata) else {
            unreachable!("metadata serializes to an object");
        };
        if let Some(changes) = state
            .resource_metadata_changes
            .lock()
            .expect("lock")
            .pop_front()
        {
            change_claims(&mut document, changes);
        }
        axum::Json(Value::Object(document)).into_response()
    })
    .await
}

/// The protected resource and its metadata (RFC 9728).
impl MockAuthorizationServer {
    /// The well-known URL of the [resource](Self::resource_url)'s metadata
    /// (RFC 9728 §3.1), also named by the `resource_metadata` parameter of
    /// the resource's 401 challenges (§5.1).
    pub fn resource_metadata_url(&self) -> Url {
        metadata_url(&self.state)
    }

    /// Changes the next resource metadata document: each member of
    /// `changes` replaces the one the server would send, a `null` removes
    /// it. E.g. `json!({"resource": "https://other.example/api"})` for
    /// metadata about another resource, `json!({"authorization_servers":
    /// null})` for a resource that names no authorization server.
    ///
    /// # Panics
    /// If `changes` is not a JSON object.
    pub fn tamper_next_resource_metadata(&self, changes: Value) {
        let Value::Object(changes) = changes else {
            panic!("tamper_next_resource_metadata takes a JSON object");
        };
        self.state
            .resource_metadata_changes
            .lock()
            .expect("lock")
            .push_back(changes);
    }

    /// Answers the next resource metadata request with `fault`.
    pub fn fail_next_resource_metadata(&self, fault: Fault) {
        self.state
            .resource_metadata_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }
}

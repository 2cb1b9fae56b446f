//! The pushed authorization request endpoint (PAR, RFC 9126): authorization
//! requests pushed by authenticated clients, kept under a one-time
//! `request_uri` for the authorization endpoint.

use std::sync::atomic::Ordering;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use super::authorize::{check, first, redirect_target};
use super::client::{authenticate, MockClient};
use super::dpop::optional_proof;
use super::token::{invalid_client, oauth_error};
use super::{jar, Fault, MockAuthorizationServer, ServerState};
use crate::jose::random_b64url;

/// How long a `request_uri` can be used, in seconds (RFC 9126 §2.2:
/// `expires_in`).
const REQUEST_URI_LIFETIME: u64 = 60;

/// The prefix of every `request_uri` (RFC 9126 §2.2).
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The form parameters of client authentication, which are not
/// authorization request parameters (RFC 6749 §2.3.1, RFC 7523 §2.2).
const CLIENT_AUTH_PARAMS: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// A pushed authorization request not yet used.
pub(super) struct PushedRequest {
    client_id: String,
    /// The authorization request parameters, `client_id` included, and
    /// `dpop_jkt` when the push carried a DPoP proof.
    params: Vec<(String, String)>,
    expires_at: u64,
}

/// `POST {issuer}/par` (RFC 9126 §2): authenticates the client as the token
/// endpoint does, takes the authorization request from the form (or from
/// the request object in `request`, RFC 9126 §3), checks it as the
/// authorization endpoint does, binds it to the key of a DPoP proof if one
/// is sent (RFC 9449 §10.1), and answers `201` with a `request_uri` and
/// `expires_in`.
pub(super) fn push(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    let bad_request = |error: &str, why: &str| oauth_error(StatusCode::BAD_REQUEST, error, why);
    // §2: client authentication as at the token endpoint; but client_id,
    // an authorization request parameter, may accompany Basic credentials
    // here (§2.1, the example of §2.1).
    let without_client_id: Vec<(String, String)>;
    let auth_form = if headers.contains_key(header::AUTHORIZATION) {
        without_client_id = form
            .iter()
            .filter(|(k, _)| k != "client_id")
            .cloned()
            .collect();
        &without_client_id
    } else {
        form
    };
    let client = match authenticate(state, headers, auth_form) {
        Ok(c) => c,
        Err(reason) => return invalid_client(&reason),
    };
    let client = &client;
    let jkt = match optional_proof(state, headers, &format!("{}/par", state.issuer)) {
        Ok(jkt) => jkt,
        Err((error, why)) => return oauth_error(StatusCode::BAD_REQUEST, error, &why),
    };
    // §2.1: a request_uri cannot be pushed.
    if first(form, "request_uri").is_some() {
        return bad_request(
            "invalid_request",
            "request_uri is not allowed in a pushed authorization request (RFC 9126 §2.1)",
        );
    }
    let is_auth = |name: &str| CLIENT_AUTH_PARAMS.contains(&name);
    let mut params: Vec<(String, String)> = match first(form, "request") {
        Some(jwt) => {
            // §3: the request object's parameters, and no others.
            let others = form
                .iter()
                .find(|(k, _)| !is_auth(k) && k != "client_id" && k != "request");
            if let Some((name, _)) = others {
                return bad_request(
                    "invalid_request",
                    &format!(
                        "{name} next to a request object: only client_id and client \
                         authentication may accompany it (RFC 9126 §3)"
                    ),
                );
            }
            if form.iter().filter(|(k, _)| k == "request").count() > 1 {
                return bad_request("invalid_request", "request repeated");
            }
            match jar::request_object_params(state, client, jwt) {
                Ok(params) => params,
                Err(why) => return bad_request("invalid_request_object", &why),
            }
        }
        None => form.iter().filter(|(k, _)| !is_auth(k)).cloned().collect(),
    };
    // §2.1: the client_id, if sent, is the authenticated client's.
    match first(&params, "client_id") {
        Some(id) if id != client.client_id => {
            return bad_request(
                "invalid_request",
                "client_id is not the authenticated client (RFC 9126 §2.1)",
            )
        }
        Some(_) => {}
        None => params.insert(0, ("client_id".into(), client.client_id.clone())),
    }
    // §2.1: checked as the authorization endpoint checks it.
    if let Err(why) = redirect_target(client, &params) {
        return bad_request("invalid_request", &why);
    }
    if let Err((error, why)) = check(client, &params) {
        return bad_request(error, &why);
    }
    // RFC 9449 §10.1: the proof's key, which dpop_jkt must name if sent.
    match (jkt, first(&params, "dpop_jkt")) {
        (Some(jkt), Some(named)) if jkt != named => {
            return bad_request(
                "invalid_dpop_proof",
                "dpop_jkt is not the thumbprint of the DPoP proof's key (RFC 9449 §10.1)",
            )
        }
        (Some(jkt), None) => params.push(("dpop_jkt".into(), jkt)),
        _ => {}
    }
    let request_uri = match random_b64url(32) {
        Ok(random) => format!("{REQUEST_URI_PREFIX}{random}"),
        Err(e) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            )
        }
    };
    state.pushed.lock().expect("lock").insert(
        request_uri.clone(),
        PushedRequest {
            client_id: client.client_id.clone(),
            params,
            expires_at: state.now() + REQUEST_URI_LIFETIME,
        },
    );
    let body = json!({"request_uri": request_uri, "expires_in": REQUEST_URI_LIFETIME});
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The parameters pushed under `request_uri` by `client`, used up (RFC 9126
/// §4: one-time, unexpired, for the client that pushed it); the error says
/// why it cannot be used. A `request_uri` presented by another client is
/// left for its own.
pub(super) fn take(
    state: &ServerState,
    client: &MockClient,
    request_uri: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut pushed = state.pushed.lock().expect("lock");
    match pushed.get(request_uri) {
        None => Err(
            "unknown request_uri, or used already (one-time, RFC 9126 §4); only those of the \
             PAR endpoint are accepted"
                .into(),
        ),
        Some(p) if p.client_id != client.client_id => {
            Err("the request_uri was pushed by another client (RFC 9126 §4)".into())
        }
        Some(_) => {
            let p = pushed.remove(request_uri).expect("present");
            if state.now() >= p.expires_at {
                Err("the request_uri expired (RFC 9126 §4)".into())
            } else {
                Ok(p.params)
            }
        }
    }
}

/// The pushed authorization request endpoint.
impl MockAuthorizationServer {
    /// The pushed authorization request endpoint URL, `{issuer}/par`
    /// (`pushed_authorization_request_endpoint` in the discovery document,
    /// RFC 9126 §5).
    pub fn pushed_authorization_request_endpoint(&self) -> Url {
        self.endpoint("par")
    }

    /// How many requests reached the pushed authorization request endpoint.
    pub fn par_request_count(&self) -> usize {
        self.state.par_requests.load(Ordering::SeqCst)
    }

    /// Answers the next pushed authorization request with `fault` instead
    /// of normally. A fault that sends the normal response late or broken
    /// ([`Fault::Delay`], [`Fault::SlowBody`], [`Fault::ResetMidBody`])
    /// still pushes the request; the others push nothing.
    pub fn fail_next_par_request(&self, fault: Fault) {
        self.state.par_faults.lock().expect("lock").push_back(fault);
    }
}

//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2,
//! §3).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use url::Url;

use super::client::MockClient;
use super::keys::verify_own_jwt;
use super::token::oauth_error;
use super::{MockAuthorizationServer, RecordedRequest, ServerState};

/// `GET` or `POST {issuer}/logout`: checks `id_token_hint` (signed by one of
/// the server's published keys, issued by it; expiry is not checked, §2),
/// `client_id` (the hint's audience when both are sent) and
/// `post_logout_redirect_uri` (registered for the client, which the request
/// must identify, §3.1); records the logout, then redirects with `state`,
/// or shows a "signed out" page. `logout_hint` and `ui_locales` are
/// accepted and only recorded. Errors are a 400 with a JSON error.
pub(super) fn end_session(
    state: &ServerState,
    params: &[(String, String)],
    recorded: RecordedRequest,
) -> Response {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let bad = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why);
    for name in [
        "id_token_hint",
        "post_logout_redirect_uri",
        "state",
        "client_id",
        "logout_hint",
        "ui_locales",
    ] {
        if params.iter().filter(|(k, _)| k == name).count() > 1 {
            return bad(&format!("{name} repeated"));
        }
    }
    let hinted = match param("id_token_hint") {
        None => None,
        Some(hint) => match verify_own_jwt(state, hint) {
            Err(why) => return bad(&format!("invalid id_token_hint: {why}")),
            Ok(claims) if claims.get("iss").and_then(Value::as_str) != Some(&state.issuer) => {
                return bad("the id_token_hint was not issued by this server")
            }
            Ok(claims) => match audience(&claims) {
                Some(aud) => Some(aud),
                None => return bad("the id_token_hint has no single audience"),
            },
        },
    };
    let client_id = match (param("client_id"), hinted.as_deref()) {
        (Some(c), Some(h)) if c != h => {
            return bad("client_id is not the audience of the id_token_hint")
        }
        (Some(c), _) => Some(c.to_owned()),
        (None, h) => h.map(str::to_owned),
    };
    let client = match &client_id {
        None => None,
        Some(id) => match state.client(id) {
            Some(c) => Some(c),
            None => return bad(&format!("unknown client {id:?}")),
        },
    };
    let redirect = match param("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(client) = client else {
                return bad("post_logout_redirect_uri needs client_id or id_token_hint");
            };
            match Url::parse(uri) {
                Ok(url) if MockClient::allows_uri(&client.post_logout_redirect_uris, uri) => {
                    Some(url)
                }
                _ => return bad("post_logout_redirect_uri is not registered for this client"),
            }
        }
    };
    state.logouts.lock().expect("lock").push(recorded);
    match redirect {
        Some(mut url) => {
            if let Some(s) = param("state") {
                url.query_pairs_mut().append_pair("state", s);
            }
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        None => {
            let mut r = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signed out</title></head>\n<body><p>You are signed out.</p></body></html>\n"
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
    }
}

/// The client an ID Token is for: `azp`, else its only audience.
fn audience(claims: &serde_json::Map<String, Value>) -> Option<String> {
    if let Some(azp) = claims.get("azp").and_then(Value::as_str) {
        return Some(azp.to_owned());
    }
    match claims.get("aud")? {
        Value::String(aud) => Some(aud.clone()),
        Value::Array(list) if list.len() == 1 => list[0].as_str().map(str::to_owned),
        _ => None,
    }
}

/// The end-session endpoint.
impl MockAuthorizationServer {
    /// The end-session endpoint URL, `{issuer}/logout`.
    pub fn end_session_endpoint(&self) -> Url {
        self.endpoint("logout")
    }

    /// Every accepted end-session request, in order (the parameters of a
    /// `GET` are in [`RecordedRequest::query`], of a `POST` in
    /// [`RecordedRequest::form`]). Refused ones are only in
    /// [`requests`](Self::requests).
    pub fn logouts(&self) -> Vec<RecordedRequest> {
        self.state.logouts.lock().expect("lock").clone()
    }

    /// How many end-session requests were accepted.
    pub fn logout_count(&self) -> usize {
        self.state.logouts.lock().expect("lock").len()
    }
}

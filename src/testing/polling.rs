//! What the two polled grants share: requests the user decides out of band
//! (a device code, RFC 8628; a backchannel authentication request, CIBA
//! Core 1.0), polled at the token endpoint until then: pending, slow down,
//! denied, expired, or the user's grant, once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::authorize::first;
use super::client::{authenticate, MockClient};
use super::token::{invalid_client, oauth_error};
use super::{ServerState, UserGrant};

/// The client of a request that starts a polled grant, authenticated as at
/// the token endpoint (RFC 8628 §3.1, CIBA Core §7.1); a `client_id`
/// parameter may accompany Basic credentials, and must then be theirs.
/// Else the error response.
pub(super) fn authenticate_client(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<MockClient, Box<Response>> {
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
    let client =
        authenticate(state, headers, auth_form).map_err(|why| Box::new(invalid_client(&why)))?;
    if first(form, "client_id").is_some_and(|id| id != client.client_id) {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is not the authenticated client",
        )));
    }
    Ok(client)
}

/// `scope` (space-separated) within the client's registered scopes, else
/// an `invalid_scope` response.
pub(super) fn check_scope(client: &MockClient, scope: &str) -> Result<(), Box<Response>> {
    let Some(allowed) = &client.scopes else {
        return Ok(());
    };
    match scope
        .split(' ')
        .find(|s| !s.is_empty() && !allowed.iter().any(|a| a == s))
    {
        Some(bad) => Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("scope {bad} is not allowed"),
        ))),
        None => Ok(()),
    }
}

/// A JSON answer with `Cache-Control: no-store` (it carries a code).
pub(super) fn no_store_json(body: serde_json::Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the user did with a request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Pending,
    /// Approved at this time (seconds since the epoch): the `auth_time`.
    Approved(u64),
    Denied,
}

/// A request awaiting the user's decision, not yet redeemed; `T` is what
/// the flow keeps besides (the user code; the hint and binding message).
pub(super) struct PolledRequest<T> {
    pub client_id: String,
    /// The scope asked for (space-separated, possibly empty).
    pub scope: String,
    /// The user asked (the `sub` of the tokens).
    pub subject: String,
    pub expires_at: u64,
    /// The minimum seconds between polls; grows by 5 with every
    /// `slow_down` (RFC 8628 §3.5, CIBA Core §11).
    pub interval: u64,
    /// When the client last polled (server clock).
    pub last_poll: Option<u64>,
    pub decision: Decision,
    /// The order of issue.
    pub seq: u64,
    pub details: T,
}

impl<T> PolledRequest<T> {
    /// Awaits a decision and has not expired.
    pub(super) fn is_pending(&self, now: u64) -> bool {
        self.decision == Decision::Pending && now < self.expires_at
    }
}

/// How a flow's requests are polled.
pub(super) struct PollRules {
    /// The token request's parameter naming the request (`device_code`,
    /// `auth_req_id`).
    pub param: &'static str,
    /// Where the rules are, for the error descriptions.
    pub spec: &'static str,
    /// Answer `slow_down` to a poll sooner than the interval.
    pub enforce_slow_down: bool,
}

/// The request a token request names (`rules.param`): the user's grant
/// once approved (the request then spent), else the error to answer:
/// `invalid_request` (no parameter), `invalid_grant` (unknown, spent, or
/// another client's), `expired_token`, `slow_down` (when enforced),
/// `access_denied` or `authorization_pending`.
pub(super) fn redeem<T>(
    state: &ServerState,
    requests: &Mutex<HashMap<String, PolledRequest<T>>>,
    client: &MockClient,
    form: &[(String, String)],
    rules: &PollRules,
) -> Result<Arc<UserGrant>, (&'static str, String)> {
    let PollRules {
        param,
        spec,
        enforce_slow_down,
    } = *rules;
    let Some(key) = first(form, param) else {
        return Err(("invalid_request", format!("{param} missing")));
    };
    let now = state.now();
    let mut requests = requests.lock().expect("lock");
    let Some(request) = requests.get_mut(key) else {
        return Err((
            "invalid_grant",
            format!("unknown {param}, or redeemed already"),
        ));
    };
    if request.client_id != client.client_id {
        return Err((
            "invalid_grant",
            format!("the {param} was issued to another client"),
        ));
    }
    if now >= request.expires_at {
        requests.remove(key);
        return Err(("expired_token", format!("the {param} expired ({spec})")));
    }
    let too_soon = request
        .last_poll
        .is_some_and(|last| now.saturating_sub(last) < request.interval);
    request.last_poll = Some(now);
    if too_soon && enforce_slow_down {
        request.interval += 5;
        return Err((
            "slow_down",
            format!(
                "polling too fast: wait {} seconds between requests ({spec})",
                request.interval
            ),
        ));
    }
    match request.decision {
        Decision::Pending => Err((
            "authorization_pending",
            format!("the user has not yet decided ({spec})"),
        )),
        Decision::Denied => {
            requests.remove(key);
            Err(("access_denied", "the user denied the request".into()))
        }
        Decision::Approved(approved_at) => {
            let request = requests.remove(key).expect("present");
            Ok(Arc::new(UserGrant {
                client_id: request.client_id,
                subject: request.subject,
                scope: request.scope,
                auth_time: state.user.auth_time.unwrap_or(approved_at),
            }))
        }
    }
}

/// Decides the oldest pending, unexpired request that `wanted` picks
/// (given its key and the request); false if there is none.
pub(super) fn decide<T>(
    state: &ServerState,
    requests: &Mutex<HashMap<String, PolledRequest<T>>>,
    wanted: impl Fn(&str, &PolledRequest<T>) -> bool,
    decision: Decision,
) -> bool {
    let now = state.now();
    let mut requests = requests.lock().expect("lock");
    let found = requests
        .iter_mut()
        .filter(|(k, r)| r.is_pending(now) && wanted(k, r))
        .min_by_key(|(_, r)| r.seq);
    match found {
        Some((_, r)) => {
            r.decision = decision;
            true
        }
        None => false,
    }
}

/// What `show` makes of each pending, unexpired request, oldest first.
pub(super) fn pending<T, U>(
    state: &ServerState,
    requests: &Mutex<HashMap<String, PolledRequest<T>>>,
    show: impl Fn(&str, &PolledRequest<T>) -> U,
) -> Vec<U> {
    let now = state.now();
    let requests = requests.lock().expect("lock");
    let mut pending: Vec<(&String, &PolledRequest<T>)> =
        requests.iter().filter(|(_, r)| r.is_pending(now)).collect();
    pending.sort_by_key(|(_, r)| r.seq);
    pending.into_iter().map(|(k, r)| show(k, r)).collect()
}

//! Client-Initiated Backchannel Authentication in poll mode (CIBA Core
//! 1.0): the backchannel authentication endpoint (§7.1–§7.3, §13), the
//! `auth_req_id` at the token endpoint (§10.1, §11), and the test's hand on
//! the user's decision (what their authentication device would do).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use url::Url;

use super::authorize::first;
use super::client::MockClient;
use super::keys::verify_own_jwt;
use super::polling::{
    self, authenticate_client, check_scope, no_store_json, Decision, PollRules, PolledRequest,
};
use super::token::oauth_error;
use super::{has_scope, Fault, MockAuthorizationServer, ServerState, UserGrant};
use crate::jose::random_b64url;

/// The `grant_type` of the `auth_req_id` at the token endpoint (CIBA Core
/// §10.1).
pub(super) const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// The longest `binding_message` accepted (CIBA Core §7.1 leaves it to the
/// server; oidc-provider's limit).
const MAX_BINDING_MESSAGE: usize = 20;

/// What a backchannel authentication request keeps besides its polling
/// state.
pub(super) struct Backchannel {
    /// The `binding_message`, shown on the authentication device (§7.1).
    binding_message: Option<String>,
}

/// A backchannel authentication request not yet redeemed, by `auth_req_id`.
pub(super) type BackchannelRequest = PolledRequest<Backchannel>;

/// A pending backchannel authentication request, as the user's
/// authentication device would show it (see
/// [`MockAuthorizationServer::pending_backchannel_requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingBackchannelRequest {
    /// The request's `auth_req_id`.
    pub auth_req_id: String,
    /// The client that asked.
    pub client_id: String,
    /// The user asked: the `login_hint`, or the `sub` of the
    /// `id_token_hint` or `login_hint_token`.
    pub subject: String,
    /// The scope asked for.
    pub scope: String,
    /// The `binding_message` (CIBA Core §7.1), if any.
    pub binding_message: Option<String>,
}

/// How `auth_req_id`s are polled (CIBA Core §11).
fn poll_rules(state: &ServerState) -> PollRules {
    PollRules {
        param: "auth_req_id",
        spec: "CIBA Core §11",
        enforce_slow_down: state.enforce_backchannel_slow_down,
    }
}

/// `POST {issuer}/backchannel_authentication` (CIBA Core §7.1): the client
/// authenticated as at the token endpoint; `scope` with `openid` (within
/// the client's); exactly one of `login_hint` (the user's `sub`),
/// `id_token_hint` (an ID Token of this server for the client) and
/// `login_hint_token` (a JWT signed with this server's key, its `sub` the
/// user); an optional `binding_message` (1 to 20 characters, no control
/// characters) and `requested_expiry` (positive seconds, replacing the
/// configured lifetime). Answers `auth_req_id`, `expires_in` and
/// `interval` (§7.3); errors are JSON (§13).
pub(super) fn backchannel_authentication(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    let bad_request = |error: &str, why: &str| oauth_error(StatusCode::BAD_REQUEST, error, why);
    let client = match authenticate_client(state, headers, form) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let client = &client;
    for name in [
        "scope",
        "login_hint",
        "id_token_hint",
        "login_hint_token",
        "binding_message",
        "requested_expiry",
        "user_code",
    ] {
        if form.iter().filter(|(k, _)| k == name).count() > 1 {
            return bad_request("invalid_request", &format!("{name} repeated"));
        }
    }
    // §7.1: scope is required and, OpenID Connect, has `openid`.
    let scope = first(form, "scope").unwrap_or_default().trim().to_owned();
    if !has_scope(&scope, "openid") {
        return bad_request(
            "invalid_request",
            "scope must contain openid (CIBA Core §7.1)",
        );
    }
    if let Err(response) = check_scope(client, &scope) {
        return *response;
    }
    let subject = match hinted_user(state, client, form) {
        Ok(s) => s,
        Err((error, why)) => return bad_request(error, &why),
    };
    let binding_message = first(form, "binding_message").map(str::to_owned);
    if let Some(message) = &binding_message {
        let length = message.chars().count();
        if length == 0 || length > MAX_BINDING_MESSAGE || message.chars().any(char::is_control) {
            return bad_request(
                "invalid_binding_message",
                &format!(
                    "the binding_message must have 1 to {MAX_BINDING_MESSAGE} characters, none a control character (CIBA Core §13)"
                ),
            );
        }
    }
    // §7.1: `user_code` only where backchannel_user_code_parameter_supported,
    // which this server is not.
    if first(form, "user_code").is_some() {
        return bad_request(
            "invalid_request",
            "user_code is not supported (backchannel_user_code_parameter_supported is false)",
        );
    }
    let lifetime = match first(form, "requested_expiry") {
        None => state.backchannel_lifetime,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return bad_request(
                    "invalid_request",
                    "requested_expiry is not a positive integer",
                )
            }
        },
    };
    let auth_req_id = match random_b64url(32) {
        Ok(id) => id,
        Err(e) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &e.to_string(),
            )
        }
    };
    let seq = state.polled_seq.fetch_add(1, Ordering::SeqCst) as u64;
    state.backchannel_requests.lock().expect("lock").insert(
        auth_req_id.clone(),
        BackchannelRequest {
            client_id: client.client_id.clone(),
            scope,
            subject,
            expires_at: state.now() + lifetime,
            interval: state.backchannel_interval,
            last_poll: None,
            decision: Decision::Pending,
            seq,
            details: Backchannel { binding_message },
        },
    );
    no_store_json(json!({
        "auth_req_id": auth_req_id,
        "expires_in": lifetime,
        "interval": state.backchannel_interval,
    }))
}

/// The user the request's one hint names (CIBA Core §7.1), else the error
/// (§13).
fn hinted_user(
    state: &ServerState,
    client: &MockClient,
    form: &[(String, String)],
) -> Result<String, (&'static str, String)> {
    let hints: Vec<(&str, &str)> = ["login_hint", "id_token_hint", "login_hint_token"]
        .into_iter()
        .filter_map(|name| first(form, name).map(|v| (name, v)))
        .collect();
    let [(name, value)] = hints.as_slice() else {
        return Err((
            "invalid_request",
            format!(
                "exactly one of login_hint, id_token_hint and login_hint_token is required, not {} (CIBA Core §7.1)",
                hints.len()
            ),
        ));
    };
    let sub = |claims: &serde_json::Map<String, Value>| {
        claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match *name {
        "login_hint" if !value.is_empty() => Ok((*value).to_owned()),
        "login_hint" => Err(("unknown_user_id", "the login_hint is empty".into())),
        "id_token_hint" => {
            let claims = verify_own_jwt(state, value)
                .map_err(|why| ("invalid_request", format!("invalid id_token_hint: {why}")))?;
            if claims.get("iss").and_then(Value::as_str) != Some(&state.issuer) {
                return Err((
                    "invalid_request",
                    "the id_token_hint was not issued by this server".into(),
                ));
            }
            let aud = match claims.get("aud") {
                Some(Value::String(a)) => a == &client.client_id,
                Some(Value::Array(a)) => a.iter().any(|a| a == client.client_id.as_str()),
                _ => false,
            };
            if !aud {
                return Err((
                    "invalid_request",
                    "the id_token_hint was not issued to this client".into(),
                ));
            }
            sub(&claims).ok_or(("invalid_request", "the id_token_hint has no sub".into()))
        }
        _ => {
            let claims = verify_own_jwt(state, value).map_err(|why| {
                (
                    "invalid_request",
                    format!("invalid login_hint_token: {why}"),
                )
            })?;
            let expired = claims
                .get("exp")
                .and_then(Value::as_u64)
                .is_some_and(|exp| exp <= state.now());
            if expired {
                return Err((
                    "expired_login_hint_token",
                    "the login_hint_token expired (CIBA Core §13)".into(),
                ));
            }
            sub(&claims).ok_or(("unknown_user_id", "the login_hint_token has no sub".into()))
        }
    }
}

/// The `auth_req_id` of a token request (CIBA Core §10.1, §11): the user's
/// grant once approved (the request then spent), else the error to answer.
pub(super) fn redeem(
    state: &ServerState,
    client: &MockClient,
    form: &[(String, String)],
) -> Result<Arc<UserGrant>, (&'static str, String)> {
    polling::redeem(
        state,
        &state.backchannel_requests,
        client,
        form,
        &poll_rules(state),
    )
}

/// Decides the oldest pending request that `request` names (its
/// `auth_req_id`, or its user).
fn decide(state: &ServerState, request: &str, decision: Decision) -> bool {
    polling::decide(
        state,
        &state.backchannel_requests,
        |id, r| id == request || r.subject == request,
        decision,
    )
}

/// The backchannel authentication endpoint and the user's authentication
/// device (CIBA Core 1.0, poll mode).
impl MockAuthorizationServer {
    /// The backchannel authentication endpoint URL,
    /// `{issuer}/backchannel_authentication`
    /// (`backchannel_authentication_endpoint` in the discovery document,
    /// CIBA Core §4).
    pub fn backchannel_authentication_endpoint(&self) -> Url {
        self.endpoint("backchannel_authentication")
    }

    /// How many requests reached the backchannel authentication endpoint.
    pub fn backchannel_authentication_request_count(&self) -> usize {
        self.state.backchannel_request_count.load(Ordering::SeqCst)
    }

    /// Answers the next backchannel authentication request (CIBA Core
    /// §7.1) with `fault` instead of normally. A fault that sends the
    /// normal response late or broken ([`Fault::Delay`],
    /// [`Fault::SlowBody`], [`Fault::ResetMidBody`]) still creates the
    /// request; the others create nothing.
    pub fn fail_next_backchannel_authentication_request(&self, fault: Fault) {
        self.state
            .backchannel_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// Answers the next token requests with the CIBA grant (§10.1), one
    /// each, with these `faults` instead of normally (a `slow_down`, a 503
    /// with `Retry-After`, a token response without an ID Token…), as
    /// [`next_device_poll_responses`](Self::next_device_poll_responses)
    /// does for device codes: a faulted poll is not seen by the request.
    pub fn next_backchannel_poll_responses(&self, faults: Vec<Fault>) {
        self.state
            .backchannel_poll_faults
            .lock()
            .expect("lock")
            .extend(faults);
    }

    /// The user approves, on their authentication device, the oldest
    /// pending request that `request` names: its `auth_req_id`, or its
    /// user (the `login_hint`, or the `sub` of the `id_token_hint` or
    /// `login_hint_token`). Now is the `auth_time`, unless fixed by
    /// [`auth_time`](super::MockServerBuilder::auth_time); the next poll
    /// gets the tokens, with an ID Token whose `sub` is that user. False if
    /// no such request awaits a decision (unknown, expired, redeemed or
    /// decided already).
    pub fn approve_backchannel(&self, request: &str) -> bool {
        let now = self.state.now();
        decide(&self.state, request, Decision::Approved(now))
    }

    /// The user denies the request `request` names (as for
    /// [`approve_backchannel`](Self::approve_backchannel)): the next poll
    /// gets `access_denied` (CIBA Core §11).
    pub fn deny_backchannel(&self, request: &str) -> bool {
        decide(&self.state, request, Decision::Denied)
    }

    /// The backchannel authentication requests awaiting the user's
    /// decision, unexpired, oldest first: what the authentication devices
    /// would show (the `binding_message` among it).
    pub fn pending_backchannel_requests(&self) -> Vec<PendingBackchannelRequest> {
        polling::pending(&self.state, &self.state.backchannel_requests, |id, r| {
            PendingBackchannelRequest {
                auth_req_id: id.to_owned(),
                client_id: r.client_id.clone(),
                subject: r.subject.clone(),
                scope: r.scope.clone(),
                binding_message: r.details.binding_message.clone(),
            }
        })
    }
}

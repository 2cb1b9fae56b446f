//! The OAuth 2.0 Device Authorization Grant (RFC 8628): the device
//! authorization endpoint (§3.1, §3.2), the device code at the token
//! endpoint (§3.4, §3.5), and the test's hand on the user's decision.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use super::authorize::first;
use super::client::MockClient;
use super::polling::{
    self, authenticate_client, check_scope, no_store_json, Decision, PollRules, PolledRequest,
};
use super::token::oauth_error;
use super::{Fault, MockAuthorizationServer, ServerState, UserGrant};
use crate::jose::random_b64url;

/// The `grant_type` of the device code at the token endpoint (RFC 8628
/// §3.4).
pub(super) const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The letters of user codes: no vowels, no easily confused ones (RFC 8628
/// §6.1).
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A device authorization request whose device code is not yet redeemed;
/// its details are the user code, `XXXX-XXXX`.
pub(super) type DeviceAuthorization = PolledRequest<String>;

/// How device codes are polled (RFC 8628 §3.5).
fn poll_rules(state: &ServerState) -> PollRules {
    PollRules {
        param: "device_code",
        spec: "RFC 8628 §3.5",
        enforce_slow_down: state.enforce_device_slow_down,
    }
}

/// The user code as typed: upper case, without dashes or spaces (RFC 8628
/// §6.1: the user should not have to care).
fn normalize_user_code(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Eight random letters of [`USER_CODE_ALPHABET`], `XXXX-XXXX`.
fn new_user_code() -> Result<String, openssl::error::ErrorStack> {
    let mut letters = String::with_capacity(9);
    while letters.len() < 9 {
        let mut buf = [0u8; 16];
        openssl::rand::rand_bytes(&mut buf)?;
        // Rejection sampling: 240 is the largest multiple of 20 under 256.
        for b in buf.into_iter().filter(|b| *b < 240) {
            if letters.len() == 4 {
                letters.push('-');
            }
            if letters.len() == 9 {
                break;
            }
            letters.push(char::from(USER_CODE_ALPHABET[usize::from(b % 20)]));
        }
    }
    Ok(letters)
}

/// `POST {issuer}/device_authorization` (RFC 8628 §3.1, §3.2): the client
/// authenticated as at the token endpoint (`client_id` alone for a public
/// client), an optional `scope` within the client's; answers the device
/// code, the user code and where to enter it.
pub(super) fn device_authorization(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    let bad_request = |error: &str, why: &str| oauth_error(StatusCode::BAD_REQUEST, error, why);
    // §3.1: `client_id` is required unless the client authenticates, and
    // may accompany Basic credentials.
    let client = match authenticate_client(state, headers, form) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let client = &client;
    if form.iter().filter(|(k, _)| k == "scope").count() > 1 {
        return bad_request("invalid_request", "scope repeated");
    }
    let scope = first(form, "scope").unwrap_or_default().trim().to_owned();
    if let Err(response) = check_scope(client, &scope) {
        return *response;
    }
    let server_error = |e: &dyn std::fmt::Display| {
        oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        )
    };
    let device_code = match random_b64url(32) {
        Ok(c) => c,
        Err(e) => return server_error(&e),
    };
    let mut devices = state.device_codes.lock().expect("lock");
    // A fresh user code: unique among the live ones.
    let user_code = loop {
        let code = match new_user_code() {
            Ok(c) => c,
            Err(e) => return server_error(&e),
        };
        if !devices.values().any(|d| d.details == code) {
            break code;
        }
    };
    let seq = state.polled_seq.fetch_add(1, Ordering::SeqCst) as u64;
    devices.insert(
        device_code.clone(),
        DeviceAuthorization {
            client_id: client.client_id.clone(),
            scope,
            subject: state.user.subject.clone(),
            expires_at: state.now() + state.device_code_lifetime,
            interval: state.device_poll_interval,
            last_poll: None,
            decision: Decision::Pending,
            seq,
            details: user_code.clone(),
        },
    );
    drop(devices);
    let verification_uri = format!("{}/device", state.issuer);
    let mut complete = Url::parse(&verification_uri).expect("a URL");
    complete
        .query_pairs_mut()
        .append_pair("user_code", &user_code);
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete.as_str(),
        "expires_in": state.device_code_lifetime,
        "interval": state.device_poll_interval,
    });
    no_store_json(body)
}

/// The device code of a token request (RFC 8628 §3.4, §3.5): the user's
/// grant once approved (the code then spent), else the error to answer:
/// `invalid_grant` (unknown, spent, or another client's), `expired_token`,
/// `slow_down` (when [enforced](super::MockServerBuilder::enforce_device_slow_down)),
/// `access_denied` or `authorization_pending`.
pub(super) fn redeem(
    state: &ServerState,
    client: &MockClient,
    form: &[(String, String)],
) -> Result<Arc<UserGrant>, (&'static str, String)> {
    polling::redeem(state, &state.device_codes, client, form, &poll_rules(state))
}

/// Decides the pending, unexpired request of `user_code`.
fn decide(state: &ServerState, user_code: &str, decision: Decision) -> bool {
    let wanted = normalize_user_code(user_code);
    polling::decide(
        state,
        &state.device_codes,
        |_, d| normalize_user_code(&d.details) == wanted,
        decision,
    )
}

/// The device authorization endpoint and the user's side of the Device
/// Authorization Grant (RFC 8628).
impl MockAuthorizationServer {
    /// The device authorization endpoint URL, `{issuer}/device_authorization`
    /// (`device_authorization_endpoint` in the discovery document, RFC 8628
    /// §4).
    pub fn device_authorization_endpoint(&self) -> Url {
        self.endpoint("device_authorization")
    }

    /// The end-user verification URI, `{issuer}/device` (RFC 8628 §3.2:
    /// `verification_uri`), where a `GET` shows a form for the user code.
    pub fn device_verification_uri(&self) -> Url {
        self.endpoint("device")
    }

    /// How many requests reached the device authorization endpoint.
    pub fn device_authorization_request_count(&self) -> usize {
        self.state.device_requests.load(Ordering::SeqCst)
    }

    /// Answers the next device authorization request (RFC 8628 §3.1) with
    /// `fault` instead of normally. A fault that sends the normal response
    /// late or broken ([`Fault::Delay`], [`Fault::SlowBody`],
    /// [`Fault::ResetMidBody`]) still creates the device code; the others
    /// create nothing.
    pub fn fail_next_device_authorization_request(&self, fault: Fault) {
        self.state
            .device_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// Answers the next token requests with the device code grant (RFC 8628
    /// §3.4), one each, with these `faults` instead of normally, e.g. a
    /// storm of `slow_down` errors or a 503 with `Retry-After`. They queue
    /// after those already queued; a faulted poll is not seen by the device
    /// code (its interval and decision stay as they were, except for
    /// [`Fault::Delay`], [`Fault::SlowBody`] and [`Fault::ResetMidBody`],
    /// which answer normally, late or broken). Faults queued with
    /// [`fail_next_token_request`](Self::fail_next_token_request) apply to
    /// the next token request of any grant and come first.
    pub fn next_device_poll_responses(&self, faults: Vec<Fault>) {
        self.state
            .device_poll_faults
            .lock()
            .expect("lock")
            .extend(faults);
    }

    /// The user approves the device authorization request of `user_code`
    /// (RFC 8628 §3.3), as [`subject`](super::MockServerBuilder::subject),
    /// now (the `auth_time`, unless fixed by
    /// [`auth_time`](super::MockServerBuilder::auth_time)): the next poll
    /// gets the tokens. The code is compared without case, dashes or
    /// spaces (§6.1). False if no request with that code awaits a
    /// decision (unknown, expired, redeemed or decided already).
    pub fn approve_device(&self, user_code: &str) -> bool {
        let now = self.state.now();
        decide(&self.state, user_code, Decision::Approved(now))
    }

    /// The user denies the device authorization request of `user_code`
    /// (RFC 8628 §3.3): the next poll gets `access_denied` (§3.5). False as
    /// for [`approve_device`](Self::approve_device).
    pub fn deny_device(&self, user_code: &str) -> bool {
        decide(&self.state, user_code, Decision::Denied)
    }

    /// The user codes (`XXXX-XXXX`) of the device authorization requests
    /// awaiting the user's decision, unexpired, oldest first (RFC 8628
    /// §3.3).
    pub fn pending_device_codes(&self) -> Vec<String> {
        polling::pending(&self.state, &self.state.device_codes, |_, d| {
            d.details.clone()
        })
    }
}

/// `GET {issuer}/device` (RFC 8628 §3.3): a page with a form for the user
/// code, prefilled from `user_code` (`verification_uri_complete`). The form
/// is for show: the test decides with
/// [`approve_device`](MockAuthorizationServer::approve_device) or
/// [`deny_device`](MockAuthorizationServer::deny_device).
pub(super) fn verification_page(query: &[(String, String)]) -> Response {
    // Only the code's letters and the dash go into the page.
    let code: String = first(query, "user_code")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(16)
        .collect();
    let page = format!(
        "<!DOCTYPE html><html><head><title>Device sign-in</title></head><body>\
         <form method=\"get\"><label>Code <input name=\"user_code\" value=\"{code}\">\
         </label><button>Continue</button></form></body></html>"
    );
    let mut response = page.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_have_the_shape_of_rfc_8628() {
        for _ in 0..200 {
            let code = new_user_code().unwrap();
            assert_eq!(code.len(), 9, "{code}");
            assert_eq!(&code[4..5], "-", "{code}");
            assert!(
                code.bytes()
                    .filter(|b| *b != b'-')
                    .all(|b| USER_CODE_ALPHABET.contains(&b)),
                "{code}"
            );
        }
    }

    #[test]
    fn user_codes_are_normalized() {
        assert_eq!(normalize_user_code("bcdf-ghjk"), "BCDFGHJK");
        assert_eq!(normalize_user_code(" BCDF GHJK "), "BCDFGHJK");
    }
}

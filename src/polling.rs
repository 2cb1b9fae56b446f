//! What the two polling flows share: the device authorization grant (RFC
//! 8628) and Client-Initiated Backchannel Authentication in poll mode (CIBA
//! Core 1.0). Both start with a response that names a code, how long it
//! lives (`expires_in`) and how often to ask (`interval`), then poll the
//! token endpoint with the same rules (RFC 8628 §3.5, CIBA Core §7.3 and
//! §11; openid-client's):
//!
//! - wait one interval (5 s when the server gives none) before every poll;
//! - `authorization_pending`: poll again; `slow_down`: add 5 s to the
//!   interval for this and every later poll;
//! - a `Retry-After` on the answer is waited out (at least the interval);
//!   a 503 with `Retry-After` is polled again;
//! - any other error ends the polling, `access_denied` and `expired_token`
//!   among them; `expires_in` passing ends it with `expired_token` without
//!   asking the server again.
//!
//! Waiting goes through the configuration's [`Clock`](crate::Clock), so a
//! [`ManualClock`](crate::ManualClock) polls in virtual time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::config::Configuration;
use crate::error::{server_text, Error, Result};
use crate::grants::response::TokenEndpointResponse;
use crate::grants::{checked_grant, ResponseCheck};
use crate::id_token::IdTokenExpectations;
use crate::options::{Call, RequestOptions};

/// The polling interval when the server gives none (RFC 8628 §3.2, CIBA
/// Core §7.3).
pub(crate) const DEFAULT_INTERVAL: u64 = 5;

/// What `slow_down` adds to the interval (RFC 8628 §3.5, CIBA Core §11).
const SLOW_DOWN: u64 = 5;

/// One polled grant: what to send, how often, until when, and what the
/// response must carry.
pub(crate) struct PolledGrant {
    /// The `grant_type`.
    pub grant_type: &'static str,
    /// The one parameter of the grant (`device_code`, `auth_req_id`) and
    /// its value.
    pub param: (&'static str, String),
    /// Seconds between polls (at least 1).
    pub interval: u64,
    /// Seconds until the code expires, from the start of polling.
    pub expires_in: u64,
    /// What the ID Token must be, if one is (or must be) in the response.
    pub id_token: IdTokenExpectations,
    /// The `error_description` of the `expired_token` error raised when
    /// `expires_in` passes.
    pub expired: &'static str,
}

/// Polls the token endpoint with `grant` until it answers with tokens or
/// an error that ends the polling (see the module documentation).
pub(crate) fn poll_grant(
    config: &Configuration,
    grant: PolledGrant,
) -> Call<'_, TokenEndpointResponse> {
    Call::new(move |options: RequestOptions| async move {
        let PolledGrant {
            grant_type,
            param: (name, value),
            interval,
            expires_in,
            id_token,
            expired,
        } = grant;
        let clock = config.clock().clone();
        let deadline = clock.now() + Duration::from_secs(expires_in);
        let mut interval = Duration::from_secs(interval.max(1));
        let mut wait = interval;
        // Bounded: every pass waits at least a second of the clock, and the
        // loop ends at the deadline.
        loop {
            let remaining = deadline.duration_since(clock.now()).unwrap_or_default();
            if wait >= remaining {
                clock.sleep(remaining).await;
                return Err(expired_token(expired));
            }
            clock.sleep(wait).await;
            let poll = checked_grant(
                config,
                grant_type,
                &[(name, value.as_str())],
                std::iter::empty::<(&str, &str)>(),
                None,
                ResponseCheck::IdToken(id_token.clone()),
            )
            .options(options.clone())
            .await;
            let e = match poll {
                Ok(tokens) => return Ok(tokens),
                Err(e) => e,
            };
            match e.oauth_error().map(|o| o.error.as_str()) {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += Duration::from_secs(SLOW_DOWN),
                // A 503 with Retry-After (openid-client 6.8): wait and poll again.
                _ if e.status() == Some(StatusCode::SERVICE_UNAVAILABLE)
                    && e.retry_after().is_some() => {}
                _ => return Err(e),
            }
            wait = e.retry_after().map_or(interval, |r| r.max(interval));
        }
    })
}

/// The code's `expires_in` passed before the user decided.
fn expired_token(description: &str) -> Error {
    Error::oauth(crate::OAuthError {
        error: "expired_token".into(),
        error_description: Some(description.into()),
        error_uri: None,
        status: None,
        url: None,
        challenges: Vec::new(),
        state: None,
    })
}

/// Reads the members of a polling flow's first response (`what`, e.g. "the
/// device authorization response"), each violation an
/// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) naming
/// the member and `spec`.
pub(crate) struct InitiationResponse<'a> {
    pub map: Map<String, Value>,
    pub what: &'static str,
    pub spec: &'a str,
}

impl InitiationResponse<'_> {
    /// A required, non-empty string member.
    pub(crate) fn string(&mut self, name: &str) -> Result<String> {
        match self.map.remove(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            _ => Err(Error::invalid_response(format!(
                "{} has no `{name}` string ({})",
                self.what, self.spec
            ))),
        }
    }

    /// An optional string member.
    pub(crate) fn optional_string(&mut self, name: &str) -> Result<Option<String>> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid_response(format!(
                "{}'s `{name}` is not a string ({})",
                self.what, self.spec
            ))),
        }
    }

    /// An optional whole number of seconds.
    fn seconds(&mut self, name: &str) -> Result<Option<u64>> {
        match self.map.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                Error::invalid_response(format!(
                    "{}'s `{name}` is not a whole number of seconds ({})",
                    self.what, self.spec
                ))
            }),
            Some(other) => Err(Error::invalid_response(format!(
                "{}'s `{name}` is not a number: {} ({})",
                self.what,
                server_text(&other.to_string(), 40),
                self.spec
            ))),
        }
    }

    /// The required `expires_in`; with `positive`, 0 is refused too.
    pub(crate) fn expires_in(&mut self, positive: bool) -> Result<u64> {
        match self.seconds("expires_in")? {
            None => Err(Error::invalid_response(format!(
                "{} has no numeric `expires_in` ({})",
                self.what, self.spec
            ))),
            Some(0) if positive => Err(Error::invalid_response(format!(
                "{}'s `expires_in` is 0; it must be positive ({})",
                self.what, self.spec
            ))),
            Some(n) => Ok(n),
        }
    }

    /// The optional `interval`: positive, 5 when absent.
    pub(crate) fn interval(&mut self) -> Result<u64> {
        match self.seconds("interval")? {
            None => Ok(DEFAULT_INTERVAL),
            Some(0) => Err(Error::invalid_response(format!(
                "{}'s `interval` is 0; it must be positive ({})",
                self.what, self.spec
            ))),
            Some(n) => Ok(n),
        }
    }
}

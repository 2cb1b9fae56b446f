//! The device authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)):
//! sign-in on a device without a browser (a TV, a CLI). The device asks for
//! a code, shows the user a URL and a short code to enter on another
//! device, and polls the token endpoint until the user approves.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use crate::config::Configuration;
use crate::endpoint::request::{
    client_id_param, EndpointRequest, FormParam, UnauthenticatedRequest,
};
use crate::endpoint::response::expect_status;
use crate::endpoint::{self, EndpointContext, DEVICE_AUTHORIZATION};
use crate::error::{server_text, Error, Result};
use crate::grants::response::TokenEndpointResponse;
use crate::grants::{checked_grant, ResponseCheck};
use crate::id_token::IdTokenExpectations;
use crate::options::{Call, RequestOptions};
use crate::transport::{json_object, EndpointResponse};

/// The `grant_type` of the device authorization grant (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server gives none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: u64 = 5;

/// What `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN: u64 = 5;

/// The device authorization response (RFC 8628 §3.2): what to show the
/// user, and the `device_code` to poll with.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct DeviceAuthorizationResponse {
    /// The device verification code (kept by the device; not shown).
    pub device_code: String,
    /// The code the user enters at the verification URI.
    pub user_code: String,
    /// Where the user goes, on another device.
    pub verification_uri: String,
    /// The verification URI with the user code in it (for a QR code), if
    /// the server gave one.
    pub verification_uri_complete: Option<String>,
    /// How long the codes are valid, in seconds.
    pub expires_in: u64,
    /// The minimum time between polls, in seconds (5 when the server gives
    /// none).
    pub interval: u64,
    /// Every other member.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for DeviceAuthorizationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorizationResponse")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Builds a device authorization request (the low-level half of
/// [`initiate_device_authorization`]): a form `POST` of `params` (e.g.
/// `scope`) to the `device_authorization_endpoint` with the client's
/// authentication.
pub fn build_device_authorization_request<I>(
    ctx: &EndpointContext<'_>,
    params: I,
) -> Result<EndpointRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    device_request(ctx, params)?.authenticate(ctx)
}

fn device_request<I>(ctx: &EndpointContext<'_>, params: I) -> Result<UnauthenticatedRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let client_id = client_id_param(ctx);
    UnauthenticatedRequest::new(ctx, &DEVICE_AUTHORIZATION, client_id.as_slice(), params)
}

/// Processes the device authorization response (RFC 8628 §3.2): a 200 with
/// string `device_code`, `user_code` and `verification_uri`, a numeric
/// `expires_in`, and `interval`, when present, a positive number.
pub fn process_device_authorization_response(
    _ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
) -> Result<DeviceAuthorizationResponse> {
    expect_status(response, StatusCode::OK)?;
    let mut map = json_object(response.headers(), response.body())?;
    let mut string = |name: &str| match map.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(Error::invalid_response(format!(
            "the device authorization response has no `{name}` string (RFC 8628 §3.2)"
        ))),
    };
    let device_code = string("device_code")?;
    let user_code = string("user_code")?;
    let verification_uri = string("verification_uri")?;
    let verification_uri_complete =
        match map.remove("verification_uri_complete") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(Error::invalid_response(
                "the device authorization response's `verification_uri_complete` is not a string",
            )),
        };
    let seconds = |value: Option<Value>, name: &str| -> Result<Option<u64>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                Error::invalid_response(format!(
                    "the device authorization response's `{name}` is not a whole number of seconds"
                ))
            }),
            Some(other) => Err(Error::invalid_response(format!(
                "the device authorization response's `{name}` is not a number: {}",
                server_text(&other.to_string(), 40)
            ))),
        }
    };
    let expires_in = seconds(map.remove("expires_in"), "expires_in")?.ok_or_else(|| {
        Error::invalid_response("the device authorization response has no numeric `expires_in`")
    })?;
    let interval = match seconds(map.remove("interval"), "interval")? {
        None => DEFAULT_INTERVAL,
        Some(0) => {
            return Err(Error::invalid_response(
                "the device authorization response's `interval` is 0; it must be positive",
            ))
        }
        Some(n) => n,
    };
    Ok(DeviceAuthorizationResponse {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
        extra: map,
    })
}

/// Starts a device sign-in (RFC 8628 §3.1): returns the codes to show the
/// user. Then [`poll_device_authorization_grant`].
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
/// let device = oidckit::initiate_device_authorization(&config, &[("scope", "openid")]).await?;
/// println!("Go to {} and enter {}", device.verification_uri, device.user_code);
/// let tokens = oidckit::poll_device_authorization_grant(&config, &device).await?;
/// # Ok(()) }
/// ```
pub fn initiate_device_authorization<'a, I>(
    config: &'a Configuration,
    params: I,
) -> Call<'a, DeviceAuthorizationResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let request = device_request(&config.context(), params);
    let span = endpoint::span(config, &DEVICE_AUTHORIZATION, None);
    Call::new(move |options: RequestOptions| {
        async move {
            let dpop = options.dpop.as_ref();
            endpoint::send(
                config,
                &DEVICE_AUTHORIZATION,
                request?,
                &options,
                dpop,
                process_device_authorization_response,
            )
            .await
        }
        .instrument(span)
    })
}

/// Polls the token endpoint until the user approves (RFC 8628 §3.4–3.5):
/// waits one interval before each poll; `authorization_pending` polls
/// again, `slow_down` adds 5 s to the interval, a `Retry-After` is waited
/// out; `access_denied` and `expired_token` end it as
/// [`ErrorKind::OAuth`](crate::ErrorKind::OAuth) errors with that `error`, and so does the codes'
/// `expires_in` passing (`expired_token`, without asking the server again).
/// An ID Token in the response is validated (no nonce in this flow).
///
/// Waiting and the expiry use the configuration's [`Clock`](crate::Clock):
/// Tokio's timer by default; with a [`ManualClock`](crate::ManualClock)
/// (shared with the mock server) a test polls in virtual time, without
/// sleeping. The [`options`](Call::options) apply to every poll (DPoP binds
/// the token); their `deadline` or cancellation token stop the polling.
pub fn poll_device_authorization_grant<'a>(
    config: &'a Configuration,
    device: &DeviceAuthorizationResponse,
) -> Call<'a, TokenEndpointResponse> {
    let device_code = device.device_code.clone();
    let (interval, expires_in) = (device.interval.max(1), device.expires_in);
    Call::new(move |options: RequestOptions| async move {
        let clock = config.clock().clone();
        let deadline = clock.now() + Duration::from_secs(expires_in);
        let mut interval = Duration::from_secs(interval);
        let mut wait = interval;
        // Bounded: every pass waits at least a second of the clock, and the
        // loop ends at the deadline.
        loop {
            let remaining = deadline.duration_since(clock.now()).unwrap_or_default();
            if wait >= remaining {
                clock.sleep(remaining).await;
                return Err(expired());
            }
            clock.sleep(wait).await;
            let poll = checked_grant(
                config,
                DEVICE_CODE_GRANT_TYPE,
                &[("device_code", device_code.as_str())],
                std::iter::empty::<(&str, &str)>(),
                None,
                ResponseCheck::IdToken(IdTokenExpectations::without_nonce()),
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

/// The codes' `expires_in` passed before the user approved.
fn expired() -> Error {
    Error::oauth(crate::OAuthError {
        error: "expired_token".into(),
        error_description: Some(
            "the device code expired before the user approved (RFC 8628 §3.5)".into(),
        ),
        error_uri: None,
        status: None,
        url: None,
        challenges: Vec::new(),
        state: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, ClientMetadata, ErrorKind, ServerMetadata};
    use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};

    fn answer(status: u16, body: &str) -> EndpointResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        EndpointResponse::new(
            "https://as.example/device".parse().unwrap(),
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.to_owned(),
        )
    }

    #[test]
    fn the_request_and_the_response_without_io() {
        let mut server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        server.device_authorization_endpoint = Some("https://as.example/device".parse().unwrap());
        let client = ClientMetadata::new("tv");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let request = build_device_authorization_request(&ctx, [("scope", "openid")]).unwrap();
        assert_eq!(request.url().as_str(), "https://as.example/device");
        assert_eq!(request.body(), "scope=openid&client_id=tv");

        let good = r#"{"device_code":"d","user_code":"WDJB-MJHT","verification_uri":"https://as.example/device","expires_in":1800,"interval":5,"x":1}"#;
        let device = process_device_authorization_response(&ctx, &answer(200, good)).unwrap();
        assert_eq!(
            (
                device.user_code.as_str(),
                device.expires_in,
                device.interval
            ),
            ("WDJB-MJHT", 1800, 5)
        );
        assert_eq!(device.extra["x"], 1);
        assert!(!format!("{device:?}").contains("\"d\""));
        let no_interval =
            r#"{"device_code":"d","user_code":"u","verification_uri":"v","expires_in":60}"#;
        assert_eq!(
            process_device_authorization_response(&ctx, &answer(200, no_interval))
                .unwrap()
                .interval,
            5
        );
        let cases = [
            r#"{"device_code":"d","user_code":"u","verification_uri":"v","expires_in":60,"interval":0}"#,
            r#"{"device_code":"d","user_code":"u","expires_in":60}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"v"}"#,
            r#"{"device_code":"d","user_code":"u","verification_uri":"v","expires_in":"60"}"#,
            r#"{"device_code":5,"user_code":"u","verification_uri":"v","expires_in":60}"#,
        ];
        for body in cases {
            let e = process_device_authorization_response(&ctx, &answer(200, body)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
        }
        let e = process_device_authorization_response(
            &ctx,
            &answer(400, r#"{"error":"invalid_client"}"#),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OAuth);
    }
}

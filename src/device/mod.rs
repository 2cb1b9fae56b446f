//! The device authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)):
//! sign-in on a device without a browser (a TV, a CLI). The device asks for
//! a code, shows the user a URL and a short code to enter on another
//! device, and polls the token endpoint until the user approves.

use std::fmt;

use reqwest::StatusCode;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use crate::config::Configuration;
use crate::endpoint::request::{
    client_id_param, EndpointRequest, FormParam, UnauthenticatedRequest,
};
use crate::endpoint::response::expect_status;
use crate::endpoint::{self, EndpointContext, DEVICE_AUTHORIZATION};
use crate::error::Result;
use crate::grants::response::TokenEndpointResponse;
use crate::id_token::IdTokenExpectations;
use crate::options::{Call, RequestOptions};
use crate::polling::{poll_grant, InitiationResponse, PolledGrant};
use crate::transport::{json_object, EndpointResponse};

/// The `grant_type` of the device authorization grant (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

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
    let mut read = InitiationResponse {
        map: json_object(response.headers(), response.body())?,
        what: "the device authorization response",
        spec: "RFC 8628 §3.2",
    };
    Ok(DeviceAuthorizationResponse {
        device_code: read.string("device_code")?,
        user_code: read.string("user_code")?,
        verification_uri: read.string("verification_uri")?,
        verification_uri_complete: read.optional_string("verification_uri_complete")?,
        expires_in: read.expires_in(false)?,
        interval: read.interval()?,
        extra: read.map,
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
    poll_grant(
        config,
        PolledGrant {
            grant_type: DEVICE_CODE_GRANT_TYPE,
            param: ("device_code", device.device_code.clone()),
            interval: device.interval,
            expires_in: device.expires_in,
            id_token: IdTokenExpectations::without_nonce(),
            expired: "the device code expired before the user approved (RFC 8628 §3.5)",
        },
    )
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

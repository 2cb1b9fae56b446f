//! Client-Initiated Backchannel Authentication, poll mode
//! ([CIBA Core 1.0](https://openid.net/specs/openid-client-initiated-backchannel-authentication-core-1_0.html)):
//! the client names a user (`login_hint`, `id_token_hint` or
//! `login_hint_token`), the server asks that user on their own
//! authentication device (a phone app), and the client polls the token
//! endpoint until the user approves. No browser, no redirect: a call
//! centre, a point of sale, a CLI acting for a known user.

use std::fmt;

use reqwest::StatusCode;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use crate::config::Configuration;
use crate::endpoint::request::{EndpointRequest, FormParam, UnauthenticatedRequest};
use crate::endpoint::response::expect_status;
use crate::endpoint::{self, EndpointContext, BACKCHANNEL_AUTHENTICATION};
use crate::error::{Error, Result};
use crate::grants::response::TokenEndpointResponse;
use crate::id_token::IdTokenExpectations;
use crate::options::{Call, RequestOptions};
use crate::polling::{poll_grant, InitiationResponse, PolledGrant};
use crate::transport::{json_object, EndpointResponse};

/// The `grant_type` of the CIBA token request (CIBA Core §10.1).
pub const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// The hints that name the user; an authentication request has exactly one
/// (CIBA Core §7.1).
const HINTS: [&str; 3] = ["login_hint", "id_token_hint", "login_hint_token"];

/// The successful authentication request acknowledgement (CIBA Core §7.3):
/// the `auth_req_id` to poll with, how long it lives, and how often to
/// poll.
///
/// `Debug` does not show the `auth_req_id`: it is a credential while the
/// request is pending (whoever has it gets the user's tokens).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct BackchannelAuthenticationResponse {
    /// The authentication request's identifier, for the token requests.
    pub auth_req_id: String,
    /// How long the `auth_req_id` is valid, in seconds.
    pub expires_in: u64,
    /// The minimum time between polls, in seconds (5 when the server gives
    /// none).
    pub interval: u64,
    /// Every other member.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for BackchannelAuthenticationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackchannelAuthenticationResponse")
            .field("auth_req_id", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Builds a backchannel authentication request (the low-level half of
/// [`initiate_backchannel_authentication`]): a form `POST` of `params` to
/// the `backchannel_authentication_endpoint` with the client's
/// authentication (CIBA Core §7.1).
///
/// `params` must have one `scope` with `openid` in it and exactly one of
/// `login_hint`, `id_token_hint` and `login_hint_token`, non-empty; else
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput), before
/// anything is sent. The others (`binding_message`, `acr_values`,
/// `requested_expiry`, `user_code`, …) go as given.
///
/// ```
/// use oidckit::{build_backchannel_authentication_request, ClientAuth, ClientMetadata, EndpointContext, ServerMetadata};
///
/// let mut server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// server.backchannel_authentication_endpoint = Some("https://as.example/bc-authorize".parse()?);
/// let client = ClientMetadata::new("bank-app");
/// let auth = ClientAuth::client_secret_post("s3cr3t");
/// let request = build_backchannel_authentication_request(
///     &EndpointContext::new(&server, &client, &auth),
///     &[("scope", "openid"), ("login_hint", "alice"), ("binding_message", "W4SCT")],
/// )?;
/// assert_eq!(
///     request.body(),
///     "scope=openid&login_hint=alice&binding_message=W4SCT&client_id=bank-app&client_secret=s3cr3t"
/// );
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_backchannel_authentication_request<I>(
    ctx: &EndpointContext<'_>,
    params: I,
) -> Result<EndpointRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    backchannel_request(ctx, params)?.authenticate(ctx)
}

fn backchannel_request<I>(ctx: &EndpointContext<'_>, params: I) -> Result<UnauthenticatedRequest>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let params: Vec<(String, String)> = params
        .into_iter()
        .map(|p| (p.name().to_owned(), p.value().to_owned()))
        .collect();
    check_request(&params)?;
    UnauthenticatedRequest::new(ctx, &BACKCHANNEL_AUTHENTICATION, &[], params)
}

/// CIBA Core §7.1: `scope` is required and, this being OpenID Connect,
/// has `openid`; exactly one hint names the user.
fn check_request(params: &[(String, String)]) -> Result<()> {
    fn values<'p>(params: &'p [(String, String)], name: &'p str) -> impl Iterator<Item = &'p str> {
        params
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    let scopes: Vec<&str> = values(params, "scope").collect();
    match scopes.as_slice() {
        [scope] if scope.split(' ').any(|s| s == "openid") => {}
        [_] => return Err(Error::invalid_input(
            "a backchannel authentication request's scope must contain `openid` (CIBA Core §7.1)",
        )),
        [] => return Err(Error::invalid_input(
            "a backchannel authentication request needs a `scope` with `openid` (CIBA Core §7.1)",
        )),
        _ => {
            return Err(Error::invalid_input(
                "a backchannel authentication request has one `scope` parameter",
            ))
        }
    }
    let hints: Vec<(&str, &str)> = HINTS
        .iter()
        .flat_map(|h| values(params, h).map(move |v| (*h, v)))
        .collect();
    match hints.as_slice() {
        [(_, value)] if !value.is_empty() => Ok(()),
        [(name, _)] => Err(Error::invalid_input(format!(
            "the `{name}` of a backchannel authentication request is empty"
        ))),
        [] => Err(Error::invalid_input(
            "a backchannel authentication request needs one of `login_hint`, `id_token_hint` \
             or `login_hint_token` (CIBA Core §7.1)",
        )),
        _ => Err(Error::invalid_input(format!(
            "a backchannel authentication request has exactly one hint, not {} ({}; CIBA Core §7.1)",
            hints.len(),
            hints.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Processes the backchannel authentication response (CIBA Core §7.3,
/// §13): a 200 with a string `auth_req_id`, a positive numeric
/// `expires_in`, and `interval`, when present, a positive number (5 when
/// absent); anything else is
/// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse). An
/// error response (§13) is an [`ErrorKind::OAuth`](crate::ErrorKind::OAuth)
/// error.
pub fn process_backchannel_authentication_response(
    _ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
) -> Result<BackchannelAuthenticationResponse> {
    expect_status(response, StatusCode::OK)?;
    let mut read = InitiationResponse {
        map: json_object(response.headers(), response.body())?,
        what: "the backchannel authentication response",
        spec: "CIBA Core §7.3",
    };
    Ok(BackchannelAuthenticationResponse {
        auth_req_id: read.string("auth_req_id")?,
        expires_in: read.expires_in(true)?,
        interval: read.interval()?,
        extra: read.map,
    })
}

/// Starts a backchannel authentication (CIBA Core §7.1): the server asks
/// the user named by the hint on their authentication device. Then
/// [`poll_backchannel_authentication_grant`].
///
/// `params` as for [`build_backchannel_authentication_request`]: one
/// `scope` with `openid`, exactly one of `login_hint`, `id_token_hint` and
/// `login_hint_token`, and for example a `binding_message` that the user
/// sees on both devices (§7.1). Without a
/// `backchannel_authentication_endpoint` in the server metadata the call
/// fails with [`ErrorKind::MissingMetadata`](crate::ErrorKind::MissingMetadata).
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration) -> Result<(), oidckit::Error> {
/// let request = oidckit::initiate_backchannel_authentication(
///     &config,
///     &[("scope", "openid"), ("login_hint", "alice@example.com"), ("binding_message", "W4SCT")],
/// )
/// .await?;
/// println!("Check your phone: does it say W4SCT?");
/// let tokens = oidckit::poll_backchannel_authentication_grant(&config, &request).await?;
/// println!("signed in: {}", tokens.claims().unwrap().subject());
/// # Ok(()) }
/// ```
pub fn initiate_backchannel_authentication<'a, I>(
    config: &'a Configuration,
    params: I,
) -> Call<'a, BackchannelAuthenticationResponse>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let request = backchannel_request(&config.context(), params);
    let span = endpoint::span(config, &BACKCHANNEL_AUTHENTICATION, None);
    Call::new(move |options: RequestOptions| {
        async move {
            let dpop = options.dpop.as_ref();
            endpoint::send(
                config,
                &BACKCHANNEL_AUTHENTICATION,
                request?,
                &options,
                dpop,
                process_backchannel_authentication_response,
            )
            .await
        }
        .instrument(span)
    })
}

/// Polls the token endpoint with `grant_type=urn:openid:params:grant-type:ciba`
/// and the `auth_req_id` until the user approves (CIBA Core §7.3, §10.1,
/// §11): waits one interval before each poll; `authorization_pending` polls
/// again, `slow_down` adds 5 s to the interval, a `Retry-After` is waited
/// out; `access_denied` and `expired_token` end it as
/// [`ErrorKind::OAuth`](crate::ErrorKind::OAuth) errors with that `error`,
/// and so does the request's `expires_in` passing (`expired_token`, without
/// asking the server again).
///
/// The token response must carry an ID Token (CIBA Core §10.1.1), validated
/// as any other (signature, `iss`, `aud`, `exp`, `iat`, `at_hash`; no
/// nonce in this flow): without one the call fails with
/// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse).
///
/// Waiting and the expiry use the configuration's [`Clock`](crate::Clock):
/// Tokio's timer by default; with a [`ManualClock`](crate::ManualClock)
/// (shared with the mock server) a test polls in virtual time. The
/// [`options`](Call::options) apply to every poll (DPoP binds the token);
/// their `deadline` or cancellation token stop the polling.
///
/// Low-level, the same token request is
/// `build_token_request(&ctx, CIBA_GRANT_TYPE, [("auth_req_id", id)])`.
pub fn poll_backchannel_authentication_grant<'a>(
    config: &'a Configuration,
    request: &BackchannelAuthenticationResponse,
) -> Call<'a, TokenEndpointResponse> {
    poll_grant(
        config,
        PolledGrant {
            grant_type: CIBA_GRANT_TYPE,
            param: ("auth_req_id", request.auth_req_id.clone()),
            interval: request.interval,
            expires_in: request.expires_in,
            id_token: IdTokenExpectations::required_without_nonce(),
            expired: "the authentication request expired before the user approved (CIBA Core §11)",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_token_request, ClientAuth, ClientMetadata, ErrorKind, ServerMetadata};
    use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};

    fn answer(status: u16, body: &str) -> EndpointResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        EndpointResponse::new(
            "https://as.example/bc".parse().unwrap(),
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.to_owned(),
        )
    }

    fn server() -> ServerMetadata {
        let mut server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        server.backchannel_authentication_endpoint = Some("https://as.example/bc".parse().unwrap());
        server
    }

    #[test]
    fn the_request_without_io() {
        let server = server();
        let client = ClientMetadata::new("bank");
        let auth = ClientAuth::client_secret_basic("s");
        let ctx = EndpointContext::new(&server, &client, &auth);
        let request = build_backchannel_authentication_request(
            &ctx,
            [
                ("scope", "openid email"),
                ("id_token_hint", "a.b.c"),
                ("binding_message", "W4 SCT"),
            ],
        )
        .unwrap();
        assert_eq!(request.url().as_str(), "https://as.example/bc");
        // Basic credentials: no client_id in the form (CIBA Core §7.1
        // authenticates the client as at the token endpoint).
        assert_eq!(
            request.body(),
            "scope=openid+email&id_token_hint=a.b.c&binding_message=W4+SCT"
        );
        assert!(request.headers().contains_key(AUTHORIZATION));

        // The token request of the grant, by the general builder.
        let token = build_token_request(&ctx, CIBA_GRANT_TYPE, [("auth_req_id", "r1")]).unwrap();
        assert_eq!(
            token.body(),
            "grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id=r1"
        );
    }

    #[test]
    fn requests_without_openid_or_one_hint_are_refused_locally() {
        let server = server();
        let client = ClientMetadata::new("bank");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let cases: [&[(&str, &str)]; 7] = [
            &[("login_hint", "alice")],
            &[("scope", "email"), ("login_hint", "alice")],
            &[
                ("scope", "openid"),
                ("scope", "openid"),
                ("login_hint", "a"),
            ],
            &[("scope", "openid")],
            &[("scope", "openid"), ("login_hint", "")],
            &[
                ("scope", "openid"),
                ("login_hint", "a"),
                ("id_token_hint", "t"),
            ],
            &[
                ("scope", "openid"),
                ("login_hint_token", "a"),
                ("login_hint_token", "b"),
            ],
        ];
        for params in cases {
            let e = build_backchannel_authentication_request(&ctx, params).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{params:?}: {e}");
        }
        for hint in HINTS {
            let params = [("scope", "profile openid"), (hint, "x")];
            assert!(build_backchannel_authentication_request(&ctx, params).is_ok());
        }
        // No endpoint: the metadata is missing, not the input.
        let bare = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        let e = build_backchannel_authentication_request(
            &EndpointContext::new(&bare, &client, &auth),
            [("scope", "openid"), ("login_hint", "a")],
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingMetadata);
    }

    #[test]
    fn the_response_without_io() {
        let server = server();
        let client = ClientMetadata::new("bank");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let good = r#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1","expires_in":120,"interval":2,"x":true}"#;
        let ack = process_backchannel_authentication_response(&ctx, &answer(200, good)).unwrap();
        assert_eq!((ack.expires_in, ack.interval), (120, 2));
        assert_eq!(ack.extra["x"], true);
        assert!(!format!("{ack:?}").contains("1c266114"), "{ack:?}");
        let no_interval = r#"{"auth_req_id":"r","expires_in":120}"#;
        let ack =
            process_backchannel_authentication_response(&ctx, &answer(200, no_interval)).unwrap();
        assert_eq!(ack.interval, 5);
        let cases = [
            r#"{"expires_in":120}"#,
            r#"{"auth_req_id":"","expires_in":120}"#,
            r#"{"auth_req_id":7,"expires_in":120}"#,
            r#"{"auth_req_id":"r"}"#,
            r#"{"auth_req_id":"r","expires_in":"120"}"#,
            r#"{"auth_req_id":"r","expires_in":-1}"#,
            r#"{"auth_req_id":"r","expires_in":1.5}"#,
            r#"{"auth_req_id":"r","expires_in":0}"#,
            r#"{"auth_req_id":"r","expires_in":120,"interval":0}"#,
            r#"{"auth_req_id":"r","expires_in":120,"interval":"5"}"#,
            r#"["auth_req_id"]"#,
        ];
        for body in cases {
            let e =
                process_backchannel_authentication_response(&ctx, &answer(200, body)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}: {e}");
        }
        // CIBA Core §13: errors are OAuth errors, whatever the status.
        for (status, error) in [(400, "unknown_user_id"), (401, "invalid_client")] {
            let body = format!(r#"{{"error":"{error}"}}"#);
            let e = process_backchannel_authentication_response(&ctx, &answer(status, &body))
                .unwrap_err();
            assert_eq!(e.oauth_error().unwrap().error, error);
        }
    }
}

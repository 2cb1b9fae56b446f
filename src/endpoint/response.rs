//! Turning a response into a typed error: an OAuth error (RFC 6749 §5.2)
//! from the JSON body or a `WWW-Authenticate` challenge, else the
//! unexpected status with a snippet of the body.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Map, Value};

use super::www_authenticate::challenges_from_headers;
use crate::error::{server_text, Error, OAuthError, Result, DESCRIPTION_LEN};
use crate::transport::{unique_object, EndpointResponse};

/// `Ok` when the response has the status the endpoint answers with on
/// success; else the error it carries.
pub(crate) fn expect_status(response: &EndpointResponse, expected: StatusCode) -> Result<()> {
    if response.status() == expected {
        Ok(())
    } else {
        Err(error_from_response(
            response.status(),
            response.headers(),
            response.body(),
        ))
    }
}

/// Turns a non-success response into an error: the OAuth error from the JSON
/// body or from a `WWW-Authenticate` challenge, else the unexpected status.
pub(crate) fn error_from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    read_error(status, headers, body).with_retry_after(headers)
}

fn read_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    // Read with duplicate members refused, as every JSON body is: a body
    // whose `error` means one thing here and another elsewhere is not an
    // OAuth error body (and could not trigger a DPoP nonce retry).
    if let Some(map) = unique_object(body) {
        if let Some(e) = oauth_error_from_json(&map, status, headers) {
            return e;
        }
    }
    let challenges = challenges_from_headers(headers);
    if let Some(c) = challenges.iter().find(|c| c.error().is_some()) {
        let text = |t: &str| server_text(t, DESCRIPTION_LEN);
        return Error::oauth(OAuthError {
            error: text(c.error().unwrap_or_default()),
            error_description: c.error_description().map(text),
            error_uri: c.error_uri().map(text),
            status: Some(status),
            url: None,
            challenges,
            state: None,
        });
    }
    Error::unexpected_status(status, body, challenges)
}

pub(crate) fn oauth_error_from_json(
    map: &Map<String, Value>,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<Error> {
    let error = map.get("error")?.as_str().filter(|e| !e.is_empty())?;
    let text = |k: &str| {
        map.get(k)
            .and_then(Value::as_str)
            .map(|t| server_text(t, DESCRIPTION_LEN))
    };
    Some(Error::oauth(OAuthError {
        error: server_text(error, DESCRIPTION_LEN),
        error_description: text("error_description"),
        error_uri: text("error_uri"),
        status: Some(status),
        url: None,
        challenges: challenges_from_headers(headers),
        state: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn errors_from_bodies_and_challenges() {
        let mut h = HeaderMap::new();
        let e = error_from_response(
            StatusCode::BAD_REQUEST,
            &h,
            br#"{"error":"invalid_scope","error_description":"nope","error_uri":"https://x"}"#,
        );
        let o = e.oauth_error().unwrap();
        assert_eq!(
            (o.error.as_str(), o.error_description.as_deref()),
            ("invalid_scope", Some("nope"))
        );
        h.insert(
            reqwest::header::WWW_AUTHENTICATE,
            r#"Bearer error="invalid_token", error_description="expired""#
                .parse()
                .unwrap(),
        );
        let e = error_from_response(StatusCode::UNAUTHORIZED, &h, b"");
        assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
        assert_eq!(e.challenges().len(), 1);
        let e = error_from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>");
        assert!(e.kind() == ErrorKind::UnexpectedStatus);
        assert!(e.is_retryable());
    }

    #[test]
    fn an_error_body_with_duplicate_members_is_no_oauth_error() {
        let e = error_from_response(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"error":"invalid_grant","error":"use_dpop_nonce"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::UnexpectedStatus);
        assert!(!e.is_dpop_nonce_error());
    }
}

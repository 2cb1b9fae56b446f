//! `process_registration_response` (RFC 7591 §3.2) and
//! `process_client_information_response` (RFC 7592 §3) on an arbitrary
//! status and body.
//!
//! Input layout:
//! - byte 0: the status (an index into `STATUSES`, or past them a raw code)
//! - the rest: the body, served as `application/json`
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidckit::reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use oidckit::reqwest::StatusCode;
use oidckit::{ClientMetadata, EndpointResponse, RegisteredClient};

const STATUSES: &[u16] = &[201, 200, 400, 401, 204, 500];

fuzz_target!(|data: &[u8]| {
    let [s, body @ ..] = data else {
        return;
    };
    let status = match STATUSES.get(*s as usize) {
        Some(code) => *code,
        None => 100 + *s as u16,
    };
    let Ok(status) = StatusCode::from_u16(status) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let response = EndpointResponse::new(
        "https://as.example/register".parse().unwrap(),
        status,
        headers,
        body.to_vec(),
    );
    let check = |result: oidckit::Result<RegisteredClient>| match result {
        Ok(client) => {
            assert!(!client.client_id().is_empty());
            assert!(client.client_secret.is_none() || client.client_secret_expires_at.is_some());
            assert_eq!(
                client.registration_access_token.is_some(),
                client.registration_client_uri.is_some()
            );
            let _ = format!("{client:?}");
            let _ = client.client_auth();
            let _ = serde_json::to_vec(&client.metadata);
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = format!("{e:?}");
        }
    };
    check(oidckit::process_registration_response(&response));
    let current = RegisteredClient::new(ClientMetadata::new("c"));
    check(oidckit::process_client_information_response(&current, &response));
    let _ = oidckit::process_client_delete_response(&response);
});

//! The first responses of the polling flows: `process_device_authorization_response`
//! (RFC 8628 §3.2) and `process_backchannel_authentication_response` (CIBA
//! Core §7.3), on an arbitrary status and body.
//!
//! Input layout:
//! - byte 0: bit 0 picks the parser (0: device, 1: CIBA); the other bits
//!   pick the status (an index into `STATUSES`)
//! - the rest: the body, sent as `application/json`
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oidckit::reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use oidckit::reqwest::StatusCode;
use oidckit::{ClientAuth, Configuration, EndpointResponse, ServerMetadata};

const STATUSES: &[u16] = &[200, 400, 401, 403, 500, 201, 503];

fn config() -> &'static Configuration {
    static CONFIG: OnceLock<Configuration> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Configuration::new(
            ServerMetadata::new(
                "https://as.example",
                "https://as.example/token".parse().unwrap(),
            ),
            "c",
            ClientAuth::none(),
        )
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let [selector, body @ ..] = data else {
        return;
    };
    let status = STATUSES[usize::from(selector >> 1) % STATUSES.len()];
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let response = EndpointResponse::new(
        "https://as.example/flow".parse().unwrap(),
        StatusCode::from_u16(status).unwrap(),
        headers,
        body.to_vec(),
    );
    let ctx = config().context();
    if selector & 1 == 0 {
        match oidckit::process_device_authorization_response(&ctx, &response) {
            Ok(device) => {
                assert!(device.interval > 0);
                let _ = format!("{device:?}");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    } else {
        match oidckit::process_backchannel_authentication_response(&ctx, &response) {
            Ok(ack) => {
                assert!(ack.interval > 0 && ack.expires_in > 0 && !ack.auth_req_id.is_empty());
                let _ = format!("{ack:?}");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});

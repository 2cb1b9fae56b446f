//! `process_token_response` on an arbitrary status, content type,
//! `WWW-Authenticate` header and body.
//!
//! Input layout:
//! - byte 0: the status (an index into `STATUSES`, or past them a raw code)
//! - byte 1: the content type (an index into `CONTENT_TYPES`; index 0 = none)
//! - byte 2: `n`, the length of the `WWW-Authenticate` value (0 = no header)
//! - the next `n` bytes: that value (skipped if not a valid header value)
//! - the rest: the body
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oidckit::reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use oidckit::reqwest::StatusCode;
use oidckit::{ClientAuth, Configuration, EndpointResponse, ServerMetadata};

const STATUSES: &[u16] = &[200, 400, 401, 403, 500, 201, 204, 302, 429, 503];

const CONTENT_TYPES: &[&str] = &[
    "",
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    "APPLICATION/JSON",
    "application/problem+json",
    "text/html",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/jwt",
    "application/jsonx",
    " application/json ",
];

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
    let config = config();
    let [s, ct, n, rest @ ..] = data else {
        return;
    };
    let status = match STATUSES.get(*s as usize) {
        Some(code) => *code,
        // 100..=355: every other byte value maps onto a raw code.
        None => 100 + *s as u16,
    };
    let Ok(status) = StatusCode::from_u16(status) else {
        return;
    };
    let mut headers = HeaderMap::new();
    let ct = CONTENT_TYPES[*ct as usize % CONTENT_TYPES.len()];
    if !ct.is_empty() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    let n = (*n as usize).min(rest.len());
    let (challenge, body) = rest.split_at(n);
    if n > 0 {
        if let Ok(v) = HeaderValue::from_bytes(challenge) {
            headers.insert(WWW_AUTHENTICATE, v);
        }
    }
    let response = EndpointResponse::new(
        "https://as.example/token".parse().unwrap(),
        status,
        headers,
        body.to_vec(),
    );
    match oidckit::process_token_response(&config.context(), &response) {
        Ok(token) => {
            let _ = format!("{token:?}");
            let _ = token.expires_in();
            let _ = token.scopes().map(Vec::len);
            let _ = token.access_token().secret().len();
            let _ = serde_json::to_vec(&token);
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = format!("{e:?}");
            if let Some(o) = e.oauth_error() {
                let _ = o.challenges.iter().map(|c| c.algs()).count();
            }
        }
    }
});

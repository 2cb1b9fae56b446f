//! Hostile and broken responses, as a checklist: each case is a clear,
//! typed error (the exact variant is asserted); none panics or reads without
//! bound.
//!
//! | case | test |
//! |---|---|
//! | connection refused | `connection_refused_is_a_retryable_transport_error` |
//! | reset mid-body | `reset_mid_body_is_a_transport_error` |
//! | slow headers, slow body past the timeout | `slow_headers_and_slow_bodies_time_out` |
//! | 50 MiB body (streamed, and a declared length) | `huge_bodies_stop_at_the_limit` |
//! | a body in many chunks (whole when under the limit, refused past it) | `bodies_in_many_chunks_are_read_whole_and_capped_across_chunks` |
//! | gzip bomb | `compressed_bodies_are_never_inflated` (no decompression is compiled in) |
//! | 3xx to another host | `redirects_are_never_followed` |
//! | 200 with an HTML body | `html_with_200_is_invalid_response_naming_the_content_type` |
//! | 200 with `{"error":…}` | `error_object_with_200_is_the_servers_error` |
//! | 500 with JSON | `server_error_json_is_oauth_and_retryable` |
//! | 503 with `Retry-After` (HTML) | `html_error_page_is_unexpected_status_with_a_snippet` |
//! | invalid UTF-8, truncated JSON, duplicate keys | `malformed_json_bodies` |
//! | `expires_in` out of range | `invalid_members` |
//! | discovery document with an `http:` or other-scheme `token_endpoint` | `discovered_token_endpoint_with_a_bad_scheme_is_refused` |

mod support;

use std::time::Duration;

use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, ClientAuth, Configuration, Error, ErrorKind, ServerMetadata,
};
use serde_json::json;

async fn setup() -> (MockAuthorizationServer, Configuration) {
    let server = support::server_with(MockClient::none("c")).await;
    let config = config(&server, Duration::from_millis(500), 1024 * 1024);
    (server, config)
}

fn config(server: &MockAuthorizationServer, timeout: Duration, limit: usize) -> Configuration {
    Configuration::builder(server.server_metadata(), "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .timeout(timeout)
        .max_response_size(limit)
        .build()
        .unwrap()
}

async fn fail_with(fault: Fault) -> Error {
    let (server, config) = setup().await;
    server.fail_next_token_request(fault);
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn server_error_json_is_oauth_and_retryable() {
    let err = fail_with(Fault::json(500, json!({"error": "server_error"}))).await;
    assert!(
        err.oauth_error()
            .is_some_and(|e| e.status.is_some_and(|s| s == 500)),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn html_error_page_is_unexpected_status_with_a_snippet() {
    let page = format!("<html>{}</html>", "x".repeat(10_000));
    let err = fail_with(Fault::body(503, "text/html", page).with_header("retry-after", "5")).await;
    assert_eq!(err.kind(), ErrorKind::UnexpectedStatus, "{err:?}");
    assert_eq!(err.status().unwrap(), 503);
    let snippet = err.body_snippet().unwrap();
    assert!(snippet.starts_with("<html>") && snippet.len() < 600);
    assert!(err.url().is_some());
    assert!(err.is_retryable());
}

#[tokio::test]
async fn html_with_200_is_invalid_response_naming_the_content_type() {
    let err = fail_with(Fault::body(200, "text/html", "<html>login</html>")).await;
    assert!(
        err.kind() == ErrorKind::InvalidResponse && err.to_string().contains("text/html"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn malformed_json_bodies() {
    for body in [
        &b"{\"access_token\": \"a\", \"token_type\""[..],
        b"\xff\xfe\xfd",
        br#"{"access_token": "a", "access_token": "b", "token_type": "Bearer"}"#,
        b"",
        b"null",
        b"[]",
    ] {
        let err = fail_with(Fault::body(200, "application/json", body)).await;
        assert!(
            err.kind() == ErrorKind::InvalidResponse,
            "{body:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn invalid_members() {
    for body in [
        json!({"token_type": "Bearer"}),
        json!({"access_token": "a"}),
        json!({"access_token": "a", "token_type": "Bearer", "expires_in": -5}),
        json!({"access_token": "a", "token_type": "Bearer", "expires_in": 1e308}),
        json!({"access_token": "a", "token_type": "Bearer", "expires_in": "18446744073709551616000"}),
    ] {
        let err = fail_with(Fault::json(200, body.clone())).await;
        assert!(err.kind() == ErrorKind::InvalidResponse, "{body}: {err:?}");
    }
}

#[tokio::test]
async fn error_object_with_200_is_the_servers_error() {
    let err = fail_with(Fault::json(
        200,
        json!({"error": "invalid_request", "error_description": "d"}),
    ))
    .await;
    assert!(
        err.oauth_error()
            .is_some_and(|e| e.error == "invalid_request" && e.status.is_some_and(|s| s == 200)),
        "{err:?}"
    );
}

#[tokio::test]
async fn huge_bodies_stop_at_the_limit() {
    // 50 MiB, streamed with no Content-Length.
    let err = fail_with(Fault::LargeBody {
        bytes: 50 * 1024 * 1024,
    })
    .await;
    assert!(
        err.kind() == ErrorKind::BodyTooLarge && err.to_string().contains("limit of 1048576 bytes"),
        "{err:?}"
    );
    // A declared Content-Length over the limit is refused before reading.
    let (server, _) = setup().await;
    let tiny = config(&server, Duration::from_secs(30), 16);
    let err = client_credentials_grant(&tiny, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(
        err.kind() == ErrorKind::BodyTooLarge && err.to_string().contains("limit of 16 bytes"),
        "{err:?}"
    );
}

#[tokio::test]
async fn bodies_in_many_chunks_are_read_whole_and_capped_across_chunks() {
    // One byte per chunk: the body is assembled from every chunk...
    let (server, _) = setup().await;
    let patient = |limit: usize| config(&server, Duration::from_secs(20), limit);
    server.fail_next_token_request(Fault::SlowBody(Duration::from_millis(1)));
    let token = client_credentials_grant(&patient(1024 * 1024), &[("scope", "read")], None)
        .await
        .unwrap();
    assert!(token.token_type().is_bearer());
    assert!(!token.access_token().secret().is_empty());
    // ... and the limit counts all of them (no Content-Length to go by).
    server.fail_next_token_request(Fault::SlowBody(Duration::from_millis(1)));
    let err = client_credentials_grant(&patient(16), &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(
        err.kind() == ErrorKind::BodyTooLarge && err.to_string().contains("limit of 16 bytes"),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_time_out() {
    let err = fail_with(Fault::Delay(Duration::from_secs(10))).await;
    assert!(err.is_timeout(), "{err:?}");
    let err = fail_with(Fault::SlowBody(Duration::from_millis(50))).await;
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let (server, config) = setup().await;
    let elsewhere = format!(
        "{}/elsewhere",
        server.issuer().as_str().trim_end_matches('/')
    );
    for status in [301, 302, 303, 307, 308] {
        server.fail_next_token_request(Fault::Redirect {
            status,
            location: elsewhere.clone(),
        });
        let err = client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect, "{status}: {err:?}");
        assert_eq!(err.status().unwrap().as_u16(), status);
        assert!(
            err.to_string().ends_with(&format!("to {elsewhere}")),
            "{err}"
        );
    }
    assert!(server.requests().iter().all(|r| r.path != "/elsewhere"));

    // A caller's client that follows redirects is caught too.
    let following = Configuration::builder(server.server_metadata(), "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .http_client(oidckit::reqwest::Client::new())
        .build()
        .unwrap();
    server.fail_next_token_request(Fault::Redirect {
        status: 307,
        location: elsewhere.clone(),
    });
    let err = client_credentials_grant(&following, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::Redirect, "{err:?}");
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    // Bind and drop a listener to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metadata = ServerMetadata::new(
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/token").parse().unwrap(),
    );
    let config = Configuration::builder(metadata, "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .build()
        .unwrap();
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(err.is_transport() && err.is_retryable(), "{err:?}");
    // The message names the root cause, not only reqwest's top line, and
    // the cause is kept.
    let message = err.to_string().to_lowercase();
    assert!(message.contains("connection refused"), "{message}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn token_endpoint_with_another_scheme_is_refused() {
    let mut metadata = ServerMetadata::new(
        "https://as.example",
        "https://as.example/token".parse().unwrap(),
    );
    metadata.token_endpoint = Some("ftp://as.example/token".parse().unwrap());
    let config = Configuration::builder(metadata, "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .build()
        .unwrap();
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::InsecureUrl, "{err:?}");
}

#[tokio::test]
async fn reset_mid_body_is_a_transport_error() {
    let err = fail_with(Fault::ResetMidBody).await;
    assert!(err.kind() == ErrorKind::Transport, "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn compressed_bodies_are_never_inflated() {
    // A gzip header and deflate data: with no decompression compiled in,
    // the bytes are read as they are (within the size cap) and refused as
    // not JSON, so a gzip bomb cannot expand.
    let mut gzip = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03];
    gzip.extend(std::iter::repeat_n(0u8, 1000));
    let err = fail_with(
        Fault::body(200, "application/json", gzip).with_header("content-encoding", "gzip"),
    )
    .await;
    assert!(err.kind() == ErrorKind::InvalidResponse, "{err:?}");
}

#[tokio::test]
async fn discovered_token_endpoint_with_a_bad_scheme_is_refused() {
    let server = support::server_with(MockClient::none("c")).await;
    for token_endpoint in [
        "http://127.0.0.1:1/token",
        "ftp://127.0.0.1/token",
        "file:///etc/passwd",
    ] {
        let issuer = server.issuer().as_str().trim_end_matches('/').to_owned();
        server.fail_next_discovery(Fault::json(
            200,
            json!({"issuer": issuer, "token_endpoint": token_endpoint}),
        ));
        // Insecure requests are allowed for the loopback mock itself, so
        // plain http passes; every other scheme is refused.
        let config = oidckit::discovery(server.issuer(), "c", ClientAuth::none())
            .allow_insecure_requests(true)
            .await
            .unwrap();
        let err = client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap_err();
        if token_endpoint.starts_with("http:") {
            // Sent to loopback port 1 (refused): never silently upgraded.
            assert!(
                err.kind() != ErrorKind::InsecureUrl,
                "{token_endpoint}: {err:?}"
            );
        } else {
            assert!(
                err.kind() == ErrorKind::InsecureUrl,
                "{token_endpoint}: {err:?}"
            );
        }
        // Without the opt-in, http: is refused before anything is sent.
        let strict =
            Configuration::builder(config.server_metadata().clone(), "c", ClientAuth::none())
                .build()
                .unwrap();
        let err = client_credentials_grant(&strict, &[("scope", "read")], None)
            .await
            .unwrap_err();
        assert!(
            err.kind() == ErrorKind::InsecureUrl,
            "{token_endpoint}: {err:?}"
        );
    }
}

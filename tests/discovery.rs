//! Discovery against the in-process mock server: well-known URL rules, the
//! issuer check, and broken documents.

mod support;

use oidckit::testing::{Fault, MockAuthorizationServer, MockClient};
use oidckit::{discovery, ClientAuth, DiscoveryAlgorithm, ErrorKind};
use serde_json::json;

#[tokio::test]
async fn both_algorithms_with_an_issuer_path() {
    let server = MockAuthorizationServer::builder()
        .issuer_path("/tenant/a")
        .client(MockClient::client_secret_post("c", "s"))
        .start()
        .await
        .unwrap();
    for alg in [DiscoveryAlgorithm::Oidc, DiscoveryAlgorithm::OAuth2] {
        let config = discovery(server.issuer(), "c", ClientAuth::client_secret_post("s"))
            .allow_insecure_requests(true)
            .algorithm(alg)
            .await
            .unwrap();
        assert_eq!(config.issuer(), server.issuer().as_str());
        assert_eq!(config.token_endpoint().unwrap(), &server.token_endpoint());
    }
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/tenant/a/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/tenant/a"
        ]
    );
}

#[tokio::test]
async fn trailing_slash_of_a_bare_host_does_not_matter() {
    let server = support::server_with(MockClient::none("c")).await;
    // The server's issuer has no trailing slash; Url adds one to a bare host.
    assert!(server.issuer().as_str().ends_with('/'));
    oidckit::discovery(server.issuer(), "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .await
        .unwrap();
}

#[tokio::test]
async fn issuer_mismatch_names_both_issuers() {
    let server = MockAuthorizationServer::builder()
        .advertised_issuer("https://evil.example")
        .start()
        .await
        .unwrap();
    let err = oidckit::discovery(server.issuer(), "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IssuerMismatch, "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("https://evil.example") && msg.contains(server.issuer().as_str()),
        "{msg}"
    );
}

#[tokio::test]
async fn a_path_differing_by_a_trailing_slash_is_a_mismatch() {
    let server = MockAuthorizationServer::builder()
        .issuer_path("/o")
        .start()
        .await
        .unwrap();
    let with_slash = format!("{}/", server.issuer());
    let err = oidckit::discovery(with_slash, "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .await
        .unwrap_err();
    // /o/ → /o/.well-known/openid-configuration is served, but the document
    // says /o, which is another issuer.
    assert!(err.kind() == ErrorKind::IssuerMismatch, "{err:?}");
}

#[tokio::test]
async fn http_is_refused_without_the_opt_in() {
    let server = support::server_with(MockClient::none("c")).await;
    let err = discovery(server.issuer(), "c", ClientAuth::none())
        .await
        .unwrap_err();
    assert!(err.kind() == ErrorKind::InsecureUrl, "{err:?}");
    assert_eq!(server.requests().len(), 0, "nothing may be sent");
}

#[tokio::test]
async fn broken_documents_are_clear_errors() {
    let server = support::server_with(MockClient::none("c")).await;
    let cases = [
        (Fault::json(404, json!({"error": "not_found"})), "OAuth"),
        (
            Fault::body(500, "text/html", "<html>oops</html>"),
            "UnexpectedStatus",
        ),
        (
            Fault::body(200, "text/html", "<html>login</html>"),
            "InvalidResponse",
        ),
        (
            Fault::body(200, "application/json", "{\"issuer\":"),
            "InvalidResponse",
        ),
        (
            Fault::json(200, json!(["not", "an", "object"])),
            "InvalidResponse",
        ),
        (
            Fault::json(200, json!({"token_endpoint": "https://x"})),
            "InvalidMetadata",
        ),
        (
            Fault::Redirect {
                status: 302,
                location: "https://elsewhere.example/".into(),
            },
            "Redirect",
        ),
        (
            Fault::LargeBody {
                bytes: 2 * 1024 * 1024,
            },
            "BodyTooLarge",
        ),
    ];
    for (fault, expected) in cases {
        server.fail_next_discovery(fault.clone());
        let err = oidckit::discovery(server.issuer(), "c", ClientAuth::none())
            .allow_insecure_requests(true)
            .await
            .unwrap_err();
        assert_eq!(
            format!("{:?}", err.kind()),
            expected,
            "{fault:?} gave {err:?}"
        );
        assert!(err.url().is_some(), "{err:?} should name the URL");
    }
}

#[tokio::test]
async fn a_well_known_url_is_used_as_given() {
    let server = support::server_with(MockClient::none("c")).await;
    let url = format!(
        "{}/.well-known/openid-configuration",
        server.issuer().as_str().trim_end_matches('/')
    );
    let config = oidckit::discovery(&url, "c", ClientAuth::none())
        .allow_insecure_requests(true)
        .await
        .unwrap();
    assert_eq!(config.token_endpoint().unwrap(), &server.token_endpoint());
}

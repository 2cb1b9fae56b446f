//! Dynamic client registration (RFC 7591) and management (RFC 7592)
//! against the mock server over HTTP: registration to a ready
//! configuration for each client authentication method, the initial access
//! token, read, update (with a rotated registration access token) and
//! delete, and responses a client must refuse.

use oidckit::reqwest::header::{HeaderName, HeaderValue};
use oidckit::testing::{Fault, MockAuthorizationServer};
use oidckit::{
    client_credentials_grant, delete_client_registration, dynamic_client_registration,
    read_client_registration, update_client_registration, ClientAuth, ClientMetadata, DPoPHandle,
    ErrorKind, JwsAlgorithm, PrivateKey, Registration, RequestOptions, ServerMetadata,
};
use serde_json::json;

/// Metadata of a service that uses the client credentials grant.
fn service(method: Option<&str>) -> ClientMetadata {
    let mut metadata = ClientMetadata::default();
    metadata.client_name = Some("service".into());
    metadata.grant_types = Some(vec!["client_credentials".into()]);
    metadata.scope = Some("read write".into());
    metadata.token_endpoint_auth_method = method.map(Into::into);
    metadata
}

async fn register(server: &MockAuthorizationServer, metadata: ClientMetadata) -> Registration {
    dynamic_client_registration(server.issuer(), metadata)
        .allow_insecure_requests(true)
        .await
        .unwrap()
}

#[tokio::test]
async fn registration_gives_a_configuration_ready_for_grants() {
    let server = MockAuthorizationServer::builder().start().await.unwrap();
    // RFC 7591 §2: client_secret_basic when the metadata names none.
    let registration = register(&server, service(None)).await;
    let client = &registration.client;
    assert!(client.client_id().starts_with("dyn-"));
    assert!(client.client_secret.is_some());
    assert_eq!(client.client_secret_expires_at, Some(0));
    assert!(client.metadata.client_id_issued_at.is_some());
    assert_eq!(client.metadata.client_name.as_deref(), Some("service"));
    assert_eq!(
        registration.config.client_auth().method_name(),
        "client_secret_basic"
    );
    assert_eq!(registration.config.client_id().as_str(), client.client_id());
    let token = client_credentials_grant(&registration.config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(token.scope(), Some("read"));
    let sent = server.last_token_request().unwrap();
    assert!(sent.headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("Basic "));
    // The registered scope holds.
    let e = client_credentials_grant(&registration.config, &[("scope", "admin")], None)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_scope");
    // The request was JSON, without a client_id.
    let request = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/register")
        .unwrap();
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(request.headers.get("authorization").is_none());
    assert_eq!(server.registered_client_ids(), vec![client.client_id()]);
    // Neither secret shows.
    let debug = format!("{registration:?}");
    let secret = client.client_secret.as_ref().unwrap().secret();
    let rat = client.registration_access_token.as_ref().unwrap().secret();
    assert!(
        !debug.contains(secret.as_str()) && !debug.contains(rat.as_str()),
        "{debug}"
    );
}

#[tokio::test]
async fn every_method_the_registration_names() {
    let server = MockAuthorizationServer::builder().start().await.unwrap();
    for method in [
        "client_secret_post",
        "client_secret_jwt",
        "none",
        "client_secret_basic",
    ] {
        let registration = register(&server, service(Some(method))).await;
        assert_eq!(registration.config.client_auth().method_name(), method);
        assert_eq!(
            registration.client.client_secret.is_some(),
            method != "none"
        );
        client_credentials_grant(&registration.config, &[("scope", "read")], None)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
    }
    // private_key_jwt: the caller's key, its public half registered.
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let mut metadata = service(None);
    metadata.jwks = Some(json!({"keys": [key.public_jwk()]}));
    let registration = dynamic_client_registration(server.issuer(), metadata)
        .client_auth(ClientAuth::private_key_jwt(key))
        .allow_insecure_requests(true)
        .await
        .unwrap();
    let client = &registration.client;
    assert_eq!(client.token_endpoint_auth_method(), "private_key_jwt");
    assert_eq!(
        client.metadata.token_endpoint_auth_signing_alg.as_deref(),
        Some("ES256")
    );
    assert!(client.client_secret.is_none());
    client_credentials_grant(&registration.config, &[("scope", "read")], None)
        .await
        .unwrap();
    // Without the key, there is no configuration to build.
    let e = dynamic_client_registration(server.issuer(), {
        let mut m = service(Some("private_key_jwt"));
        m.jwks = Some(
            json!({"keys": [PrivateKey::generate(JwsAlgorithm::ES256).unwrap().public_jwk()]}),
        );
        m
    })
    .allow_insecure_requests(true)
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfiguration);
}

#[tokio::test]
async fn the_initial_access_token() {
    let server = MockAuthorizationServer::builder()
        .initial_access_token("IAT-1")
        .start()
        .await
        .unwrap();
    let without = dynamic_client_registration(server.issuer(), service(None))
        .allow_insecure_requests(true)
        .await
        .unwrap_err();
    assert_eq!(without.kind(), ErrorKind::OAuth);
    assert_eq!(without.oauth_error().unwrap().error, "invalid_token");
    assert_eq!(without.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(without.challenges().len(), 1);
    let wrong = dynamic_client_registration(server.issuer(), service(None))
        .initial_access_token("IAT-2")
        .allow_insecure_requests(true)
        .await
        .unwrap_err();
    assert_eq!(wrong.oauth_error().unwrap().error, "invalid_token");
    assert!(!format!("{wrong} {wrong:?}").contains("IAT-2"));

    let registration = dynamic_client_registration(server.issuer(), service(None))
        .initial_access_token("IAT-1")
        .allow_insecure_requests(true);
    assert!(!format!("{registration:?}").contains("IAT-1"));
    let registration = registration.await.unwrap();
    let sent = server
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/register")
        .unwrap();
    assert_eq!(sent.headers["authorization"], "Bearer IAT-1");
    client_credentials_grant(&registration.config, &[("scope", "read")], None)
        .await
        .unwrap();
    assert_eq!(server.registered_client_ids().len(), 1);
}

#[tokio::test]
async fn read_update_and_delete() {
    let server = MockAuthorizationServer::builder().start().await.unwrap();
    let Registration { config, client, .. } = register(&server, service(None)).await;

    let read = read_client_registration(&config, &client).await.unwrap();
    assert_eq!(read.client_id(), client.client_id());
    assert_eq!(read.metadata.client_name.as_deref(), Some("service"));
    assert_eq!(
        read.client_secret.as_ref().unwrap().secret(),
        client.client_secret.as_ref().unwrap().secret()
    );
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.method, "GET");
    let rat = client.registration_access_token.as_ref().unwrap().secret();
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {rat}").as_str()
    );

    let mut metadata = read.metadata.clone();
    metadata.client_name = Some("renamed".into());
    metadata.scope = Some("read".into());
    let updated = update_client_registration(&config, &read, &metadata)
        .await
        .unwrap();
    assert_eq!(updated.metadata.client_name.as_deref(), Some("renamed"));
    let sent = server.requests().pop().unwrap();
    assert_eq!(sent.method, "PUT");
    // The mock refuses the members RFC 7592 §2.2 forbids, so the update
    // was accepted without them; the new scope holds at once.
    let e = client_credentials_grant(&config, &[("scope", "write")], None)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_scope");
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();

    // The registration access token rotated: the old one no longer works.
    let new_rat = updated.registration_access_token.as_ref().unwrap().secret();
    assert_ne!(new_rat, rat);
    let e = read_client_registration(&config, &client)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
    let again = read_client_registration(&config, &updated).await.unwrap();
    assert_eq!(again.metadata.client_name.as_deref(), Some("renamed"));

    delete_client_registration(&config, &again).await.unwrap();
    assert!(server.registered_client_ids().is_empty());
    let e = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_client");
    let e = read_client_registration(&config, &again).await.unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
}

#[tokio::test]
async fn a_token_kept_when_the_server_does_not_rotate_it() {
    let server = MockAuthorizationServer::builder()
        .rotate_registration_access_tokens(false)
        .start()
        .await
        .unwrap();
    let Registration { config, client, .. } = register(&server, service(None)).await;
    let updated = update_client_registration(&config, &client, &client.metadata)
        .await
        .unwrap();
    assert_eq!(
        updated.registration_access_token.unwrap().secret(),
        client.registration_access_token.unwrap().secret()
    );
}

#[tokio::test]
async fn registration_errors_are_oauth_errors() {
    let server = MockAuthorizationServer::builder().start().await.unwrap();
    let mut bad_redirect = service(None);
    bad_redirect.redirect_uris = Some(vec!["http://app.example/cb".into()]);
    let mut statement = service(None);
    statement.software_statement = Some("eyJ.eyJ.sig".into());
    let cases = [
        (bad_redirect, "invalid_redirect_uri"),
        (service(Some("magic")), "invalid_client_metadata"),
        (service(Some("private_key_jwt")), "invalid_client_metadata"),
        (statement, "unapproved_software_statement"),
    ];
    for (metadata, error) in cases {
        let e = dynamic_client_registration(server.issuer(), metadata)
            .allow_insecure_requests(true)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OAuth, "{e}");
        assert_eq!(e.oauth_error().unwrap().error, error);
        assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    }
    assert!(server.registered_client_ids().is_empty());
}

#[tokio::test]
async fn bad_registration_responses_are_refused() {
    let server = MockAuthorizationServer::builder().start().await.unwrap();
    let attempt = || {
        dynamic_client_registration(server.issuer(), service(None)).allow_insecure_requests(true)
    };
    let patches = [
        json!({"client_id": null}),
        json!({"client_id": 42}),
        json!({"client_secret_expires_at": null}),
        json!({"client_secret_expires_at": "0"}),
        json!({"registration_client_uri": null}),
        json!({"redirect_uris": "https://app.example/cb"}),
    ];
    for patch in patches {
        server.tamper_next_registration_response(patch.clone());
        let e = attempt().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{patch}: {e}");
        assert!(e.url().is_some_and(|u| u.path() == "/register"), "{e:?}");
    }
    // A success other than 201: the body (secrets) is not quoted.
    let body =
        json!({"client_id": "c", "client_secret": "SECRET-X", "client_secret_expires_at": 0});
    server.fail_next_registration_request(Fault::json(200, body));
    let e = attempt().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(!format!("{e} {e:?}").contains("SECRET-X"), "{e}");
    server.fail_next_registration_request(Fault::body(201, "text/html", "<html>"));
    assert_eq!(
        attempt().await.unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    server.fail_next_registration_request(Fault::body(201, "application/json", "{"));
    assert_eq!(
        attempt().await.unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    server.fail_next_registration_request(Fault::body(503, "text/plain", "busy"));
    let e = attempt().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedStatus);
    assert!(e.is_retryable());

    // A read answered about another client.
    let Registration { config, client, .. } = attempt().await.unwrap();
    server.tamper_next_registration_response(json!({"client_id": "someone-else"}));
    let e = read_client_registration(&config, &client)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    // A delete answered with 200.
    server.fail_next_registration_request(Fault::json(200, json!({})));
    let e = delete_client_registration(&config, &client)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
}

#[tokio::test]
async fn known_metadata_options_and_what_is_refused() {
    let server = MockAuthorizationServer::builder().start().await.unwrap();
    // Known server metadata: no discovery request.
    let registration = dynamic_client_registration("https://unused.example", service(None))
        .server_metadata(server.server_metadata())
        .allow_insecure_requests(true)
        .options(RequestOptions::new().header(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static("42"),
        ))
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers["x-request-id"], "42");

    // No DPoP, no form parameters, no Authorization of the caller's.
    let dpop = DPoPHandle::generate(&registration.config, JwsAlgorithm::ES256).unwrap();
    let refused = [
        RequestOptions::new().dpop(&dpop),
        RequestOptions::new().param("a", "b"),
        RequestOptions::new().header(
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Bearer x"),
        ),
    ];
    for options in refused {
        let e = read_client_registration(&registration.config, &registration.client)
            .options(options.clone())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{options:?}");
        let e = dynamic_client_registration(server.issuer(), service(None))
            .allow_insecure_requests(true)
            .options(options)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    assert_eq!(server.requests().len(), 1);

    // No registration endpoint; http: refused by default.
    let no_endpoint = ServerMetadata::new(
        "https://as.example",
        "https://as.example/token".parse().unwrap(),
    );
    let e = dynamic_client_registration("https://as.example", service(None))
        .server_metadata(no_endpoint)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingMetadata);
    let e = dynamic_client_registration(server.issuer(), service(None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InsecureUrl);
}

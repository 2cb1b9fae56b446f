use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};

use super::*;
use crate::ErrorKind;

fn server() -> ServerMetadata {
    let mut server = ServerMetadata::new(
        "https://as.example",
        "https://as.example/token".parse().unwrap(),
    );
    server.registration_endpoint = Some("https://as.example/register".parse().unwrap());
    server
}

fn answer(status: u16, body: &str) -> EndpointResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    EndpointResponse::new(
        "https://as.example/register".parse().unwrap(),
        StatusCode::from_u16(status).unwrap(),
        headers,
        body.to_owned(),
    )
}

const GOOD: &str = r#"{
    "client_id": "c1",
    "client_secret": "SECRET-1",
    "client_secret_expires_at": 0,
    "client_id_issued_at": 1700000000,
    "registration_access_token": "RAT-1",
    "registration_client_uri": "https://as.example/register/c1",
    "token_endpoint_auth_method": "client_secret_post",
    "client_name": "app",
    "x_vendor": {"a": 1}
}"#;

#[test]
fn the_registration_request() {
    let mut metadata = ClientMetadata {
        client_name: Some("app".into()),
        client_secret_expires_at: Some(5),
        registration_client_uri: Some("https://x".into()),
        ..Default::default()
    };
    metadata.extra.insert("x_vendor".into(), 1.into());
    let request = build_registration_request(&server(), &metadata, None, false).unwrap();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.url().as_str(), "https://as.example/register");
    assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
    assert!(request.headers().get("authorization").is_none());
    // No empty client_id, none of the members the server assigns.
    let body: Value = serde_json::from_str(request.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"client_name": "app", "x_vendor": 1})
    );

    let request = build_registration_request(&server(), &metadata, Some("IAT"), false).unwrap();
    let auth = &request.headers()["authorization"];
    assert_eq!(auth, "Bearer IAT");
    assert!(auth.is_sensitive());
    assert!(!format!("{request:?}").contains("IAT"));

    let e = build_registration_request(
        &ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        ),
        &metadata,
        None,
        false,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingMetadata);
    let mut insecure = server();
    insecure.registration_endpoint = Some("http://as.example/register".parse().unwrap());
    let e = build_registration_request(&insecure, &metadata, None, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InsecureUrl);
    assert!(build_registration_request(&insecure, &metadata, None, true).is_ok());
}

#[test]
fn a_good_registration_response() {
    let client = process_registration_response(&answer(201, GOOD)).unwrap();
    assert_eq!(client.client_id(), "c1");
    assert_eq!(client.client_secret.as_ref().unwrap().secret(), "SECRET-1");
    assert_eq!(client.client_secret_expires_at, Some(0));
    assert_eq!(client.metadata.client_id_issued_at, Some(1_700_000_000));
    assert_eq!(
        client.registration_access_token.as_ref().unwrap().secret(),
        "RAT-1"
    );
    assert_eq!(
        client.registration_client_uri.as_ref().unwrap().as_str(),
        "https://as.example/register/c1"
    );
    assert_eq!(client.metadata.client_name.as_deref(), Some("app"));
    assert_eq!(client.metadata.extra["x_vendor"]["a"], 1);
    let debug = format!("{client:?}");
    assert!(
        !debug.contains("SECRET-1") && !debug.contains("RAT-1"),
        "{debug}"
    );
    assert_eq!(
        client.client_auth().unwrap().method_name(),
        "client_secret_post"
    );
    let config = client.configuration(server()).unwrap();
    assert_eq!(config.client_id().as_str(), "c1");
    assert_eq!(config.client_auth().method_name(), "client_secret_post");

    // A public client: no secret, no management.
    let public = process_registration_response(&answer(
        201,
        r#"{"client_id":"p","token_endpoint_auth_method":"none"}"#,
    ))
    .unwrap();
    assert!(public.client_secret.is_none() && public.registration_access_token.is_none());
    assert_eq!(public.client_auth().unwrap().method_name(), "none");
    let e = build_client_read_request(&public, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn bad_registration_responses_are_typed_errors() {
    let cases = [
        (201, r#"{"client_secret":"S","client_secret_expires_at":0}"#),
        (201, r#"{"client_id":""}"#),
        (201, r#"{"client_id":5}"#),
        (201, r#"{"client_id":"c","client_secret":"S"}"#),
        (
            201,
            r#"{"client_id":"c","client_secret":"S","client_secret_expires_at":"0"}"#,
        ),
        (
            201,
            r#"{"client_id":"c","client_secret":"S","client_secret_expires_at":-1}"#,
        ),
        (
            201,
            r#"{"client_id":"c","client_secret":7,"client_secret_expires_at":0}"#,
        ),
        (201, r#"{"client_id":"c","client_id_issued_at":"now"}"#),
        (
            201,
            r#"{"client_id":"c","client_secret":"S","client_secret_expires_at":1.5}"#,
        ),
        (201, r#"{"client_id":"c","registration_access_token":"T"}"#),
        (
            201,
            r#"{"client_id":"c","registration_client_uri":"https://as.example/r/c"}"#,
        ),
        (
            201,
            r#"{"client_id":"c","registration_access_token":"T","registration_client_uri":"not a url"}"#,
        ),
        (201, r#"{"client_id":"c","redirect_uris":"https://x"}"#),
        (201, r#"{"client_id":"c","client_id":"d"}"#),
        (201, r#"["client_id"]"#),
        (201, "not json"),
        // A success, but not the one of a registration: never quoted.
        (200, GOOD),
    ];
    for (status, body) in cases {
        let e = process_registration_response(&answer(status, body)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}: {e}");
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("SECRET-1") && !text.contains("RAT-1"),
            "{text}"
        );
    }
    for error in [
        "invalid_redirect_uri",
        "invalid_client_metadata",
        "invalid_software_statement",
        "unapproved_software_statement",
    ] {
        let body = format!(r#"{{"error":"{error}","error_description":"no"}}"#);
        let e = process_registration_response(&answer(400, &body)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OAuth);
        assert_eq!(e.oauth_error().unwrap().error, error);
        assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST));
    }
    let mut challenge = answer(401, "");
    let mut headers = challenge.headers().clone();
    headers.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_token""#),
    );
    challenge = EndpointResponse::new(
        challenge.url().clone(),
        challenge.status(),
        headers,
        Vec::new(),
    );
    let e = process_registration_response(&challenge).unwrap_err();
    assert_eq!(e.oauth_error().unwrap().error, "invalid_token");
}

fn registered() -> RegisteredClient {
    process_registration_response(&answer(201, GOOD)).unwrap()
}

#[test]
fn management_requests() {
    let client = registered();
    let read = build_client_read_request(&client, false).unwrap();
    assert_eq!(read.method(), Method::GET);
    assert_eq!(read.url().as_str(), "https://as.example/register/c1");
    assert_eq!(read.headers()["authorization"], "Bearer RAT-1");
    assert_eq!(read.body(), "");

    let mut metadata = client.metadata.clone();
    metadata.client_name = Some("renamed".into());
    let update = build_client_update_request(&client, &metadata, false).unwrap();
    assert_eq!(update.method(), Method::PUT);
    let body: Value = serde_json::from_str(update.body()).unwrap();
    assert_eq!(body["client_id"], "c1");
    assert_eq!(body["client_name"], "renamed");
    // RFC 7592 §2.2: never these.
    for name in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret_expires_at",
        "client_id_issued_at",
        "client_secret",
    ] {
        assert!(body.get(name).is_none(), "{name} in {body}");
    }
    // A metadata without client_id gets the client's.
    let bare = ClientMetadata {
        client_name: Some("x".into()),
        ..Default::default()
    };
    let body: Value = serde_json::from_str(
        build_client_update_request(&client, &bare, false)
            .unwrap()
            .body(),
    )
    .unwrap();
    assert_eq!(body["client_id"], "c1");
    let e = build_client_update_request(&client, &ClientMetadata::new("other"), false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    let delete = build_client_delete_request(&client, false).unwrap();
    assert_eq!(delete.method(), Method::DELETE);
    assert_eq!(delete.headers()["authorization"], "Bearer RAT-1");

    let mut insecure = client.clone();
    insecure.registration_client_uri = Some("http://as.example/register/c1".parse().unwrap());
    let e = build_client_read_request(&insecure, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InsecureUrl);
}

#[test]
fn client_information_responses() {
    let current = registered();
    // Rotated token, secret not repeated: the new token, the old secret.
    let rotated = r#"{"client_id":"c1","client_name":"renamed","registration_access_token":"RAT-2","registration_client_uri":"https://as.example/register/c1"}"#;
    let updated = process_client_information_response(&current, &answer(200, rotated)).unwrap();
    assert_eq!(
        updated.registration_access_token.as_ref().unwrap().secret(),
        "RAT-2"
    );
    assert_eq!(updated.client_secret.as_ref().unwrap().secret(), "SECRET-1");
    assert_eq!(updated.client_secret_expires_at, Some(0));
    assert_eq!(updated.metadata.client_name.as_deref(), Some("renamed"));
    // Nothing repeated: the current token and URI.
    let bare = process_client_information_response(&current, &answer(200, r#"{"client_id":"c1"}"#))
        .unwrap();
    assert_eq!(bare.registration_access_token.unwrap().secret(), "RAT-1");
    assert!(bare.registration_client_uri.is_some());

    let e = process_client_information_response(&current, &answer(200, r#"{"client_id":"c2"}"#))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    let e = process_client_information_response(&current, &answer(201, GOOD)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    let e =
        process_client_information_response(&current, &answer(401, r#"{"error":"invalid_token"}"#))
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OAuth);

    assert!(process_client_delete_response(&answer(204, "")).is_ok());
    let e = process_client_delete_response(&answer(200, "")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    let e = process_client_delete_response(&answer(405, "")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedStatus);
}

#[test]
fn client_auth_from_the_registered_method() {
    let with = |method: Option<&str>, alg: Option<&str>, secret: bool| {
        let mut metadata = ClientMetadata::new("c");
        metadata.token_endpoint_auth_method = method.map(Into::into);
        metadata.token_endpoint_auth_signing_alg = alg.map(Into::into);
        let client = RegisteredClient::new(metadata);
        if secret {
            client.with_client_secret("s", 0)
        } else {
            client
        }
    };
    // RFC 7591 §2: client_secret_basic when the server names none.
    let auth = with(None, None, true).client_auth().unwrap();
    assert_eq!(auth.method_name(), "client_secret_basic");
    let auth = with(Some("client_secret_jwt"), None, true)
        .client_auth()
        .unwrap();
    assert_eq!(auth.signing_algorithm(), Some(JwsAlgorithm::HS256));
    let auth = with(Some("client_secret_jwt"), Some("HS512"), true)
        .client_auth()
        .unwrap();
    assert_eq!(auth.signing_algorithm(), Some(JwsAlgorithm::HS512));
    for (method, secret) in [
        (None, false),
        (Some("client_secret_post"), false),
        (Some("private_key_jwt"), true),
        (Some("tls_client_auth"), false),
        (Some("magic"), true),
    ] {
        let e = with(method, None, secret).client_auth().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfiguration, "{method:?}");
    }
    let key = crate::PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let pk = with(Some("private_key_jwt"), None, false);
    let builder = pk
        .configuration_builder_with_auth(server(), ClientAuth::private_key_jwt(key))
        .unwrap();
    assert_eq!(
        builder.build().unwrap().client_auth().method_name(),
        "private_key_jwt"
    );
    let e = pk
        .configuration_builder_with_auth(server(), ClientAuth::none())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfiguration);
}

#[test]
fn asking_for_the_callers_method() {
    let key = crate::PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let auth = ClientAuth::private_key_jwt(key);
    let mut metadata = ClientMetadata::default();
    ask_for_method(&mut metadata, &auth).unwrap();
    assert_eq!(
        metadata.token_endpoint_auth_method.as_deref(),
        Some("private_key_jwt")
    );
    assert_eq!(
        metadata.token_endpoint_auth_signing_alg.as_deref(),
        Some("ES256")
    );
    let mut other = ClientMetadata {
        token_endpoint_auth_method: Some("none".into()),
        ..Default::default()
    };
    let e = ask_for_method(&mut other, &auth).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

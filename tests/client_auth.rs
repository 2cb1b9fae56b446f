//! Every client authentication method against the mock server, which
//! verifies what it receives (Basic encoding, assertion signature and claims).

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oidckit::testing::{Fault, MockClient};
use oidckit::{client_credentials_grant, AssertionAudience, ClientAuth, JwsAlgorithm, PrivateKey};

const SPECIAL: &str = "a b:c/d+e%f&g=h?i";

#[tokio::test]
async fn client_secret_basic_form_encodes_special_characters() {
    let server =
        support::server_with(MockClient::client_secret_basic("id:with space", SPECIAL)).await;
    let config = support::config(
        &server,
        "id:with space",
        ClientAuth::client_secret_basic(SPECIAL),
    );
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let req = server.last_token_request().unwrap();
    assert!(
        req.param("client_id").is_none(),
        "Basic clients send no client_id in the body"
    );
    assert!(req.param("client_secret").is_none());
    let auth = req.headers["authorization"].to_str().unwrap();
    let decoded = String::from_utf8(
        STANDARD
            .decode(auth.strip_prefix("Basic ").unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decoded, "id%3Awith+space:a+b%3Ac%2Fd%2Be%25f%26g%3Dh%3Fi");
}

#[tokio::test]
async fn basic_without_form_encoding_for_servers_that_do_not_decode() {
    // The secret has characters form-encoding changes: a server that does
    // not decode refuses the RFC form and takes the opt-out's...
    let secret = "a+b/c=d e";
    let raw = MockClient::client_secret_basic_without_form_decoding("svc", secret);
    let server = support::server_with(raw).await;
    let encoded = support::config(&server, "svc", ClientAuth::client_secret_basic(secret));
    let err = client_credentials_grant(&encoded, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_error().unwrap().error, "invalid_client");
    let unencoded = support::config(
        &server,
        "svc",
        ClientAuth::client_secret_basic_without_form_encoding(secret),
    );
    client_credentials_grant(&unencoded, &[("scope", "read")], None)
        .await
        .unwrap();
    let auth = server.last_token_request().unwrap().headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let decoded = STANDARD
        .decode(auth.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(decoded, b"svc:a+b/c=d e");
    // ... and an RFC 6749 server refuses the opt-out (it decodes `+` as a space).
    let rfc = support::server_with(MockClient::client_secret_basic("svc", secret)).await;
    let unencoded = support::config(
        &rfc,
        "svc",
        ClientAuth::client_secret_basic_without_form_encoding(secret),
    );
    assert!(
        client_credentials_grant(&unencoded, &[("scope", "read")], None)
            .await
            .is_err()
    );
    // A client id with `:` cannot be sent unencoded.
    let metadata = rfc.server_metadata();
    let err = oidckit::Configuration::new(
        metadata,
        "id:colon",
        ClientAuth::client_secret_basic_without_form_encoding(secret),
    )
    .unwrap_err();
    assert_eq!(err.kind(), oidckit::ErrorKind::InvalidConfiguration);
}

#[tokio::test]
async fn client_secret_post_sends_id_and_secret_in_the_body() {
    let server = support::server_with(MockClient::client_secret_post("c", SPECIAL)).await;
    let config = support::config(&server, "c", ClientAuth::client_secret_post(SPECIAL));
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let req = server.last_token_request().unwrap();
    assert_eq!(req.param("client_id"), Some("c"));
    assert_eq!(req.param("client_secret"), Some(SPECIAL));
    assert!(req.headers.get("authorization").is_none());
}

#[tokio::test]
async fn client_secret_jwt_every_hmac_algorithm() {
    for alg in [
        JwsAlgorithm::HS256,
        JwsAlgorithm::HS384,
        JwsAlgorithm::HS512,
    ] {
        // A short secret: josekit would refuse it, servers accept it.
        let server = support::server_with(MockClient::client_secret_jwt("c", "short")).await;
        let config = support::config(
            &server,
            "c",
            ClientAuth::client_secret_jwt_with_alg("short", alg),
        );
        client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let req = server.last_token_request().unwrap();
        let jwt = req.param("client_assertion").unwrap();
        assert_eq!(support::jwt_header(jwt)["alg"], alg.name());
        let c = support::jwt_claims(jwt);
        assert_eq!(c["aud"], config.issuer());
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
    }
}

#[tokio::test]
async fn private_key_jwt_every_algorithm_with_generated_keys() {
    let algs = [
        JwsAlgorithm::RS256,
        JwsAlgorithm::RS384,
        JwsAlgorithm::RS512,
        JwsAlgorithm::PS256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::PS512,
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::ES512,
        JwsAlgorithm::EdDSA,
    ];
    for alg in algs {
        let key = PrivateKey::generate(alg)
            .unwrap()
            .with_kid(format!("kid-{alg}"));
        let server = support::server_with(MockClient::private_key_jwt("c", key.public_jwk())).await;
        let config = support::config(&server, "c", ClientAuth::private_key_jwt(key));
        client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let jwt = server
            .last_token_request()
            .unwrap()
            .param("client_assertion")
            .unwrap()
            .to_owned();
        let h = support::jwt_header(&jwt);
        assert_eq!(h["alg"], alg.name());
        assert_eq!(h["kid"], format!("kid-{alg}"));
        let c = support::jwt_claims(&jwt);
        assert_eq!(
            (c["iss"].as_str(), c["sub"].as_str()),
            (Some("c"), Some("c"))
        );
    }
}

#[tokio::test]
async fn private_key_from_pem_and_jwk_text() {
    // PEM keys as OpenSSL writes them: PKCS#8 and the traditional EC and RSA forms.
    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let pems = [
        (ec.private_key_to_pem().unwrap(), JwsAlgorithm::ES256),
        (
            openssl::pkey::PKey::from_ec_key(ec)
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
            JwsAlgorithm::ES256,
        ),
        (rsa.private_key_to_pem().unwrap(), JwsAlgorithm::PS256),
        (
            openssl::pkey::PKey::from_rsa(rsa)
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
            JwsAlgorithm::RS256,
        ),
    ];
    for (pem, alg) in pems {
        let key = PrivateKey::from_pem_with_alg(&pem, alg).unwrap();
        let server = support::server_with(MockClient::private_key_jwt("c", key.public_jwk())).await;
        let config = support::config(&server, "c", ClientAuth::private_key_jwt(key));
        client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
    }
    // A private JWK as text, with a kid and no alg (inferred from the curve).
    let mut jwk = josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    jwk.set_key_id("a3");
    let jwk = jwk.to_string();
    let jwk = jwk.as_str();
    let key = PrivateKey::from_jwk_json(jwk).unwrap();
    assert_eq!(
        (key.algorithm(), key.kid()),
        (JwsAlgorithm::ES256, Some("a3"))
    );
    let server = support::server_with(MockClient::private_key_jwt("c", key.public_jwk())).await;
    let config = support::config(&server, "c", ClientAuth::private_key_jwt(key));
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
}

#[tokio::test]
async fn assertion_audience_and_modify_hook() {
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let server = support::server_with(MockClient::private_key_jwt("c", key.public_jwk())).await;
    let auth = ClientAuth::private_key_jwt(key)
        .assertion_audience(AssertionAudience::TokenEndpoint)
        .modify_assertion(|c| {
            c.insert("tenant".into(), "blue".into());
        });
    let config = support::config(&server, "c", auth);
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
    let jwt = server
        .last_token_request()
        .unwrap()
        .param("client_assertion")
        .unwrap()
        .to_owned();
    let c = support::jwt_claims(&jwt);
    assert_eq!(c["aud"], server.token_endpoint().as_str());
    assert_eq!(c["tenant"], "blue");
    // A second grant gets a fresh jti (the server refuses replays).
    client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap();
}

#[tokio::test]
async fn none_and_tls_client_auth_send_only_the_client_id() {
    for auth in [
        ClientAuth::none(),
        ClientAuth::tls_client_auth(),
        ClientAuth::self_signed_tls_client_auth(),
    ] {
        let server = support::server_with(MockClient::none("public")).await;
        let config = support::config(&server, "public", auth.clone());
        client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap();
        let req = server.last_token_request().unwrap();
        assert_eq!(req.param("client_id"), Some("public"));
        assert!(req.headers.get("authorization").is_none());
        assert_eq!(req.form.len(), 3, "{:?}: {:?}", auth, req.form);
    }
}

#[tokio::test]
async fn wrong_credentials_are_invalid_client() {
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let other = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let cases = [
        (
            MockClient::client_secret_basic("c", "right"),
            ClientAuth::client_secret_basic("wrong"),
        ),
        (
            MockClient::client_secret_post("c", "right"),
            ClientAuth::client_secret_post("wrong"),
        ),
        (
            MockClient::client_secret_jwt("c", "right"),
            ClientAuth::client_secret_jwt("wrong"),
        ),
        (
            MockClient::private_key_jwt("c", key.public_jwk()),
            ClientAuth::private_key_jwt(other),
        ),
        (
            MockClient::client_secret_basic("c", "right"),
            ClientAuth::client_secret_post("right"),
        ),
    ];
    for (registered, used) in cases {
        let server = support::server_with(registered).await;
        let config = support::config(&server, "c", used.clone());
        let err = client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap_err();
        let e = err
            .oauth_error()
            .unwrap_or_else(|| panic!("{used:?}: expected an OAuth error, got {err:?}"));
        assert_eq!(e.error, "invalid_client", "{used:?}");
        assert_eq!(e.status.map(|s| s.as_u16()), Some(401));
        assert_eq!(e.url.as_ref(), Some(&server.token_endpoint()));
        assert_eq!(e.challenges[0].scheme(), "basic");
        assert_eq!(err.url(), Some(&server.token_endpoint()));
    }
}

#[tokio::test]
async fn a_bare_401_names_the_client_authentication_method() {
    // A 401 without an OAuth error body says nothing: the error names the
    // method used and, for the JWT methods, the usual audience fix.
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let server = support::server_with(MockClient::private_key_jwt("c", key.public_jwk())).await;
    let config = support::config(&server, "c", ClientAuth::private_key_jwt(key));
    server.fail_next_token_request(Fault::body(401, "text/plain", "Unauthorized"));
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("client authentication was private_key_jwt"),
        "{message}"
    );
    assert!(
        message.contains("AssertionAudience::TokenEndpoint"),
        "{message}"
    );
    // Already the endpoint: no such suggestion.
    let key = PrivateKey::generate(JwsAlgorithm::ES256).unwrap();
    let server = support::server_with(MockClient::private_key_jwt("c", key.public_jwk())).await;
    let auth =
        ClientAuth::private_key_jwt(key).assertion_audience(AssertionAudience::TokenEndpoint);
    let config = support::config(&server, "c", auth);
    server.fail_next_token_request(Fault::body(401, "text/plain", "Unauthorized"));
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("was private_key_jwt"), "{err}");
    assert!(!err.to_string().contains("AssertionAudience"), "{err}");

    let server = support::server_with(MockClient::client_secret_basic("c", "s")).await;
    let config = support::config(&server, "c", ClientAuth::client_secret_basic("s"));
    server.fail_next_token_request(Fault::body(403, "text/plain", "Forbidden"));
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("client authentication was client_secret_basic"),
        "{message}"
    );
    assert!(!message.contains("AssertionAudience"), "{message}");
    // Other statuses get no such hint.
    server.fail_next_token_request(Fault::body(404, "text/plain", "Not Found"));
    let err = client_credentials_grant(&config, &[("scope", "read")], None)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("client authentication"), "{err}");
}

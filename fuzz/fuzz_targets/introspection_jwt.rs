//! JWT introspection responses (RFC 9701): `process_introspection_response`
//! on the input as an `application/token-introspection+jwt` body, for a
//! client that registered `introspection_signed_response_alg`, against a
//! JWK Set with keys of every type.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oidckit::reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use oidckit::reqwest::StatusCode;
use oidckit::{
    process_introspection_response, ClientAuth, ClientMetadata, EndpointContext, EndpointResponse,
    JwkSet, JwsAlgorithm, PrivateKey, ServerMetadata, TOKEN_INTROSPECTION_JWT_MEDIA_TYPE,
};

struct Fixture {
    server: ServerMetadata,
    client: ClientMetadata,
    auth: ClientAuth,
    jwks: JwkSet,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys: Vec<_> = [
            (JwsAlgorithm::RS256, "rs"),
            (JwsAlgorithm::ES256, "es"),
            (JwsAlgorithm::EdDSA, "ed"),
        ]
        .into_iter()
        .map(|(alg, kid)| {
            serde_json::Value::Object(
                PrivateKey::generate(alg)
                    .unwrap()
                    .with_kid(kid)
                    .public_jwk()
                    .clone(),
            )
        })
        .collect();
        let mut client = ClientMetadata::new("client");
        client.introspection_signed_response_alg = Some("ES256".into());
        Fixture {
            server: ServerMetadata::new(
                "https://as.example",
                "https://as.example/t".parse().unwrap(),
            ),
            client,
            auth: ClientAuth::none(),
            jwks: JwkSet::from_json(serde_json::json!({ "keys": keys }).to_string().as_bytes())
                .unwrap(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let ctx = EndpointContext::new(&f.server, &f.client, &f.auth);
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(TOKEN_INTROSPECTION_JWT_MEDIA_TYPE),
    );
    let url = "https://as.example/introspect".parse().unwrap();
    let response = EndpointResponse::new(url, StatusCode::OK, headers, data.to_vec());
    // Unsigned input never verifies: anything accepted would be a forgery.
    assert!(process_introspection_response(&ctx, &response, Some(&f.jwks)).is_err());
});

//! ID Tokens (`validate_id_token`): arbitrary text as the token, against a
//! JWK Set with keys of every type; and arbitrary bytes as the JWK Set.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use oidckit::{
    validate_id_token, ClientAuth, ClientMetadata, EndpointContext, IdTokenChecks, JwkSet,
    JwsAlgorithm, PrivateKey, ServerMetadata,
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
        let mut server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        server.id_token_signing_alg_values_supported = Some(vec![
            "RS256".into(),
            "ES256".into(),
            "EdDSA".into(),
            "HS256".into(),
        ]);
        Fixture {
            server,
            client: ClientMetadata::new("client"),
            auth: ClientAuth::none(),
            jwks: JwkSet::from_json(serde_json::json!({ "keys": keys }).to_string().as_bytes())
                .unwrap(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let ctx = EndpointContext::new(&f.server, &f.client, &f.auth);
    let text = String::from_utf8_lossy(data);
    let checks = IdTokenChecks {
        nonce: Some("n"),
        max_age: Some(60),
        ..Default::default()
    };
    // Unsigned input never verifies: anything accepted would be a forgery.
    assert!(validate_id_token(&ctx, &text, &f.jwks, &checks).is_err());
    if let Ok(jwks) = JwkSet::from_json(data) {
        let _ = jwks.len();
        let _ = format!("{jwks:?}");
    }
});

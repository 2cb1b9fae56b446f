//! No secret — client secret, private key, assertion, access or refresh
//! token — appears in `Debug`, `Display`, errors or `tracing` output.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use oidckit::reqwest::Method;
use oidckit::testing::{Fault, MockClient};
use oidckit::{
    build_token_request, client_credentials_grant, fetch_protected_resource, ClientAuth,
    DPoPHandle, JwsAlgorithm, PrivateKey,
};
use serde_json::json;

const SECRET: &str = "SUPER-SECRET-VALUE-1";
const ACCESS_TOKEN: &str = "ACCESS-TOKEN-VALUE-2";
const REFRESH_TOKEN: &str = "REFRESH-TOKEN-VALUE-3";

/// Collects everything the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_clean(what: &str, text: &str, forbidden: &[&str]) {
    for f in forbidden {
        assert!(!text.contains(f), "{what} leaks {f:?}:\n{text}");
    }
}

#[tokio::test]
async fn nothing_secret_in_debug_display_errors_or_traces() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A key whose private part we know, to look for it everywhere.
    let jwk = josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    let private_d = jwk.parameter("d").unwrap().as_str().unwrap().to_owned();
    let key = PrivateKey::from_jwk_json(&jwk.to_string()).unwrap();
    let key_debug = format!("{key:?} {:?}", key.public_jwk());
    let cases = vec![
        (
            MockClient::client_secret_basic("c", SECRET),
            ClientAuth::client_secret_basic(SECRET),
        ),
        (
            MockClient::client_secret_post("c", SECRET),
            ClientAuth::client_secret_post(SECRET),
        ),
        (
            MockClient::client_secret_jwt("c", SECRET),
            ClientAuth::client_secret_jwt(SECRET),
        ),
        (
            MockClient::private_key_jwt("c", key.public_jwk()),
            ClientAuth::private_key_jwt(key),
        ),
    ];
    let mut forbidden = vec![
        SECRET.to_string(),
        ACCESS_TOKEN.into(),
        REFRESH_TOKEN.into(),
    ];
    for (registered, auth) in cases {
        let server = support::server_with(registered).await;
        let config = support::config(&server, "c", auth.clone());
        let request = build_token_request(
            &config.context(),
            "client_credentials",
            &[("scope", "read")],
        )
        .unwrap();

        server.fail_next_token_request(Fault::json(
            200,
            json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "refresh_token": REFRESH_TOKEN, "id_token": ACCESS_TOKEN}),
        ));
        let token = client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap();
        assert_eq!(token.access_token().secret(), ACCESS_TOKEN);
        let assertion = server
            .last_token_request()
            .unwrap()
            .param("client_assertion")
            .map(str::to_owned);
        if let Some(a) = assertion {
            forbidden.push(a);
        }

        // Errors: the server echoes nothing secret, but the error must not
        // pick anything up from the request either.
        server.fail_next_token_request(Fault::json(400, json!({"error": "invalid_grant"})));
        let err = client_credentials_grant(&config, &[("scope", "read")], None)
            .await
            .unwrap_err();
        let mut other_errors = String::new();
        for fault in [
            Fault::body(500, "text/html", "<html>down</html>"),
            Fault::body(200, "text/html", "<html>login</html>"),
            Fault::json(200, json!({"token_type": "Bearer"})),
        ] {
            server.fail_next_token_request(fault);
            let e = client_credentials_grant(&config, &[("scope", "read")], None)
                .await
                .unwrap_err();
            other_errors.push_str(&format!("{e} {e:?}\n"));
        }
        // DPoP: the proof and the bound token stay out of everything too.
        let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).unwrap();
        let bound = client_credentials_grant(&config, &[("scope", "read")], Some(&dpop))
            .await
            .unwrap();
        forbidden.push(bound.access_token().secret().clone());
        let resource = fetch_protected_resource(
            &config,
            bound.access_token(),
            Method::GET,
            server.resource_url(),
        )
        .options(oidckit::RequestOptions::new().dpop(&dpop))
        .await
        .unwrap();
        assert_eq!(resource.status(), 200);
        let proof = server.requests().last().unwrap().headers["dpop"]
            .to_str()
            .unwrap()
            .to_owned();
        forbidden.push(proof);

        let forbidden: Vec<&str> = forbidden.iter().map(String::as_str).collect();
        for (what, text) in [
            ("Configuration", format!("{config:?}")),
            ("ClientAuth", format!("{auth:?}")),
            ("TokenRequest", format!("{request:?}")),
            ("TokenEndpointResponse", format!("{token:?}")),
            ("Error", format!("{err} {err:?}")),
            ("other errors", other_errors.clone()),
            ("DPoPHandle", format!("{dpop:?}")),
            ("bound token", format!("{bound:?}")),
        ] {
            assert_clean(what, &text, &forbidden);
        }
    }
    assert!(!key_debug.contains(&private_d), "{key_debug}");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("oidckit.http"),
        "tracing spans were not captured:\n{logs}"
    );
    let forbidden: Vec<&str> = forbidden.iter().map(String::as_str).collect();
    assert_clean("tracing output", &logs, &forbidden);
}

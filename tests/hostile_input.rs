//! Property tests: every parser that reads what a server sends gives `Ok`
//! or a typed error for arbitrary bytes and arbitrary JSON — never a panic.

use oidckit::reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use oidckit::reqwest::StatusCode;
use oidckit::{
    jwk_thumbprint, parse_www_authenticate, process_backchannel_authentication_response,
    process_client_information_response, process_device_authorization_response,
    process_introspection_response, process_pushed_authorization_response,
    process_registration_response, process_resource_discovery_response, process_token_response,
    validate_authorization_response, validate_id_token, validate_jwt_access_token,
    validate_jwt_authorization_response, verify_dpop_proof, AccessTokenChecks, AuthorizationChecks,
    Callback, ClientAuth, Configuration, DPoPHandle, DPoPProofChecks, EndpointResponse,
    IdTokenChecks, InMemoryReplayCache, IntrospectionResponse, JwkSet, JwsAlgorithm, PrivateKey,
    ProtectedResourceMetadata, RegisteredClient, ServerMetadata, TokenEndpointResponse, Url,
    TOKEN_INTROSPECTION_JWT_MEDIA_TYPE,
};
use proptest::prelude::*;
use serde_json::Value;

/// Built once: building the HTTP client loads the system's certificates.
fn config() -> &'static Configuration {
    static CONFIG: std::sync::OnceLock<Configuration> = std::sync::OnceLock::new();
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

/// A token endpoint response as received.
fn answer(status: StatusCode, headers: HeaderMap, body: &[u8]) -> EndpointResponse {
    let url = "https://as.example/token".parse().unwrap();
    EndpointResponse::new(url, status, headers, body.to_vec())
}

/// Arbitrary JSON, biased towards the members the parsers look at.
fn json() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("access_token".to_owned()),
        Just("token_type".to_owned()),
        Just("expires_in".to_owned()),
        Just("refresh_token".to_owned()),
        Just("scope".to_owned()),
        Just("error".to_owned()),
        Just("issuer".to_owned()),
        Just("token_endpoint".to_owned()),
        Just("mtls_endpoint_aliases".to_owned()),
        Just("active".to_owned()),
        Just("aud".to_owned()),
        Just("cnf".to_owned()),
        Just("kty".to_owned()),
        Just("crv".to_owned()),
        Just("x".to_owned()),
        Just("n".to_owned()),
        Just("auth_req_id".to_owned()),
        Just("interval".to_owned()),
        Just("client_id".to_owned()),
        Just("client_secret".to_owned()),
        Just("client_secret_expires_at".to_owned()),
        Just("registration_access_token".to_owned()),
        Just("registration_client_uri".to_owned()),
        Just("redirect_uris".to_owned()),
        Just("resource".to_owned()),
        Just("authorization_servers".to_owned()),
        Just("token_introspection".to_owned()),
        ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::from),
        Just(Value::from("https://as.example/token")),
        Just(Value::from("https://rs.example/api")),
        Just(Value::from("Bearer")),
        Just(Value::from("3600")),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(names.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A backchannel authentication response (CIBA Core §7.3) with each of its
/// three members present or not, of any JSON type, and other members.
fn backchannel_json() -> impl Strategy<Value = Value> {
    let member = prop::option::of(prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::from),
        json(),
    ]);
    (member.clone(), member.clone(), member, json()).prop_map(|(id, expires, interval, rest)| {
        let mut map = match rest {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        for (name, value) in [
            ("auth_req_id", id),
            ("expires_in", expires),
            ("interval", interval),
        ] {
            if let Some(value) = value {
                map.insert(name.to_owned(), value);
            }
        }
        Value::Object(map)
    })
}

fn headers(content_type: &str, www_authenticate: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_bytes(www_authenticate) {
        h.insert(WWW_AUTHENTICATE, v);
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn token_responses_from_arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512),
                                           status in 100u16..600, ct in ".{0,30}",
                                           challenge in prop::collection::vec(any::<u8>(), 0..80)) {
        let status = StatusCode::from_u16(status).unwrap();
        let _ = process_token_response(&config().context(), &answer(status, headers(&ct, &challenge), &body));
    }

    #[test]
    fn token_responses_from_arbitrary_json(v in json(), status in prop_oneof![Just(200u16), Just(400), Just(401), Just(500)]) {
        let body = serde_json::to_vec(&v).unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        let result = process_token_response(&config().context(), &answer(status, headers("application/json", b""), &body));
        if let Ok(token) = result {
            // What was accepted obeys RFC 6749 §5.1.
            prop_assert!(!token.access_token().secret().is_empty());
            prop_assert!(!token.token_type().as_str().is_empty());
        }
        let _ = serde_json::from_value::<TokenEndpointResponse>(v);
    }

    #[test]
    fn server_metadata_never_panics(v in json(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_value::<ServerMetadata>(v);
        let _ = serde_json::from_slice::<ServerMetadata>(&bytes);
    }

    #[test]
    fn introspection_responses_never_panic(v in json()) {
        let _ = serde_json::from_value::<IntrospectionResponse>(v);
    }

    #[test]
    fn www_authenticate_never_panics(s in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for c in parse_www_authenticate(&s) {
            prop_assert!(!c.scheme().is_empty());
        }
        let _ = parse_www_authenticate(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn jwks_never_panic(v in json()) {
        if let Value::Object(map) = &v {
            let _ = jwk_thumbprint(map);
        }
        let _ = PrivateKey::from_jwk_json(&v.to_string());
    }

    #[test]
    fn dpop_nonces_are_bounded_and_valid(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        static DPOP: std::sync::OnceLock<DPoPHandle> = std::sync::OnceLock::new();
        let dpop = DPOP.get_or_init(|| DPoPHandle::generate(config(), JwsAlgorithm::ES256).unwrap());
        let url = "https://as.example/token".parse().unwrap();
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&bytes) {
            h.insert("dpop-nonce", v);
        }
        dpop.record_nonce(&url, &h);
        if let Some(nonce) = dpop.nonce(&url) {
            prop_assert!(nonce.len() <= 1024);
            prop_assert!(nonce.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)));
        }
    }

    #[test]
    fn jwk_sets_never_panic(v in json(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let doc = serde_json::json!({ "keys": [v.clone()] }).to_string();
        let _ = JwkSet::from_json(doc.as_bytes());
        let _ = JwkSet::from_json(v.to_string().as_bytes());
        let _ = JwkSet::from_json(&bytes);
    }

    #[test]
    fn id_tokens_from_arbitrary_parts(header in json(), claims in json(), sig in "[A-Za-z0-9_-]{0,90}") {
        use base64::Engine as _;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.{sig}", b64(&header), b64(&claims));
        let jwks = JwkSet::from_json(br#"{"keys":[]}"#).unwrap();
        let checks = IdTokenChecks { nonce: Some("n"), ..Default::default() };
        // Nothing unsigned or signed by an unknown key is ever accepted.
        prop_assert!(validate_id_token(&config().context(), &token, &jwks, &checks).is_err());
    }

    #[test]
    fn authorization_responses_never_panic(query in ".{0,200}", body in prop::collection::vec(any::<u8>(), 0..200)) {
        let base: Url = "https://app.example/cb".parse().unwrap();
        let mut url = base.clone();
        url.set_query(Some(&query));
        let checks = AuthorizationChecks::new().expected_state("s");
        for callback in [Callback::from(&url), Callback::form_post(&base, &body)] {
            if let Ok(code) = validate_authorization_response(&config().context(), callback, &checks) {
                prop_assert_eq!(code.state(), Some("s"));
                prop_assert!(!code.code().is_empty());
            }
        }
    }

    #[test]
    fn jarm_responses_are_never_accepted_unsigned(header in json(), claims in json(), sig in "[A-Za-z0-9_-]{0,90}") {
        use base64::Engine as _;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = format!("{}.{}.{sig}", b64(&header), b64(&claims));
        let mut url: Url = "https://app.example/cb".parse().unwrap();
        url.query_pairs_mut().append_pair("response", &jwt);
        let jwks = JwkSet::from_json(br#"{"keys":[]}"#).unwrap();
        let checks = AuthorizationChecks::new().jarm();
        prop_assert!(validate_jwt_authorization_response(&config().context(), (&url).into(), &jwks, &checks).is_err());
    }

    #[test]
    fn pushed_authorization_responses_never_panic(v in json(), status in prop_oneof![Just(200u16), Just(201), Just(400)], bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let body = serde_json::to_vec(&v).unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        let ctx = config().context();
        if let Ok(pushed) = process_pushed_authorization_response(&ctx, &answer(status, headers("application/json", b""), &body)) {
            prop_assert_eq!(status, StatusCode::CREATED);
            prop_assert!(!pushed.request_uri.is_empty());
        }
        let _ = process_pushed_authorization_response(&ctx, &answer(StatusCode::CREATED, HeaderMap::new(), &bytes));
    }

    #[test]
    fn device_authorization_responses_never_panic(v in json(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let body = serde_json::to_vec(&v).unwrap();
        let ctx = config().context();
        if let Ok(device) = process_device_authorization_response(&ctx, &answer(StatusCode::OK, headers("application/json", b""), &body)) {
            prop_assert!(device.interval > 0);
            prop_assert!(!device.device_code.is_empty() && !device.user_code.is_empty());
        }
        let _ = process_device_authorization_response(&ctx, &answer(StatusCode::OK, HeaderMap::new(), &bytes));
    }

    #[test]
    fn backchannel_authentication_responses_never_panic(v in backchannel_json(), status in prop_oneof![Just(200u16), Just(400), Just(401)], bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let body = serde_json::to_vec(&v).unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        let ctx = config().context();
        match process_backchannel_authentication_response(&ctx, &answer(status, headers("application/json", b""), &body)) {
            Ok(ack) => {
                prop_assert_eq!(status, StatusCode::OK);
                prop_assert!(ack.interval > 0 && ack.expires_in > 0);
                prop_assert_eq!(Some(&Value::from(ack.auth_req_id.clone())), v.get("auth_req_id"));
                let shown = format!("{:?}", ack);
                let id = format!("{:?}", ack.auth_req_id);
                prop_assert!(ack.auth_req_id == "[redacted]" || !shown.contains(&id), "{}", shown);
            }
            Err(e) => prop_assert!(matches!(
                e.kind(),
                oidckit::ErrorKind::InvalidResponse | oidckit::ErrorKind::OAuth | oidckit::ErrorKind::UnexpectedStatus
            ), "{:?}", e.kind()),
        }
        let _ = process_backchannel_authentication_response(&ctx, &answer(StatusCode::OK, HeaderMap::new(), &bytes));
    }

    #[test]
    fn registration_responses_never_panic(
        v in json(),
        with_id in any::<bool>(),
        status in prop_oneof![Just(200u16), Just(201), Just(204), Just(400)],
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        // Arbitrary members over a response that has a client_id, or not.
        let mut doc = serde_json::Map::new();
        if with_id {
            doc.insert("client_id".into(), "c".into());
        }
        if let Value::Object(members) = &v {
            doc.extend(members.clone());
        }
        let body = serde_json::to_vec(&if v.is_object() { Value::Object(doc) } else { v }).unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        let response = answer(status, headers("application/json", b""), &body);
        if let Ok(client) = process_registration_response(&response) {
            // What was accepted obeys RFC 7591 §3.2.1 and RFC 7592 §3.
            prop_assert_eq!(status, StatusCode::CREATED);
            prop_assert!(!client.client_id().is_empty());
            prop_assert!(client.client_secret.is_none() || client.client_secret_expires_at.is_some());
            prop_assert_eq!(client.registration_access_token.is_some(), client.registration_client_uri.is_some());
            let debug = format!("{client:?}");
            if let Some(secret) = &client.client_secret {
                prop_assert!(secret.secret().len() < 12 || !debug.contains(secret.secret().as_str()));
            }
        }
        let current = RegisteredClient::new(oidckit::ClientMetadata::new("c"));
        if let Ok(client) = process_client_information_response(&current, &response) {
            prop_assert_eq!(status, StatusCode::OK);
            prop_assert_eq!(client.client_id(), "c");
        }
        let _ = process_registration_response(&answer(StatusCode::CREATED, HeaderMap::new(), &bytes));
    }

    #[test]
    fn resource_metadata_never_panics(v in json(), status in prop_oneof![Just(200u16), Just(404)], bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let resource: Url = "https://rs.example/api".parse().unwrap();
        let body = serde_json::to_vec(&v).unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        if let Ok(metadata) = process_resource_discovery_response(&resource, &answer(status, headers("application/json", b""), &body)) {
            // Only metadata about the resource asked for is accepted (RFC 9728 §3.3).
            prop_assert_eq!(metadata.resource.parse::<Url>().unwrap(), resource.clone());
        }
        let _ = process_resource_discovery_response(&resource, &answer(StatusCode::OK, HeaderMap::new(), &bytes));
        let _ = serde_json::from_value::<ProtectedResourceMetadata>(v);
    }

    #[test]
    fn introspection_jwts_are_never_accepted_unsigned(header in json(), claims in json(), sig in "[A-Za-z0-9_-]{0,90}") {
        use base64::Engine as _;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = format!("{}.{}.{sig}", b64(&header), b64(&claims));
        let jwks = JwkSet::from_json(br#"{"keys":[]}"#).unwrap();
        let response = answer(StatusCode::OK, headers(TOKEN_INTROSPECTION_JWT_MEDIA_TYPE, b""), jwt.as_bytes());
        prop_assert!(process_introspection_response(&config().context(), &response, Some(&jwks)).is_err());
        prop_assert!(process_introspection_response(&config().context(), &response, None).is_err());
    }

    /// The receiving end: an unsigned JWT with arbitrary members (an
    /// `at+jwt` or `dpop+jwt` type and a plausible key half the time) is
    /// never an access token, and never a DPoP proof.
    #[test]
    fn unsigned_access_tokens_and_proofs_are_refused(
        header in json(),
        claims in json(),
        typ in prop_oneof![Just("at+jwt"), Just("dpop+jwt"), Just("JWT")],
        sig in "[A-Za-z0-9_-]{0,90}",
    ) {
        use base64::Engine as _;
        use std::time::{Duration, SystemTime};
        let mut header = header;
        if let Value::Object(h) = &mut header {
            h.insert("typ".into(), typ.into());
            h.entry("alg").or_insert("ES256".into());
            h.insert("jwk".into(), Value::Object(proof_key().public_jwk().clone()));
        }
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = format!("{}.{}.{sig}", b64(&header), b64(&claims));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let jwks = JwkSet::from_json(
            serde_json::json!({"keys": [proof_key().public_jwk()]}).to_string().as_bytes(),
        ).unwrap();
        let checks = AccessTokenChecks::new("https://as.example/token", "https://as.example/token", now);
        prop_assert!(validate_jwt_access_token(&jwt, &jwks, &checks).is_err());
        let url: Url = "https://as.example/token".parse().unwrap();
        let replay = InMemoryReplayCache::new(4);
        prop_assert!(verify_dpop_proof(&jwt, &DPoPProofChecks::new("GET", &url, now), &replay).is_err());
    }
}

/// One key for the proofs above (generating one per case is slow).
fn proof_key() -> &'static PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(JwsAlgorithm::ES256).unwrap())
}

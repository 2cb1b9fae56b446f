//! `ResourceServer` without the network: the JWKS cache loaded from a
//! snapshot, tokens signed here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::x509::{X509NameBuilder, X509};
use reqwest::header::{HeaderMap, AUTHORIZATION};
use serde_json::{json, Map, Value};

use super::*;
use crate::clock::unix_seconds;
use crate::jwks::JwksCacheSnapshot;
use crate::{ClientAuth, ManualClock, PrivateKey, ServerMetadata};

const START: u64 = 2_000_000_000;
const ISSUER: &str = "https://as.example";
const API: &str = "https://api.example";

struct Setup {
    api: ResourceServer,
    key: PrivateKey,
}

fn setup(build: impl FnOnce(ResourceServerBuilder) -> ResourceServerBuilder) -> Setup {
    let key = PrivateKey::generate(JwsAlgorithm::ES256)
        .unwrap()
        .with_kid("as-1");
    let mut server = ServerMetadata::new(ISSUER, "https://as.example/token".parse().unwrap());
    server.jwks_uri = Some("https://as.example/jwks".parse().unwrap());
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    let config = Configuration::builder(server, "api", ClientAuth::none())
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    config
        .import_jwks_cache(JwksCacheSnapshot {
            jwks: json!({"keys": [key.public_jwk()]})
                .as_object()
                .unwrap()
                .clone(),
            fetched_at: START,
        })
        .unwrap();
    Setup {
        api: build(ResourceServer::builder(config, API)).build(),
        key,
    }
}

fn token(key: &PrivateKey, extra: Value) -> String {
    let mut claims: Map<String, Value> = json!({
        "iss": ISSUER, "sub": "svc", "aud": API, "client_id": "svc", "jti": "j",
        "iat": START, "exp": START + 300, "scope": "read",
    })
    .as_object()
    .unwrap()
    .clone();
    claims.extend(extra.as_object().unwrap().clone());
    key.sign_jwt(Some("at+jwt"), &[], claims).unwrap()
}

fn certificate(cn: &str) -> Vec<u8> {
    let key = PKey::ec_gen("prime256v1").unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut x509 = X509::builder().unwrap();
    x509.set_version(2).unwrap();
    x509.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    x509.set_subject_name(&name).unwrap();
    x509.set_issuer_name(&name).unwrap();
    x509.set_pubkey(&key).unwrap();
    x509.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    x509.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    x509.sign(&key, MessageDigest::sha256()).unwrap();
    x509.build().to_der().unwrap()
}

async fn validate(
    api: &ResourceServer,
    authorization: &str,
    cert: Option<&[u8]>,
) -> std::result::Result<ValidatedRequest, Rejection> {
    let url: Url = format!("{API}/items").parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, authorization.parse().unwrap());
    let mut request = IncomingRequest::new("GET", &url, &headers);
    if let Some(cert) = cert {
        request = request.client_certificate(cert);
    }
    api.validate_request(&request).await
}

#[tokio::test]
async fn certificate_bound_tokens_need_their_certificate() {
    let s = setup(|b| b);
    let cert = certificate("client");
    let thumbprint = certificate_thumbprint(&cert).unwrap();
    let bound = token(&s.key, json!({"cnf": {"x5t#S256": thumbprint}}));
    let ok = validate(&s.api, &format!("Bearer {bound}"), Some(&cert))
        .await
        .unwrap();
    assert_eq!(
        ok.claims.certificate_thumbprint(),
        Some(thumbprint.as_str())
    );

    for cert in [None, Some(certificate("another client"))] {
        let e = validate(&s.api, &format!("Bearer {bound}"), cert.as_deref())
            .await
            .unwrap_err();
        assert_eq!(e.code(), RejectionCode::InvalidToken);
        assert!(e.description().contains("certificate"), "{e}");
    }
    // Garbage where a certificate should be.
    let e = validate(
        &s.api,
        &format!("Bearer {bound}"),
        Some(b"not a certificate"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), RejectionCode::InvalidToken);
}

#[tokio::test]
async fn schemes_and_bindings() {
    let s = setup(|b| b);
    let plain = token(&s.key, json!({}));
    // The scheme is case-insensitive (RFC 9110 §11.1).
    validate(&s.api, &format!("bEaReR {plain}"), None)
        .await
        .unwrap();
    // An unbound token with the DPoP scheme.
    let e = validate(&s.api, &format!("DPoP {plain}"), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), RejectionCode::InvalidToken);
    // A DPoP-bound token as Bearer (RFC 9449 §7.2).
    let bound = token(&s.key, json!({"cnf": {"jkt": "abc"}}));
    let e = validate(&s.api, &format!("Bearer {bound}"), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), RejectionCode::InvalidToken);
    // ... and as DPoP without a proof.
    let e = validate(&s.api, &format!("DPoP {bound}"), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), RejectionCode::InvalidDPoPProof);
    // Malformed credentials.
    for bad in ["Bearer", "Bearer a b", "Bearer ä", "Token abc"] {
        let e = validate(&s.api, bad, None).await.unwrap_err();
        assert_eq!(e.code(), RejectionCode::InvalidRequest, "{bad:?}");
    }
    // Opaque tokens without introspection: not valid.
    let e = validate(&s.api, "Bearer opaque-token", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), RejectionCode::InvalidToken);
    assert!(e.cause().is_some());
}

#[tokio::test]
async fn nonces_are_asked_for_and_handed_out() {
    let s = setup(|b| b.dpop_nonces(DPoPNonces::new(&[3; 32]).unwrap()));
    let plain = token(&s.key, json!({}));
    let ok = validate(&s.api, &format!("Bearer {plain}"), None)
        .await
        .unwrap();
    let nonce = ok.dpop_nonce.expect("a nonce for the next proof");
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(START);
    assert!(DPoPNonces::new(&[3; 32]).unwrap().is_valid(&nonce, now));
    let _ = unix_seconds(now);
}

#[test]
fn request_urls_from_the_base_url() {
    let s = setup(|b| b.base_url("https://edge.example/api/v1/".parse().unwrap()));
    assert_eq!(
        s.api.request_url("/items?page=2").unwrap().as_str(),
        "https://edge.example/api/v1/items?page=2"
    );
    // Default: the audience.
    let s = setup(|b| b);
    assert_eq!(
        s.api.request_url("/items").unwrap().as_str(),
        "https://api.example/items"
    );
}

#[test]
fn the_resources_metadata() {
    let s = setup(|b| b.require_dpop().dpop_algorithms(&[JwsAlgorithm::ES256]));
    let m = s.api.protected_resource_metadata();
    assert_eq!(m.resource, API);
    assert_eq!(
        m.authorization_servers.as_ref().unwrap()[0].as_str(),
        "https://as.example/"
    );
    assert_eq!(
        m.dpop_signing_alg_values_supported,
        Some(vec!["ES256".to_owned()])
    );
    assert_eq!(m.dpop_bound_access_tokens_required, Some(true));
    // What a client reads back is what the server says.
    let json = serde_json::to_vec(&m).unwrap();
    let back: crate::ProtectedResourceMetadata = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, m);
}

/// A server that is not RFC 9068 (Keycloak, Entra): its tokens typed `JWT`
/// or untyped, `azp` instead of `client_id`, no `jti`.
#[tokio::test]
async fn a_relaxed_profile_for_servers_that_are_not_rfc_9068() {
    let keycloak_like = |s: &Setup, typ: Option<&str>, aud: &str| {
        let claims = json!({
            "iss": ISSUER, "sub": "u-1", "aud": aud, "azp": "web-app",
            "iat": START, "exp": START + 300, "scope": "read",
        });
        s.key
            .sign_jwt(typ, &[], claims.as_object().unwrap().clone())
            .unwrap()
    };
    // Strict by default.
    let strict = setup(|b| b);
    let token = keycloak_like(&strict, Some("JWT"), API);
    let e = validate(&strict.api, &format!("Bearer {token}"), None)
        .await
        .unwrap_err();
    assert!(e.cause().unwrap().to_string().contains("typ"), "{e}");

    let relaxed = setup(|b| {
        b.token_types(&["at+jwt", "jwt", ""])
            .required_claims(&["sub"])
    });
    for typ in [Some("JWT"), None, Some("at+jwt")] {
        let token = keycloak_like(&relaxed, typ, API);
        let ok = validate(&relaxed.api, &format!("Bearer {token}"), None)
            .await
            .unwrap_or_else(|e| panic!("{typ:?}: {e}"));
        assert_eq!(ok.claims.get("azp").unwrap(), "web-app");
    }
    // An ID Token of the same server (its `aud` a client's id) still fails.
    let id_token = keycloak_like(&relaxed, Some("JWT"), "web-app");
    let e = validate(&relaxed.api, &format!("Bearer {id_token}"), None)
        .await
        .unwrap_err();
    assert!(e.cause().unwrap().to_string().contains("aud"), "{e}");
    // The required claims are still required.
    let no_sub = {
        let claims = json!({"iss": ISSUER, "aud": API, "iat": START, "exp": START + 300});
        relaxed
            .key
            .sign_jwt(Some("JWT"), &[], claims.as_object().unwrap().clone())
            .unwrap()
    };
    let e = validate(&relaxed.api, &format!("Bearer {no_sub}"), None)
        .await
        .unwrap_err();
    assert!(e.cause().unwrap().to_string().contains("sub"), "{e}");
}

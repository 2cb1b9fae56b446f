//! Cost of validating an ID Token with warm keys, against the least any
//! validator must do: decode the parts, verify the signature with OpenSSL,
//! parse the claims JSON (target: at most 1.2× that, ES256 and RS256).
//!
//! ```text
//! cargo bench --bench id_token
//! ```
//!
//! Both run alternately in rounds; the ratio is the median of the per-round
//! ratios, so a noisy neighbour slows both sides of a round alike.
//!
//! Then the JWKS cache's single flight: 10,000 concurrent validations on a
//! cold configuration against the in-process mock provider, counting the
//! JWK Set requests the provider saw (target: 1) and the wall time, beside
//! the same 10,000 on the warm cache.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidckit::{
    validate_id_token, ClientAuth, ClientMetadata, EndpointContext, IdTokenChecks, JwkSet,
    JwsAlgorithm, ManualClock, PrivateKey, ServerMetadata,
};
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use serde_json::{json, Value};

const ROUNDS: usize = 15;
const PER_ROUND: u32 = 400;

/// The baseline: base64url-decode, verify the same signature with OpenSSL
/// (ECDSA signatures converted to DER, as any OpenSSL-based validator must),
/// parse the claims.
fn raw(alg: JwsAlgorithm, key: &PKey<Public>, token: &str) -> Value {
    let mut parts = token.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let signature = URL_SAFE_NO_PAD.decode(s).unwrap();
    let payload = URL_SAFE_NO_PAD.decode(p).unwrap();
    let input = &token[..h.len() + 1 + p.len()];
    let mut verifier = Verifier::new(MessageDigest::sha256(), key).unwrap();
    let ok = if alg == JwsAlgorithm::ES256 {
        let r = BigNum::from_slice(&signature[..32]).unwrap();
        let s = BigNum::from_slice(&signature[32..]).unwrap();
        let der = EcdsaSig::from_private_components(r, s)
            .unwrap()
            .to_der()
            .unwrap();
        verifier.update(input.as_bytes()).unwrap();
        verifier.verify(&der).unwrap()
    } else {
        verifier.update(input.as_bytes()).unwrap();
        verifier.verify(&signature).unwrap()
    };
    assert!(ok);
    serde_json::from_slice(&payload).unwrap()
}

fn per_call(mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..PER_ROUND {
        f();
    }
    started.elapsed() / PER_ROUND
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    validation_cost();
    single_flight();
}

fn single_flight() {
    use oidckit::testing::{MockAuthorizationServer, MockClient};
    use oidckit::{
        authorization_code_grant, build_authorization_url, calculate_pkce_code_challenge,
        discovery, id_token_claims, random_pkce_code_verifier, AuthorizationChecks, ClientAuth,
        Configuration,
    };

    const N: usize = 10_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = MockAuthorizationServer::builder()
            .client(MockClient::client_secret_basic("app", "s").redirect_uris(["https://app.example/cb"]))
            .start()
            .await
            .unwrap();
        let configure = || async {
            discovery(server.issuer(), "app", ClientAuth::client_secret_basic("s"))
                .allow_insecure_requests(true)
                .await
                .unwrap()
        };
        let config = configure().await;
        let verifier = random_pkce_code_verifier();
        let url = build_authorization_url(
            &config,
            &[
                ("redirect_uri", "https://app.example/cb"),
                ("scope", "openid"),
                ("code_challenge", &calculate_pkce_code_challenge(&verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        .unwrap();
        let callback = server.authorize(&url).await.unwrap();
        let tokens = authorization_code_grant(
            &config,
            &callback,
            &AuthorizationChecks::new().pkce_code_verifier(&verifier),
        )
        .await
        .unwrap();
        let id_token = tokens.id_token().unwrap().to_owned();

        async fn run(config: &Configuration, id_token: &str) -> Duration {
            let started = Instant::now();
            let tasks: Vec<_> = (0..N)
                .map(|_| {
                    let (config, id_token) = (config.clone(), id_token.to_owned());
                    tokio::spawn(async move {
                        id_token_claims(&config, &id_token, &IdTokenChecks::default())
                            .await
                            .unwrap();
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            started.elapsed()
        }
        let cold = configure().await;
        let before = server.jwks_request_count();
        let cold_time = run(&cold, &id_token).await;
        let fetches = server.jwks_request_count() - before;
        let warm_time = run(&cold, &id_token).await;
        println!(
            "JWKS single flight: {N} concurrent validations on a cold cache: {fetches} JWK Set request(s), {:.1} ms; the same {N} warm: {:.1} ms",
            cold_time.as_secs_f64() * 1e3,
            warm_time.as_secs_f64() * 1e3
        );
        assert_eq!(fetches, 1, "one fetch for all");
    });
}

fn validation_cost() {
    println!(
        "machine: {} cores; {ROUNDS} rounds × {PER_ROUND} validations per side",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for alg in [JwsAlgorithm::ES256, JwsAlgorithm::RS256] {
        let key = PrivateKey::generate(alg).unwrap().with_kid("k1");
        // A realistic server JWK Set: this key and two others.
        let others: Vec<Value> = [JwsAlgorithm::RS256, JwsAlgorithm::ES256]
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                Value::Object(
                    PrivateKey::generate(a)
                        .unwrap()
                        .with_kid(format!("old{i}"))
                        .public_jwk()
                        .clone(),
                )
            })
            .collect();
        let mut keys = vec![Value::Object(key.public_jwk().clone())];
        keys.extend(others);
        let jwks = JwkSet::from_json(json!({ "keys": keys }).to_string().as_bytes()).unwrap();
        let mut server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/token".parse().unwrap(),
        );
        server.id_token_signing_alg_values_supported = Some(vec![alg.name().into()]);
        let client = ClientMetadata::new("bench-client");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth).clock(Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(now),
        )));
        // A typical ID Token: the required claims, auth_time, nonce, a few
        // profile claims.
        let claims = json!({
            "iss": "https://as.example", "sub": "248289761001", "aud": "bench-client",
            "exp": now + 300, "iat": now, "auth_time": now - 5, "nonce": "n-0S6_WzA2Mj",
            "name": "Jane Doe", "email": "janedoe@example.com", "email_verified": true,
            "acr": "urn:mace:incommon:iap:silver", "amr": ["pwd", "mfa"], "sid": "08a5019c",
        });
        let token = oidckit::testing::sign_jwt(&key, claims).unwrap();
        // The baseline's key: the same public key, straight from the JWK Set.
        let public = raw_key(&key);
        let checks = IdTokenChecks {
            nonce: Some("n-0S6_WzA2Mj"),
            max_age: Some(3600),
            ..Default::default()
        };
        // Warm up both.
        for _ in 0..200 {
            black_box(raw(alg, &public, &token));
            black_box(validate_id_token(&ctx, &token, &jwks, &checks).unwrap());
        }
        let (mut ratios, mut raws, mut oks) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let r = per_call(|| {
                black_box(raw(alg, &public, black_box(&token)));
            });
            let o = per_call(|| {
                black_box(validate_id_token(&ctx, black_box(&token), &jwks, &checks).unwrap());
            });
            ratios.push(o.as_secs_f64() / r.as_secs_f64());
            raws.push(r.as_secs_f64() * 1e6);
            oks.push(o.as_secs_f64() * 1e6);
        }
        println!(
            "{alg}: raw verify + parse {:>7.1} µs, validate_id_token {:>7.1} µs, ratio {:.3}× (target ≤ 1.2×)",
            median(raws),
            median(oks),
            median(ratios)
        );
    }
}

/// The OpenSSL public key of `key`, through its public JWK (as a validator
/// that caches parsed keys holds it).
fn raw_key(key: &PrivateKey) -> PKey<Public> {
    let jwk = key.public_jwk();
    let b = |name: &str| {
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap()).unwrap()
    };
    match jwk["kty"].as_str().unwrap() {
        "RSA" => PKey::from_rsa(openssl::rsa::Rsa::from_public_components(b("n"), b("e")).unwrap())
            .unwrap(),
        _ => {
            let group =
                openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
            PKey::from_ec_key(
                openssl::ec::EcKey::from_public_key_affine_coordinates(&group, &b("x"), &b("y"))
                    .unwrap(),
            )
            .unwrap()
        }
    }
}

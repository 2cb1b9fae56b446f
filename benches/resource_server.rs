//! The receiving end's costs, each against the least any validator must do
//! (ratios of medians of per-round ratios, both sides alternating in
//! rounds, so a noisy neighbour slows both alike):
//!
//! - a JWT access token with warm keys vs base64url-decoding, one raw
//!   OpenSSL verification and the claims' JSON parse (target ≤ 1.2×);
//! - a DPoP proof vs one raw OpenSSL verification of it (target ≤ 1.2×);
//! - a request with an opaque token whose introspection answer is cached
//!   (target: the cache hit under 200 ns).
//!
//! ```text
//! cargo bench --bench resource_server --features testing,axum
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oidckit::reqwest::header::{HeaderMap, AUTHORIZATION};
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{
    client_credentials_grant, validate_jwt_access_token, verify_dpop_proof, AccessToken,
    AccessTokenChecks, ClientAuth, Configuration, DPoPHandle, DPoPProofChecks, InMemoryReplayCache,
    IncomingRequest, IntrospectionCacheSettings, JwkSet, JwsAlgorithm, ResourceServer, Url,
};
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use serde_json::{json, Value};

const ROUNDS: usize = 15;
const PER_ROUND: usize = 400;
const API: &str = "https://orders.example";

/// One raw ES256 verification of a compact JWS with `key` (the signature
/// converted to DER, as any OpenSSL-based validator must).
fn raw_verify(key: &PKey<Public>, jws: &str) -> bool {
    let (input, s) = jws.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(s).unwrap();
    let r = BigNum::from_slice(&signature[..32]).unwrap();
    let s = BigNum::from_slice(&signature[32..]).unwrap();
    let der = EcdsaSig::from_private_components(r, s)
        .unwrap()
        .to_der()
        .unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), key).unwrap();
    verifier.update(input.as_bytes()).unwrap();
    verifier.verify(&der).unwrap()
}

/// The raw baseline of a token: verify, then parse the claims.
fn raw_token(key: &PKey<Public>, jws: &str) -> Value {
    assert!(raw_verify(key, jws));
    let payload = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn public_key(jwk: &serde_json::Map<String, Value>) -> PKey<Public> {
    let b = |n: &str| {
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(jwk[n].as_str().unwrap()).unwrap()).unwrap()
    };
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec =
        openssl::ec::EcKey::from_public_key_affine_coordinates(&group, &b("x"), &b("y")).unwrap();
    PKey::from_ec_key(ec).unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rounds of `ours` and `baseline` over the same inputs; the median per
/// call of each and the median of the per-round ratios.
fn compare<T>(
    inputs: impl Fn(usize) -> Vec<T>,
    mut ours: impl FnMut(&T),
    mut baseline: impl FnMut(&T),
) -> (f64, f64, f64) {
    let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let batch = inputs(round);
        let started = Instant::now();
        batch.iter().for_each(&mut ours);
        let ours_ns = started.elapsed().as_nanos() as f64 / batch.len() as f64;
        let batch = inputs(round + ROUNDS);
        let started = Instant::now();
        batch.iter().for_each(&mut baseline);
        let base_ns = started.elapsed().as_nanos() as f64 / batch.len() as f64;
        a.push(ours_ns);
        b.push(base_ns);
        ratios.push(ours_ns / base_ns);
    }
    (median(a), median(b), median(ratios))
}

fn main() {
    println!(
        "machine: {} cores; {ROUNDS} rounds × {PER_ROUND} calls per side",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (server, caller) = runtime.block_on(async {
        let server = MockAuthorizationServer::builder()
            .client(MockClient::client_secret_basic("svc", "s"))
            .client(MockClient::client_secret_basic("api", "s"))
            .jwt_access_tokens(API)
            .start()
            .await
            .unwrap();
        let caller = Configuration::builder(
            server.server_metadata(),
            "svc",
            ClientAuth::client_secret_basic("s"),
        )
        .allow_insecure_requests(true)
        .build()
        .unwrap();
        (server, caller)
    });

    // RS_BENCH=opaque runs the last part alone (for a profiler).
    let only_opaque = std::env::var("RS_BENCH").is_ok_and(|v| v == "opaque");
    // A JWT access token with warm keys.
    let (token, dpop) = runtime.block_on(async {
        let dpop = DPoPHandle::generate(&caller, JwsAlgorithm::ES256).unwrap();
        let token = client_credentials_grant(&caller, &[("scope", "orders:read")], Some(&dpop))
            .await
            .unwrap();
        (token.access_token().secret().clone(), dpop)
    });
    let signing = server.signing_key();
    let jwks = JwkSet::from_json(
        json!({"keys": [signing.public_jwk()]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let as_key = public_key(signing.public_jwk());
    let issuer = server.server_metadata().issuer.clone();
    let checks = AccessTokenChecks::new(&issuer, API, SystemTime::now());
    let (ours, raw, ratio) = if only_opaque {
        (0.0, 1.0, 0.0)
    } else {
        compare(
            |_| vec![token.clone(); PER_ROUND],
            |t| {
                black_box(validate_jwt_access_token(t, &jwks, &checks).unwrap());
            },
            |t| {
                black_box(raw_token(&as_key, t));
            },
        )
    };
    println!(
        "JWT access token (ES256), warm keys: {:.1} µs vs raw verify + parse {:.1} µs: {ratio:.3}× (target ≤ 1.2×)",
        ours / 1e3,
        raw / 1e3
    );

    // DPoP proofs: fresh ones (a proof is accepted once), made beforehand.
    let url: Url = format!("{API}/orders").parse().unwrap();
    let access = AccessToken::new(token.clone());
    let proofs = |_| -> Vec<String> {
        (0..PER_ROUND)
            .map(|_| dpop.proof("GET", &url, Some(&access)).unwrap())
            .collect()
    };
    let replay = InMemoryReplayCache::new(ROUNDS * PER_ROUND * 2);
    let client_key = public_key(dpop.key().public_jwk());
    let jkt = dpop.thumbprint().to_owned();
    let (ours, raw, ratio) = if only_opaque {
        (0.0, 1.0, 0.0)
    } else {
        compare(
            proofs,
            |p| {
                let mut checks = DPoPProofChecks::new("GET", &url, SystemTime::now());
                checks.access_token = Some(&token);
                checks.jkt = Some(&jkt);
                black_box(verify_dpop_proof(p, &checks, &replay).unwrap());
            },
            |p| {
                black_box(raw_verify(&client_key, p));
            },
        )
    };
    println!(
        "DPoP proof (ES256): {:.1} µs vs one raw verification {:.1} µs: {ratio:.3}× (target ≤ 1.2×)",
        ours / 1e3,
        raw / 1e3
    );

    // Where a proof's time goes: parsing its key, its thumbprint.
    let jwk = dpop.key().public_jwk().clone();
    let started = Instant::now();
    for _ in 0..2_000 {
        black_box(public_key(&jwk));
    }
    println!(
        "  (a P-256 key from a JWK with OpenSSL's full check: {:.1} µs; the RFC 7638 thumbprint: {:.1} µs)",
        started.elapsed().as_nanos() as f64 / 2_000.0 / 1e3,
        {
            let t = Instant::now();
            for _ in 0..2_000 {
                black_box(oidckit::jwk_thumbprint(&jwk).unwrap());
            }
            t.elapsed().as_nanos() as f64 / 2_000.0 / 1e3
        }
    );

    // An opaque token whose introspection answer is cached.
    let opaque = runtime.block_on(async {
        let server = MockAuthorizationServer::builder()
            .client(MockClient::client_secret_basic("svc", "s"))
            .client(MockClient::client_secret_basic("api", "s"))
            .start()
            .await
            .unwrap();
        let config = |id: &str| {
            Configuration::builder(
                server.server_metadata(),
                id,
                ClientAuth::client_secret_basic("s"),
            )
            .allow_insecure_requests(true)
            .build()
            .unwrap()
        };
        let token = client_credentials_grant(&config("svc"), &[("scope", "orders:read")], None)
            .await
            .unwrap();
        let api = ResourceServer::builder(config("api"), "urn:mock:api")
            .introspect_opaque_tokens(
                IntrospectionCacheSettings::default().max_ttl(Duration::from_secs(3600)),
            )
            .build();
        (server, api, token.access_token().secret().clone())
    });
    let (_opaque_server, api, opaque_token) = opaque;
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        format!("Bearer {opaque_token}").parse().unwrap(),
    );
    let url: Url = "https://api.example/orders".parse().unwrap();
    let request = IncomingRequest::new("GET", &url, &headers);
    runtime.block_on(api.validate_request(&request)).unwrap();
    const N: u32 = 200_000;
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..N {
            black_box(api.validate_request(&request).await.unwrap());
        }
    });
    let per = started.elapsed() / N;
    println!(
        "opaque token, introspection answer cached: validate_request {} ns (target: the cache hit under 200 ns)",
        per.as_nanos()
    );
    let _ = UNIX_EPOCH;
}

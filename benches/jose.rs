//! Cost of building one DPoP proof and one `private_key_jwt` client
//! assertion (target for an ES256 proof: under 100 µs).
//!
//! ```text
//! cargo bench --bench jose
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use oidckit::{
    build_token_request, AccessToken, ClientAuth, Configuration, DPoPHandle, JwsAlgorithm,
    PrivateKey, ServerMetadata, Url,
};

const N: u32 = 5_000;

fn time(label: &str, mut f: impl FnMut()) -> Duration {
    for _ in 0..200 {
        f();
    }
    let started = Instant::now();
    for _ in 0..N {
        f();
    }
    let per = started.elapsed() / N;
    println!("{label:<44} {:>8.1} µs", per.as_secs_f64() * 1e6);
    per
}

fn config(auth: ClientAuth) -> Configuration {
    Configuration::new(
        ServerMetadata::new(
            "https://as.example",
            "https://as.example/token".parse().unwrap(),
        ),
        "bench-client",
        auth,
    )
    .unwrap()
}

fn main() {
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let token_endpoint: Url = "https://as.example/token".parse().unwrap();
    let resource: Url = "https://api.example/items?page=2".parse().unwrap();
    let access_token = AccessToken::new("2YotnFZFEjr1zCsicMWpAA".into());
    for alg in [
        JwsAlgorithm::ES256,
        JwsAlgorithm::EdDSA,
        JwsAlgorithm::PS256,
    ] {
        let dpop = DPoPHandle::generate(&config(ClientAuth::none()), alg).unwrap();
        time(&format!("DPoP proof, token endpoint ({alg})"), || {
            black_box(dpop.proof("POST", &token_endpoint, None).unwrap());
        });
        time(&format!("DPoP proof with ath, resource ({alg})"), || {
            black_box(dpop.proof("GET", &resource, Some(&access_token)).unwrap());
        });
    }
    let mut auths: Vec<(String, ClientAuth)> = [JwsAlgorithm::ES256, JwsAlgorithm::RS256]
        .into_iter()
        .map(|alg| {
            let key = PrivateKey::generate(alg).unwrap().with_kid("k1");
            (
                format!("private_key_jwt ({alg})"),
                ClientAuth::private_key_jwt(key),
            )
        })
        .collect();
    auths.push((
        "client_secret_basic".into(),
        ClientAuth::client_secret_basic("bench-secret"),
    ));
    for (method, auth) in auths {
        let config = config(auth);
        time(&format!("token request with {method}"), || {
            black_box(
                build_token_request(
                    &config.context(),
                    "client_credentials",
                    &[("scope", "read")],
                )
                .unwrap(),
            );
        });
    }
}

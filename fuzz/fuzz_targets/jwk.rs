//! Private JWKs (`PrivateKey::from_jwk_json`) and RFC 7638 thumbprints.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = oidckit::PrivateKey::from_jwk_json(&text) {
        let _ = key.algorithm();
        let _ = key.kid();
        let _ = key.public_jwk().len();
        let _ = key.thumbprint();
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = oidckit::jwk_thumbprint(&map);
    }
});

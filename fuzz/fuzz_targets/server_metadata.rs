//! Discovery documents (`ServerMetadata`'s `Deserialize`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<oidckit::ServerMetadata>(data) {
        let _ = format!("{m:?}");
        let _ = m.get("issuer");
        let _ = serde_json::to_vec(&m);
    }
});

//! Introspection responses (`IntrospectionResponse`'s `Deserialize`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<oidckit::IntrospectionResponse>(data) {
        let _ = format!("{r:?}");
        let _ = serde_json::to_vec(&r);
    }
});

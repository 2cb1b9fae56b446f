//! Stored tokens and raw token responses (`TokenEndpointResponse`'s `Deserialize`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = serde_json::from_slice::<oidckit::TokenEndpointResponse>(data) {
        let _ = format!("{t:?}");
        let _ = t.expires_in();
        let _ = t.access_token().secret().len();
        let _ = serde_json::to_vec(&t);
    }
});

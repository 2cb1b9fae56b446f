//! Protected resource metadata (RFC 9728): `process_resource_discovery_response`
//! on the input as a 200 JSON body, and `ProtectedResourceMetadata`'s
//! `Deserialize`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidckit::reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use oidckit::reqwest::StatusCode;
use oidckit::{
    process_resource_discovery_response, EndpointResponse, ProtectedResourceMetadata, Url,
};

fuzz_target!(|data: &[u8]| {
    let resource: Url = "https://rs.example/api".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let url = "https://rs.example/.well-known/oauth-protected-resource/api"
        .parse()
        .unwrap();
    let response = EndpointResponse::new(url, StatusCode::OK, headers, data.to_vec());
    if let Ok(m) = process_resource_discovery_response(&resource, &response) {
        // Only metadata about the resource asked for is accepted (§3.3).
        assert_eq!(m.resource.parse::<Url>().unwrap(), resource);
    }
    if let Ok(m) = serde_json::from_slice::<ProtectedResourceMetadata>(data) {
        let _ = format!("{m:?}");
        let _ = serde_json::to_vec(&m);
    }
});

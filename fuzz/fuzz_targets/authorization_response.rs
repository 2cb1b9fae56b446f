//! Authorization responses (`validate_authorization_response`,
//! `validate_jwt_authorization_response`): arbitrary bytes as the callback
//! URL's query, its fragment, a form_post body, and a JARM `response`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidckit::{
    validate_authorization_response, validate_jwt_authorization_response, AuthorizationChecks,
    Callback, ClientAuth, ClientMetadata, EndpointContext, JwkSet, ServerMetadata, Url,
};

fuzz_target!(|data: &[u8]| {
    let mut server = ServerMetadata::new(
        "https://as.example",
        "https://as.example/t".parse().unwrap(),
    );
    server.authorization_response_iss_parameter_supported = Some(true);
    let client = ClientMetadata::new("app");
    let auth = ClientAuth::none();
    let ctx = EndpointContext::new(&server, &client, &auth);
    let checks = AuthorizationChecks::new().expected_state("s");
    let base: Url = "https://app.example/cb".parse().unwrap();
    let mut url = base.clone();
    url.set_query(Some(&String::from_utf8_lossy(data)));
    let mut fragment = base.clone();
    fragment.set_fragment(Some(&String::from_utf8_lossy(data)));
    for callback in [
        Callback::from(&url),
        Callback::from(&fragment),
        Callback::form_post(&base, data),
    ] {
        if let Ok(code) = validate_authorization_response(&ctx, callback, &checks) {
            // Accepted only with the expected state and the right issuer.
            assert_eq!(code.state(), Some("s"));
            assert_eq!(code.issuer(), Some("https://as.example"));
            assert!(!code.code().is_empty());
        }
    }
    // A JARM response that is arbitrary text is never accepted: there is
    // no key to verify it with.
    let jwks = JwkSet::from_json(br#"{"keys":[]}"#).unwrap();
    let mut jarm = base.clone();
    jarm.query_pairs_mut()
        .append_pair("response", &String::from_utf8_lossy(data));
    assert!(validate_jwt_authorization_response(
        &ctx,
        (&jarm).into(),
        &jwks,
        &checks.clone().jarm()
    )
    .is_err());
});

//! `WWW-Authenticate` header values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for c in oidckit::parse_www_authenticate(&String::from_utf8_lossy(data)) {
        let _ = c.scheme();
        let _ = c.token68();
        let _ = c.error();
        let _ = c.error_description();
        let _ = c.realm();
        let _ = c.algs();
        let _ = c.params().len();
    }
});

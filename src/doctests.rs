//! The README's and the guides' examples, compiled as doctests: a guide
//! whose code no longer compiles fails the test suite.

#[doc = include_str!("../README.md")]
#[doc = include_str!("../docs/client-authentication.md")]
#[doc = include_str!("../docs/dpop.md")]
#[doc = include_str!("../docs/token-manager.md")]
#[doc = include_str!("../docs/refresh-token.md")]
#[doc = include_str!("../docs/token-exchange.md")]
#[doc = include_str!("../docs/jwt-bearer.md")]
#[doc = include_str!("../docs/generic-grants.md")]
#[doc = include_str!("../docs/introspection.md")]
#[doc = include_str!("../docs/revocation.md")]
#[doc = include_str!("../docs/mtls.md")]
#[doc = include_str!("../docs/low-level.md")]
#[doc = include_str!("../docs/architecture.md")]
#[doc = include_str!("../docs/sign-in.md")]
#[doc = include_str!("../docs/fapi2.md")]
#[doc = include_str!("../docs/par.md")]
#[doc = include_str!("../docs/jar.md")]
#[doc = include_str!("../docs/jarm.md")]
#[doc = include_str!("../docs/device.md")]
#[doc = include_str!("../docs/hybrid-implicit.md")]
struct DocsDoctests;

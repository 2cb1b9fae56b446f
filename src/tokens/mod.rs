//! Endpoints that take a token: introspection (RFC 7662) and revocation
//! (RFC 7009).

pub(crate) mod introspection;

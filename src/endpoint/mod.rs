//! The shared endpoint request path: build a form request, authenticate it,
//! send it through the transport, map the response or the error.

pub(crate) mod request;
pub(crate) mod www_authenticate;

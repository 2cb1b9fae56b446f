//! axum integration (feature `axum`): [`ProtectedRequest`], an extractor
//! that validates the request's token with the application's
//! [`ResourceServer`] or refuses it with the right response, and
//! [`Rejection`] as a response.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{IncomingRequest, Rejection, ResourceServer, ValidatedRequest};

/// A request whose access token [`ResourceServer::validate_request`]
/// accepted. As a handler argument it protects the route: a request
/// without a valid token never reaches the handler, and gets a 401 (or
/// 400) with the RFC 6750 / RFC 9449 challenges instead. The state must
/// give the [`ResourceServer`] (`FromRef`).
///
/// ```
/// use axum::{routing::get, Router};
/// use oidckit::{ProtectedRequest, Rejection, ResourceServer};
///
/// async fn orders(
///     axum::extract::State(api): axum::extract::State<ResourceServer>,
///     request: ProtectedRequest,
/// ) -> Result<String, Rejection> {
///     api.require_scopes(&request, &["orders:read"])?;
///     Ok(format!("orders of {}", request.claims.subject().unwrap_or("?")))
/// }
///
/// fn app(api: ResourceServer) -> Router {
///     Router::new().route("/orders", get(orders)).with_state(api)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedRequest(pub ValidatedRequest);

impl std::ops::Deref for ProtectedRequest {
    type Target = ValidatedRequest;

    fn deref(&self) -> &ValidatedRequest {
        &self.0
    }
}

/// The client certificate of the request's TLS connection (DER or PEM), as
/// a request extension: the TLS acceptor (or a layer reading a terminating
/// proxy's header) inserts it, and [`ProtectedRequest`] checks
/// certificate-bound tokens against it (RFC 8705 §3).
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Vec<u8>);

impl<S> FromRequestParts<S> for ProtectedRequest
where
    ResourceServer: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        let api = ResourceServer::from_ref(state);
        let path = parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |p| p.as_str());
        let url = api.request_url(path)?;
        let mut request = IncomingRequest::new(parts.method.as_str(), &url, &parts.headers);
        if let Some(ClientCertificate(der)) = parts.extensions.get::<ClientCertificate>() {
            request = request.client_certificate(der);
        }
        api.validate_request(&request).await.map(ProtectedRequest)
    }
}

impl AsRef<ValidatedRequest> for ProtectedRequest {
    fn as_ref(&self) -> &ValidatedRequest {
        &self.0
    }
}

impl IntoResponse for Rejection {
    /// The status, the challenges and `DPoP-Nonce`, and a JSON body with
    /// `error` and `error_description` for humans reading logs.
    fn into_response(self) -> Response {
        tracing::debug!(target: "oidckit::resource_server", rejection = %self, "request refused");
        let body = match self.code().as_str() {
            Some(code) => json!({"error": code, "error_description": self.description()}),
            None => json!({"error_description": self.description()}),
        };
        (self.status(), self.headers(), axum::Json(body)).into_response()
    }
}

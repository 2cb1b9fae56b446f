//! [`TokenMiddleware`]: the token manager's tokens on every request of a
//! `reqwest-middleware` client (cargo feature `middleware`).

use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::endpoint::www_authenticate::{asks_for_dpop_nonce, challenges_from_headers};
use crate::error::Error;
use crate::grants::response::TokenEndpointResponse;
use crate::token_manager::TokenManager;

/// A [`reqwest_middleware::Middleware`] that authorizes every request with
/// a token from a [`TokenManager`]: `Authorization: Bearer <token>`, or
/// `Authorization: DPoP <token>` plus a proof bound to the token when the
/// manager has a DPoP handle.
///
/// Tokens are attached only to `https:` URLs (or `http:` ones when the
/// manager's configuration allows insecure requests); others fail with
/// [`ErrorKind::InsecureUrl`](crate::ErrorKind::InsecureUrl). The headers are those
/// of [`TokenManager::authorization_headers`], so a DPoP-bound token on a
/// manager without a DPoP handle fails too.
///
/// On a 401 whose challenge says `invalid_token`, it invalidates that token
/// once and retries once with a new one; on a resource server's
/// `use_dpop_nonce`, it retries once with the nonce. Requests whose body
/// cannot be cloned (streams) are not retried.
///
/// ```no_run
/// use oidckit::{TokenManager, TokenMiddleware};
///
/// # async fn run(tokens: TokenManager) -> Result<(), Box<dyn std::error::Error>> {
/// let client = reqwest_middleware::ClientBuilder::new(oidckit::reqwest::Client::new())
///     .with(TokenMiddleware::new(tokens))
///     .build();
/// let response = client.get("https://api.example.com/items").send().await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TokenMiddleware {
    tokens: TokenManager,
}

impl TokenMiddleware {
    /// A middleware taking tokens from `tokens`.
    pub fn new(tokens: TokenManager) -> Self {
        TokenMiddleware { tokens }
    }

    fn authorize(
        &self,
        mut request: Request,
        token: &TokenEndpointResponse,
    ) -> Result<Request, Error> {
        let headers =
            self.tokens
                .authorization_headers_for(token, request.method(), request.url())?;
        // Replaces any `Authorization` or `DPoP` header the request had.
        request.headers_mut().extend(headers);
        Ok(request)
    }
}

#[async_trait::async_trait]
impl Middleware for TokenMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let retry = request.try_clone();
        let url = request.url().clone();
        let token = self
            .tokens
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let request = self
            .authorize(request, &token)
            .map_err(reqwest_middleware::Error::middleware)?;
        let response = next.clone().run(request, extensions).await?;
        if let Some(dpop) = self.tokens.dpop() {
            dpop.record_nonce(&url, response.headers());
        }
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(retry) = retry else {
            return Ok(response);
        };
        let challenges = challenges_from_headers(response.headers());
        let wants_nonce = asks_for_dpop_nonce(&challenges);
        let invalid_token = challenges
            .iter()
            .any(|c| c.error() == Some("invalid_token"));
        if !(wants_nonce || invalid_token) {
            return Ok(response);
        }
        if invalid_token {
            tracing::debug!(target: "oidckit::token_manager", "resource server rejected the token; retrying once with a new one");
            self.tokens
                .invalidate_token(token.access_token().secret())
                .await;
        }
        let token = self
            .tokens
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let retry = self
            .authorize(retry, &token)
            .map_err(reqwest_middleware::Error::middleware)?;
        let response = next.run(retry, extensions).await?;
        if let Some(dpop) = self.tokens.dpop() {
            dpop.record_nonce(&url, response.headers());
        }
        Ok(response)
    }
}

//! Token exchange ([RFC 8693](https://www.rfc-editor.org/rfc/rfc8693)).

use std::fmt;

use super::response::TokenEndpointResponse;
use super::{checked_grant, ResponseCheck};
use crate::config::Configuration;
use crate::dpop::DPoPHandle;
use crate::error::{Error, Result};
use crate::options::Call;

/// The `grant_type` of token exchange (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token type identifiers (RFC 8693 §3).
pub mod token_types {
    /// An OAuth 2.0 access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth 2.0 refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect ID Token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A JWT.
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
    /// A SAML 1.1 assertion.
    pub const SAML1: &str = "urn:ietf:params:oauth:token-type:saml1";
    /// A SAML 2.0 assertion.
    pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";
}

/// The parameters of a token exchange request (RFC 8693 §2.1). `Debug`
/// redacts the tokens.
///
/// ```
/// use oidckit::{token_types, TokenExchange};
///
/// let exchange = TokenExchange::new("subject-token", token_types::ACCESS_TOKEN)
///     .audience("https://backend.example.com")
///     .scope("read");
/// assert!(!format!("{exchange:?}").contains("subject-token"));
/// ```
#[derive(Clone, Default)]
#[must_use]
#[non_exhaustive]
pub struct TokenExchange {
    /// The token that represents the party on whose behalf the request is made.
    pub subject_token: String,
    /// Its type, e.g. [`token_types::ACCESS_TOKEN`].
    pub subject_token_type: String,
    /// The token of the acting party (delegation), if any.
    pub actor_token: Option<String>,
    /// Its type (required with an actor token).
    pub actor_token_type: Option<String>,
    /// The type of token wanted.
    pub requested_token_type: Option<String>,
    /// Logical names of the target services (repeatable).
    pub audience: Vec<String>,
    /// URIs of the target services (RFC 8707; repeatable).
    pub resource: Vec<String>,
    /// The scope wanted.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("subject_token", &"[redacted]")
            .field("subject_token_type", &self.subject_token_type)
            .field(
                "actor_token",
                &self.actor_token.as_ref().map(|_| "[redacted]"),
            )
            .field("actor_token_type", &self.actor_token_type)
            .field("requested_token_type", &self.requested_token_type)
            .field("audience", &self.audience)
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenExchange {
    /// An exchange of `subject_token` of type `subject_token_type`.
    pub fn new(subject_token: impl Into<String>, subject_token_type: impl Into<String>) -> Self {
        TokenExchange {
            subject_token: subject_token.into(),
            subject_token_type: subject_token_type.into(),
            ..Default::default()
        }
    }

    /// The acting party's token and its type.
    pub fn actor(mut self, token: impl Into<String>, token_type: impl Into<String>) -> Self {
        self.actor_token = Some(token.into());
        self.actor_token_type = Some(token_type.into());
        self
    }

    /// The type of token wanted.
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// Adds an `audience`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience.push(audience.into());
        self
    }

    /// Adds a `resource`.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource.push(resource.into());
        self
    }

    /// The scope wanted.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
}

/// Token exchange (RFC 8693 §2): a token for another audience, or on behalf
/// of another party. The response's `issued_token_type` is
/// [`TokenEndpointResponse::issued_token_type`]; its `token_type` may be
/// `N_A` when the issued token is not an access token.
pub fn token_exchange<'a>(
    config: &'a Configuration,
    exchange: &TokenExchange,
    dpop: Option<&'a DPoPHandle>,
) -> Call<'a, TokenEndpointResponse> {
    // RFC 8693 §2.1: a subject token and its type are required; an actor
    // token's type is required with it and forbidden without it.
    if exchange.subject_token.is_empty() || exchange.subject_token_type.is_empty() {
        return Call::fail(Error::invalid_input(
            "subject_token and subject_token_type must not be empty",
        ));
    }
    if exchange.actor_token.is_some() != exchange.actor_token_type.is_some() {
        return Call::fail(Error::invalid_input(
            "actor_token and actor_token_type go together",
        ));
    }
    let mut owned: Vec<(&'static str, &str)> = vec![
        ("subject_token", &exchange.subject_token),
        ("subject_token_type", &exchange.subject_token_type),
    ];
    let optional = [
        ("actor_token", &exchange.actor_token),
        ("actor_token_type", &exchange.actor_token_type),
        ("requested_token_type", &exchange.requested_token_type),
        ("scope", &exchange.scope),
    ];
    owned.extend(
        optional
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))),
    );
    owned.extend(exchange.audience.iter().map(|a| ("audience", a.as_str())));
    owned.extend(exchange.resource.iter().map(|r| ("resource", r.as_str())));
    checked_grant(
        config,
        TOKEN_EXCHANGE_GRANT_TYPE,
        &owned,
        std::iter::empty::<(&str, &str)>(),
        dpop,
        ResponseCheck::Rule(issued_token_type_required),
    )
}

/// RFC 8693 §2.2.1: `issued_token_type` is required in the response.
fn issued_token_type_required(token: &TokenEndpointResponse) -> Result<()> {
    if token.issued_token_type().is_none_or(str::is_empty) {
        return Err(Error::invalid_response(
            "the token exchange response has no issued_token_type",
        ));
    }
    Ok(())
}

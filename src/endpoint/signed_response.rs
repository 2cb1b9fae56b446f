//! Signed responses: an endpoint that answers JSON, or a JWT signed with the
//! server's keys when the client registered an algorithm for it — userinfo
//! (`userinfo_signed_response_alg`, OIDC Core §5.3.2) and introspection
//! (`introspection_signed_response_alg`, RFC 9701). Each is described as
//! data ([`SignedResponse`]); the checks are the same: the media type, the
//! `alg` rule, the key from the server's JWK Set, the signature, `typ`,
//! `iss` and `aud`.

use std::sync::Arc;

use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::config::client_metadata::ClientMetadata;
use crate::config::metadata::ServerMetadata;
use crate::config::Configuration;
use crate::endpoint::EndpointContext;
use crate::error::{Error, ErrorKind, Result};
use crate::jose::jwt::{self, SignedJwt};
use crate::jose::{JwkSet, JwsAlgorithm};
use crate::transport::{self, EndpointResponse};

/// An endpoint's signed response form, as data.
pub(crate) struct SignedResponse {
    /// The response's name in errors, e.g. "the userinfo response".
    pub what: &'static str,
    /// The media type of the JWT form, e.g. `application/jwt`.
    pub media_type: &'static str,
    /// The `typ` the JWT header must have, if any (RFC 9701 §5).
    pub typ: Option<&'static str>,
    /// The client metadata member registering the algorithm.
    pub registered_name: &'static str,
    /// Its value.
    pub registered: fn(&ClientMetadata) -> Option<&str>,
    /// The server metadata member listing the algorithms it signs with.
    pub supported: fn(&ServerMetadata) -> Option<&[String]>,
    /// Whether `iss`, `aud` and `iat` are required (RFC 9701 §5), or only
    /// checked when present (OIDC Core §5.3.2).
    pub claims_required: bool,
}

/// A response body, as sent.
pub(crate) enum Body {
    /// A JWT's verified claims.
    Jwt(Map<String, Value>),
    /// A JSON object.
    Json(Map<String, Value>),
}

impl SignedResponse {
    /// Whether the response has the JWT form's media type (its essence,
    /// parameters such as `charset` ignored).
    pub(crate) fn is_jwt(&self, response: &EndpointResponse) -> bool {
        response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(self.media_type))
    }

    /// Whether the client registered an algorithm: it then asks for the JWT
    /// form, and an unsigned answer is refused.
    pub(crate) fn is_registered(&self, ctx: &EndpointContext<'_>) -> bool {
        (self.registered)(ctx.client).is_some()
    }

    /// The body of a successful response: a JWT of the media type verified
    /// with a key of `jwks`, or a JSON object — refused when the client
    /// registered an algorithm (an unsigned answer could come from anyone
    /// on the path).
    pub(crate) fn body(
        &self,
        ctx: &EndpointContext<'_>,
        response: &EndpointResponse,
        jwks: Option<&JwkSet>,
    ) -> Result<Body> {
        if self.is_jwt(response) {
            let jwks = jwks.ok_or_else(|| {
                Error::invalid_input(format!(
                    "{} is signed: it needs the server's JWK Set",
                    self.what
                ))
            })?;
            return self.verified_claims(ctx, response, jwks).map(Body::Jwt);
        }
        if self.is_registered(ctx) {
            return Err(Error::invalid_response(format!(
                "{} is not a JWT ({}), but the client registered {}",
                self.what, self.media_type, self.registered_name
            )));
        }
        transport::json_object(response.headers(), response.body()).map(Body::Json)
    }

    /// Decodes the JWT of `response` and checks its header: `alg` (the
    /// registered one, else one the server lists, else RS256; never `none`
    /// or an HMAC) and `typ`.
    fn decode<'r>(
        &self,
        ctx: &EndpointContext<'_>,
        response: &'r EndpointResponse,
    ) -> Result<SignedJwt<'r>> {
        let text = std::str::from_utf8(response.body())
            .map_err(|_| Error::invalid_response(format!("{} is not UTF-8", self.what)))?;
        let decoded = jwt::decode(text.trim(), self.what)?;
        jwt::check_allowed_algorithm(
            ctx,
            decoded.alg,
            (self.registered)(ctx.client),
            (self.supported)(ctx.server),
            self.what,
        )?;
        if let Some(expected) = self.typ {
            decoded.check_type(&[expected], self.what, "RFC 9701 §5")?;
        }
        Ok(decoded)
    }

    /// The claims of a JWT response: the header, the signature with a key
    /// of `jwks`, then `iss` (the issuer), `aud` (containing the client)
    /// and `iat` (a number).
    fn verified_claims(
        &self,
        ctx: &EndpointContext<'_>,
        response: &EndpointResponse,
        jwks: &JwkSet,
    ) -> Result<Map<String, Value>> {
        let decoded = self.decode(ctx, response)?;
        let key = jwks.select(decoded.alg, decoded.kid.as_deref())?;
        decoded.verify(key, self.what)?;
        let claims = decoded.claims;
        let what = self.what;
        let mismatch = |m: String| Error::new(ErrorKind::ClaimComparison, m);
        let missing = |claim: &str| mismatch(format!("{what} has no `{claim}` claim"));
        match claims.get("iss") {
            Some(iss) if iss.as_str() != Some(ctx.server.issuer.as_str()) => {
                return Err(mismatch(format!("{what}'s `iss` is not the issuer")))
            }
            None if self.claims_required => return Err(missing("iss")),
            _ => {}
        }
        let client_id = ctx.client.client_id.as_str();
        match claims.get("aud") {
            Some(Value::String(aud)) if aud == client_id => {}
            Some(Value::Array(list)) if list.iter().any(|a| a.as_str() == Some(client_id)) => {}
            Some(_) => {
                return Err(mismatch(format!(
                    "{what}'s `aud` does not contain this client's id"
                )))
            }
            None if self.claims_required => return Err(missing("aud")),
            None => {}
        }
        if self.claims_required && !claims.get("iat").is_some_and(Value::is_number) {
            return Err(missing("iat"));
        }
        Ok(claims)
    }
}

/// The server's JWK Set from `config`'s cache, holding the key of a JWT
/// `response` (`None` when the response is not a successful JWT): what
/// the process function of a signed response needs.
pub(crate) async fn keys(
    config: &Configuration,
    signed: &SignedResponse,
    response: &EndpointResponse,
) -> Result<Option<Arc<JwkSet>>> {
    if response.status() != StatusCode::OK || !signed.is_jwt(response) {
        return Ok(None);
    }
    let with_context = |e: Error| e.with_response_context(response.url(), response.status());
    let (alg, kid): (JwsAlgorithm, Option<String>) = {
        let decoded = signed
            .decode(&config.context(), response)
            .map_err(with_context)?;
        (decoded.alg, decoded.kid)
    };
    // A failed fetch of the JWK Set names its own URL; a key the set lacks
    // is this response's fault.
    crate::jwks::keys_for(config, alg, kid.as_deref())
        .await
        .map(Some)
        .map_err(with_context)
}

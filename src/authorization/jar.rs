//! JWT-Secured Authorization Requests ([RFC 9101](https://www.rfc-editor.org/rfc/rfc9101)):
//! the authorization parameters signed by the client, so that nothing on
//! the way through the browser can change them.

use serde_json::{Map, Value};
use url::Url;

use super::{authorization_endpoint, refuse_without_par, with_defaults};
use crate::clock::unix_seconds;
use crate::config::Configuration;
use crate::endpoint::request::FormParam;
use crate::endpoint::EndpointContext;
use crate::error::{Error, Result};
use crate::jose::{random_b64url, PrivateKey};

/// How long a request object is valid (openid-client's default; the FAPI
/// 2.0 profile's maximum).
const LIFETIME_SECONDS: u64 = 60;

/// The `typ` of a request object (RFC 9101 §10.8).
const TYP: &str = "oauth-authz-req+jwt";

/// Signs the authorization parameters as a request object (RFC 9101 §4):
/// header `typ: oauth-authz-req+jwt` and `key`'s `alg` (and `kid`); claims
/// the parameters (with `response_type=code` and the one registered
/// `redirect_uri` added as [`build_authorization_url`](crate::build_authorization_url)
/// adds them; `max_age` as a number, `claims` as a JSON object), plus
/// `client_id`, `iss` (the client), `aud` (the issuer), `jti`, `iat`,
/// `nbf` and `exp` (60 s later).
///
/// `key`'s algorithm must be the client's `request_object_signing_alg`
/// when it registered one. Send the result as the `request` parameter,
/// alone ([`build_authorization_url_with_jar`]) or pushed
/// ([`build_authorization_url_with_par`](crate::build_authorization_url_with_par)
/// with `[("request", &object)]`).
pub fn build_request_object<I>(
    ctx: &EndpointContext<'_>,
    params: I,
    key: &PrivateKey,
) -> Result<String>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    if let Some(registered) = ctx.client.request_object_signing_alg.as_deref() {
        if registered != key.algorithm().name() {
            return Err(Error::invalid_input(format!(
                "the client registered request_object_signing_alg {registered:?}, but the key is {}",
                key.algorithm()
            )));
        }
    }
    if ctx.fapi2 && !crate::fapi::ALGORITHMS.contains(&key.algorithm()) {
        return Err(Error::invalid_input(format!(
            "the FAPI 2.0 Security Profile is on: request objects are signed with PS256, ES256 or EdDSA, not {}",
            key.algorithm()
        )));
    }
    let params = with_defaults(ctx, params, false)?;
    if let Some((name, _)) = params
        .iter()
        .find(|(n, _)| n == "request" || n == "request_uri")
    {
        return Err(Error::invalid_input(format!(
            "`{name}` cannot be inside a request object (RFC 9101 §4)"
        )));
    }
    let mut claims = Map::new();
    for (name, value) in params {
        let value = match name.as_str() {
            // Numbers and objects in their JSON form, as openid-client sends them.
            "max_age" => value
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or(Value::String(value)),
            "claims" => serde_json::from_str::<Map<String, Value>>(&value)
                .map(Value::Object)
                .unwrap_or(Value::String(value)),
            _ => Value::String(value),
        };
        claims.insert(name, value);
    }
    let now = unix_seconds(ctx.now());
    let client_id = ctx.client.client_id.as_str();
    claims.insert("client_id".into(), client_id.into());
    claims.insert("iss".into(), client_id.into());
    claims.insert("aud".into(), ctx.server.issuer.clone().into());
    claims.insert("jti".into(), random_b64url(32)?.into());
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("exp".into(), (now + LIFETIME_SECONDS).into());
    key.sign_jwt(Some(TYP), &[], claims)
}

/// The URL to send the browser to with the parameters signed as a request
/// object (RFC 9101 §5.1): the `authorization_endpoint` with `client_id`
/// and `request` only. See [`build_request_object`].
///
/// ```
/// use oidckit::{build_authorization_url_with_jar, ClientAuth, Configuration, JwsAlgorithm,
///     PrivateKey, ServerMetadata};
///
/// let mut server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// server.authorization_endpoint = Some("https://as.example/authorize".parse()?);
/// let key = PrivateKey::generate(JwsAlgorithm::ES256)?;
/// let config = Configuration::new(server, "app", ClientAuth::private_key_jwt(key.clone()))?;
/// let url = build_authorization_url_with_jar(&config, &[
///     ("redirect_uri", "https://app.example/cb"),
///     ("scope", "openid"),
/// ], &key)?;
/// let names: Vec<_> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
/// assert_eq!(names, ["client_id", "request"]);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_authorization_url_with_jar<I>(
    config: &Configuration,
    params: I,
    key: &PrivateKey,
) -> Result<Url>
where
    I: IntoIterator,
    I::Item: FormParam,
{
    let ctx = config.context();
    refuse_without_par(
        &ctx,
        "build_authorization_url_with_par with the request object as `request`",
    )?;
    let mut url = authorization_endpoint(&ctx)?.clone();
    let object = build_request_object(&ctx, params, key)?;
    url.query_pairs_mut()
        .append_pair("client_id", config.client_id().as_str())
        .append_pair("request", &object);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::JwkSet;
    use crate::{ClientAuth, ClientMetadata, ErrorKind, JwsAlgorithm, ServerMetadata};
    use serde_json::json;

    #[test]
    fn a_request_object_has_the_rfc_9101_claims_and_verifies() {
        let server = ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        let mut client = ClientMetadata::new("app");
        client.redirect_uris = Some(vec!["https://app.example/cb".into()]);
        let key = PrivateKey::generate(JwsAlgorithm::PS256)
            .unwrap()
            .with_kid("rk");
        let auth = ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let object = build_request_object(
            &ctx,
            [
                ("scope", "openid"),
                ("max_age", "300"),
                ("claims", r#"{"id_token":{"acr":null}}"#),
            ],
            &key,
        )
        .unwrap();
        let jwt = crate::jose::jwt::decode(&object, "the request object").unwrap();
        let jwks = JwkSet::from_json(json!({ "keys": [key.public_jwk()] }).to_string().as_bytes())
            .unwrap();
        jwt.verify(jwks.select(JwsAlgorithm::PS256, Some("rk")).unwrap(), "it")
            .unwrap();
        let c = &jwt.claims;
        assert_eq!(c["iss"], "app");
        assert_eq!(c["client_id"], "app");
        assert_eq!(c["aud"], "https://as.example");
        assert_eq!(c["response_type"], "code");
        assert_eq!(c["redirect_uri"], "https://app.example/cb");
        assert_eq!(c["max_age"], 300);
        assert_eq!(c["claims"]["id_token"], json!({"acr": null}));
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
        assert_eq!(c["nbf"], c["iat"]);
        assert!(c["jti"].as_str().unwrap().len() >= 43);
        let header: Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                object.split('.').next().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], "oauth-authz-req+jwt");
        assert_eq!(header["alg"], "PS256");

        // Nesting and the registered algorithm are enforced.
        let e = build_request_object(&ctx, [("request_uri", "urn:x")], &key).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        client.request_object_signing_alg = Some("ES256".into());
        let ctx = EndpointContext::new(&server, &client, &auth);
        let e = build_request_object(&ctx, [("scope", "openid")], &key).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}

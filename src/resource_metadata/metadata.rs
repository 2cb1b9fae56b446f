//! The protected resource metadata document
//! ([RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2)).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use url::Url;

use crate::client_auth::ClientAuth;
use crate::config::discovery::{discovery_of, Discovery};
use crate::error::{Error, ErrorKind};
use crate::DiscoveryAlgorithm;

/// What a protected resource (an API) publishes about itself: every member
/// registered by [RFC 9728 §2](https://www.rfc-editor.org/rfc/rfc9728#section-2).
///
/// `resource` is required. Unlike [`ServerMetadata`](crate::ServerMetadata),
/// reading is strict: a registered member of the wrong type (a string where
/// a list is due, a relative URL) makes the whole document invalid, since a
/// client acts on these members (which servers to trust, how to send
/// tokens). Unknown members, and language-tagged ones such as
/// `resource_name#fr` (§2.1), are kept in [`extra`](Self::extra).
///
/// ```
/// use oidckit::ProtectedResourceMetadata;
///
/// let metadata: ProtectedResourceMetadata = serde_json::from_str(r#"{
///     "resource": "https://api.example.com",
///     "authorization_servers": ["https://as.example.com"],
///     "scopes_supported": ["read", "write"],
///     "bearer_methods_supported": ["header"]
/// }"#)?;
/// assert_eq!(metadata.authorization_servers.unwrap()[0].as_str(), "https://as.example.com/");
///
/// // By hand (a test, a resource server publishing its own):
/// let mut mine = ProtectedResourceMetadata::new("https://api.example.com");
/// mine.scopes_supported = Some(vec!["read".into()]);
/// assert!(serde_json::from_str::<ProtectedResourceMetadata>(r#"{"resource": 42}"#).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The resource identifier (§1.2): an `https:` URL without a fragment.
    /// Kept as sent; a fetched document's is the resource asked for (§3.3).
    #[serde(deserialize_with = "non_empty")]
    pub resource: String,
    /// Issuer identifiers of the authorization servers whose tokens the
    /// resource accepts (RFC 8414 issuers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_servers: Option<Vec<Url>>,
    /// URL of the resource's JWK Set (for signed responses, §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<Url>,
    /// Scopes used in authorization requests for this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// How the resource takes a bearer token: `header`, `body`, `query`
    /// (RFC 6750 §2); an empty list means none is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_methods_supported: Option<Vec<String>>,
    /// JWS algorithms the resource signs its responses with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_signing_alg_values_supported: Option<Vec<String>>,
    /// A human-readable name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// URL of human-readable documentation for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<Url>,
    /// URL of the resource's policy on how clients may use its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<Url>,
    /// URL of the resource's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<Url>,
    /// Whether the resource takes certificate-bound access tokens (RFC 8705).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// `authorization_details` types the resource understands (RFC 9396).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details_types_supported: Option<Vec<String>>,
    /// JWS algorithms the resource accepts for DPoP proofs (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// Whether the resource takes DPoP-bound access tokens only (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens_required: Option<bool>,
    /// Signed metadata (§2.2), as the raw JWT; not verified by this crate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<String>,
    /// Every other member, by name.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Err(serde::de::Error::custom("`resource` is empty"));
    }
    Ok(s)
}

impl ProtectedResourceMetadata {
    /// Metadata naming only the resource.
    pub fn new(resource: impl Into<String>) -> Self {
        ProtectedResourceMetadata {
            resource: resource.into(),
            ..Default::default()
        }
    }

    /// The next step after finding the resource's metadata: discovery of
    /// the first of its [`authorization_servers`](Self::authorization_servers),
    /// at the RFC 8414 well-known URL (RFC 9728 §2 names RFC 8414 issuers;
    /// [`algorithm`](Discovery::algorithm) switches to OpenID Connect's). It
    /// fails when awaited with [`ErrorKind::MissingMetadata`] if none is
    /// listed. Ask the server for a token for this resource with a
    /// `resource` parameter (RFC 8707) of [`resource`](Self::resource).
    ///
    /// ```no_run
    /// use oidckit::{client_credentials_grant, discover_protected_resource, ClientAuth};
    ///
    /// # async fn run() -> Result<(), oidckit::Error> {
    /// let api = discover_protected_resource("https://api.example.com").await?;
    /// let config = api.discovery("my-service", ClientAuth::client_secret_basic("s3cr3t")).await?;
    /// let token = client_credentials_grant(&config, &[("resource", api.resource.as_str())], None).await?;
    /// # Ok(()) }
    /// ```
    pub fn discovery(&self, client_id: impl Into<String>, auth: ClientAuth) -> Discovery {
        let issuer = self
            .authorization_servers
            .as_ref()
            .and_then(|servers| servers.first())
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::MissingMetadata,
                    format!(
                        "the protected resource metadata of {:?} lists no authorization_servers",
                        crate::error::server_text(&self.resource, 256)
                    ),
                )
            });
        discovery_of(issuer, client_id.into(), auth).algorithm(DiscoveryAlgorithm::OAuth2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: &str) -> serde_json::Result<ProtectedResourceMetadata> {
        serde_json::from_str(doc)
    }

    #[test]
    fn every_registered_member_is_typed_and_the_rest_kept() {
        let m = parse(
            r#"{
            "resource": "https://api.example/v1",
            "authorization_servers": ["https://as.example", "https://other.example/t"],
            "jwks_uri": "https://api.example/jwks",
            "scopes_supported": ["read"],
            "bearer_methods_supported": ["header", "body"],
            "resource_signing_alg_values_supported": ["ES256"],
            "resource_name": "API", "resource_name#fr": "L'API",
            "resource_documentation": "https://api.example/docs",
            "resource_policy_uri": "https://api.example/policy",
            "resource_tos_uri": "https://api.example/tos",
            "tls_client_certificate_bound_access_tokens": true,
            "authorization_details_types_supported": ["payment"],
            "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
            "dpop_bound_access_tokens_required": false,
            "signed_metadata": "eyJ.x.y",
            "x_vendor": {"on": true}
        }"#,
        )
        .unwrap();
        assert_eq!(m.resource, "https://api.example/v1");
        assert_eq!(m.authorization_servers.as_ref().unwrap().len(), 2);
        assert_eq!(m.jwks_uri.as_ref().unwrap().path(), "/jwks");
        assert_eq!(m.bearer_methods_supported.as_ref().unwrap()[1], "body");
        assert_eq!(m.resource_name.as_deref(), Some("API"));
        assert_eq!(m.extra["resource_name#fr"], "L'API");
        assert_eq!(m.extra["x_vendor"]["on"], true);
        assert_eq!(m.tls_client_certificate_bound_access_tokens, Some(true));
        assert_eq!(m.dpop_bound_access_tokens_required, Some(false));
        assert_eq!(m.signed_metadata.as_deref(), Some("eyJ.x.y"));
        let back: ProtectedResourceMetadata =
            serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn registered_members_of_the_wrong_type_are_refused() {
        for doc in [
            r#"{}"#,
            r#"{"resource": ""}"#,
            r#"{"resource": 1}"#,
            r#"{"resource": "https://api.example", "authorization_servers": "https://as.example"}"#,
            r#"{"resource": "https://api.example", "authorization_servers": ["/relative"]}"#,
            r#"{"resource": "https://api.example", "authorization_servers": [1]}"#,
            r#"{"resource": "https://api.example", "jwks_uri": ""}"#,
            r#"{"resource": "https://api.example", "scopes_supported": "read"}"#,
            r#"{"resource": "https://api.example", "dpop_bound_access_tokens_required": "true"}"#,
            r#"{"resource": "https://api.example", "resource_name": ["a"]}"#,
            r#"{"resource": "https://api.example", "signed_metadata": {}}"#,
        ] {
            assert!(parse(doc).is_err(), "{doc}");
        }
        // Absent and null are the same.
        let m = parse(r#"{"resource": "https://api.example", "jwks_uri": null}"#).unwrap();
        assert!(m.jwks_uri.is_none() && m.authorization_servers.is_none());
    }
}

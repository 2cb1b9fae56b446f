//! Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0).
//!
//! Every registered member is a typed field; members this crate does not know
//! are kept in `extra` and readable by name, so nothing a server publishes is
//! lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use url::Url;

/// Deserializes an optional URL, reading an empty string as absent (some
/// servers publish `""` for endpoints they do not have).
fn opt_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => Url::parse(&s)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("invalid URL {s:?}: {e}"))),
    }
}

macro_rules! server_metadata {
    (
        urls { $( $(#[$um:meta])* $u:ident ),* $(,)? }
        lists { $( $(#[$lm:meta])* $l:ident ),* $(,)? }
        flags { $( $(#[$fm:meta])* $f:ident ),* $(,)? }
    ) => {
        /// Authorization server metadata: every member registered by
        /// [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2) and
        /// [OpenID Connect Discovery 1.0 §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata),
        /// plus `mtls_endpoint_aliases` (RFC 8705) and
        /// `dpop_signing_alg_values_supported` (RFC 9449).
        ///
        /// Only `issuer` is required, so a machine-to-machine server without an
        /// `authorization_endpoint` parses. Unknown members are kept in
        /// [`extra`](ServerMetadata::extra).
        ///
        /// ```
        /// use oidckit::ServerMetadata;
        ///
        /// // From a document (discovery does this), …
        /// let metadata: ServerMetadata = serde_json::from_str(
        ///     r#"{"issuer":"https://as.example.com","token_endpoint":"https://as.example.com/token"}"#,
        /// )?;
        /// // … or by hand: the constructor, then any member.
        /// let mut by_hand = ServerMetadata::new("https://as.example.com", "https://as.example.com/token".parse()?);
        /// by_hand.introspection_endpoint = Some("https://as.example.com/introspect".parse()?);
        /// assert_eq!(metadata.token_endpoint, by_hand.token_endpoint);
        /// # Ok::<_, Box<dyn std::error::Error>>(())
        /// ```
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(try_from = "Map<String, Value>")]
        #[non_exhaustive]
        pub struct ServerMetadata {
            /// The issuer identifier (an `https:` URL without query or fragment).
            pub issuer: String,
            $(
                $(#[$um])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $u: Option<Url>,
            )*
            $(
                $(#[$lm])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $l: Option<Vec<String>>,
            )*
            $(
                $(#[$fm])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $f: Option<bool>,
            )*
            /// Alternative endpoints for mutual-TLS clients
            /// ([RFC 8705 §5](https://www.rfc-editor.org/rfc/rfc8705#section-5)).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub mtls_endpoint_aliases: Option<MtlsEndpointAliases>,
            /// Signed metadata (RFC 8414 §2.1), as the raw JWT.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub signed_metadata: Option<String>,
            /// Every member this crate does not model, by name, and every
            /// modelled member whose value could not be read (kept as sent).
            #[serde(flatten)]
            pub extra: BTreeMap<String, Value>,
        }

        /// Reads a metadata document. Strict where the client depends on a
        /// member (`issuer`, `token_endpoint`, `mtls_endpoint_aliases`);
        /// lenient elsewhere, as openid-client is: a malformed optional
        /// member (a relative `op_tos_uri`, `"true"` as a string) is kept in
        /// `extra` as sent instead of failing discovery.
        impl TryFrom<Map<String, Value>> for ServerMetadata {
            type Error = String;

            fn try_from(mut map: Map<String, Value>) -> Result<Self, String> {
                let issuer = match map.remove("issuer") {
                    Some(Value::String(s)) if !s.is_empty() => s,
                    _ => return Err("`issuer` is missing or not a non-empty string".into()),
                };
                let mut unread = Map::new();
                $( let $u = take_url(&mut map, stringify!($u), &mut unread)?; )*
                $( let $l = take::<Vec<String>>(&mut map, stringify!($l), &mut unread); )*
                $( let $f = take::<bool>(&mut map, stringify!($f), &mut unread); )*
                let mtls_endpoint_aliases = match map.remove("mtls_endpoint_aliases") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(serde_json::from_value(v).map_err(|e| {
                        format!("invalid mtls_endpoint_aliases: {e}")
                    })?),
                };
                let signed_metadata = take::<String>(&mut map, "signed_metadata", &mut unread);
                let mut extra: BTreeMap<String, Value> = map.into_iter().collect();
                extra.extend(unread);
                Ok(ServerMetadata {
                    issuer,
                    $( $u, )*
                    $( $l, )*
                    $( $f, )*
                    mtls_endpoint_aliases,
                    signed_metadata,
                    extra,
                })
            }
        }
    };
}

/// Members whose value the client needs: a bad one fails discovery.
const STRICT_URLS: [&str; 1] = ["token_endpoint"];

/// Takes a URL member; an empty string is absent (some servers publish `""`
/// for endpoints they do not have).
fn take_url(
    map: &mut Map<String, Value>,
    name: &str,
    unread: &mut Map<String, Value>,
) -> Result<Option<Url>, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => match Url::parse(&s) {
            Ok(url) => Ok(Some(url)),
            Err(e) if STRICT_URLS.contains(&name) => Err(format!("invalid {name} {s:?}: {e}")),
            Err(_) => {
                unread.insert(name.to_owned(), Value::String(s));
                Ok(None)
            }
        },
        Some(_) if STRICT_URLS.contains(&name) => Err(format!("{name} is not a string")),
        Some(other) => {
            unread.insert(name.to_owned(), other);
            Ok(None)
        }
    }
}

/// Takes a member of type `T`, or keeps it in `unread` if it is not one.
fn take<T: serde::de::DeserializeOwned>(
    map: &mut Map<String, Value>,
    name: &str,
    unread: &mut Map<String, Value>,
) -> Option<T> {
    match map.remove(name) {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value(v.clone()) {
            Ok(t) => Some(t),
            Err(_) => {
                unread.insert(name.to_owned(), v);
                None
            }
        },
    }
}

server_metadata! {
    urls {
        /// URL of the authorization endpoint.
        authorization_endpoint,
        /// URL of the token endpoint.
        token_endpoint,
        /// URL of the server's JWK Set.
        jwks_uri,
        /// URL of the dynamic client registration endpoint (RFC 7591).
        registration_endpoint,
        /// URL of human-readable documentation.
        service_documentation,
        /// URL of the server's policy on how clients may use data.
        op_policy_uri,
        /// URL of the server's terms of service.
        op_tos_uri,
        /// URL of the revocation endpoint (RFC 7009).
        revocation_endpoint,
        /// URL of the introspection endpoint (RFC 7662).
        introspection_endpoint,
        /// URL of the device authorization endpoint (RFC 8628).
        device_authorization_endpoint,
        /// URL of the pushed authorization request endpoint (RFC 9126).
        pushed_authorization_request_endpoint,
        /// URL of the CIBA backchannel authentication endpoint.
        backchannel_authentication_endpoint,
        /// URL of the UserInfo endpoint (OpenID Connect).
        userinfo_endpoint,
        /// URL of the RP-initiated logout endpoint (OpenID Connect RP-Initiated Logout).
        end_session_endpoint,
        /// URL of the session-management iframe (OpenID Connect Session Management).
        check_session_iframe,
    }
    lists {
        /// Supported `scope` values.
        scopes_supported,
        /// Supported `response_type` values.
        response_types_supported,
        /// Supported `response_mode` values.
        response_modes_supported,
        /// Supported grant types.
        grant_types_supported,
        /// Client authentication methods at the token endpoint.
        token_endpoint_auth_methods_supported,
        /// JWS algorithms for JWT client authentication at the token endpoint.
        token_endpoint_auth_signing_alg_values_supported,
        /// Supported UI locales.
        ui_locales_supported,
        /// Client authentication methods at the revocation endpoint.
        revocation_endpoint_auth_methods_supported,
        /// JWS algorithms for JWT client authentication at the revocation endpoint.
        revocation_endpoint_auth_signing_alg_values_supported,
        /// Client authentication methods at the introspection endpoint.
        introspection_endpoint_auth_methods_supported,
        /// JWS algorithms for JWT client authentication at the introspection endpoint.
        introspection_endpoint_auth_signing_alg_values_supported,
        /// Supported PKCE code challenge methods (RFC 7636).
        code_challenge_methods_supported,
        /// JWS algorithms the server accepts for DPoP proofs (RFC 9449 §5.1).
        dpop_signing_alg_values_supported,
        /// Supported `authorization_details` types (RFC 9396).
        authorization_details_types_supported,
        /// Supported Authentication Context Class References.
        acr_values_supported,
        /// Supported subject identifier types (`public`, `pairwise`).
        subject_types_supported,
        /// JWS algorithms for ID Tokens.
        id_token_signing_alg_values_supported,
        /// JWE `alg` values for ID Tokens.
        id_token_encryption_alg_values_supported,
        /// JWE `enc` values for ID Tokens.
        id_token_encryption_enc_values_supported,
        /// JWS algorithms for UserInfo responses.
        userinfo_signing_alg_values_supported,
        /// JWE `alg` values for UserInfo responses.
        userinfo_encryption_alg_values_supported,
        /// JWE `enc` values for UserInfo responses.
        userinfo_encryption_enc_values_supported,
        /// JWS algorithms for Request Objects.
        request_object_signing_alg_values_supported,
        /// JWE `alg` values for Request Objects.
        request_object_encryption_alg_values_supported,
        /// JWE `enc` values for Request Objects.
        request_object_encryption_enc_values_supported,
        /// Supported `display` values.
        display_values_supported,
        /// Supported claim types (`normal`, `aggregated`, `distributed`).
        claim_types_supported,
        /// Claim names the server may supply.
        claims_supported,
        /// Supported claim locales.
        claims_locales_supported,
        /// Supported CIBA token delivery modes.
        backchannel_token_delivery_modes_supported,
        /// JWS algorithms for CIBA authentication requests.
        backchannel_authentication_request_signing_alg_values_supported,
        /// JWS algorithms for introspection responses (RFC 9701).
        introspection_signing_alg_values_supported,
        /// JWS algorithms for JARM responses.
        authorization_signing_alg_values_supported,
    }
    flags {
        /// Whether the server issues certificate-bound access tokens (RFC 8705 §3.3).
        tls_client_certificate_bound_access_tokens,
        /// Whether pushed authorization requests are required (RFC 9126).
        require_pushed_authorization_requests,
        /// Whether the authorization response carries `iss` (RFC 9207).
        authorization_response_iss_parameter_supported,
        /// Whether the `claims` parameter is supported.
        claims_parameter_supported,
        /// Whether the `request` parameter is supported.
        request_parameter_supported,
        /// Whether the `request_uri` parameter is supported.
        request_uri_parameter_supported,
        /// Whether `request_uri` values must be pre-registered.
        require_request_uri_registration,
        /// Whether signed Request Objects are required.
        require_signed_request_object,
        /// Whether front-channel logout is supported.
        frontchannel_logout_supported,
        /// Whether front-channel logout carries `iss` and `sid`.
        frontchannel_logout_session_supported,
        /// Whether back-channel logout is supported.
        backchannel_logout_supported,
        /// Whether back-channel logout tokens carry `sid`.
        backchannel_logout_session_supported,
        /// Whether CIBA supports `user_code`.
        backchannel_user_code_parameter_supported,
    }
}

impl ServerMetadata {
    /// Metadata with only an issuer and a token endpoint: enough for the
    /// client credentials grant.
    pub fn new(issuer: impl Into<String>, token_endpoint: Url) -> Self {
        ServerMetadata {
            issuer: issuer.into(),
            token_endpoint: Some(token_endpoint),
            ..Default::default()
        }
    }

    /// A member by name, typed or not, as JSON.
    pub fn get(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.extra.get(name) {
            return Some(v.clone());
        }
        match serde_json::to_value(self) {
            Ok(Value::Object(mut map)) => map.remove(name),
            _ => None,
        }
    }
}

/// Endpoint aliases for mutual-TLS clients
/// ([RFC 8705 §5](https://www.rfc-editor.org/rfc/rfc8705#section-5)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MtlsEndpointAliases {
    /// mTLS token endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_endpoint: Option<Url>,
    /// mTLS revocation endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub revocation_endpoint: Option<Url>,
    /// mTLS introspection endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub introspection_endpoint: Option<Url>,
    /// mTLS device authorization endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_authorization_endpoint: Option<Url>,
    /// mTLS pushed authorization request endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub pushed_authorization_request_endpoint: Option<Url>,
    /// mTLS UserInfo endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub userinfo_endpoint: Option<Url>,
    /// mTLS registration endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub registration_endpoint: Option<Url>,
    /// mTLS CIBA backchannel authentication endpoint.
    #[serde(
        default,
        deserialize_with = "opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub backchannel_authentication_endpoint: Option<Url>,
    /// Other aliases, by name.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_to_machine_server_parses_and_keeps_unknown_members() {
        let doc = r#"{
            "issuer": "https://as.example",
            "token_endpoint": "https://as.example/token",
            "grant_types_supported": ["client_credentials"],
            "dpop_signing_alg_values_supported": ["ES256"],
            "mtls_endpoint_aliases": {"token_endpoint": "https://mtls.as.example/token"},
            "end_session_endpoint": "",
            "x_vendor_feature": {"on": true}
        }"#;
        let m: ServerMetadata = serde_json::from_str(doc).unwrap();
        assert_eq!(m.issuer, "https://as.example");
        assert!(m.authorization_endpoint.is_none());
        assert!(m.end_session_endpoint.is_none());
        assert_eq!(
            m.mtls_endpoint_aliases
                .unwrap()
                .token_endpoint
                .unwrap()
                .as_str(),
            "https://mtls.as.example/token"
        );
        assert_eq!(m.extra["x_vendor_feature"]["on"], true);
        assert_eq!(
            m.dpop_signing_alg_values_supported.as_deref(),
            Some(&["ES256".to_string()][..])
        );
    }

    #[test]
    fn strict_where_the_client_depends_on_a_member() {
        assert!(serde_json::from_str::<ServerMetadata>("{}").is_err());
        assert!(serde_json::from_str::<ServerMetadata>(r#"{"issuer":""}"#).is_err());
        assert!(serde_json::from_str::<ServerMetadata>(
            r#"{"issuer":"https://a","token_endpoint":"not a url"}"#
        )
        .is_err());
        assert!(serde_json::from_str::<ServerMetadata>(
            r#"{"issuer":"https://a","mtls_endpoint_aliases":{"token_endpoint":"/x"}}"#
        )
        .is_err());
    }

    #[test]
    fn lenient_elsewhere_and_nothing_is_lost() {
        let m: ServerMetadata = serde_json::from_str(
            r#"{"issuer":"https://a","op_tos_uri":"/tos","claims_parameter_supported":"true",
                "scopes_supported":"openid","jwks_uri":"https://a/jwks"}"#,
        )
        .unwrap();
        assert!(m.op_tos_uri.is_none() && m.claims_parameter_supported.is_none());
        assert_eq!(m.extra["op_tos_uri"], "/tos");
        assert_eq!(m.extra["claims_parameter_supported"], "true");
        assert_eq!(m.extra["scopes_supported"], "openid");
        assert_eq!(m.jwks_uri.unwrap().as_str(), "https://a/jwks");
    }

    #[test]
    fn serde_round_trip() {
        let doc = r#"{"issuer":"https://a","token_endpoint":"https://a/t","grant_types_supported":["client_credentials"],"tls_client_certificate_bound_access_tokens":true,"x":1}"#;
        let m: ServerMetadata = serde_json::from_str(doc).unwrap();
        let back: ServerMetadata =
            serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn get_reads_typed_and_unknown_members() {
        let m: ServerMetadata =
            serde_json::from_str(r#"{"issuer":"https://a","scopes_supported":["x"],"foo":1}"#)
                .unwrap();
        assert_eq!(m.get("scopes_supported").unwrap()[0], "x");
        assert_eq!(m.get("foo").unwrap(), 1);
        assert!(m.get("nope").is_none());
    }
}

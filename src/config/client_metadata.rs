//! Client metadata: RFC 7591 §2, OpenID Connect Dynamic Client Registration
//! 1.0 §2, and the members later specifications register (JARM, RFC 9701,
//! RFC 9449, RFC 8705, RFC 9126, CIBA, logout).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Members that are credentials, not metadata: a registration response
/// carries them, but they belong in [`ClientAuth`](crate::ClientAuth) (or
/// the registration flow), never in a type that is logged.
const SECRET_MEMBERS: [&str; 2] = ["client_secret", "registration_access_token"];

/// Drops [`SECRET_MEMBERS`] from the members kept by name.
fn extra_without_secrets<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Value>, D::Error> {
    let mut extra = BTreeMap::<String, Value>::deserialize(d)?;
    for name in SECRET_MEMBERS {
        extra.remove(name);
    }
    Ok(extra)
}

macro_rules! client_metadata {
    (
        strings { $( $(#[$sm:meta])* $s:ident ),* $(,)? }
        lists { $( $(#[$lm:meta])* $l:ident ),* $(,)? }
        numbers { $( $(#[$nm:meta])* $n:ident ),* $(,)? }
        flags { $( $(#[$fm:meta])* $f:ident ),* $(,)? }
    ) => {
        /// The client's registered metadata
        /// ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2),
        /// [OpenID Connect Registration §2](https://openid.net/specs/openid-connect-registration-1_0.html#ClientMetadata)),
        /// every registered member typed, unknown members kept in
        /// [`extra`](Self::extra).
        ///
        /// The client secret is not metadata here: it lives in
        /// [`ClientAuth`](crate::ClientAuth), and `client_secret` and
        /// `registration_access_token` are dropped when a document is read,
        /// so this type is safe to log.
        ///
        /// ```
        /// use oidckit::ClientMetadata;
        ///
        /// let mut client = ClientMetadata::new("my-app");
        /// client.redirect_uris = Some(vec!["https://app.example.com/cb".into()]);
        /// client.id_token_signed_response_alg = Some("ES256".into());
        /// client.default_max_age = Some(3600);
        ///
        /// let read: ClientMetadata = serde_json::from_str(
        ///     r#"{"client_id":"my-app","client_secret":"s3cr3t","require_auth_time":true,"x_custom":1}"#,
        /// )?;
        /// assert_eq!(read.require_auth_time, Some(true));
        /// assert_eq!(read.extra["x_custom"], 1);
        /// assert!(!format!("{read:?}").contains("s3cr3t"));
        /// # Ok::<_, serde_json::Error>(())
        /// ```
        #[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct ClientMetadata {
            /// The client identifier. [`Configuration`](crate::Configuration)
            /// fills it from its `client_id` argument; if set here, the two
            /// must be equal.
            #[serde(default)]
            pub client_id: String,
            $(
                $(#[$sm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $s: Option<String>,
            )*
            $(
                $(#[$lm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $l: Option<Vec<String>>,
            )*
            $(
                $(#[$nm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $n: Option<u64>,
            )*
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $f: Option<bool>,
            )*
            /// The client's public keys as a JWK Set (`jwks`), by value.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub jwks: Option<Value>,
            /// Send requests to the server's `mtls_endpoint_aliases`
            /// (RFC 8705 §5), as openid-client's `use_mtls_endpoint_aliases`.
            /// A setting of this client, not a registered member: written
            /// out only when set.
            #[serde(default, skip_serializing_if = "std::ops::Not::not")]
            pub use_mtls_endpoint_aliases: bool,
            /// Every other member, by name (without the secrets).
            #[serde(flatten, deserialize_with = "extra_without_secrets")]
            pub extra: BTreeMap<String, Value>,
        }

        /// The members that are set; never a secret, even one put into
        /// `extra` by hand.
        impl fmt::Debug for ClientMetadata {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct("ClientMetadata");
                d.field("client_id", &self.client_id);
                $( if let Some(v) = &self.$s { d.field(stringify!($s), v); } )*
                $( if let Some(v) = &self.$l { d.field(stringify!($l), v); } )*
                $( if let Some(v) = &self.$n { d.field(stringify!($n), v); } )*
                $( if let Some(v) = &self.$f { d.field(stringify!($f), v); } )*
                if let Some(jwks) = &self.jwks {
                    d.field("jwks", jwks);
                }
                if self.use_mtls_endpoint_aliases {
                    d.field("use_mtls_endpoint_aliases", &true);
                }
                let extra: BTreeMap<&str, &Value> = self
                    .extra
                    .iter()
                    .filter(|(name, _)| !SECRET_MEMBERS.contains(&name.as_str()))
                    .map(|(name, value)| (name.as_str(), value))
                    .collect();
                d.field("extra", &extra);
                d.finish()
            }
        }
    };
}

client_metadata! {
    strings {
        /// The token endpoint authentication method. Filled from the
        /// [`ClientAuth`](crate::ClientAuth) when absent; if set, the two must
        /// agree.
        token_endpoint_auth_method,
        /// The JWS algorithm for JWT client authentication. Filled from the
        /// [`ClientAuth`](crate::ClientAuth) when absent; if set, the two must
        /// agree.
        token_endpoint_auth_signing_alg,
        /// Human-readable name of the client.
        client_name,
        /// URL of the client's home page.
        client_uri,
        /// URL of the client's logo.
        logo_uri,
        /// The scope values the client may use, space separated.
        scope,
        /// URL of the client's terms of service.
        tos_uri,
        /// URL of the client's privacy policy.
        policy_uri,
        /// URL of the client's JWK Set.
        jwks_uri,
        /// Identifier of the client software (RFC 7591).
        software_id,
        /// Version of the client software (RFC 7591).
        software_version,
        /// A software statement, as the JWT (RFC 7591 §2.3).
        software_statement,
        /// Where the client's registration can be read and managed (RFC 7592).
        registration_client_uri,
        /// `web` or `native` (OpenID Connect Registration).
        application_type,
        /// URL of a file listing the redirect URIs for pairwise identifiers.
        sector_identifier_uri,
        /// `public` or `pairwise` subject identifiers.
        subject_type,
        /// JWS algorithm the ID Tokens issued to this client must be signed
        /// with (default RS256).
        id_token_signed_response_alg,
        /// JWE `alg` for ID Tokens.
        id_token_encrypted_response_alg,
        /// JWE `enc` for ID Tokens.
        id_token_encrypted_response_enc,
        /// JWS algorithm for signed UserInfo responses.
        userinfo_signed_response_alg,
        /// JWE `alg` for UserInfo responses.
        userinfo_encrypted_response_alg,
        /// JWE `enc` for UserInfo responses.
        userinfo_encrypted_response_enc,
        /// JWS algorithm for Request Objects (RFC 9101).
        request_object_signing_alg,
        /// JWE `alg` for Request Objects.
        request_object_encryption_alg,
        /// JWE `enc` for Request Objects.
        request_object_encryption_enc,
        /// JWS algorithm for JARM authorization responses.
        authorization_signed_response_alg,
        /// JWE `alg` for JARM authorization responses.
        authorization_encrypted_response_alg,
        /// JWE `enc` for JARM authorization responses.
        authorization_encrypted_response_enc,
        /// JWS algorithm for JWT introspection responses (RFC 9701).
        introspection_signed_response_alg,
        /// JWE `alg` for JWT introspection responses (RFC 9701).
        introspection_encrypted_response_alg,
        /// JWE `enc` for JWT introspection responses (RFC 9701).
        introspection_encrypted_response_enc,
        /// URL a third party can start a login at.
        initiate_login_uri,
        /// Front-channel logout URL (OpenID Connect Front-Channel Logout).
        frontchannel_logout_uri,
        /// Back-channel logout URL (OpenID Connect Back-Channel Logout).
        backchannel_logout_uri,
        /// CIBA token delivery mode (`poll`, `ping`, `push`).
        backchannel_token_delivery_mode,
        /// CIBA client notification endpoint.
        backchannel_client_notification_endpoint,
        /// JWS algorithm for signed CIBA authentication requests.
        backchannel_authentication_request_signing_alg,
        /// Expected subject DN of the client certificate (RFC 8705 §2.1.2).
        tls_client_auth_subject_dn,
        /// Expected DNS name SAN of the client certificate (RFC 8705 §2.1.2).
        tls_client_auth_san_dns,
        /// Expected URI SAN of the client certificate (RFC 8705 §2.1.2).
        tls_client_auth_san_uri,
        /// Expected IP address SAN of the client certificate (RFC 8705 §2.1.2).
        tls_client_auth_san_ip,
        /// Expected email SAN of the client certificate (RFC 8705 §2.1.2).
        tls_client_auth_san_email,
    }
    lists {
        /// Registered redirect URIs. With exactly one, the authorization
        /// request uses it when the caller gives none.
        redirect_uris,
        /// Grant types the client may use.
        grant_types,
        /// Response types the client may use (default `code`).
        response_types,
        /// Contacts for the client (e-mail addresses).
        contacts,
        /// Default `acr` values.
        default_acr_values,
        /// Pre-registered `request_uri` values.
        request_uris,
        /// Where the end-user may be sent after logout (RP-Initiated Logout).
        post_logout_redirect_uris,
        /// `authorization_details` types the client may use (RFC 9396).
        authorization_details_types,
    }
    numbers {
        /// Default maximum authentication age, in seconds: ID Tokens must
        /// carry `auth_time` no older than this.
        default_max_age,
        /// When the client id was issued, seconds since the epoch (RFC 7591 §3.2.1).
        client_id_issued_at,
        /// When the client secret expires, seconds since the epoch, 0 for
        /// never (RFC 7591 §3.2.1).
        client_secret_expires_at,
    }
    flags {
        /// Whether ID Tokens must carry `auth_time`.
        require_auth_time,
        /// Whether the client always uses DPoP for its token requests
        /// (RFC 9449 §5.2).
        dpop_bound_access_tokens,
        /// Whether the client's access tokens are certificate-bound
        /// (RFC 8705 §3.4).
        tls_client_certificate_bound_access_tokens,
        /// Whether the client must use pushed authorization requests
        /// (RFC 9126 §6).
        require_pushed_authorization_requests,
        /// Whether front-channel logout needs `iss` and `sid`.
        frontchannel_logout_session_required,
        /// Whether back-channel logout tokens need `sid`.
        backchannel_logout_session_required,
        /// Whether CIBA requests may carry a `user_code`.
        backchannel_user_code_parameter,
    }
}

impl ClientMetadata {
    /// Metadata with only a client id; set other members on the result.
    pub fn new(client_id: impl Into<String>) -> Self {
        ClientMetadata {
            client_id: client_id.into(),
            ..Default::default()
        }
    }

    /// Sends requests to the server's `mtls_endpoint_aliases` (RFC 8705 §5).
    #[must_use]
    pub fn with_mtls_endpoint_aliases(mut self) -> Self {
        self.use_mtls_endpoint_aliases = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_round_trips_and_unknown_members_are_kept() {
        let doc = serde_json::json!({
            "client_id": "c",
            "redirect_uris": ["https://app.example/cb"],
            "response_types": ["code"],
            "id_token_signed_response_alg": "ES256",
            "authorization_signed_response_alg": "PS256",
            "introspection_signed_response_alg": "RS256",
            "default_max_age": 300,
            "require_auth_time": true,
            "dpop_bound_access_tokens": true,
            "jwks": {"keys": []},
            "use_mtls_endpoint_aliases": true,
            "x_vendor": {"a": 1}
        });
        let m: ClientMetadata = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(m.default_max_age, Some(300));
        assert_eq!(
            m.redirect_uris.as_deref().unwrap()[0],
            "https://app.example/cb"
        );
        assert_eq!(m.extra["x_vendor"]["a"], 1);
        assert!(m.use_mtls_endpoint_aliases);
        assert_eq!(serde_json::to_value(&m).unwrap(), doc);
    }

    #[test]
    fn secrets_in_a_registration_response_are_not_kept() {
        let m: ClientMetadata = serde_json::from_str(
            r#"{"client_id":"c","client_secret":"SECRET1","registration_access_token":"SECRET2","client_secret_expires_at":0}"#,
        )
        .unwrap();
        assert!(m.extra.is_empty());
        assert_eq!(m.client_secret_expires_at, Some(0));
        let debug = format!("{m:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        // Put in by hand, a secret still stays out of Debug.
        let mut by_hand = ClientMetadata::new("c");
        by_hand
            .extra
            .insert("client_secret".into(), "SECRET3".into());
        by_hand.client_name = Some("app".into());
        let debug = format!("{by_hand:?}");
        assert!(
            !debug.contains("SECRET3") && debug.contains("app"),
            "{debug}"
        );
        assert!(!serde_json::to_string(&m).unwrap().contains("SECRET"));
    }
}

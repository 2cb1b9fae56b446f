//! The claims of a validated ID Token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// The accessors of the standard claims (OIDC Core §5.1) for a type with an
/// `all: Map<String, Value>` field and a `string` helper: ID Token claims
/// and userinfo share them.
macro_rules! standard_claims {
    () => {
        /// `name` (OIDC Core §5.1).
        pub fn name(&self) -> Option<&str> {
            self.string("name")
        }

        /// `given_name`.
        pub fn given_name(&self) -> Option<&str> {
            self.string("given_name")
        }

        /// `family_name`.
        pub fn family_name(&self) -> Option<&str> {
            self.string("family_name")
        }

        /// `preferred_username`: shorthand the user chose; not unique, not stable.
        pub fn preferred_username(&self) -> Option<&str> {
            self.string("preferred_username")
        }

        /// `email`: not unique, not stable, not verified unless
        /// [`email_verified`](Self::email_verified) says so.
        pub fn email(&self) -> Option<&str> {
            self.string("email")
        }

        /// `email_verified`.
        pub fn email_verified(&self) -> Option<bool> {
            self.all
                .get("email_verified")
                .and_then(serde_json::Value::as_bool)
        }

        /// `picture`: the URL of a profile picture.
        pub fn picture(&self) -> Option<&str> {
            self.string("picture")
        }

        /// `locale`, e.g. `en-US`.
        pub fn locale(&self) -> Option<&str> {
            self.string("locale")
        }

        /// Any claim by name, as sent.
        pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
            self.all.get(name)
        }

        /// Every claim, as sent.
        pub fn all(&self) -> &serde_json::Map<String, serde_json::Value> {
            &self.all
        }

        fn string(&self, name: &str) -> Option<&str> {
            self.all.get(name).and_then(serde_json::Value::as_str)
        }
    };
}
pub(crate) use standard_claims;

/// The claims of an ID Token that passed validation
/// ([OIDC Core §2](https://openid.net/specs/openid-connect-core-1_0.html#IDToken)):
/// the required ones typed, the standard optional ones through accessors
/// (OIDC Core §5.1), and every claim by name through [`get`](Self::get).
///
/// Returned by [`TokenEndpointResponse::claims`](crate::TokenEndpointResponse::claims)
/// after an [`authorization_code_grant`](crate::authorization_code_grant)
/// or a [`refresh_token_grant`](crate::refresh_token_grant) that returned
/// an ID Token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenClaims {
    issuer: String,
    subject: String,
    audiences: Vec<String>,
    expires_at: u64,
    issued_at: u64,
    auth_time: Option<u64>,
    all: Map<String, Value>,
}

impl IdTokenClaims {
    /// Built by the validation, which has checked every typed member.
    pub(crate) fn new(
        issuer: String,
        subject: String,
        audiences: Vec<String>,
        expires_at: u64,
        issued_at: u64,
        auth_time: Option<u64>,
        all: Map<String, Value>,
    ) -> Self {
        IdTokenClaims {
            issuer,
            subject,
            audiences,
            expires_at,
            issued_at,
            auth_time,
            all,
        }
    }

    /// `iss`: the issuer (equal to the server's issuer identifier).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the end-user's identifier at the issuer. With the issuer, the
    /// only stable key for a user account (OIDC Core §5.7): not `email`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `aud`: the audiences (always containing this client's id).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// `exp`: when the ID Token expires.
    pub fn expires_at(&self) -> SystemTime {
        at(self.expires_at)
    }

    /// `iat`: when the ID Token was issued.
    pub fn issued_at(&self) -> SystemTime {
        at(self.issued_at)
    }

    /// `auth_time`: when the end-user authenticated, if the token says.
    pub fn auth_time(&self) -> Option<SystemTime> {
        self.auth_time.map(at)
    }

    /// `nonce`, if the authorization request sent one (and then equal to it).
    pub fn nonce(&self) -> Option<&str> {
        self.string("nonce")
    }

    /// `azp`: the authorized party, if present (then this client's id).
    pub fn authorized_party(&self) -> Option<&str> {
        self.string("azp")
    }

    /// `acr`: the authentication context class reference.
    pub fn acr(&self) -> Option<&str> {
        self.string("acr")
    }

    /// `amr`: the authentication methods references (e.g. `pwd`, `mfa`).
    pub fn amr(&self) -> Vec<&str> {
        self.all
            .get("amr")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `sid`: the session id (OpenID Connect Front- and Back-Channel Logout).
    pub fn session_id(&self) -> Option<&str> {
        self.string("sid")
    }

    standard_claims!();
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

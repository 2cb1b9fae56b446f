//! The token endpoint's response
//! ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)) and
//! its errors ([§5.2](https://www.rfc-editor.org/rfc/rfc6749#section-5.2)).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth2::{AccessToken, RefreshToken, Scope};
use reqwest::StatusCode;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id_token::IdTokenClaims;
use serde_json::{Map, Value};

use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::endpoint::response::{expect_status, oauth_error_from_json};
use crate::endpoint::EndpointContext;
use crate::error::{Error, Result};
use crate::transport::{duplicate_member, json_body, EndpointResponse};

/// The `token_type` of an access token
/// ([RFC 6749 §7.1](https://www.rfc-editor.org/rfc/rfc6749#section-7.1)),
/// compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP`: the token is bound to a DPoP key (RFC 9449).
    DPoP,
    /// `N_A`: not an access token (token exchange, RFC 8693 §2.2.1).
    NotApplicable,
    /// Any other type, as sent.
    Other(String),
}

impl TokenType {
    /// Reads a `token_type` value, ignoring case.
    pub fn parse(value: &str) -> Self {
        if value.eq_ignore_ascii_case("bearer") {
            TokenType::Bearer
        } else if value.eq_ignore_ascii_case("dpop") {
            TokenType::DPoP
        } else if value.eq_ignore_ascii_case("n_a") {
            TokenType::NotApplicable
        } else {
            TokenType::Other(value.to_owned())
        }
    }

    /// The canonical spelling (`Bearer`, `DPoP`, `N_A`, or the value as sent).
    pub fn as_str(&self) -> &str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::DPoP => "DPoP",
            TokenType::NotApplicable => "N_A",
            TokenType::Other(s) => s,
        }
    }

    /// True for `Bearer`.
    pub fn is_bearer(&self) -> bool {
        *self == TokenType::Bearer
    }

    /// True for `DPoP`.
    pub fn is_dpop(&self) -> bool {
        *self == TokenType::DPoP
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TokenType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(TokenType::parse(&String::deserialize(d)?))
    }
}

impl oauth2::TokenType for TokenType {}

/// A successful token endpoint response.
///
/// Expiry is absolute: the time the response was received plus `expires_in`,
/// so [`expires_in`](Self::expires_in) counts down. `Debug` redacts the
/// tokens; `Serialize` writes them (to store the token) together with
/// `expires_at` in Unix seconds, and `Deserialize` reads that form back (or a
/// raw token endpoint response).
///
/// ```
/// use oidckit::TokenEndpointResponse;
///
/// let token: TokenEndpointResponse = serde_json::from_str(
///     r#"{"access_token":"abc","token_type":"bearer","expires_in":"3600","scope":"read write"}"#,
/// )?;
/// assert!(token.token_type().is_bearer());
/// assert_eq!(token.access_token().secret(), "abc");
/// assert_eq!(token.scopes().unwrap().len(), 2);
/// assert!(token.expires_in().unwrap().as_secs() > 3590);
/// assert!(!format!("{token:?}").contains("abc"));
/// # Ok::<_, serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct TokenEndpointResponse {
    access_token: AccessToken,
    token_type: TokenType,
    /// `expires_in` as the server sent it.
    lifetime: Option<Duration>,
    expires_at: Option<SystemTime>,
    refresh_token: Option<RefreshToken>,
    scope: Option<String>,
    scopes: Option<Vec<Scope>>,
    id_token: Option<String>,
    /// The claims of `id_token`, once validated (never set from a store).
    id_token_claims: Option<Arc<IdTokenClaims>>,
    extra: Map<String, Value>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TokenEndpointResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpointResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at.map(unix_seconds))
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenEndpointResponse {
    /// The access token. Its `Debug` is redacted; `.secret()` reveals it.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The token type.
    pub fn token_type(&self) -> &TokenType {
        &self.token_type
    }

    /// The time left until the access token expires, counted from when the
    /// response was received: `None` when the server sent no `expires_in`,
    /// zero once it has passed.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_at.map(|at| {
            at.duration_since(self.clock.now())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// When the access token expires: the receipt time plus `expires_in`.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The lifetime the server announced (`expires_in` as sent).
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    /// The refresh token, if one was issued.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// The `scope` value as sent, if any.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The granted scopes, if the server listed them.
    pub fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }

    /// The raw ID Token (OpenID Connect), if one was returned. It is not
    /// validated by this crate yet.
    pub fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }

    /// The claims of the ID Token, validated (OIDC Core §3.1.3.7) by the
    /// grant that returned it: [`authorization_code_grant`](crate::authorization_code_grant)
    /// and [`refresh_token_grant`](crate::refresh_token_grant). `None` when
    /// there was no ID Token, or for a response not from those grants (a
    /// token read back from a store, the low-level
    /// [`process_token_response`](crate::process_token_response), which
    /// leaves validation to [`validate_id_token`](crate::validate_id_token)).
    pub fn claims(&self) -> Option<&IdTokenClaims> {
        self.id_token_claims.as_deref()
    }

    pub(crate) fn set_claims(&mut self, claims: IdTokenClaims) {
        self.id_token_claims = Some(Arc::new(claims));
    }

    /// The `issued_token_type` of a token exchange response (RFC 8693 §2.2.1).
    pub fn issued_token_type(&self) -> Option<&str> {
        self.extra.get("issued_token_type").and_then(Value::as_str)
    }

    /// Any other member of the response by name, e.g. `issued_token_type`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// Every member this type has no accessor for.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// A copy to share with other instances: the access token and its
    /// metadata, without the refresh and ID tokens.
    pub(crate) fn without_refresh_and_id_token(&self) -> Self {
        let mut shared = self.clone();
        shared.refresh_token = None;
        shared.id_token = None;
        shared
    }

    /// Validates a token response body per RFC 6749 §5.1, taking
    /// `received_at` as the receipt time.
    pub(crate) fn from_json(
        map: Map<String, Value>,
        received_at: SystemTime,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Self::from_members(TokenMembers::from(map), received_at, clock)
    }

    /// Validates the members of a token response (RFC 6749 §5.1).
    fn from_members(
        members: TokenMembers,
        received_at: SystemTime,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let TokenMembers {
            access_token,
            token_type,
            expires_in,
            refresh_token,
            scope,
            id_token,
            extra,
        } = members;
        let access_token = match access_token {
            Some(Value::String(s)) if !s.is_empty() => AccessToken::new(s),
            _ => {
                return Err(Error::invalid_response(
                    "`access_token` is missing or not a non-empty string",
                ))
            }
        };
        let token_type = match token_type {
            Some(Value::String(s)) if !s.is_empty() => TokenType::parse(&s),
            _ => {
                return Err(Error::invalid_response(
                    "`token_type` is missing or not a non-empty string",
                ))
            }
        };
        let lifetime = match expires_in {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_expires_in(&v)?),
        };
        let expires_at = match lifetime {
            None => None,
            Some(d) => Some(
                received_at
                    .checked_add(d)
                    .ok_or_else(|| Error::invalid_response("`expires_in` is out of range"))?,
            ),
        };
        let refresh_token = match refresh_token {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(RefreshToken::new(s)),
            Some(_) => {
                return Err(Error::invalid_response(
                    "`refresh_token` is not a non-empty string",
                ))
            }
        };
        let scope = optional_string(scope, "scope")?;
        let scopes = scope.as_ref().map(|s| {
            s.split_ascii_whitespace()
                .map(|s| Scope::new(s.to_owned()))
                .collect()
        });
        let id_token = optional_string(id_token, "id_token")?;
        Ok(TokenEndpointResponse {
            access_token,
            token_type,
            lifetime,
            expires_at,
            refresh_token,
            scope,
            scopes,
            id_token,
            id_token_claims: None,
            extra,
            clock,
        })
    }
}

fn optional_string(value: Option<Value>, name: &str) -> Result<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid_response(format!("`{name}` is not a string"))),
    }
}

/// The members of a token response, read in one pass straight from the
/// body: the RFC 6749 §5.1 members by name, every other member in `extra`,
/// and any member twice refused (as [`json_object`] does). Values are
/// checked afterwards, by [`TokenEndpointResponse::from_members`].
#[derive(Default)]
struct TokenMembers {
    access_token: Option<Value>,
    token_type: Option<Value>,
    expires_in: Option<Value>,
    refresh_token: Option<Value>,
    scope: Option<Value>,
    id_token: Option<Value>,
    extra: Map<String, Value>,
}

impl TokenMembers {
    /// The slot of a §5.1 member, `None` for any other name.
    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        match name {
            "access_token" => Some(&mut self.access_token),
            "token_type" => Some(&mut self.token_type),
            "expires_in" => Some(&mut self.expires_in),
            "refresh_token" => Some(&mut self.refresh_token),
            "scope" => Some(&mut self.scope),
            "id_token" => Some(&mut self.id_token),
            _ => None,
        }
    }
}

impl From<Map<String, Value>> for TokenMembers {
    fn from(map: Map<String, Value>) -> Self {
        let mut members = TokenMembers::default();
        for (name, value) in map {
            match members.slot(&name) {
                Some(slot) => *slot = Some(value),
                None => {
                    members.extra.insert(name, value);
                }
            }
        }
        members
    }
}

impl<'de> Deserialize<'de> for TokenMembers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TokenMembers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> std::result::Result<TokenMembers, A::Error> {
                use serde_json::map::Entry;
                let mut members = TokenMembers::default();
                // Names without escapes are borrowed from the body: no
                // allocation for the members this type knows.
                while let Some(Name(name)) = access.next_key::<Name<'de>>()? {
                    if let Some(slot) = members.slot(&name) {
                        if slot.is_some() {
                            return Err(duplicate_member(&name));
                        }
                        *slot = Some(access.next_value()?);
                        continue;
                    }
                    match members.extra.entry(name.into_owned()) {
                        Entry::Vacant(member) => {
                            member.insert(access.next_value()?);
                        }
                        Entry::Occupied(member) => return Err(duplicate_member(member.key())),
                    }
                }
                Ok(members)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// A member name, borrowed from the body when it has no escapes (serde's
/// own `Cow<str>` always copies).
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(name)))
            }
            fn visit_str<E>(self, name: &str) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }
            fn visit_string<E>(self, name: String) -> std::result::Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name)))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// `expires_in` is a number of seconds; some servers (Azure AD v1) send it as
/// a numeric string, which is accepted as openid-client does.
fn parse_expires_in(v: &Value) -> Result<Duration> {
    let secs = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    secs.filter(|s| s.is_finite() && *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            Error::invalid_response("`expires_in` is not a non-negative number of seconds")
        })
}

/// Processes a token endpoint response: the low-level half of every grant,
/// for callers with their own HTTP stack.
///
/// A 200 response must be a JSON object satisfying RFC 6749 §5.1; anything
/// else becomes the matching [`Error`]: an OAuth error body (§5.2) or a
/// `WWW-Authenticate` challenge with an `error` is
/// [`ErrorKind::OAuth`](crate::ErrorKind::OAuth), other statuses
/// [`ErrorKind::UnexpectedStatus`](crate::ErrorKind::UnexpectedStatus),
/// malformed bodies [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse).
/// The expiry counts from now on the context's clock.
///
/// ```
/// use oidckit::{process_token_response, ClientAuth, ClientMetadata, EndpointContext, EndpointResponse, ServerMetadata};
/// use oidckit::reqwest::{header::HeaderMap, StatusCode};
///
/// let server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// let (client, auth) = (ClientMetadata::new("client"), ClientAuth::none());
/// let ctx = EndpointContext::new(&server, &client, &auth);
/// let answer = |status, body: &'static str| {
///     EndpointResponse::new("https://as.example/token".parse().unwrap(), status, HeaderMap::new(), body)
/// };
///
/// let ok = process_token_response(&ctx, &answer(StatusCode::OK, r#"{"access_token":"t","token_type":"Bearer"}"#))?;
/// assert_eq!(ok.access_token().secret(), "t");
///
/// let err = process_token_response(&ctx, &answer(StatusCode::BAD_REQUEST, r#"{"error":"invalid_scope"}"#)).unwrap_err();
/// assert_eq!(err.oauth_error().unwrap().error, "invalid_scope");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn process_token_response(
    ctx: &EndpointContext<'_>,
    response: &EndpointResponse,
) -> Result<TokenEndpointResponse> {
    expect_status(response, StatusCode::OK)?;
    let members: TokenMembers = json_body(response.headers(), response.body())?;
    // A 200 carrying an error object and no token is an error response sent
    // with the wrong status: report the server's error, not a missing token.
    if members.access_token.is_none() {
        if let Some(e) =
            oauth_error_from_json(&members.extra, response.status(), response.headers())
        {
            return Err(e);
        }
    }
    TokenEndpointResponse::from_members(members, ctx.clock.now(), ctx.clock.clone())
}

impl Serialize for TokenEndpointResponse {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = self.extra.clone();
        map.insert(
            "access_token".into(),
            self.access_token.secret().clone().into(),
        );
        map.insert("token_type".into(), self.token_type.as_str().into());
        if let Some(l) = self.lifetime {
            map.insert("expires_in".into(), l.as_secs().into());
        }
        if let Some(at) = self.expires_at {
            map.insert("expires_at".into(), unix_seconds(at).into());
        }
        if let Some(r) = &self.refresh_token {
            map.insert("refresh_token".into(), r.secret().clone().into());
        }
        if let Some(scope) = &self.scope {
            map.insert("scope".into(), scope.clone().into());
        }
        if let Some(id) = &self.id_token {
            map.insert("id_token".into(), id.clone().into());
        }
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TokenEndpointResponse {
    /// Reads a stored token (with `expires_at`, which wins) or a raw token
    /// endpoint response (with `expires_in`, counted from now).
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let expires_at =
            match map.remove("expires_at") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or_else(|| {
                    D::Error::custom("`expires_at` is not a non-negative integer")
                })?),
            };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut token =
            TokenEndpointResponse::from_json(map, clock.now(), clock).map_err(D::Error::custom)?;
        if let Some(at) = expires_at {
            let at = SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(at))
                .ok_or_else(|| D::Error::custom("`expires_at` is out of range"))?;
            token.expires_at = Some(at);
        }
        Ok(token)
    }
}

impl oauth2::TokenResponse for TokenEndpointResponse {
    type TokenType = TokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &TokenType {
        &self.token_type
    }

    /// The time left, as [`TokenEndpointResponse::expires_in`].
    fn expires_in(&self) -> Option<Duration> {
        TokenEndpointResponse::expires_in(self)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::ErrorKind;
    use serde_json::json;

    fn parse(v: Value, clock: &ManualClock) -> Result<TokenEndpointResponse> {
        let Value::Object(map) = v else { panic!() };
        TokenEndpointResponse::from_json(map, clock.now(), Arc::new(clock.clone()))
    }

    fn clock() -> ManualClock {
        ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000))
    }

    #[test]
    fn expires_in_counts_down_from_receipt() {
        let c = clock();
        let t = parse(
            json!({"access_token":"a","token_type":"Bearer","expires_in":300}),
            &c,
        )
        .unwrap();
        assert_eq!(t.expires_in(), Some(Duration::from_secs(300)));
        c.advance(Duration::from_secs(100));
        assert_eq!(t.expires_in(), Some(Duration::from_secs(200)));
        c.advance(Duration::from_secs(1000));
        assert_eq!(t.expires_in(), Some(Duration::ZERO));
        assert_eq!(t.lifetime(), Some(Duration::from_secs(300)));
        let none = parse(json!({"access_token":"a","token_type":"Bearer"}), &c).unwrap();
        assert_eq!(none.expires_in(), None);
    }

    #[test]
    fn lenient_where_servers_differ() {
        let c = clock();
        let t = parse(
            json!({"access_token":"a","token_type":"DPOP","expires_in":" 60 ","scope":""}),
            &c,
        )
        .unwrap();
        assert!(t.token_type().is_dpop());
        assert_eq!(t.expires_in(), Some(Duration::from_secs(60)));
        assert_eq!(t.scopes().unwrap().len(), 0);
        let t = parse(json!({"access_token":"a","token_type":"n_a"}), &c).unwrap();
        assert_eq!(t.token_type(), &TokenType::NotApplicable);
        let t = parse(json!({"access_token":"a","token_type":"mac","x":1}), &c).unwrap();
        assert_eq!(t.token_type().as_str(), "mac");
        assert_eq!(t.get("x"), Some(&json!(1)));
    }

    #[test]
    fn strict_where_the_rfc_is() {
        let c = clock();
        for bad in [
            json!({"token_type":"Bearer"}),
            json!({"access_token":"","token_type":"Bearer"}),
            json!({"access_token":1,"token_type":"Bearer"}),
            json!({"access_token":"a"}),
            json!({"access_token":"a","token_type":""}),
            json!({"access_token":"a","token_type":"Bearer","expires_in":-1}),
            json!({"access_token":"a","token_type":"Bearer","expires_in":"soon"}),
            json!({"access_token":"a","token_type":"Bearer","expires_in":1e300}),
            json!({"access_token":"a","token_type":"Bearer","expires_in":true}),
            json!({"access_token":"a","token_type":"Bearer","refresh_token":""}),
            json!({"access_token":"a","token_type":"Bearer","scope":["a"]}),
        ] {
            let e = parse(bad.clone(), &c).unwrap_err();
            assert!(e.kind() == ErrorKind::InvalidResponse, "{bad}: {e}");
        }
    }

    #[test]
    fn serde_round_trip_keeps_absolute_expiry() {
        let c = clock();
        let t = parse(
            json!({"access_token":"a","token_type":"Bearer","expires_in":300,"refresh_token":"r","scope":"x y","custom":true}),
            &c,
        )
        .unwrap();
        let stored = serde_json::to_value(&t).unwrap();
        assert_eq!(stored["expires_at"], 1_000_300);
        let back: TokenEndpointResponse = serde_json::from_value(stored).unwrap();
        assert_eq!(back.expires_at(), t.expires_at());
        assert_eq!(back.refresh_token().unwrap().secret(), "r");
        assert_eq!(back.get("custom"), Some(&json!(true)));
        assert_eq!(back.scope(), Some("x y"));
    }

    #[test]
    fn debug_redacts_tokens() {
        let c = clock();
        let t = parse(
            json!({"access_token":"SECRET-AT","token_type":"Bearer","refresh_token":"SECRET-RT","id_token":"SECRET-ID"}),
            &c,
        )
        .unwrap();
        let d = format!("{t:?}");
        assert!(!d.contains("SECRET"), "{d}");
    }

    /// A token response body as the token endpoint would send it.
    fn process(body: &str) -> Result<TokenEndpointResponse> {
        let server = crate::ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        );
        let client = crate::ClientMetadata::new("c");
        let auth = crate::ClientAuth::none();
        let ctx = EndpointContext::new(&server, &client, &auth);
        let response = EndpointResponse::new(
            "https://as.example/t".parse().unwrap(),
            StatusCode::OK,
            reqwest::header::HeaderMap::new(),
            body.to_owned(),
        );
        process_token_response(&ctx, &response)
    }

    #[test]
    fn one_pass_parse_keeps_every_member_and_refuses_duplicates() {
        let t = process(
            r#"{"access_token":"a","token_type":"DPoP","expires_in":"60","scope":"x y","issued_token_type":"urn:t","nested":{"access_token":1}}"#,
        )
        .unwrap();
        assert!(t.token_type().is_dpop());
        assert_eq!(t.lifetime(), Some(Duration::from_secs(60)));
        assert_eq!(t.issued_token_type(), Some("urn:t"));
        assert_eq!(t.get("nested").unwrap()["access_token"], 1);
        // An escaped name is the same member.
        let t = process(r#"{"access_\u0074oken":"a","token_type":"Bearer"}"#).unwrap();
        assert_eq!(t.access_token().secret(), "a");
        for body in [
            r#"{"access_token":"a","token_type":"Bearer","access_token":"b"}"#,
            r#"{"access_token":"a","token_type":"Bearer","access_\u0074oken":"b"}"#,
            r#"{"access_token":"a","token_type":"Bearer","x":1,"x":2}"#,
            r#"{"access_token":"a","token_type":"Bearer","scope":null,"scope":"s"}"#,
        ] {
            let e = process(body).unwrap_err();
            assert!(e.to_string().contains("duplicate member"), "{body}: {e}");
        }
        // No token but an error: the server's error, though sent with 200.
        let e = process(r#"{"error":"invalid_grant","error_description":"d"}"#).unwrap_err();
        assert_eq!(e.oauth_error().unwrap().error, "invalid_grant");
        let e = process(r#"{"token_type":"Bearer"}"#).unwrap_err();
        assert!(e.to_string().contains("`access_token` is missing"), "{e}");
    }

    #[test]
    fn names_without_escapes_are_borrowed() {
        let Name(plain) = serde_json::from_str::<Name<'_>>(r#""access_token""#).unwrap();
        assert!(matches!(plain, Cow::Borrowed("access_token")));
        let Name(escaped) = serde_json::from_str::<Name<'_>>(r#""access_\u0074oken""#).unwrap();
        assert!(matches!(escaped, Cow::Owned(ref s) if s == "access_token"));
    }
}

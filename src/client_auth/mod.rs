//! Client authentication at the token endpoint
//! ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3),
//! [RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2),
//! [OpenID Connect Core §9](https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication),
//! [RFC 8705 §2](https://www.rfc-editor.org/rfc/rfc8705#section-2)).

pub(crate) mod federated;
pub(crate) mod mtls;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use oauth2::ClientSecret;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{Map, Value};
use url::form_urlencoded;

use crate::clock::unix_seconds;
use crate::error::{Error, ErrorKind, Result};
use crate::jose::{self, JwsAlgorithm, PrivateKey};
use federated::AssertionSource;
pub use federated::CallbackError;

/// `client_assertion_type` for JWT client authentication (RFC 7523 §2.2).
pub const JWT_BEARER_CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid (`exp` = `iat` + 60 s), as openid-client does.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A hook that may change a client assertion's claims before it is signed
/// (see [`ClientAuth::modify_assertion`]).
pub type ModifyAssertion = Arc<dyn Fn(&mut Map<String, Value>) + Send + Sync>;

/// Anything a client secret can be given as: `&str`, `String`, or the
/// `oauth2` crate's [`ClientSecret`].
pub trait IntoClientSecret {
    /// The secret.
    fn into_client_secret(self) -> ClientSecret;
}

impl IntoClientSecret for ClientSecret {
    fn into_client_secret(self) -> ClientSecret {
        self
    }
}

impl IntoClientSecret for String {
    fn into_client_secret(self) -> ClientSecret {
        ClientSecret::new(self)
    }
}

impl IntoClientSecret for &str {
    fn into_client_secret(self) -> ClientSecret {
        ClientSecret::new(self.to_owned())
    }
}

/// The `aud` claim of a JWT client assertion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The issuer identifier (the default, as openid-client and FAPI 2.0 do).
    #[default]
    Issuer,
    /// The URL of the endpoint the request goes to (RFC 7523 §3 allows it;
    /// some servers require it).
    TokenEndpoint,
    /// A value of your own.
    Custom(String),
}

/// How the client authenticates to the authorization server.
///
/// Built with one constructor per method; cheap to clone; `Debug` never shows
/// a secret or key.
///
/// ```
/// use oidckit::{AssertionAudience, ClientAuth, JwsAlgorithm, PrivateKey};
///
/// let basic = ClientAuth::client_secret_basic("s3cr3t");
/// assert_eq!(basic.method_name(), "client_secret_basic");
/// assert!(!format!("{basic:?}").contains("s3cr3t"));
///
/// let key = PrivateKey::generate(JwsAlgorithm::ES256)?.with_kid("k1");
/// let jwt = ClientAuth::private_key_jwt(key)
///     .assertion_audience(AssertionAudience::TokenEndpoint)
///     .modify_assertion(|claims| {
///         claims.insert("tenant".into(), "blue".into());
///     });
/// assert_eq!(jwt.method_name(), "private_key_jwt");
/// # Ok::<_, oidckit::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientAuth {
    method: Method,
    audience: AssertionAudience,
    modify: Option<ModifyAssertion>,
    /// The `Authorization` value of `client_secret_basic`, computed once per
    /// configuration (it depends on the client id) rather than per request.
    basic_header: Option<(String, HeaderValue)>,
    /// `client_secret_basic` without the RFC 6749 §2.3.1 form-encoding, for
    /// servers that do not decode it.
    basic_unencoded: bool,
}

/// Where client authentication writes its form parameters: the request body
/// encoder, or a plain list in tests.
pub(crate) trait FormSink {
    fn pair(&mut self, name: &str, value: &str);
}

impl FormSink for form_urlencoded::Serializer<'_, String> {
    fn pair(&mut self, name: &str, value: &str) {
        self.append_pair(name, value);
    }
}

impl FormSink for Vec<(String, String)> {
    fn pair(&mut self, name: &str, value: &str) {
        self.push((name.to_owned(), value.to_owned()));
    }
}

#[derive(Clone)]
enum Method {
    ClientSecretBasic(ClientSecret),
    ClientSecretPost(ClientSecret),
    ClientSecretJwt(ClientSecret, JwsAlgorithm),
    PrivateKeyJwt(PrivateKey),
    /// A signed JWT from outside the process (a platform's workload
    /// credential), sent as `private_key_jwt` would send its own.
    ClientAssertion(AssertionSource),
    None,
    TlsClientAuth,
    SelfSignedTlsClientAuth,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientAuth");
        d.field("method", &self.method_name());
        match &self.method {
            Method::ClientSecretJwt(_, alg) => {
                d.field("alg", alg);
            }
            Method::PrivateKeyJwt(key) => {
                d.field("key", key);
            }
            Method::ClientAssertion(source) => {
                d.field("assertion_from", source);
            }
            _ => {}
        }
        if self.is_jwt() {
            d.field("audience", &self.audience);
        }
        if self.basic_unencoded {
            d.field("form_encoding", &false);
        }
        d.finish_non_exhaustive()
    }
}

impl ClientAuth {
    fn with_method(method: Method) -> Self {
        ClientAuth {
            method,
            audience: AssertionAudience::Issuer,
            modify: None,
            basic_header: None,
            basic_unencoded: false,
        }
    }

    /// `client_secret_basic`: HTTP Basic with the form-urlencoded client id and
    /// secret (RFC 6749 §2.3.1).
    pub fn client_secret_basic(secret: impl IntoClientSecret) -> Self {
        Self::with_method(Method::ClientSecretBasic(secret.into_client_secret()))
    }

    /// `client_secret_basic` for servers that do not form-decode the Basic
    /// credentials, though RFC 6749 §2.3.1 says they must: the client id and
    /// secret go into `Authorization: Basic` as they are. Use it only when
    /// such a server refuses [`client_secret_basic`](Self::client_secret_basic)
    /// for a secret with characters that form-encoding changes (`+`, `/`,
    /// `=`, `%`, spaces, …). A client id with a `:` cannot be sent this way
    /// (RFC 7617 §2) and is refused when the configuration is built.
    ///
    /// ```
    /// use oidckit::ClientAuth;
    ///
    /// let auth = ClientAuth::client_secret_basic_without_form_encoding("a+b/c=");
    /// assert_eq!(auth.method_name(), "client_secret_basic");
    /// ```
    pub fn client_secret_basic_without_form_encoding(secret: impl IntoClientSecret) -> Self {
        let mut auth = Self::client_secret_basic(secret);
        auth.basic_unencoded = true;
        auth
    }

    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    pub fn client_secret_post(secret: impl IntoClientSecret) -> Self {
        Self::with_method(Method::ClientSecretPost(secret.into_client_secret()))
    }

    /// `client_secret_jwt` with HS256: a JWT assertion MACed with the secret.
    pub fn client_secret_jwt(secret: impl IntoClientSecret) -> Self {
        Self::client_secret_jwt_with_alg(secret, JwsAlgorithm::HS256)
    }

    /// `client_secret_jwt` with HS256, HS384 or HS512. Any other algorithm is
    /// reported when the [`Configuration`](crate::Configuration) is built.
    pub fn client_secret_jwt_with_alg(secret: impl IntoClientSecret, alg: JwsAlgorithm) -> Self {
        Self::with_method(Method::ClientSecretJwt(secret.into_client_secret(), alg))
    }

    /// `private_key_jwt`: a JWT assertion signed with the client's private
    /// key; the algorithm is the key's.
    pub fn private_key_jwt(key: PrivateKey) -> Self {
        Self::with_method(Method::PrivateKeyJwt(key))
    }

    /// A client assertion the platform issues, read from the file it
    /// writes (federated workload credentials: a Kubernetes projected
    /// service-account token, a SPIFFE JWT-SVID written by `spiffe-helper`):
    /// sent as `client_assertion` with the JWT-bearer assertion type
    /// (RFC 7523 §2.2), as `private_key_jwt` sends its own, but signed by
    /// the platform, whose keys the authorization server trusts for this
    /// client. The method is `private_key_jwt`.
    ///
    /// The file is read again when it changes (a rewrite, or the symlink
    /// swap Kubernetes does) and when the assertion in hand has less than a
    /// minute left; an assertion past its `exp` is never sent (an
    /// [`ErrorKind::ClientCredential`](crate::ErrorKind::ClientCredential)
    /// error instead, retryable: the platform rotates it well before).
    /// The assertion's `aud`, `iss` and `sub` are the platform's to set
    /// (e.g. the projected volume's `audience`), so
    /// [`assertion_audience`](Self::assertion_audience) and
    /// [`modify_assertion`](Self::modify_assertion) do not apply.
    ///
    /// ```
    /// use oidckit::ClientAuth;
    ///
    /// let auth = ClientAuth::client_assertion_file(
    ///     "/var/run/secrets/tokens/oidckit-token",
    /// );
    /// assert_eq!(auth.method_name(), "private_key_jwt");
    /// ```
    pub fn client_assertion_file(path: impl Into<std::path::PathBuf>) -> Self {
        Self::with_method(Method::ClientAssertion(AssertionSource::file(path.into())))
    }

    /// A client assertion from `callback`, called for every request that
    /// authenticates the client (it should return a cached credential and
    /// be quick: it runs while the request is built): for credentials that
    /// are not in a file, such as a JWT-SVID from a SPIFFE Workload API
    /// client or a token from a cloud metadata service kept fresh by a task
    /// of your own. Otherwise as [`client_assertion_file`](Self::client_assertion_file):
    /// an assertion past its `exp` is refused before it is sent, and a
    /// callback error is an [`ErrorKind::ClientCredential`](crate::ErrorKind::ClientCredential)
    /// error with the callback's error as its source.
    ///
    /// ```
    /// use std::sync::{Arc, RwLock};
    /// use oidckit::ClientAuth;
    ///
    /// // Kept fresh elsewhere, e.g. by a task watching the Workload API.
    /// let svid = Arc::new(RwLock::new(String::new()));
    /// let current = svid.clone();
    /// let auth = ClientAuth::client_assertion_callback(move || {
    ///     Ok(current.read().unwrap().clone())
    /// });
    /// assert_eq!(auth.method_name(), "private_key_jwt");
    /// ```
    pub fn client_assertion_callback(
        callback: impl Fn() -> std::result::Result<String, CallbackError> + Send + Sync + 'static,
    ) -> Self {
        Self::with_method(Method::ClientAssertion(AssertionSource::callback(callback)))
    }

    /// `none`: a public client; only `client_id` is sent.
    pub fn none() -> Self {
        Self::with_method(Method::None)
    }

    /// `tls_client_auth` (RFC 8705 §2.1): the client authenticates with a
    /// PKI-issued certificate in the TLS handshake; `client_id` goes in the
    /// body. The certificate is configured on the HTTP client (see
    /// [`ConfigurationBuilder::http_client`](crate::ConfigurationBuilder::http_client)).
    pub fn tls_client_auth() -> Self {
        Self::with_method(Method::TlsClientAuth)
    }

    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): like
    /// [`tls_client_auth`](ClientAuth::tls_client_auth) with a self-signed
    /// certificate registered with the server.
    pub fn self_signed_tls_client_auth() -> Self {
        Self::with_method(Method::SelfSignedTlsClientAuth)
    }

    /// Sets the `aud` of JWT client assertions (default: the issuer). Has no
    /// effect on methods that send no assertion.
    #[must_use]
    pub fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.audience = audience;
        self
    }

    /// A hook that changes the assertion's claims before signing (as
    /// openid-client's `modifyAssertion`). Has no effect on methods that send
    /// no assertion.
    #[must_use]
    pub fn modify_assertion(
        mut self,
        f: impl Fn(&mut Map<String, Value>) + Send + Sync + 'static,
    ) -> Self {
        self.modify = Some(Arc::new(f));
        self
    }

    /// The registered name of the method (`client_secret_basic`, …), as used
    /// in `token_endpoint_auth_method`.
    pub fn method_name(&self) -> &'static str {
        match &self.method {
            Method::ClientSecretBasic(_) => "client_secret_basic",
            Method::ClientSecretPost(_) => "client_secret_post",
            Method::ClientSecretJwt(..) => "client_secret_jwt",
            Method::PrivateKeyJwt(_) | Method::ClientAssertion(_) => "private_key_jwt",
            Method::None => "none",
            Method::TlsClientAuth => "tls_client_auth",
            Method::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Whether [`apply`](Self::apply) puts `client_id` in the form: every
    /// method but Basic, which sends it in the `Authorization` header.
    pub(crate) fn sends_client_id_in_form(&self) -> bool {
        !matches!(self.method, Method::ClientSecretBasic(_))
    }

    /// The JWS algorithm of assertions, for the JWT methods.
    pub fn signing_algorithm(&self) -> Option<JwsAlgorithm> {
        match &self.method {
            Method::ClientSecretJwt(_, alg) => Some(*alg),
            Method::PrivateKeyJwt(key) => Some(key.algorithm()),
            _ => None,
        }
    }

    /// Whether assertions name the endpoint they are sent to.
    pub(crate) fn audience_is_endpoint(&self) -> bool {
        self.audience == AssertionAudience::TokenEndpoint
    }

    /// Whether assertions have `issuer` as their audience.
    pub(crate) fn audience_is_issuer(&self, issuer: &str) -> bool {
        match &self.audience {
            AssertionAudience::Issuer => true,
            AssertionAudience::Custom(aud) => aud == issuer,
            AssertionAudience::TokenEndpoint => false,
        }
    }

    fn is_jwt(&self) -> bool {
        self.signing_algorithm().is_some()
    }

    /// Checks what the constructors could not: done once, when the
    /// configuration is built.
    pub(crate) fn validate(&self) -> Result<()> {
        match &self.method {
            Method::ClientSecretJwt(_, alg) if !alg.is_symmetric() => {
                Err(Error::invalid_configuration(format!(
                    "client_secret_jwt needs HS256, HS384 or HS512, not {alg}"
                )))
            }
            Method::ClientSecretBasic(s)
            | Method::ClientSecretPost(s)
            | Method::ClientSecretJwt(s, _)
                if s.secret().is_empty() =>
            {
                Err(Error::invalid_configuration(format!(
                    "{} needs a non-empty client secret",
                    self.method_name()
                )))
            }
            _ => Ok(()),
        }
    }

    /// This method, ready for `client_id`: work that does not change per
    /// request is done here once.
    pub(crate) fn prepared(mut self, client_id: &str) -> Result<Self> {
        if let Method::ClientSecretBasic(secret) = &self.method {
            let header = basic_authorization(client_id, secret, self.basic_unencoded)
                .map_err(|e| e.with_kind(ErrorKind::InvalidConfiguration))?;
            self.basic_header = Some((client_id.to_owned(), header));
        }
        Ok(self)
    }

    /// Adds this method's credentials to a request: an `Authorization`
    /// header, or form parameters.
    pub(crate) fn apply(
        &self,
        ctx: &AuthContext<'_>,
        form: &mut impl FormSink,
        headers: &mut HeaderMap,
    ) -> Result<()> {
        match &self.method {
            Method::ClientSecretBasic(secret) => {
                let header = match &self.basic_header {
                    Some((id, header)) if id == ctx.client_id => header.clone(),
                    _ => basic_authorization(ctx.client_id, secret, self.basic_unencoded)?,
                };
                headers.insert(AUTHORIZATION, header);
            }
            Method::ClientSecretPost(secret) => {
                form.pair("client_id", ctx.client_id);
                form.pair("client_secret", secret.secret());
            }
            Method::ClientSecretJwt(..) | Method::PrivateKeyJwt(_) => {
                form.pair("client_id", ctx.client_id);
                form.pair("client_assertion_type", JWT_BEARER_CLIENT_ASSERTION_TYPE);
                form.pair("client_assertion", &self.assertion(ctx)?);
            }
            Method::ClientAssertion(source) => {
                form.pair("client_id", ctx.client_id);
                form.pair("client_assertion_type", JWT_BEARER_CLIENT_ASSERTION_TYPE);
                form.pair("client_assertion", &source.assertion(ctx.now)?);
            }
            Method::None | Method::TlsClientAuth | Method::SelfSignedTlsClientAuth => {
                form.pair("client_id", ctx.client_id);
            }
        }
        Ok(())
    }

    /// Builds and signs a client assertion (RFC 7523 §3).
    fn assertion(&self, ctx: &AuthContext<'_>) -> Result<String> {
        let now = unix_seconds(ctx.now);
        let aud = match &self.audience {
            AssertionAudience::Issuer => ctx.issuer.to_owned(),
            AssertionAudience::TokenEndpoint => ctx.endpoint.to_owned(),
            AssertionAudience::Custom(a) => a.clone(),
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), ctx.client_id.into());
        claims.insert("sub".into(), ctx.client_id.into());
        claims.insert("aud".into(), aud.into());
        claims.insert("jti".into(), jose::random_b64url(32)?.into());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), (now + ASSERTION_LIFETIME.as_secs()).into());
        if let Some(modify) = &self.modify {
            modify(&mut claims);
        }
        match &self.method {
            Method::ClientSecretJwt(secret, alg) => {
                jose::sign_hmac_jwt(*alg, secret.secret().as_bytes(), claims)
            }
            Method::PrivateKeyJwt(key) => key.sign_jwt(None, &[], claims),
            _ => Err(Error::signing(format!(
                "{} sends no assertion",
                self.method_name()
            ))),
        }
    }
}

/// What client authentication needs to know about the request.
pub(crate) struct AuthContext<'a> {
    pub client_id: &'a str,
    pub issuer: &'a str,
    /// The URL the request goes to (for `aud` = token endpoint).
    pub endpoint: &'a str,
    /// "Now", with the configured clock skew applied.
    pub now: SystemTime,
}

/// `Basic base64(urlencode(client_id) ":" urlencode(secret))`: each part is
/// `application/x-www-form-urlencoded` first (RFC 6749 §2.3.1), so a `:` in
/// the id or secret cannot split them wrongly. `unencoded`: the parts as
/// they are, for servers that do not decode them (then a `:` in the client
/// id is refused, RFC 7617 §2).
fn basic_authorization(
    client_id: &str,
    secret: &ClientSecret,
    unencoded: bool,
) -> Result<HeaderValue> {
    let credentials = if unencoded {
        if client_id.contains(':') {
            return Err(Error::invalid_input(
                "a client_id with `:` cannot be sent in Basic credentials without form-encoding",
            ));
        }
        format!("{client_id}:{}", secret.secret())
    } else {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!("{}:{}", encode(client_id), encode(secret.secret()))
    };
    let mut value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))
        .map_err(|_| Error::invalid_input("unencodable Basic credentials"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(now: SystemTime) -> AuthContext<'static> {
        AuthContext {
            client_id: "client:1",
            issuer: "https://as.example",
            endpoint: "https://as.example/token",
            now,
        }
    }

    fn decode_basic(v: &HeaderValue) -> String {
        let s = v.to_str().unwrap().strip_prefix("Basic ").unwrap();
        String::from_utf8(STANDARD.decode(s).unwrap()).unwrap()
    }

    #[test]
    fn basic_form_encodes_id_and_secret() {
        let auth = ClientAuth::client_secret_basic("a b:/+%&=?");
        let mut form = vec![];
        let mut headers = HeaderMap::new();
        auth.apply(&ctx(SystemTime::now()), &mut form, &mut headers)
            .unwrap();
        assert!(
            form.is_empty(),
            "client_id must not be in the body with Basic"
        );
        let value = &headers[AUTHORIZATION];
        assert!(value.is_sensitive());
        assert_eq!(decode_basic(value), "client%3A1:a+b%3A%2F%2B%25%26%3D%3F");
    }

    #[test]
    fn post_and_none_put_client_id_in_the_body() {
        let mut form: Vec<(String, String)> = vec![];
        let mut headers = HeaderMap::new();
        ClientAuth::client_secret_post("s")
            .apply(&ctx(SystemTime::now()), &mut form, &mut headers)
            .unwrap();
        assert_eq!(
            form,
            [
                ("client_id".into(), "client:1".into()),
                ("client_secret".into(), "s".into())
            ]
        );
        let mut form: Vec<(String, String)> = vec![];
        ClientAuth::tls_client_auth()
            .apply(&ctx(SystemTime::now()), &mut form, &mut headers)
            .unwrap();
        assert_eq!(form, [("client_id".into(), "client:1".into())]);
        assert!(headers.is_empty());
    }

    #[test]
    fn assertion_claims() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let key = PrivateKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_kid("k");
        let auth = ClientAuth::private_key_jwt(key).modify_assertion(|c| {
            c.insert("extra".into(), 1.into());
        });
        let mut form: Vec<(String, String)> = vec![];
        auth.apply(&ctx(now), &mut form, &mut HeaderMap::new())
            .unwrap();
        assert_eq!(form[1].1, JWT_BEARER_CLIENT_ASSERTION_TYPE);
        let jwt = &form[2].1;
        let payload: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(payload["iss"], "client:1");
        assert_eq!(payload["sub"], "client:1");
        assert_eq!(payload["aud"], "https://as.example");
        assert_eq!(payload["iat"], 1_700_000_000u64);
        assert_eq!(payload["nbf"], 1_700_000_000u64);
        assert_eq!(payload["exp"], 1_700_000_060u64);
        assert_eq!(payload["extra"], 1);
        assert_eq!(payload["jti"].as_str().unwrap().len(), 43);
    }

    #[test]
    fn validation_and_debug() {
        assert!(
            ClientAuth::client_secret_jwt_with_alg("s", JwsAlgorithm::ES256)
                .validate()
                .is_err()
        );
        assert!(ClientAuth::client_secret_basic("").validate().is_err());
        assert!(
            ClientAuth::client_secret_jwt_with_alg("s", JwsAlgorithm::HS512)
                .validate()
                .is_ok()
        );
        let debug = format!("{:?}", ClientAuth::client_secret_jwt("topsecret"));
        assert!(!debug.contains("topsecret"), "{debug}");
    }
}

//! Registered clients and client authentication at the token, pushed
//! authorization request, device authorization, introspection and
//! revocation endpoints (RFC 6749 §2.3, RFC 7523 §3, RFC 9126 §2, RFC 8628
//! §3.1, OIDC Core §9), verified as a real server does.

use axum::http::HeaderMap;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use josekit::jwk::Jwk;
use serde_json::{Map, Value};
use url::form_urlencoded;

use super::keys::verifier_for;
use super::response_type::ResponseType;
use super::ServerState;
use crate::client_auth::JWT_BEARER_CLIENT_ASSERTION_TYPE;
use crate::clock::unix_seconds;
use crate::jose::JwsAlgorithm;

/// A client registered with the
/// [`MockAuthorizationServer`](super::MockAuthorizationServer), with the one
/// authentication method it must use.
#[derive(Clone)]
pub struct MockClient {
    pub(super) client_id: String,
    method: MockAuth,
    pub(super) scopes: Option<Vec<String>>,
    pub(super) redirect_uris: Vec<String>,
    pub(super) post_logout_redirect_uris: Vec<String>,
    /// The client must push its authorization requests (RFC 9126 §6).
    pub(super) require_par: bool,
    /// The key request objects are verified with, when not the
    /// `private_key_jwt` key.
    request_object_key: Option<Jwk>,
    /// The registered `authorization_signed_response_alg` (JARM §3).
    pub(super) authorization_signed_response_alg: Option<JwsAlgorithm>,
    /// The registered `introspection_signed_response_alg` (RFC 9701 §6).
    pub(super) introspection_signed_response_alg: Option<JwsAlgorithm>,
    /// The registered `response_types` (OIDC Dynamic Client Registration
    /// §2), as given.
    response_types: Vec<String>,
    /// A client assertion may be used again while it is valid, and needs no
    /// `jti`: platform-issued workload credentials.
    reusable_assertions: bool,
}

#[derive(Clone)]
enum MockAuth {
    Basic(String),
    /// Basic credentials compared as sent, not form-decoded (a server that
    /// does not follow RFC 6749 §2.3.1).
    BasicRaw(String),
    Post(String),
    SecretJwt(String),
    PrivateKeyJwt(Jwk),
    None,
}

impl std::fmt::Debug for MockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClient")
            .field("client_id", &self.client_id)
            .field("method", &self.method_name())
            .field("scopes", &self.scopes)
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("require_pushed_authorization_requests", &self.require_par)
            .field("request_object_key", &self.request_object_key.is_some())
            .field(
                "authorization_signed_response_alg",
                &self.authorization_signed_response_alg,
            )
            .field(
                "introspection_signed_response_alg",
                &self.introspection_signed_response_alg,
            )
            .field("response_types", &self.response_types)
            .field("reusable_assertions", &self.reusable_assertions)
            .finish_non_exhaustive()
    }
}

impl MockClient {
    /// A client that must use `client_secret_basic` with `secret`.
    pub fn client_secret_basic(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::Basic(secret.into()))
    }

    /// A client that must use `client_secret_basic` with `secret`, checked
    /// as a server that does not form-decode the credentials would (RFC 6749
    /// §2.3.1 says servers must): to test
    /// [`ClientAuth::client_secret_basic_without_form_encoding`](crate::ClientAuth::client_secret_basic_without_form_encoding).
    pub fn client_secret_basic_without_form_decoding(
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self::with(client_id, MockAuth::BasicRaw(secret.into()))
    }

    /// A client that must use `client_secret_post` with `secret`.
    pub fn client_secret_post(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::Post(secret.into()))
    }

    /// A client that must use `client_secret_jwt` (any HS algorithm) with `secret`.
    pub fn client_secret_jwt(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::SecretJwt(secret.into()))
    }

    /// A client that must use `private_key_jwt`, verified with `public_jwk`
    /// (e.g. [`PrivateKey::public_jwk`](crate::PrivateKey::public_jwk)).
    ///
    /// # Panics
    /// If `public_jwk` is not a JWK.
    pub fn private_key_jwt(client_id: impl Into<String>, public_jwk: &Map<String, Value>) -> Self {
        let jwk = Jwk::from_map(public_jwk.clone()).expect("a public JWK");
        Self::with(client_id, MockAuth::PrivateKeyJwt(jwk))
    }

    /// Accepts a client assertion again while it is valid, and without a
    /// `jti` (by default each `jti` is accepted once, as RFC 7523 §3 lets a
    /// server require): what authorization servers that accept federated
    /// workload credentials do, since the platform hands the workload one
    /// token for its whole lifetime (see
    /// [`ClientAuth::client_assertion_file`](crate::ClientAuth::client_assertion_file)).
    #[must_use]
    pub fn reusable_assertions(mut self) -> Self {
        self.reusable_assertions = true;
        self
    }

    /// A public client (`none`), or one authenticated by TLS: only
    /// `client_id` is checked.
    pub fn none(client_id: impl Into<String>) -> Self {
        Self::with(client_id, MockAuth::None)
    }

    /// Restricts the scopes the client may request; others give
    /// `invalid_scope`. At the authorization endpoint the OpenID Connect
    /// scopes (`openid`, `profile`, `email`, `address`, `phone`,
    /// `offline_access`) are always allowed.
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Registers the redirect URIs the authorization endpoint accepts for
    /// this client, compared as exact strings (OIDC Core §3.1.2.1). Without
    /// any, every absolute URL without a fragment is accepted.
    #[must_use]
    pub fn redirect_uris<I, S>(mut self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Registers the `post_logout_redirect_uris` the end-session endpoint
    /// accepts for this client, compared as exact strings (RP-Initiated
    /// Logout 1.0 §3.1). Without any, every absolute URL without a fragment
    /// is accepted.
    #[must_use]
    pub fn post_logout_redirect_uris<I, S>(mut self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.post_logout_redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Registers `require_pushed_authorization_requests` for this client
    /// (RFC 9126 §6): the authorization endpoint then refuses its requests
    /// that do not carry a `request_uri` from the PAR endpoint (a 400 with
    /// `invalid_request`). Default: false.
    #[must_use]
    pub fn require_pushed_authorization_requests(mut self, require: bool) -> Self {
        self.require_par = require;
        self
    }

    /// Registers the public key that verifies this client's request objects
    /// (the `request` parameter, RFC 9101 §6.1), e.g.
    /// [`PrivateKey::public_jwk`](crate::PrivateKey::public_jwk): for a
    /// client of another authentication method than `private_key_jwt`, whose
    /// key verifies them otherwise. The JWK's `alg`, when it has one, is the
    /// only algorithm accepted with it.
    ///
    /// # Panics
    /// If `public_jwk` is not a JWK.
    #[must_use]
    pub fn request_object_key(mut self, public_jwk: &Map<String, Value>) -> Self {
        self.request_object_key = Some(Jwk::from_map(public_jwk.clone()).expect("a public JWK"));
        self
    }

    /// Registers `authorization_signed_response_alg` (JWT Secured
    /// Authorization Response Mode for OAuth 2.0, §3): the algorithm of the
    /// JWTs of its `response_mode=jwt` (or `query.jwt`, `form_post.jwt`)
    /// responses. The mock signs them with its own signing key, so this must
    /// be the server's [`signing_alg`](super::MockServerBuilder::signing_alg):
    /// [`start`](super::MockServerBuilder::start) fails otherwise. Without
    /// it, JARM responses are signed with the server's algorithm too.
    #[must_use]
    pub fn authorization_signed_response_alg(mut self, alg: JwsAlgorithm) -> Self {
        self.authorization_signed_response_alg = Some(alg);
        self
    }

    /// Registers `introspection_signed_response_alg` (RFC 9701 §6): the
    /// introspection endpoint answers this client, when its request accepts
    /// `application/token-introspection+jwt`, with a JWT signed with the
    /// server's key (header `typ: token-introspection+jwt`; claims `iss`,
    /// `aud` (the client), `iat` and `token_introspection`, the JSON
    /// answer), else with JSON. As for
    /// [`authorization_signed_response_alg`](Self::authorization_signed_response_alg),
    /// this must be the server's
    /// [`signing_alg`](super::MockServerBuilder::signing_alg).
    #[must_use]
    pub fn introspection_signed_response_alg(mut self, alg: JwsAlgorithm) -> Self {
        self.introspection_signed_response_alg = Some(alg);
        self
    }

    /// Registers the `response_types` the client may use at the
    /// authorization endpoint (OpenID Connect Dynamic Client Registration
    /// 1.0 §2): among `"code"` (the code flow), `"code id_token"` (the
    /// hybrid flow, OIDC Core §3.3) and `"id_token"` (the implicit flow's
    /// sign-in, OIDC Core §3.2), the words of each in any order. A request
    /// for a supported type the client did not register is answered with
    /// `unauthorized_client` (RFC 6749 §4.1.2.1). Default: `["code"]`.
    ///
    /// ```
    /// # use oidckit::testing::MockClient;
    /// let client = MockClient::none("spa").response_types(["code", "code id_token", "id_token"]);
    /// ```
    #[must_use]
    pub fn response_types<I, S>(mut self, response_types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.response_types = response_types.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the client registered `response_type`.
    pub(super) fn allows_response_type(&self, response_type: ResponseType) -> bool {
        self.response_types
            .iter()
            .any(|registered| ResponseType::of(registered) == Some(response_type))
    }

    fn with(client_id: impl Into<String>, method: MockAuth) -> Self {
        MockClient {
            client_id: client_id.into(),
            method,
            scopes: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            require_par: false,
            introspection_signed_response_alg: None,
            request_object_key: None,
            authorization_signed_response_alg: None,
            response_types: vec!["code".to_owned()],
            reusable_assertions: false,
        }
    }

    /// The key that verifies the client's request objects: the registered
    /// [`request_object_key`](Self::request_object_key), else its
    /// `private_key_jwt` key.
    pub(super) fn request_object_jwk(&self) -> Option<&Jwk> {
        match (&self.request_object_key, &self.method) {
            (Some(key), _) => Some(key),
            (None, MockAuth::PrivateKeyJwt(key)) => Some(key),
            _ => None,
        }
    }

    /// Whether `uri` may be used as a redirect: one of `registered`, or,
    /// when none is registered, an absolute URL without a fragment (RFC 6749
    /// §3.1.2).
    pub(super) fn allows_uri(registered: &[String], uri: &str) -> bool {
        if registered.is_empty() {
            url::Url::parse(uri).is_ok_and(|u| u.fragment().is_none())
        } else {
            registered.iter().any(|r| r == uri)
        }
    }

    fn method_name(&self) -> &'static str {
        match self.method {
            MockAuth::Basic(_) | MockAuth::BasicRaw(_) => "client_secret_basic",
            MockAuth::Post(_) => "client_secret_post",
            MockAuth::SecretJwt(_) => "client_secret_jwt",
            MockAuth::PrivateKeyJwt(_) => "private_key_jwt",
            MockAuth::None => "none",
        }
    }
}

/// Verifies client authentication as a real server would; the error string
/// says why it failed.
pub(super) fn authenticate(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<MockClient, String> {
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let basic = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|h| decode_basic(h.as_bytes()))
        .transpose()?;
    let client_id = match (&basic, param("client_id")) {
        (Some((id, _)), None) => form_decode(id),
        (None, Some(id)) => id.to_owned(),
        (Some(_), Some(_)) => return Err("client_id both in Basic and in the body".into()),
        (None, None) => return Err("no client authentication".into()),
    };
    // Basic credentials are form-decoded (RFC 6749 §2.3.1), except for a
    // client registered as one of a server that does not decode them.
    let client = state
        .clients
        .read()
        .expect("lock")
        .iter()
        .find(|c| match (&c.method, &basic) {
            (MockAuth::BasicRaw(_), Some((raw_id, _))) => c.client_id == *raw_id,
            (_, Some((raw_id, _))) => c.client_id == form_decode(raw_id),
            _ => c.client_id == client_id,
        })
        .cloned()
        .ok_or_else(|| format!("unknown client {client_id:?}"))?;
    let used = match (&basic, param("client_secret"), param("client_assertion")) {
        (Some(_), None, None) => "client_secret_basic",
        (None, Some(_), None) => "client_secret_post",
        (None, None, Some(_)) => "jwt",
        (None, None, None) => "none",
        _ => return Err("more than one client authentication method".into()),
    };
    match (&client.method, used) {
        (MockAuth::Basic(secret), "client_secret_basic") => {
            let (_, given) = basic.as_ref().ok_or("no Basic credentials")?;
            check_secret(&form_decode(given), secret)?;
        }
        (MockAuth::BasicRaw(secret), "client_secret_basic") => {
            let (_, given) = basic.as_ref().ok_or("no Basic credentials")?;
            check_secret(given, secret)?;
        }
        (MockAuth::Post(secret), "client_secret_post") => {
            check_secret(param("client_secret").unwrap_or_default(), secret)?;
        }
        (MockAuth::SecretJwt(_) | MockAuth::PrivateKeyJwt(_), "jwt") => {
            if param("client_assertion_type") != Some(JWT_BEARER_CLIENT_ASSERTION_TYPE) {
                return Err("wrong client_assertion_type".into());
            }
            let assertion = param("client_assertion").unwrap_or_default();
            verify_assertion(state, &client, assertion)?;
        }
        (MockAuth::None, "none") => {}
        _ => {
            return Err(format!(
                "client {client_id:?} is registered for {}, used {used}",
                client.method_name()
            ))
        }
    }
    Ok(client)
}

fn check_secret(given: &str, expected: &str) -> Result<(), String> {
    if given.len() == expected.len() && openssl::memcmp::eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err("invalid secret".into())
    }
}

/// `application/x-www-form-urlencoded` decoding of one value.
fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Splits `Basic base64(id:secret)`; the parts are returned as sent (still
/// form-encoded, RFC 6749 §2.3.1).
fn decode_basic(value: &[u8]) -> Result<(String, String), String> {
    let value = std::str::from_utf8(value).map_err(|_| "non-UTF-8 Authorization")?;
    let encoded = value
        .strip_prefix("Basic ")
        .ok_or("Authorization is not Basic")?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "Basic credentials are not base64")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or("Basic credentials without ':'")?;
    Ok((id.to_owned(), secret.to_owned()))
}

fn verify_assertion(state: &ServerState, client: &MockClient, jwt: &str) -> Result<(), String> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("assertion is not a compact JWS".into());
    };
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|_| "bad header")?)
            .map_err(|_| "bad header JSON")?;
    let alg: JwsAlgorithm = header["alg"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| "unsupported alg")?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "bad signature encoding")?;
    let signing_input = format!("{h}.{p}");
    match &client.method {
        MockAuth::SecretJwt(secret) => {
            let digest = match alg {
                JwsAlgorithm::HS256 => openssl::hash::MessageDigest::sha256(),
                JwsAlgorithm::HS384 => openssl::hash::MessageDigest::sha384(),
                JwsAlgorithm::HS512 => openssl::hash::MessageDigest::sha512(),
                _ => return Err("client_secret_jwt needs an HS algorithm".into()),
            };
            let key = openssl::pkey::PKey::hmac(secret.as_bytes()).map_err(|e| e.to_string())?;
            let mut signer = openssl::sign::Signer::new(digest, &key).map_err(|e| e.to_string())?;
            signer
                .update(signing_input.as_bytes())
                .map_err(|e| e.to_string())?;
            let mac = signer.sign_to_vec().map_err(|e| e.to_string())?;
            if mac.len() != signature.len() || !openssl::memcmp::eq(&mac, &signature) {
                return Err("assertion MAC does not verify".into());
            }
        }
        MockAuth::PrivateKeyJwt(jwk) => {
            let verifier = verifier_for(alg, jwk)?;
            verifier
                .verify(signing_input.as_bytes(), &signature)
                .map_err(|_| "assertion signature does not verify")?;
        }
        _ => return Err("client is not registered for JWT authentication".into()),
    }
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|_| "bad payload")?)
            .map_err(|_| "bad payload JSON")?;
    let id = client.client_id.as_str();
    if claims["iss"] != id || claims["sub"] != id {
        return Err("assertion iss/sub must be the client_id".into());
    }
    // RFC 7523 §3: the issuer or the token endpoint; at the PAR and device
    // authorization endpoints also their own URLs (RFC 9126 §2, RFC 8628
    // §3.1).
    let token_endpoint = format!("{}/token", state.issuer);
    let par_endpoint = format!("{}/par", state.issuer);
    let device_endpoint = format!("{}/device_authorization", state.issuer);
    let aud_ok = |a: &Value| {
        a == state.issuer.as_str()
            || a == token_endpoint.as_str()
            || a == par_endpoint.as_str()
            || a == device_endpoint.as_str()
    };
    let aud_valid = match &claims["aud"] {
        Value::Array(list) => list.iter().any(aud_ok),
        other => aud_ok(other),
    };
    if !aud_valid {
        return Err(format!(
            "assertion aud {} is not the issuer, the token endpoint, the PAR endpoint or the device \
             authorization endpoint",
            claims["aud"]
        ));
    }
    let now = unix_seconds(state.clock.now()) as i64;
    let exp = claims["exp"].as_i64().ok_or("assertion without exp")?;
    if exp <= now {
        return Err("assertion expired".into());
    }
    if claims["iat"].as_i64().is_none() {
        return Err("assertion without iat".into());
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 5) {
        return Err("assertion not yet valid".into());
    }
    if client.reusable_assertions {
        return Ok(());
    }
    let jti = claims["jti"].as_str().ok_or("assertion without jti")?;
    if !state.seen_jti.lock().expect("lock").insert(jti.to_owned()) {
        return Err("assertion jti replayed".into());
    }
    Ok(())
}

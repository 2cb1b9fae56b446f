//! Dynamic client registration ([RFC 7591](https://www.rfc-editor.org/rfc/rfc7591))
//! and management ([RFC 7592](https://www.rfc-editor.org/rfc/rfc7592)): a
//! client registers its metadata at the server's `registration_endpoint`
//! and gets a `client_id` (and a secret, for a confidential method), then
//! reads, updates and deletes its registration at its
//! `registration_client_uri` with the registration access token.
//!
//! There is no client yet when registering, so the low-level pair does not
//! take an [`EndpointContext`](crate::EndpointContext): only the server
//! metadata, the client metadata and the optional initial access token. The
//! management pairs take the [`RegisteredClient`] they act on.

use std::fmt;
use std::future::IntoFuture;

use oauth2::{AccessToken, ClientSecret};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};
use tracing::Instrument as _;
use url::Url;

use crate::client_auth::ClientAuth;
use crate::config::client_metadata::ClientMetadata;
use crate::config::discovery::{build_discovery_request, process_discovery_response};
use crate::config::metadata::ServerMetadata;
use crate::config::{transport_settings_setters, Configuration, ConfigurationBuilder, Settings};
use crate::endpoint::request::{EndpointRequest, LIBRARY_HEADERS};
use crate::endpoint::response::error_from_response;
use crate::endpoint::REGISTRATION;
use crate::error::{server_text, Error, Result};
use crate::into_url::IntoUrl;
use crate::jose::JwsAlgorithm;
use crate::options::{Accepts, BoxFuture, Call, RequestOptions};
use crate::transport::{self, json_object, EndpointResponse, Transport};
use crate::DiscoveryAlgorithm;

/// Members a client never sends: the server assigns them (RFC 7591 §3.2.1,
/// RFC 7592 §2.2 forbids them in an update), they are credentials, or they
/// are settings of this library rather than registered metadata.
const NOT_SENT: [&str; 7] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
    "client_secret",
    "use_mtls_endpoint_aliases",
    // Sent only when set (see `metadata_body`).
    "client_id",
];

/// A registered client, as the registration endpoint (RFC 7591 §3.2.1) or
/// the client configuration endpoint (RFC 7592 §3) describes it: its
/// metadata, and the credentials the server issued.
///
/// `Debug` never shows the client secret or the registration access token.
///
/// ```
/// use oidckit::{ClientMetadata, RegisteredClient};
///
/// let mut metadata = ClientMetadata::new("s6BhdRkqt3");
/// metadata.token_endpoint_auth_method = Some("client_secret_post".into());
/// let client = RegisteredClient::new(metadata).with_client_secret("cf136dc3c1fc93f31185e5885805d", 0);
/// assert_eq!(client.client_id(), "s6BhdRkqt3");
/// assert_eq!(client.client_auth()?.method_name(), "client_secret_post");
/// assert!(!format!("{client:?}").contains("cf136dc3"));
/// # Ok::<_, oidckit::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// Every registered member, `client_id` included, unknown members kept
    /// (also `client_id_issued_at`, `client_secret_expires_at` and
    /// `registration_client_uri` as the server sent them). Never a secret.
    pub metadata: ClientMetadata,
    /// The client secret, if the server issued one.
    pub client_secret: Option<ClientSecret>,
    /// When the client secret expires, seconds since the epoch; 0 for
    /// never. Always set when a secret was issued (RFC 7591 §3.2.1).
    pub client_secret_expires_at: Option<u64>,
    /// The token for the client configuration endpoint (RFC 7592 §3), if
    /// the server supports management. It may change with each read or
    /// update: use the one of the latest response.
    pub registration_access_token: Option<AccessToken>,
    /// The client configuration endpoint (RFC 7592 §3), with the
    /// registration access token.
    pub registration_client_uri: Option<Url>,
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { Some("[redacted]") } else { None };
        f.debug_struct("RegisteredClient")
            .field("metadata", &self.metadata)
            .field("client_secret", &redacted(self.client_secret.is_some()))
            .field("client_secret_expires_at", &self.client_secret_expires_at)
            .field(
                "registration_access_token",
                &redacted(self.registration_access_token.is_some()),
            )
            .field(
                "registration_client_uri",
                &self.registration_client_uri.as_ref().map(Url::as_str),
            )
            .finish()
    }
}

impl RegisteredClient {
    /// A registered client with this metadata and no credentials (for a
    /// registration stored by the caller; responses are read by
    /// [`process_registration_response`]).
    pub fn new(metadata: ClientMetadata) -> Self {
        RegisteredClient {
            metadata,
            client_secret: None,
            client_secret_expires_at: None,
            registration_access_token: None,
            registration_client_uri: None,
        }
    }

    /// With a client secret and when it expires (0: never).
    #[must_use]
    pub fn with_client_secret(mut self, secret: impl Into<String>, expires_at: u64) -> Self {
        self.client_secret = Some(ClientSecret::new(secret.into()));
        self.client_secret_expires_at = Some(expires_at);
        self
    }

    /// With the client configuration endpoint and its registration access
    /// token (RFC 7592 §3).
    #[must_use]
    pub fn with_registration_access_token(
        mut self,
        registration_client_uri: Url,
        registration_access_token: impl Into<String>,
    ) -> Self {
        self.registration_client_uri = Some(registration_client_uri);
        self.registration_access_token = Some(AccessToken::new(registration_access_token.into()));
        self
    }

    /// The client identifier.
    pub fn client_id(&self) -> &str {
        &self.metadata.client_id
    }

    /// The registered `token_endpoint_auth_method`, `client_secret_basic`
    /// when the server named none (RFC 7591 §2).
    pub fn token_endpoint_auth_method(&self) -> &str {
        self.metadata
            .token_endpoint_auth_method
            .as_deref()
            .unwrap_or("client_secret_basic")
    }

    /// The client authentication of the registered
    /// `token_endpoint_auth_method`, with the issued secret:
    /// `client_secret_basic` (the default, RFC 7591 §2), `client_secret_post`,
    /// `client_secret_jwt` (with `token_endpoint_auth_signing_alg`, default
    /// HS256) or `none`.
    ///
    /// [`ErrorKind::InvalidConfiguration`](crate::ErrorKind::InvalidConfiguration) for a method that needs what only
    /// the caller has (`private_key_jwt`'s key, a TLS client certificate:
    /// use [`configuration_builder_with_auth`](Self::configuration_builder_with_auth)),
    /// an unknown method, or a secret method without an issued secret.
    pub fn client_auth(&self) -> Result<ClientAuth> {
        let method = self.token_endpoint_auth_method();
        let secret = || {
            self.client_secret.clone().ok_or_else(|| {
                Error::invalid_configuration(format!(
                    "the client is registered for {method}, but the server issued no client_secret"
                ))
            })
        };
        match method {
            "client_secret_basic" => Ok(ClientAuth::client_secret_basic(secret()?)),
            "client_secret_post" => Ok(ClientAuth::client_secret_post(secret()?)),
            "client_secret_jwt" => {
                let alg = match self.metadata.token_endpoint_auth_signing_alg.as_deref() {
                    None => JwsAlgorithm::HS256,
                    Some(name) => name.parse().map_err(|_| {
                        Error::invalid_configuration(format!(
                            "unsupported token_endpoint_auth_signing_alg {:?}",
                            server_text(name, 40)
                        ))
                    })?,
                };
                Ok(ClientAuth::client_secret_jwt_with_alg(secret()?, alg))
            }
            "none" => Ok(ClientAuth::none()),
            "private_key_jwt" | "tls_client_auth" | "self_signed_tls_client_auth" => {
                Err(Error::invalid_configuration(format!(
                    "{method} needs the client's key or certificate: \
                     use RegisteredClient::configuration_builder_with_auth"
                )))
            }
            other => Err(Error::invalid_configuration(format!(
                "unknown token_endpoint_auth_method {:?}",
                server_text(other, 40)
            ))),
        }
    }

    /// A [`Configuration`] for this client at `server`, its client
    /// authentication from [`client_auth`](Self::client_auth), every other
    /// setting the default.
    pub fn configuration(&self, server: ServerMetadata) -> Result<Configuration> {
        self.configuration_builder(server)?.build()
    }

    /// A [`ConfigurationBuilder`] for this client at `server` (to change the
    /// timeout, the HTTP client, …), its client authentication from
    /// [`client_auth`](Self::client_auth) and its metadata this client's.
    pub fn configuration_builder(&self, server: ServerMetadata) -> Result<ConfigurationBuilder> {
        let auth = self.client_auth()?;
        Ok(self.builder_with(server, auth))
    }

    /// A [`ConfigurationBuilder`] for this client with the caller's client
    /// authentication, for `private_key_jwt` (the key whose public half the
    /// client registered) and the TLS methods.
    /// [`ErrorKind::InvalidConfiguration`](crate::ErrorKind::InvalidConfiguration) when `auth` is not the registered
    /// method.
    pub fn configuration_builder_with_auth(
        &self,
        server: ServerMetadata,
        auth: ClientAuth,
    ) -> Result<ConfigurationBuilder> {
        let registered = self.token_endpoint_auth_method();
        if auth.method_name() != registered {
            return Err(Error::invalid_configuration(format!(
                "the client is registered for {registered}, not {}",
                auth.method_name()
            )));
        }
        Ok(self.builder_with(server, auth))
    }

    fn builder_with(&self, server: ServerMetadata, auth: ClientAuth) -> ConfigurationBuilder {
        Configuration::builder(server, self.client_id(), auth)
            .client_metadata(self.metadata.clone())
    }

    /// The client configuration endpoint and the registration access token,
    /// which management needs.
    fn management(&self, allow_insecure_requests: bool) -> Result<(&Url, &AccessToken)> {
        let (Some(uri), Some(token)) = (
            &self.registration_client_uri,
            &self.registration_access_token,
        ) else {
            return Err(Error::invalid_input(
                "the server issued no registration_client_uri and registration_access_token: \
                 this registration cannot be managed (RFC 7592 §3)",
            ));
        };
        transport::check_url(uri, allow_insecure_requests)?;
        Ok((uri, token))
    }
}

/// The body of a registration or update request: the metadata as JSON,
/// without what a client never sends ([`NOT_SENT`]); `client_id` only when
/// set (an update must carry it, RFC 7592 §2.2).
fn metadata_body(metadata: &ClientMetadata) -> Result<String> {
    let value = serde_json::to_value(metadata).map_err(|e| {
        Error::invalid_input("the client metadata cannot be serialised").with_source(e)
    })?;
    let Value::Object(members) = value else {
        return Err(Error::invalid_input(
            "the client metadata is not a JSON object",
        ));
    };
    let mut body = Map::new();
    if !metadata.client_id.is_empty() {
        body.insert("client_id".into(), metadata.client_id.clone().into());
    }
    body.extend(
        members
            .into_iter()
            .filter(|(name, _)| !NOT_SENT.contains(&name.as_str())),
    );
    Ok(Value::Object(body).to_string())
}

/// Builds a client registration request (RFC 7591 §3.1; the low-level half
/// of [`dynamic_client_registration`]): a `POST` of `metadata` as JSON to
/// the server's `registration_endpoint` (its mTLS alias when the metadata
/// sets `use_mtls_endpoint_aliases`), with `Authorization: Bearer` and the
/// initial access token when one is given (RFC 7591 §3).
///
/// `client_id` is sent only when set; the members the server assigns
/// (`client_id_issued_at`, `client_secret_expires_at`,
/// `registration_client_uri`) never are. [`ErrorKind::MissingMetadata`](crate::ErrorKind::MissingMetadata)
/// without a `registration_endpoint`; [`ErrorKind::InsecureUrl`](crate::ErrorKind::InsecureUrl) for an
/// `http:` one unless `allow_insecure_requests`.
///
/// ```
/// use oidckit::{build_registration_request, ClientMetadata, ServerMetadata};
///
/// let mut server = ServerMetadata::new("https://as.example", "https://as.example/token".parse()?);
/// server.registration_endpoint = Some("https://as.example/register".parse()?);
/// let mut metadata = ClientMetadata::default();
/// metadata.client_name = Some("My Service".into());
/// metadata.grant_types = Some(vec!["client_credentials".into()]);
/// let request = build_registration_request(&server, &metadata, Some("initial-token"), false)?;
/// assert_eq!(request.method(), "POST");
/// assert_eq!(request.headers()["authorization"], "Bearer initial-token");
/// assert_eq!(request.body(), r#"{"client_name":"My Service","grant_types":["client_credentials"]}"#);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn build_registration_request(
    server: &ServerMetadata,
    metadata: &ClientMetadata,
    initial_access_token: Option<&str>,
    allow_insecure_requests: bool,
) -> Result<EndpointRequest> {
    let url = REGISTRATION.url_for(server, metadata, allow_insecure_requests)?;
    let token = initial_access_token.map(|t| AccessToken::new(t.to_owned()));
    EndpointRequest::json(
        Method::POST,
        url.clone(),
        Some(metadata_body(metadata)?),
        token.as_ref(),
    )
}

/// Processes a client registration response (RFC 7591 §3.2; the low-level
/// half of [`dynamic_client_registration`]): a **201** with a JSON object
/// whose `client_id` is a non-empty string; a `client_secret`, when
/// present, a string, and then `client_secret_expires_at` a number (0 for
/// never; RFC 7591 §3.2.1); `client_id_issued_at` a number if present
/// (both whole seconds since the epoch);
/// `registration_access_token` and `registration_client_uri` (a URL) both
/// or neither (RFC 7592 §3). Every other member goes into
/// [`RegisteredClient::metadata`].
///
/// A registration error (RFC 7591 §3.2.2: `invalid_redirect_uri`,
/// `invalid_client_metadata`, `invalid_software_statement`,
/// `unapproved_software_statement`) is [`ErrorKind::OAuth`](crate::ErrorKind::OAuth); another
/// success status, or a response that breaks the rules above,
/// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) (which never quotes the secrets).
pub fn process_registration_response(response: &EndpointResponse) -> Result<RegisteredClient> {
    expect_success(response, StatusCode::CREATED)?;
    in_context(response, || {
        parse_client_information(json_object(response.headers(), response.body())?)
    })
}

/// `read`'s errors with the response's URL and status.
fn in_context<T>(response: &EndpointResponse, read: impl FnOnce() -> Result<T>) -> Result<T> {
    read().map_err(|e| e.with_response_context(response.url(), response.status()))
}

/// Processes a client information response (RFC 7592 §3) to a read or an
/// update of `current`: a **200**, checked as
/// [`process_registration_response`] checks a registration, about the same
/// `client_id` ([`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) otherwise). The registration
/// access token is the response's (servers may rotate it); a secret,
/// registration access token and client configuration endpoint the
/// response does not repeat are kept from `current`.
pub fn process_client_information_response(
    current: &RegisteredClient,
    response: &EndpointResponse,
) -> Result<RegisteredClient> {
    expect_success(response, StatusCode::OK)?;
    let mut client = in_context(response, || {
        let client = parse_client_information(json_object(response.headers(), response.body())?)?;
        if client.client_id() != current.client_id() {
            return Err(Error::invalid_response(format!(
                "the client information response is about client {:?}, not {:?}",
                server_text(client.client_id(), 80),
                server_text(current.client_id(), 80)
            )));
        }
        Ok(client)
    })?;
    if client.client_secret.is_none() && current.client_secret.is_some() {
        client.client_secret.clone_from(&current.client_secret);
        client.client_secret_expires_at = current.client_secret_expires_at;
        client.metadata.client_secret_expires_at = current.client_secret_expires_at;
    }
    if client.registration_access_token.is_none() {
        client
            .registration_access_token
            .clone_from(&current.registration_access_token);
        client
            .registration_client_uri
            .clone_from(&current.registration_client_uri);
    }
    Ok(client)
}

/// Processes a client delete response (RFC 7592 §2.3): a **204**.
pub fn process_client_delete_response(response: &EndpointResponse) -> Result<()> {
    expect_success(response, StatusCode::NO_CONTENT)
}

/// `Ok` for `expected`. Another success status is an invalid response
/// whose body is not quoted (it would hold the client secret and the
/// registration access token); an error status carries its OAuth error.
fn expect_success(response: &EndpointResponse, expected: StatusCode) -> Result<()> {
    let status = response.status();
    if status == expected {
        return Ok(());
    }
    let error = if status.is_success() {
        Error::invalid_response(format!(
            "expected HTTP {} from the client registration endpoint, got {status}",
            expected.as_u16()
        ))
    } else {
        error_from_response(status, response.headers(), response.body())
    };
    Err(error.with_response_context(response.url(), status))
}

/// A time in seconds since the epoch: a non-negative integer, as
/// [`ClientMetadata`] reads it.
fn seconds(value: &Value) -> Option<u64> {
    value.as_u64()
}

/// The checks of RFC 7591 §3.2.1 and RFC 7592 §3, then the metadata.
fn parse_client_information(mut map: Map<String, Value>) -> Result<RegisteredClient> {
    match map.get("client_id") {
        Some(Value::String(id)) if !id.is_empty() => {}
        _ => {
            return Err(Error::invalid_response(
                "the registration response has no `client_id` string (RFC 7591 §3.2.1)",
            ))
        }
    }
    let number = |map: &Map<String, Value>, name: &str| -> Result<Option<u64>> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => seconds(v).map(Some).ok_or_else(|| {
                Error::invalid_response(format!(
                    "the registration response's `{name}` is not a number of seconds (RFC 7591 §3.2.1)"
                ))
            }),
        }
    };
    let client_secret_expires_at = number(&map, "client_secret_expires_at")?;
    number(&map, "client_id_issued_at")?;
    let client_secret = match map.remove("client_secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(ClientSecret::new(s)),
        Some(_) => {
            return Err(Error::invalid_response(
                "the registration response's `client_secret` is not a string",
            ))
        }
    };
    if client_secret.is_some() && client_secret_expires_at.is_none() {
        return Err(Error::invalid_response(
            "the registration response has a `client_secret` without a numeric \
             `client_secret_expires_at` (RFC 7591 §3.2.1)",
        ));
    }
    let token = match map.remove("registration_access_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(AccessToken::new(s)),
        Some(_) => {
            return Err(Error::invalid_response(
                "the registration response's `registration_access_token` is not a string",
            ))
        }
    };
    let uri = match map.get("registration_client_uri") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Url::parse(s).map_err(|_| {
            Error::invalid_response(format!(
                "the registration response's `registration_client_uri` is not a URL: {:?}",
                server_text(s, 120)
            ))
        })?),
        Some(_) => {
            return Err(Error::invalid_response(
                "the registration response's `registration_client_uri` is not a string",
            ))
        }
    };
    if token.is_some() != uri.is_some() {
        return Err(Error::invalid_response(
            "the registration response has one of `registration_access_token` and \
             `registration_client_uri` without the other (RFC 7592 §3)",
        ));
    }
    let metadata: ClientMetadata = serde_json::from_value(Value::Object(map)).map_err(|e| {
        Error::invalid_response("the registration response's client metadata is invalid")
            .with_source(e)
    })?;
    Ok(RegisteredClient {
        metadata,
        client_secret,
        client_secret_expires_at,
        registration_access_token: token,
        registration_client_uri: uri,
    })
}

/// Builds a client read request (RFC 7592 §2.1): a `GET` of the client's
/// `registration_client_uri` with its registration access token as
/// `Authorization: Bearer`. [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the client has
/// neither.
pub fn build_client_read_request(
    client: &RegisteredClient,
    allow_insecure_requests: bool,
) -> Result<EndpointRequest> {
    let (uri, token) = client.management(allow_insecure_requests)?;
    EndpointRequest::json(Method::GET, uri.clone(), None, Some(token))
}

/// Builds a client update request (RFC 7592 §2.2): a `PUT` of the full
/// `metadata` as JSON to the client's `registration_client_uri`, with its
/// registration access token. The body carries the client's `client_id`
/// (`metadata.client_id`, when set, must be it: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
/// otherwise) and never `registration_access_token`,
/// `registration_client_uri`, `client_secret_expires_at`,
/// `client_id_issued_at` nor the secret. Members left out are, per the RFC,
/// reset by the server to their defaults: start from the client's
/// [`metadata`](RegisteredClient::metadata).
pub fn build_client_update_request(
    client: &RegisteredClient,
    metadata: &ClientMetadata,
    allow_insecure_requests: bool,
) -> Result<EndpointRequest> {
    let (uri, token) = client.management(allow_insecure_requests)?;
    if !metadata.client_id.is_empty() && metadata.client_id != client.client_id() {
        return Err(Error::invalid_input(format!(
            "the metadata's client_id {:?} is not the client's {:?}",
            metadata.client_id,
            client.client_id()
        )));
    }
    let mut metadata = metadata.clone();
    metadata.client_id = client.client_id().to_owned();
    let body = metadata_body(&metadata)?;
    EndpointRequest::json(Method::PUT, uri.clone(), Some(body), Some(token))
}

/// Builds a client delete request (RFC 7592 §2.3): a `DELETE` of the
/// client's `registration_client_uri` with its registration access token.
pub fn build_client_delete_request(
    client: &RegisteredClient,
    allow_insecure_requests: bool,
) -> Result<EndpointRequest> {
    let (uri, token) = client.management(allow_insecure_requests)?;
    EndpointRequest::json(Method::DELETE, uri.clone(), None, Some(token))
}

/// Sends a request that carries no client authentication (discovery,
/// registration, management) with the options' headers and timeout. No
/// form, so no parameters; no DPoP: neither RFC 7591 nor RFC 7592 defines
/// proofs for these endpoints.
async fn send_plain(
    transport: &Transport<'_>,
    request: EndpointRequest,
    options: &RequestOptions,
    span: &'static str,
) -> Result<EndpointResponse> {
    options.check(Accepts {
        form_params: false,
        dpop: false,
        owned_headers: &LIBRARY_HEADERS,
    })?;
    let mut request = request;
    for (name, value) in &options.headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    transport::execute(
        transport,
        request.into_reqwest(transport.client)?,
        span,
        options.timeout,
    )
    .await
}

/// Registers a client (RFC 7591): discovers `issuer`'s metadata, posts
/// `metadata` to its `registration_endpoint`, and builds a [`Configuration`]
/// for the new client — one call from an issuer to a client ready for
/// grants, as openid-client's `dynamicClientRegistration`. Await the
/// returned [`DynamicClientRegistration`] after setting what it needs: an
/// [initial access token](DynamicClientRegistration::initial_access_token),
/// the [client authentication](DynamicClientRegistration::client_auth) for
/// `private_key_jwt`, the settings of the configuration (the same setters
/// as [`ConfigurationBuilder`], used for both requests too).
///
/// The client authentication is chosen from the registered
/// `token_endpoint_auth_method` ([`RegisteredClient::client_auth`]). The
/// result holds the configuration and the [`RegisteredClient`] (its
/// registration access token, to [read](read_client_registration),
/// [update](update_client_registration) or
/// [delete](delete_client_registration) the registration later; store it).
///
/// ```no_run
/// use oidckit::{client_credentials_grant, ClientMetadata};
///
/// # async fn run() -> Result<(), oidckit::Error> {
/// let mut metadata = ClientMetadata::default();
/// metadata.client_name = Some("My Service".into());
/// metadata.grant_types = Some(vec!["client_credentials".into()]);
/// metadata.redirect_uris = Some(vec![]);
/// metadata.response_types = Some(vec![]);
/// let registration = oidckit::dynamic_client_registration("https://as.example.com", metadata)
///     .initial_access_token("the-initial-access-token")
///     .await?;
/// let token = client_credentials_grant(&registration.config, &[("scope", "read")], None).await?;
/// # Ok(()) }
/// ```
pub fn dynamic_client_registration(
    issuer: impl IntoUrl,
    metadata: ClientMetadata,
) -> DynamicClientRegistration {
    DynamicClientRegistration {
        server: Server::Issuer(issuer.into_url()),
        metadata,
        initial_access_token: None,
        auth: None,
        algorithm: DiscoveryAlgorithm::default(),
        settings: Settings::default(),
        options: RequestOptions::default(),
    }
}

/// Where the registration endpoint is found.
#[derive(Debug)]
enum Server {
    /// Discovered from the issuer.
    Issuer(Result<Url>),
    /// Already known.
    Metadata(Box<ServerMetadata>),
}

/// A client registration, ready to start: await it for the
/// [`Registration`]; see [`dynamic_client_registration`]. Its setters never
/// fail; problems are reported when it is awaited.
#[must_use = "a registration does nothing until it is awaited"]
pub struct DynamicClientRegistration {
    server: Server,
    metadata: ClientMetadata,
    initial_access_token: Option<AccessToken>,
    auth: Option<ClientAuth>,
    algorithm: DiscoveryAlgorithm,
    settings: Settings,
    options: RequestOptions,
}

impl fmt::Debug for DynamicClientRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicClientRegistration")
            .field("server", &self.server)
            .field("metadata", &self.metadata)
            .field(
                "initial_access_token",
                &self.initial_access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("auth", &self.auth)
            .field("algorithm", &self.algorithm)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DynamicClientRegistration {
    /// Registers at `server`'s `registration_endpoint` without discovering
    /// it first (for metadata already at hand, e.g. a
    /// [`Configuration::server_metadata`]).
    pub fn server_metadata(mut self, server: ServerMetadata) -> Self {
        self.server = Server::Metadata(Box::new(server));
        self
    }

    /// The initial access token the server requires for registration (RFC
    /// 7591 §3), sent as `Authorization: Bearer`.
    pub fn initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = Some(AccessToken::new(token.into()));
        self
    }

    /// The client authentication of the new client, for the methods whose
    /// key or certificate only the caller has (`private_key_jwt`,
    /// `tls_client_auth`, `self_signed_tls_client_auth`). Its method (and
    /// for JWT methods its algorithm) is asked for in the registration when
    /// the metadata names none; a metadata that names another is refused.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Which well-known URL discovery reads (default
    /// [`DiscoveryAlgorithm::Oidc`]).
    pub fn algorithm(mut self, algorithm: DiscoveryAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The options of the requests (discovery and registration): timeout,
    /// deadline and cancellation for the whole call, extra headers. No
    /// parameters (the bodies are JSON) and no DPoP (not defined for
    /// registration).
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    transport_settings_setters!();
}

/// What [`dynamic_client_registration`] returns: the new client's
/// [`Configuration`], and its registration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Registration {
    /// The configuration of the new client, ready for grants.
    pub config: Configuration,
    /// The registration: metadata, secret, and the registration access
    /// token for [`read_client_registration`],
    /// [`update_client_registration`] and [`delete_client_registration`].
    pub client: RegisteredClient,
}

impl IntoFuture for DynamicClientRegistration {
    type Output = Result<Registration>;
    type IntoFuture = BoxFuture<'static, Result<Registration>>;

    fn into_future(self) -> Self::IntoFuture {
        let DynamicClientRegistration {
            server,
            mut metadata,
            initial_access_token,
            auth,
            algorithm,
            mut settings,
            options,
        } = self;
        Call::new(move |options: RequestOptions| {
            async move {
                if let Some(auth) = &auth {
                    ask_for_method(&mut metadata, auth)?;
                }
                // One client for every request, and for the configuration.
                let http = settings.http_client()?;
                settings.http_client = Some(http.clone());
                let transport = settings.transport(&http);
                let server = match server {
                    Server::Metadata(server) => *server,
                    Server::Issuer(issuer) => {
                        let issuer = issuer?;
                        let request = build_discovery_request(
                            &issuer,
                            algorithm,
                            settings.allow_insecure_requests,
                        )?;
                        let response =
                            send_plain(&transport, request, &options, "discovery").await?;
                        process_discovery_response(&issuer, &response)?
                    }
                };
                let request = build_registration_request(
                    &server,
                    &metadata,
                    initial_access_token.as_ref().map(|t| t.secret().as_str()),
                    settings.allow_insecure_requests,
                )?;
                let response = send_plain(&transport, request, &options, REGISTRATION.span).await?;
                let client = process_registration_response(&response)?;
                let builder = match auth {
                    Some(auth) => client.configuration_builder_with_auth(server, auth)?,
                    None => client.configuration_builder(server)?,
                };
                settings.client_metadata = client.metadata.clone();
                let config = builder.with_settings(settings).build()?;
                Ok(Registration { config, client })
            }
            .instrument(tracing::debug_span!(
                "oidckit.call",
                endpoint = "registration"
            ))
        })
        .options(options)
        .into_future()
    }
}

/// Asks for `auth`'s method (and JWT algorithm) in `metadata` when it names
/// none; refuses metadata that names another.
fn ask_for_method(metadata: &mut ClientMetadata, auth: &ClientAuth) -> Result<()> {
    let method = metadata
        .token_endpoint_auth_method
        .get_or_insert_with(|| auth.method_name().to_owned());
    if method != auth.method_name() {
        return Err(Error::invalid_input(format!(
            "the metadata's token_endpoint_auth_method {method:?} is not the client authentication's {:?}",
            auth.method_name()
        )));
    }
    if let Some(alg) = auth.signing_algorithm() {
        metadata
            .token_endpoint_auth_signing_alg
            .get_or_insert_with(|| alg.name().to_owned());
    }
    Ok(())
}

/// Reads the client's registration (RFC 7592 §2.1) with its registration
/// access token, through `config`'s HTTP client and rules (the client's own
/// configuration, usually). Returns the registration as the server now has
/// it, with the registration access token it answered with: servers may
/// rotate it, so keep the result. A refused token is [`ErrorKind::OAuth`](crate::ErrorKind::OAuth)
/// (`invalid_token`, with the `WWW-Authenticate` challenge).
///
/// ```no_run
/// # async fn run(registration: oidckit::Registration) -> Result<(), oidckit::Error> {
/// let current = oidckit::read_client_registration(&registration.config, &registration.client).await?;
/// println!("{:?}", current.metadata.client_name);
/// # Ok(()) }
/// ```
pub fn read_client_registration<'a>(
    config: &'a Configuration,
    client: &RegisteredClient,
) -> Call<'a, RegisteredClient> {
    let request = build_client_read_request(client, config.allow_insecure_requests());
    let current = client.clone();
    managed(config, request, move |response| {
        process_client_information_response(&current, response)
    })
}

/// Replaces the client's metadata with `metadata` (RFC 7592 §2.2): the
/// full metadata, members left out being reset by the server, so start
/// from the client's [`metadata`](RegisteredClient::metadata) and change
/// what you need. Returns the registration as the server now has it, with
/// its (possibly new) registration access token; build a new
/// [`Configuration`] from it when the client authentication changed.
///
/// ```no_run
/// # async fn run(registration: oidckit::Registration) -> Result<(), oidckit::Error> {
/// let mut metadata = registration.client.metadata.clone();
/// metadata.client_name = Some("Renamed".into());
/// let updated =
///     oidckit::update_client_registration(&registration.config, &registration.client, &metadata).await?;
/// # Ok(()) }
/// ```
pub fn update_client_registration<'a>(
    config: &'a Configuration,
    client: &RegisteredClient,
    metadata: &ClientMetadata,
) -> Call<'a, RegisteredClient> {
    let request = build_client_update_request(client, metadata, config.allow_insecure_requests());
    let current = client.clone();
    managed(config, request, move |response| {
        process_client_information_response(&current, response)
    })
}

/// Deletes the client's registration (RFC 7592 §2.3): its `client_id`,
/// secret and registration access token stop working.
///
/// ```no_run
/// # async fn run(registration: oidckit::Registration) -> Result<(), oidckit::Error> {
/// oidckit::delete_client_registration(&registration.config, &registration.client).await?;
/// # Ok(()) }
/// ```
pub fn delete_client_registration<'a>(
    config: &'a Configuration,
    client: &RegisteredClient,
) -> Call<'a, ()> {
    let request = build_client_delete_request(client, config.allow_insecure_requests());
    managed(config, request, process_client_delete_response)
}

/// One management call through `config`'s transport.
fn managed<'a, T: Send + 'a>(
    config: &'a Configuration,
    request: Result<EndpointRequest>,
    process: impl FnOnce(&EndpointResponse) -> Result<T> + Send + Sync + 'a,
) -> Call<'a, T> {
    let span = tracing::debug_span!(
        "oidckit.call",
        endpoint = "client_configuration",
        client_id = config.client_id().as_str(),
    );
    Call::new(move |options: RequestOptions| {
        async move {
            let response = send_plain(
                &config.transport(),
                request?,
                &options,
                "client_configuration",
            )
            .await?;
            process(&response)
                .map_err(|e| e.with_response_context(response.url(), response.status()))
        }
        .instrument(span)
    })
}

#[cfg(test)]
mod tests;

//! An in-process authorization server and OpenID Provider for tests and
//! examples (cargo feature `testing`).
//!
//! It listens on a free port of 127.0.0.1 over plain HTTP (so configurations
//! pointing at it need
//! [`allow_insecure_requests`](crate::ConfigurationBuilder::allow_insecure_requests)),
//! **verifies** what it is sent the way a real server does, records every
//! request, injects faults on demand, and stops when dropped.
//!
//! # OAuth 2.0
//!
//! - Discovery documents at both well-known paths (RFC 8414, OpenID Connect
//!   Discovery 1.0).
//! - The token endpoint: client credentials, refresh token (rotated on
//!   every use), token exchange (RFC 8693), JWT bearer (RFC 7523),
//!   extension grants, and the authorization code grant with PKCE. Client
//!   authentication is verified: form-urldecoded Basic credentials, JWT
//!   assertion signatures and claims, `jti` replay ([`MockClient`]).
//! - Pushed authorization requests (PAR, RFC 9126) at `{issuer}/par`,
//!   [required](MockServerBuilder::require_pushed_authorization_requests)
//!   on demand (or by [one client](MockClient::require_pushed_authorization_requests)).
//! - DPoP (RFC 9449): proofs verified at the token, PAR, userinfo and
//!   resource endpoints, tokens bound, codes bound (`dpop_jkt`, §10),
//!   server nonces on demand.
//! - The Device Authorization Grant (RFC 8628): device codes at
//!   `{issuer}/device_authorization`, polled at the token endpoint until
//!   the test [approves](MockAuthorizationServer::approve_device) or
//!   [denies](MockAuthorizationServer::deny_device) them; see the table
//!   below.
//! - Client-Initiated Backchannel Authentication in poll mode (CIBA Core
//!   1.0): requests at `{issuer}/backchannel_authentication` for the user a
//!   hint names, polled at the token endpoint until the test, playing the
//!   user's authentication device,
//!   [approves](MockAuthorizationServer::approve_backchannel) or
//!   [denies](MockAuthorizationServer::deny_backchannel) them; see the
//!   table below.
//! - Dynamic client registration (RFC 7591) at `{issuer}/register` and its
//!   management (RFC 7592) at `{issuer}/register/{client_id}`, open or
//!   behind an [initial access token](MockServerBuilder::initial_access_token);
//!   registered clients use every other endpoint at once; see the table
//!   below.
//! - Introspection (RFC 7662), revocation (RFC 7009), and a protected
//!   resource ([`resource_url`](MockAuthorizationServer::resource_url)).
//! - Introspection (RFC 7662; signed answers, RFC 9701, for
//!   [clients that register them](MockClient::introspection_signed_response_alg)),
//!   revocation (RFC 7009), and a protected resource
//!   ([`resource_url`](MockAuthorizationServer::resource_url)) with its
//!   metadata (RFC 9728); see the table below.
//! - One-shot [`Fault`]s for the discovery, token, PAR, introspection and
//!   revocation, JWK Set, userinfo and registration endpoints.
//!
//! # OpenID Connect, without a browser
//!
//! | Endpoint | What it does |
//! |---|---|
//! | `POST {issuer}/par` | A pushed authorization request (RFC 9126 §2): the client authenticated as at the token endpoint (every method; the PAR URL is an accepted assertion audience), the authorization request's parameters in the form, or in a request object (`request`, with only `client_id` and client authentication beside it, §3), checked as the authorization endpoint checks them; a `request_uri` in it is refused (§2.1). A DPoP proof (`htu` the PAR URL), or a `dpop_jkt` parameter, binds the code (RFC 9449 §10.1). Answers `201` with `request_uri` (`urn:ietf:params:oauth:request_uri:…`) and `expires_in: 60`; errors are JSON, 400 (401 `invalid_client`). |
//! | `GET`/`POST {issuer}/authorize` | Takes the request from the parameters, from a pushed request (`client_id` and a one-time, unexpired `request_uri` of that client: the other parameters are ignored, RFC 9126 §4), or from a request object (`client_id` and `request`, RFC 9101 §6); checks it (OIDC Core §3.1.2.1, PKCE with `S256` required for a code, RFC 7636) and approves it at once as the configured user: no login page, no consent. `response_type=code`: answers with a `303` to the `redirect_uri` with `code`, `state` and `iss` (RFC 9207) in the query, or with `response_mode=form_post` a page whose form posts them; with `response_mode=jwt`, `query.jwt` or `form_post.jwt` (JARM), the same carry the one parameter `response`, a signed JWT. `response_type=code id_token` (hybrid, OIDC Core §3.3) and `id_token` (implicit sign-in, §3.2), for a client that [registered them](MockClient::response_types) (else `unauthorized_client`), with a `nonce` and the `openid` scope (else `invalid_request`): `code` (hybrid only), `id_token`, `state` and `iss` in the redirect's **fragment** (`response_mode=fragment`, the default) or posted (`form_post`); `query` and the JARM modes are refused for them (`invalid_request`, Multiple Response Type Encoding Practices §5). Errors about the request go back the same way, in the fragment for those two types unless `form_post` (`invalid_request_object` for a refused request object, when the redirect URI can be trusted without it); an unknown client, an unacceptable `redirect_uri`, an unusable `request_uri` (`invalid_request_uri`) or a missing one when PAR is required (`invalid_request`) is a 400 with a JSON error. Codes are one-time and live 60 seconds. |
//! | `POST {issuer}/token`, `grant_type=authorization_code` | Redeems a code: the client authenticated, the `redirect_uri` of the request, the `code_verifier` of the challenge, and, for a code bound to a DPoP key (a `dpop_jkt` parameter, or a proof at the PAR endpoint), a proof of that key (RFC 9449 §10; else `invalid_grant`). Returns an ID Token when the scope has `openid`, and a refresh token with `offline_access` (or [`issue_refresh_tokens`](MockServerBuilder::issue_refresh_tokens)); refreshing returns a new ID Token for the same user. |
//! | `POST {issuer}/device_authorization` | A device authorization request (RFC 8628 §3.1): the client authenticated as at the token endpoint (a public client with `client_id` alone), an optional `scope` (within the client's, else `invalid_scope`). Answers `device_code`, `user_code` (eight letters of `BCDFGHJKLMNPQRSTVWXZ`, `XXXX-XXXX`, §6.1), `verification_uri` (`{issuer}/device`, a `GET` shows a form), `verification_uri_complete` (with `?user_code=…`), `expires_in` ([`device_code_lifetime`](MockServerBuilder::device_code_lifetime), 600) and `interval` ([`device_poll_interval`](MockServerBuilder::device_poll_interval), 5), §3.2. |
//! | `POST {issuer}/token`, `grant_type=urn:ietf:params:oauth:grant-type:device_code` | Polls a `device_code` of the same client (RFC 8628 §3.4, §3.5): `authorization_pending` until the test [approves](MockAuthorizationServer::approve_device) or [denies](MockAuthorizationServer::deny_device) it (`access_denied`); `expired_token` after `expires_in` by the server's clock; `slow_down` (the interval growing by 5 s) for polls sooner than the interval, when [enforced](MockServerBuilder::enforce_device_slow_down). Once approved, the tokens as for a code: an ID Token when the scope has `openid`, a refresh token with `offline_access`. A code is redeemed once (then `invalid_grant`). Polls can be [scripted](MockAuthorizationServer::next_device_poll_responses). |
//! | `POST {issuer}/backchannel_authentication` | A backchannel authentication request (CIBA Core §7.1): the client authenticated as at the token endpoint; `scope` with `openid` (within the client's, else `invalid_scope`); exactly one of `login_hint` (taken as the user's `sub`), `id_token_hint` (an ID Token of this server for this client) and `login_hint_token` (a JWT signed with the server's [signing key](MockAuthorizationServer::signing_key), its `sub` the user; `expired_login_hint_token` past its `exp`), else `invalid_request`; an optional `binding_message` (1 to 20 characters, else `invalid_binding_message`) and `requested_expiry`; no `user_code` (`backchannel_user_code_parameter_supported: false`). Answers `auth_req_id`, `expires_in` ([`backchannel_request_lifetime`](MockServerBuilder::backchannel_request_lifetime), 600, or the `requested_expiry`) and `interval` ([`backchannel_poll_interval`](MockServerBuilder::backchannel_poll_interval), 5), §7.3. Discovery says `backchannel_token_delivery_modes_supported: ["poll"]`. |
//! | `POST {issuer}/token`, `grant_type=urn:openid:params:grant-type:ciba` | Polls an `auth_req_id` of the same client (CIBA Core §10.1, §11): `authorization_pending` until the test [approves](MockAuthorizationServer::approve_backchannel) or [denies](MockAuthorizationServer::deny_backchannel) it (`access_denied`), by `auth_req_id` or by user; `expired_token` after `expires_in` by the server's clock; `slow_down` (the interval growing by 5 s) for polls sooner than the interval, when [enforced](MockServerBuilder::enforce_backchannel_slow_down). Once approved, the tokens and an ID Token (§10.1.1) whose `sub` is the hinted user; a refresh token with `offline_access`. Redeemed once (then `invalid_grant`). Polls can be [scripted](MockAuthorizationServer::next_backchannel_poll_responses); [`pending_backchannel_requests`](MockAuthorizationServer::pending_backchannel_requests) shows what the authentication device would (the `binding_message`). |
//! | `POST {issuer}/register` | Dynamic client registration (RFC 7591 §3): the [initial access token](MockServerBuilder::initial_access_token) as `Authorization: Bearer` when one is set (else 401 `invalid_token` with a `Bearer` challenge); a JSON object of client metadata, checked (§3.2.2): `redirect_uris` `https:` or loopback `http:` without a fragment (`invalid_redirect_uri`), a `token_endpoint_auth_method` among `client_secret_basic` (the default), `client_secret_post`, `client_secret_jwt`, `private_key_jwt` (with a key in `jwks`) and `none`, the lists lists of strings (`invalid_client_metadata`), no `software_statement` (`unapproved_software_statement`). Answers `201` with the metadata, `client_id` (`dyn-…`), `client_id_issued_at`, a `client_secret` with `client_secret_expires_at: 0` for the secret methods, `registration_access_token` and `registration_client_uri`. The client is then known everywhere, its `scope`, `redirect_uris`, `post_logout_redirect_uris` and `response_types` enforced as a [`MockClient`]'s. |
//! | `GET`/`PUT`/`DELETE {issuer}/register/{client_id}` | Client management (RFC 7592 §2) with the registration access token as `Authorization: Bearer` (else 401 `invalid_token`). `GET`: `200` with the registration as above. `PUT`: the full metadata, checked as at registration, with the client's `client_id`, a `client_secret` only if it is the client's, and none of `registration_access_token`, `registration_client_uri`, `client_secret_expires_at`, `client_id_issued_at` (else 400 `invalid_request`); replaces the registration (the secret kept while the method needs one) and answers `200`, with a new registration access token unless [not rotated](MockServerBuilder::rotate_registration_access_tokens). `DELETE`: `204`; the client and its token stop working. Responses can be [tampered with](MockAuthorizationServer::tamper_next_registration_response) or [replaced](MockAuthorizationServer::fail_next_registration_request). |
//! | `GET {issuer}/jwks` | The public signing keys (RFC 7517): the current one and those kept after a [rotation](MockAuthorizationServer::rotate_signing_key). |
//! | `GET`/`POST {issuer}/userinfo` | The user's claims for an access token with `openid` (OIDC Core §5.3), as JSON or [signed](MockServerBuilder::userinfo_signed_response). |
//! | `POST {issuer}/introspect` | Introspection (RFC 7662) for an authenticated client: `active`, and for an issued token its `client_id`, `token_type`, `scope`, `iss`, `aud` (the token request's `resource`, else the [JWT access tokens](MockServerBuilder::jwt_access_tokens)' default audience, else `urn:mock:api`), `iat`, `exp`, `cnf` (DPoP) and `sub` (sign-in); `active: false` once expired by the server's clock or [revoked](MockAuthorizationServer::revoke). As JSON, or — for a client that registered [`introspection_signed_response_alg`](MockClient::introspection_signed_response_alg), when the request accepts `application/token-introspection+jwt` — as a JWT of that type (RFC 9701 §5: header `typ: token-introspection+jwt`, claims `iss`, `aud` the client, `iat`, `token_introspection` the JSON answer), signed with the current key and [spoiled](MockAuthorizationServer::tamper_next_introspection_response) on demand ([`IntrospectionFault`]). |
//! | `GET`/`POST {issuer}/resource` | A protected resource: the server's access tokens as `Bearer`, or as `DPoP` with a proof of the bound key. Without a token, a 401 `WWW-Authenticate: Bearer resource_metadata="…"` (RFC 9728 §5.1, no error code, RFC 6750 §3.1); a bad token, a 401 with `error` and `resource_metadata` too. |
//! | `GET /.well-known/oauth-protected-resource{issuer path}/resource` | The resource's metadata (RFC 9728 §3, [`resource_metadata_url`](MockAuthorizationServer::resource_metadata_url)): `resource` (`{issuer}/resource`), `authorization_servers` (the issuer), `scopes_supported` (`read`, `write`), `bearer_methods_supported` (`header`), `dpop_signing_alg_values_supported`, `resource_name`; [changed](MockAuthorizationServer::tamper_next_resource_metadata) or [replaced](MockAuthorizationServer::fail_next_resource_metadata) on demand. |
//! | `GET`/`POST {issuer}/logout` | RP-Initiated Logout 1.0: checks `id_token_hint` and `post_logout_redirect_uri`, records the logout, redirects with `state` or shows a page. |
//!
//! Request objects (JAR, RFC 9101) are verified with the client's key
//! ([`MockClient::request_object_key`], else its `private_key_jwt` key):
//! signed with ES256, PS256, RS256 or EdDSA (never `none`), `typ`
//! `oauth-authz-req+jwt` when present, `iss` the client, `aud` the issuer,
//! `exp` in the future and at most an hour after `nbf` (else `iat`), the
//! `client_id` claim the request's, no `request` or `request_uri` inside.
//! Their claims are the parameters (non-strings, like a numeric
//! `max_age`, as their JSON text).
//!
//! JARM responses (JWT Secured Authorization Response Mode for OAuth 2.0
//! §2.1, §2.3) are signed with the current signing key (header `alg`,
//! `kid`, `typ: "JWT"`); their claims are the response parameters (`code`,
//! `state`, `iss`, or `error`, `error_description`, `state`, `iss`) as
//! strings, `aud` (the client), `exp` (`iat` + 300 s) and `iat`.
//!
//! The user is [`subject`](MockServerBuilder::subject) with
//! [`user_claims`](MockServerBuilder::user_claims) (put into every ID Token
//! and userinfo response, whatever the scope) and an optional fixed
//! [`auth_time`](MockServerBuilder::auth_time). ID Tokens are signed with
//! the [`signing_alg`](MockServerBuilder::signing_alg) (ES256 by default)
//! and carry `iss`, `sub`, `aud`, `exp` (`iat` + 300 s), `iat`, `auth_time`
//! and `nonce`; the token endpoint's carry `at_hash` (its access token);
//! the front-channel ID Token of a hybrid or implicit response carries no
//! `at_hash` (no access token travels in the front channel) but `c_hash`
//! (hybrid: the code) and `s_hash` (when the request had a `state`, as FAPI
//! 1.0 Advanced has it), each the base64url left half of the `alg`'s hash
//! (SHA-256, SHA-384, or SHA-512, also for EdDSA). A hybrid response's code
//! is redeemed as any other; the token endpoint's ID Token is then about
//! the same `sub`, with the request's `nonce`.
//!
//! To test how a client validates what it receives,
//! [`tamper_next_id_token`](MockAuthorizationServer::tamper_next_id_token)
//! spoils the next ID Token, of either channel ([`IdTokenFault`]: claims,
//! e.g. `IdTokenFault::claims(json!({"c_hash": null}))` for a hybrid
//! response without `c_hash`, `alg: none`, the HMAC key-confusion attack,
//! an unknown `kid`, `crit`, a JWE, a bad signature) and
//! [`tamper_next_authorization_response`](MockAuthorizationServer::tamper_next_authorization_response)
//! the next authorization response ([`AuthorizationResponseFault`]: an
//! error, a wrong or missing `iss`, a repeated or wrong `state`, an extra
//! or a missing parameter, e.g. a hybrid response without its `id_token`;
//! for JARM, claims of the response JWT, `alg: none`, an unknown `kid`, a
//! bad signature).
//!
//! [`authorize`](MockAuthorizationServer::authorize) plays the browser: it
//! GETs an authorization URL (a plain one, `client_id` and `request_uri`
//! after a push, or `client_id` and `request`) and returns the callback
//! URL (the response in its query, or in its fragment for the hybrid and
//! implicit flows, ready for `authorization_code_grant` with
//! `AuthorizationChecks::hybrid` or for `implicit_authentication`);
//! [`authorize_form_post`](MockAuthorizationServer::authorize_form_post)
//! returns what a `form_post` (or `form_post.jwt`) page would post.
//!
//! Not supported: access tokens in the front channel (`token`, `code
//! token`, `id_token token`, `code id_token token`:
//! `unsupported_response_type`), the JARM modes with `code id_token` and
//! `id_token` (JARM only with `code`), the `fragment` mode with `code`
//! (only with `code id_token` and `id_token`), `request_uri` values other than
//! the PAR endpoint's (none is fetched), encrypted request objects and
//! responses, `fragment.jwt`, `prompt` (ignored: the user is always signed
//! in), the `claims` parameter, pairwise subjects, encrypted tokens, and
//! front- or back-channel logout; a logout is only recorded (tokens stay
//! valid). The guide `docs/hybrid-implicit.md` signs in with both flows
//! against this server.
//!
//! # Examples
//!
//! A service using the client credentials grant:
//!
//! ```
//! use oidckit::testing::{MockAuthorizationServer, MockClient};
//! use oidckit::{client_credentials_grant, discovery, ClientAuth};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockAuthorizationServer::builder()
//!     .client(MockClient::client_secret_basic("my-service", "s3cr3t"))
//!     .start()
//!     .await?;
//! let config = discovery(server.issuer(), "my-service", ClientAuth::client_secret_basic("s3cr3t"))
//!     .allow_insecure_requests(true)
//!     .await?;
//! let token = client_credentials_grant(&config, &[("scope", "read")], None).await?;
//! assert_eq!(token.scope(), Some("read"));
//! assert_eq!(server.token_request_count(), 1);
//! # Ok(()) }
//! ```
//!
//! An OpenID Connect sign-in, the browser played by the server:
//!
//! ```
//! use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
//! use oidckit::testing::{MockAuthorizationServer, MockClient};
//! use oidckit::{discovery, generic_grant_request, ClientAuth};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockAuthorizationServer::builder()
//!     .client(MockClient::none("my-app").redirect_uris(["https://app.example/cb"]))
//!     .subject("alice")
//!     .user_claims(serde_json::json!({"email": "alice@example.com"}))
//!     .start()
//!     .await?;
//! let config = discovery(server.issuer(), "my-app", ClientAuth::none())
//!     .allow_insecure_requests(true)
//!     .await?;
//!
//! // The authorization request, with PKCE.
//! let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
//! let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
//! let mut url = config.server_metadata().authorization_endpoint.clone().unwrap();
//! url.query_pairs_mut()
//!     .append_pair("response_type", "code")
//!     .append_pair("client_id", "my-app")
//!     .append_pair("redirect_uri", "https://app.example/cb")
//!     .append_pair("scope", "openid email")
//!     .append_pair("state", "xyz")
//!     .append_pair("nonce", "n-0S6")
//!     .append_pair("code_challenge", &challenge)
//!     .append_pair("code_challenge_method", "S256");
//! let callback = server.authorize(&url).await?;
//! let param = |name| callback.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
//! assert_eq!(param("state").as_deref(), Some("xyz"));
//! assert_eq!(param("iss").as_deref(), Some(config.server_metadata().issuer.as_str()));
//!
//! let code = param("code").unwrap();
//! let response = generic_grant_request(
//!     &config,
//!     "authorization_code",
//!     &[
//!         ("code", code.as_str()),
//!         ("redirect_uri", "https://app.example/cb"),
//!         ("code_verifier", verifier.as_str()),
//!     ],
//!     None,
//! )
//! .await?;
//! let id_token = response.id_token().expect("openid was asked for");
//! assert_eq!(id_token.split('.').count(), 3);
//! # Ok(()) }
//! ```
//!
//! A pushed authorization request (RFC 9126) with a JARM response, by hand:
//!
//! ```
//! use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
//! use oidckit::testing::{MockAuthorizationServer, MockClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockAuthorizationServer::builder()
//!     .client(MockClient::none("my-app").redirect_uris(["https://app.example/cb"]))
//!     .require_pushed_authorization_requests(true)
//!     .start()
//!     .await?;
//! let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
//! let challenge = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
//! let form = url::form_urlencoded::Serializer::new(String::new())
//!     .append_pair("response_type", "code")
//!     .append_pair("client_id", "my-app")
//!     .append_pair("redirect_uri", "https://app.example/cb")
//!     .append_pair("scope", "openid")
//!     .append_pair("state", "xyz")
//!     .append_pair("response_mode", "jwt")
//!     .append_pair("code_challenge", &challenge)
//!     .append_pair("code_challenge_method", "S256")
//!     .finish();
//! let pushed = reqwest::Client::new()
//!     .post(server.pushed_authorization_request_endpoint())
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(form)
//!     .send()
//!     .await?;
//! assert_eq!(pushed.status(), 201);
//! let pushed: serde_json::Value = serde_json::from_slice(&pushed.bytes().await?)?;
//! let request_uri = pushed["request_uri"].as_str().unwrap();
//!
//! let mut url = server.authorization_endpoint();
//! url.query_pairs_mut()
//!     .append_pair("client_id", "my-app")
//!     .append_pair("request_uri", request_uri);
//! let callback = server.authorize(&url).await?;
//! // One parameter, `response`: a JWT signed with the server's key.
//! let (name, jwt) = callback.query_pairs().next().unwrap();
//! assert_eq!(name, "response");
//! let claims = jwt.split('.').nth(1).unwrap();
//! let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims)?)?;
//! assert_eq!(claims["state"], "xyz");
//! assert_eq!(claims["aud"], "my-app");
//! assert!(claims["code"].is_string());
//! # Ok(()) }
//! ```

mod authorize;
mod ciba;
mod client;
mod device;
mod dpop;
mod fault;
mod id_token;
mod introspection;
mod jar;
mod jarm;
mod keys;
mod logout;
mod par;
mod polling;
mod registration;
mod resource;
mod response_type;
mod token;
mod userinfo;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use url::{form_urlencoded, Url};

pub use authorize::AuthorizationResponseFault;
pub use ciba::PendingBackchannelRequest;
pub use client::MockClient;
pub use fault::Fault;
pub use id_token::IdTokenFault;
pub use introspection::IntrospectionFault;

use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::config::metadata::ServerMetadata;
use crate::jose::{random_b64url, JwsAlgorithm};
use fault::respond;
use token::oauth_error;

/// Signs `claims` as a JWT with `key` (`kid` in the header when known): an
/// assertion for [`jwt_bearer_grant`](crate::jwt_bearer_grant) tests.
pub fn sign_jwt(key: &crate::PrivateKey, claims: Value) -> crate::Result<String> {
    let Value::Object(claims) = claims else {
        return Err(crate::Error::invalid_input("claims must be a JSON object"));
    };
    key.sign_jwt(Some("JWT"), &[], claims)
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The form parameters of the body, in order (repeated names kept).
    pub form: Vec<(String, String)>,
    /// The query parameters of the URL, in order (repeated names kept): the
    /// parameters of a `GET` to the authorization, userinfo or end-session
    /// endpoint.
    pub query: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a form parameter.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Builds a [`MockAuthorizationServer`].
#[must_use]
pub struct MockServerBuilder {
    clients: Vec<MockClient>,
    issuer_path: String,
    advertised_issuer: Option<String>,
    token_lifetime: Option<u64>,
    token_type: String,
    clock: Arc<dyn Clock>,
    require_dpop_nonce: bool,
    issue_refresh_tokens: bool,
    jwt_access_tokens: Option<String>,
    extension_grants: Vec<String>,
    signing_alg: JwsAlgorithm,
    subject: String,
    user_claims: Map<String, Value>,
    auth_time: Option<u64>,
    userinfo_signed_response: bool,
    require_par: bool,
    device_code_lifetime: u64,
    device_poll_interval: u64,
    enforce_device_slow_down: bool,
    backchannel_lifetime: u64,
    backchannel_interval: u64,
    enforce_backchannel_slow_down: bool,
    initial_access_token: Option<String>,
    rotate_registration_access_tokens: bool,
}

impl MockServerBuilder {
    /// Registers a client.
    pub fn client(mut self, client: MockClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Gives the issuer a path, e.g. `/tenant` (default: none).
    pub fn issuer_path(mut self, path: impl Into<String>) -> Self {
        self.issuer_path = path.into();
        self
    }

    /// Publishes this `issuer` in the discovery document instead of the real
    /// one (to test the issuer check).
    pub fn advertised_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.advertised_issuer = Some(issuer.into());
        self
    }

    /// The `expires_in` of issued tokens in seconds (default 3600); `None`
    /// sends no `expires_in`.
    pub fn token_lifetime(mut self, seconds: Option<u64>) -> Self {
        self.token_lifetime = seconds;
        self
    }

    /// The `token_type` of issued tokens (default `Bearer`).
    pub fn token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Demands a server-provided nonce in every DPoP proof, at the token
    /// endpoint (400 `use_dpop_nonce`) and the resource (401 with a `DPoP`
    /// challenge), and sends the current nonce in `DPoP-Nonce` on every
    /// response (RFC 9449 §8, §9).
    pub fn require_dpop_nonce(mut self, require: bool) -> Self {
        self.require_dpop_nonce = require;
        self
    }

    /// Issues a refresh token with every token (default: only in answer to
    /// the refresh token grant, which rotates them, and to an authorization
    /// code whose scope has `offline_access`, OIDC Core §11).
    pub fn issue_refresh_tokens(mut self, issue: bool) -> Self {
        self.issue_refresh_tokens = issue;
        self
    }

    /// Issues JWT access tokens (RFC 9068: `typ` `at+jwt`, signed with the
    /// server's current key) instead of opaque ones: `iss`, `sub` (the
    /// user, or the client for a client credentials token), `aud` (the
    /// request's `resource`, else `default_audience`), `client_id`, `jti`,
    /// `iat`, `exp`, `scope`, and `cnf.jkt` for a DPoP-bound token. For
    /// testing resource servers ([`ResourceServer`](crate::ResourceServer)).
    pub fn jwt_access_tokens(mut self, default_audience: impl Into<String>) -> Self {
        self.jwt_access_tokens = Some(default_audience.into());
        self
    }

    /// Accepts an extension `grant_type` (issuing a token for any request
    /// with it). Client credentials, refresh token, token exchange and JWT
    /// bearer are always supported.
    pub fn extension_grant(mut self, grant_type: impl Into<String>) -> Self {
        self.extension_grants.push(grant_type.into());
        self
    }

    /// The clock used to check assertion times, expire authorization codes
    /// and access tokens, and stamp ID Tokens (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The algorithm of the keys that sign ID Tokens and signed userinfo
    /// responses (default `ES256`): `RS256`, `RS384`, `RS512`, `PS256`,
    /// `PS384`, `PS512` (2048-bit RSA keys), `ES256`, `ES384`, `ES512` or
    /// `EdDSA` (Ed25519). An HMAC algorithm makes [`start`](Self::start)
    /// fail: a JWK Set publishes public keys.
    pub fn signing_alg(mut self, alg: JwsAlgorithm) -> Self {
        self.signing_alg = alg;
        self
    }

    /// The `sub` of the user every authorization request signs in as
    /// (default `"mock-user"`); OIDC Core §2.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Claims of the user, e.g. `{"email": "…", "email_verified": true,
    /// "name": "…"}` (OIDC Core §5.1), put into **every** ID Token and
    /// userinfo response whatever the requested scope (the mock does not
    /// filter by `profile`/`email`/… scopes). They cannot replace the
    /// protocol claims (`iss`, `sub`, `aud`, `exp`, `iat`, `auth_time`,
    /// `nonce`, `at_hash`, `c_hash`, `s_hash`, `azp`): use
    /// [`tamper_next_id_token`](MockAuthorizationServer::tamper_next_id_token)
    /// for that.
    ///
    /// # Panics
    /// If `claims` is not a JSON object.
    pub fn user_claims(mut self, claims: Value) -> Self {
        let Value::Object(claims) = claims else {
            panic!("user_claims must be a JSON object");
        };
        self.user_claims = claims;
        self
    }

    /// When the user authenticated, in seconds since the epoch: the
    /// `auth_time` of ID Tokens (OIDC Core §2). `None` (the default): the
    /// time of each authorization request. It is used as given even when a
    /// request's `max_age` says it is too old (the mock never asks the user
    /// to sign in again), so a client's `max_age` check can be tested.
    pub fn auth_time(mut self, auth_time: Option<u64>) -> Self {
        self.auth_time = auth_time;
        self
    }

    /// Answers the userinfo endpoint with a JWT signed with the current
    /// signing key (`application/jwt`, with `iss` and `aud` = the client,
    /// OIDC Core §5.3.2) instead of JSON, for every client (default: JSON).
    pub fn userinfo_signed_response(mut self, signed: bool) -> Self {
        self.userinfo_signed_response = signed;
        self
    }

    /// Requires pushed authorization requests of every client (RFC 9126
    /// §5): the discovery document says
    /// `require_pushed_authorization_requests: true` and the authorization
    /// endpoint refuses a request without a `request_uri` from the PAR
    /// endpoint (a 400 with `invalid_request`). Default: false (a client can
    /// still require it for itself,
    /// [`MockClient::require_pushed_authorization_requests`]).
    pub fn require_pushed_authorization_requests(mut self, require: bool) -> Self {
        self.require_par = require;
        self
    }

    /// The `expires_in` of device codes, in seconds (default 600; RFC 8628
    /// §3.2): by the server's [clock](Self::clock), a poll after that gets
    /// `expired_token` (§3.5).
    pub fn device_code_lifetime(mut self, seconds: u64) -> Self {
        self.device_code_lifetime = seconds;
        self
    }

    /// The `interval` the device authorization endpoint announces, the
    /// minimum seconds between polls of the token endpoint (default 5; RFC
    /// 8628 §3.2).
    pub fn device_poll_interval(mut self, seconds: u64) -> Self {
        self.device_poll_interval = seconds;
        self
    }

    /// Answers `slow_down` to a device code poll that comes sooner than the
    /// interval after the previous one, by the server's
    /// [clock](Self::clock), and adds 5 seconds to that device code's
    /// interval (RFC 8628 §3.5). Default false: under Tokio's paused time
    /// the system clock runs on while the client's sleeps do not, so only
    /// turn this on with a [`ManualClock`](crate::ManualClock) the test
    /// moves.
    pub fn enforce_device_slow_down(mut self, enforce: bool) -> Self {
        self.enforce_device_slow_down = enforce;
        self
    }

    /// The `expires_in` of backchannel authentication requests, in seconds
    /// (default 600; CIBA Core §7.3) when the request has no
    /// `requested_expiry`: by the server's [clock](Self::clock), a poll
    /// after that gets `expired_token` (§11).
    pub fn backchannel_request_lifetime(mut self, seconds: u64) -> Self {
        self.backchannel_lifetime = seconds;
        self
    }

    /// The `interval` the backchannel authentication endpoint announces,
    /// the minimum seconds between polls of the token endpoint (default 5;
    /// CIBA Core §7.3).
    pub fn backchannel_poll_interval(mut self, seconds: u64) -> Self {
        self.backchannel_interval = seconds;
        self
    }

    /// Answers `slow_down` to a CIBA poll that comes sooner than the
    /// interval after the previous one, by the server's [clock](Self::clock),
    /// and adds 5 seconds to that request's interval (CIBA Core §11).
    /// Default false, for the reason given at
    /// [`enforce_device_slow_down`](Self::enforce_device_slow_down).
    pub fn enforce_backchannel_slow_down(mut self, enforce: bool) -> Self {
        self.enforce_backchannel_slow_down = enforce;
        self
    }

    /// Requires this initial access token (RFC 7591 §3), as
    /// `Authorization: Bearer`, at the registration endpoint: without it, or
    /// with another, a registration gets 401 `invalid_token`. Default: open
    /// registration.
    pub fn initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = Some(token.into());
        self
    }

    /// Replaces a client's registration access token with each update of
    /// its registration (RFC 7592 §3 allows it; oidc-provider does it by
    /// default). Default: true.
    pub fn rotate_registration_access_tokens(mut self, rotate: bool) -> Self {
        self.rotate_registration_access_tokens = rotate;
        self
    }

    /// Generates the signing key, binds 127.0.0.1 on a free port and starts
    /// serving on the current Tokio runtime.
    ///
    /// # Errors
    /// `InvalidInput` if the [`signing_alg`](Self::signing_alg) is an HMAC
    /// algorithm, or a client registered an
    /// [`authorization_signed_response_alg`](MockClient::authorization_signed_response_alg)
    /// or an [`introspection_signed_response_alg`](MockClient::introspection_signed_response_alg)
    /// other than it; an I/O error if no port can be bound.
    pub async fn start(self) -> std::io::Result<MockAuthorizationServer> {
        let signing = keys::SigningKeys::new(self.signing_alg)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        for client in &self.clients {
            let registered = [
                ("authorization", client.authorization_signed_response_alg),
                ("introspection", client.introspection_signed_response_alg),
            ];
            for (what, alg) in registered {
                match alg {
                    Some(alg) if alg != self.signing_alg => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!(
                                "client {:?} registered {what}_signed_response_alg {alg}, but the \
                                 server signs with {} (its only keys)",
                                client.client_id, self.signing_alg
                            ),
                        ))
                    }
                    _ => {}
                }
            }
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let path = self.issuer_path.trim_end_matches('/').to_owned();
        let issuer = format!("http://{addr}{path}");
        let state = Arc::new(ServerState {
            issuer: issuer.clone(),
            issuer_path: path,
            advertised_issuer: self.advertised_issuer,
            clients: RwLock::new(self.clients),
            token_lifetime: self.token_lifetime,
            token_type: self.token_type,
            clock: self.clock,
            token_requests: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            token_faults: Mutex::new(VecDeque::new()),
            discovery_faults: Mutex::new(VecDeque::new()),
            seen_jti: Mutex::new(HashSet::new()),
            require_dpop_nonce: self.require_dpop_nonce,
            issue_refresh_tokens: self.issue_refresh_tokens,
            jwt_access_tokens: self.jwt_access_tokens,
            extension_grants: self.extension_grants,
            refresh_tokens: Mutex::new(HashMap::new()),
            endpoint_faults: Mutex::new(VecDeque::new()),
            dpop_nonce: Mutex::new(random_b64url(16).unwrap_or_default()),
            seen_dpop_jti: Mutex::new(HashSet::new()),
            issued: Mutex::new(HashMap::new()),
            signing: Mutex::new(signing),
            user: MockUser {
                subject: self.subject,
                claims: self.user_claims,
                auth_time: self.auth_time,
            },
            userinfo_signed_response: self.userinfo_signed_response,
            codes: Mutex::new(HashMap::new()),
            used_codes: Mutex::new(HashMap::new()),
            authorization_faults: Mutex::new(VecDeque::new()),
            id_token_faults: Mutex::new(VecDeque::new()),
            jwks_requests: AtomicUsize::new(0),
            jwks_faults: Mutex::new(VecDeque::new()),
            userinfo_requests: AtomicUsize::new(0),
            userinfo_faults: Mutex::new(VecDeque::new()),
            logouts: Mutex::new(Vec::new()),
            require_par: self.require_par,
            pushed: Mutex::new(HashMap::new()),
            par_requests: AtomicUsize::new(0),
            par_faults: Mutex::new(VecDeque::new()),
            device_code_lifetime: self.device_code_lifetime,
            device_poll_interval: self.device_poll_interval,
            enforce_device_slow_down: self.enforce_device_slow_down,
            device_codes: Mutex::new(HashMap::new()),
            polled_seq: AtomicUsize::new(0),
            device_requests: AtomicUsize::new(0),
            device_faults: Mutex::new(VecDeque::new()),
            device_poll_faults: Mutex::new(VecDeque::new()),
            backchannel_lifetime: self.backchannel_lifetime,
            backchannel_interval: self.backchannel_interval,
            enforce_backchannel_slow_down: self.enforce_backchannel_slow_down,
            backchannel_requests: Mutex::new(HashMap::new()),
            backchannel_request_count: AtomicUsize::new(0),
            backchannel_faults: Mutex::new(VecDeque::new()),
            backchannel_poll_faults: Mutex::new(VecDeque::new()),
            initial_access_token: self.initial_access_token,
            rotate_registration_access_tokens: self.rotate_registration_access_tokens,
            registrations: Mutex::new(HashMap::new()),
            registration_faults: Mutex::new(VecDeque::new()),
            registration_tampers: Mutex::new(VecDeque::new()),
            resource_metadata_changes: Mutex::new(VecDeque::new()),
            resource_metadata_faults: Mutex::new(VecDeque::new()),
            introspection_faults: Mutex::new(VecDeque::new()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockAuthorizationServer {
            addr,
            state,
            shutdown: Some(tx),
        })
    }
}

/// The in-process authorization server; see the [module docs](self).
pub struct MockAuthorizationServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for MockAuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockAuthorizationServer")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for MockAuthorizationServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl MockAuthorizationServer {
    /// A builder with no clients, tokens valid for an hour, ES256 signing
    /// keys and the user `mock-user` without claims.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            clients: Vec::new(),
            issuer_path: String::new(),
            advertised_issuer: None,
            token_lifetime: Some(3600),
            token_type: "Bearer".into(),
            clock: Arc::new(SystemClock),
            require_dpop_nonce: false,
            issue_refresh_tokens: false,
            jwt_access_tokens: None,
            extension_grants: Vec::new(),
            signing_alg: JwsAlgorithm::ES256,
            subject: "mock-user".into(),
            user_claims: Map::new(),
            auth_time: None,
            userinfo_signed_response: false,
            require_par: false,
            device_code_lifetime: 600,
            device_poll_interval: 5,
            enforce_device_slow_down: false,
            backchannel_lifetime: 600,
            backchannel_interval: 5,
            enforce_backchannel_slow_down: false,
            initial_access_token: None,
            rotate_registration_access_tokens: true,
        }
    }

    /// `{issuer}/{name}`.
    fn endpoint(&self, name: &str) -> Url {
        Url::parse(&format!("{}/{name}", self.state.issuer)).expect("a URL")
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The issuer identifier, `http://127.0.0.1:<port>[/path]`.
    pub fn issuer(&self) -> Url {
        Url::parse(&self.state.issuer).expect("issuer is a URL")
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> Url {
        self.endpoint("token")
    }

    /// The server's metadata, as its discovery document has it.
    pub fn server_metadata(&self) -> ServerMetadata {
        serde_json::from_value(self.state.metadata()).expect("valid metadata")
    }

    /// The URL of the protected resource the server also plays: it accepts
    /// the tokens it issued, as `Bearer`, or as `DPoP` with a proof from the
    /// key the token is bound to.
    pub fn resource_url(&self) -> Url {
        Url::parse(&format!("{}/resource", self.state.issuer)).expect("a URL")
    }

    /// The DPoP nonce the server currently expects.
    pub fn dpop_nonce(&self) -> String {
        self.state.dpop_nonce.lock().expect("lock").clone()
    }

    /// Replaces the DPoP nonce, as a server does from time to time; proofs
    /// with the old one are then refused with `use_dpop_nonce`.
    pub fn rotate_dpop_nonce(&self) {
        *self.state.dpop_nonce.lock().expect("lock") = random_b64url(16).unwrap_or_default();
    }

    /// The thumbprint of the key an issued access token is bound to, if the
    /// server issued it and bound it.
    pub fn token_binding(&self, access_token: &str) -> Option<String> {
        self.state
            .issued
            .lock()
            .expect("lock")
            .get(access_token)
            .and_then(|t| t.jkt.clone())
    }

    /// Forgets an issued access token, as if it were revoked: the resource
    /// and the userinfo endpoint then answer 401 `invalid_token`.
    pub fn revoke(&self, access_token: &str) {
        self.state.issued.lock().expect("lock").remove(access_token);
    }

    /// How many requests reached the token endpoint.
    pub fn token_request_count(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// The last request to the token endpoint.
    pub fn last_token_request(&self) -> Option<RecordedRequest> {
        self.requests()
            .into_iter()
            .rev()
            .find(|r| r.path.ends_with("/token"))
    }

    /// Answers the next token request with `fault` instead of normally.
    pub fn fail_next_token_request(&self, fault: Fault) {
        self.state
            .token_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// Answers the next introspection or revocation request with `fault`.
    pub fn fail_next_endpoint_request(&self, fault: Fault) {
        self.state
            .endpoint_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// The registration endpoint (RFC 7591), `{issuer}/register`.
    pub fn registration_endpoint(&self) -> Url {
        self.endpoint("register")
    }

    /// Answers the next request to the registration endpoint or a client
    /// configuration endpoint with `fault` instead of normally.
    pub fn fail_next_registration_request(&self, fault: Fault) {
        self.state
            .registration_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// Changes the next successful registration, read or update response:
    /// each member of `patch` (a JSON object) replaces the response's, and
    /// `null` removes it — e.g. `json!({"client_id": null})` for a response
    /// without a `client_id`, or `json!({"client_secret_expires_at": "never"})`.
    ///
    /// # Panics
    /// If `patch` is not a JSON object.
    pub fn tamper_next_registration_response(&self, patch: Value) {
        let Value::Object(patch) = patch else {
            panic!("the patch must be a JSON object");
        };
        self.state
            .registration_tampers
            .lock()
            .expect("lock")
            .push_back(patch);
    }

    /// The client ids registered at the registration endpoint and not
    /// deleted.
    pub fn registered_client_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .state
            .registrations
            .lock()
            .expect("lock")
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Answers the next discovery request with `fault` instead of normally.
    pub fn fail_next_discovery(&self, fault: Fault) {
        self.state
            .discovery_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }
}

struct ServerState {
    issuer: String,
    issuer_path: String,
    advertised_issuer: Option<String>,
    /// The clients given to the builder, and those registered since.
    clients: RwLock<Vec<MockClient>>,
    token_lifetime: Option<u64>,
    token_type: String,
    clock: Arc<dyn Clock>,
    token_requests: AtomicUsize,
    requests: Mutex<Vec<RecordedRequest>>,
    token_faults: Mutex<VecDeque<Fault>>,
    discovery_faults: Mutex<VecDeque<Fault>>,
    seen_jti: Mutex<HashSet<String>>,
    require_dpop_nonce: bool,
    issue_refresh_tokens: bool,
    /// JWT access tokens, with this default audience.
    jwt_access_tokens: Option<String>,
    extension_grants: Vec<String>,
    /// Live refresh tokens, with the user's grant for those of the
    /// authorization code flow.
    refresh_tokens: Mutex<HashMap<String, Option<Arc<UserGrant>>>>,
    endpoint_faults: Mutex<VecDeque<Fault>>,
    dpop_nonce: Mutex<String>,
    seen_dpop_jti: Mutex<HashSet<String>>,
    /// Issued access tokens.
    issued: Mutex<HashMap<String, IssuedToken>>,
    signing: Mutex<keys::SigningKeys>,
    user: MockUser,
    userinfo_signed_response: bool,
    /// Authorization codes not yet redeemed.
    codes: Mutex<HashMap<String, authorize::AuthorizationCode>>,
    /// Redeemed authorization codes and the tokens issued for each (revoked
    /// if the code is used again, RFC 6749 §4.1.2).
    used_codes: Mutex<HashMap<String, Vec<String>>>,
    authorization_faults: Mutex<VecDeque<AuthorizationResponseFault>>,
    id_token_faults: Mutex<VecDeque<IdTokenFault>>,
    jwks_requests: AtomicUsize,
    jwks_faults: Mutex<VecDeque<Fault>>,
    userinfo_requests: AtomicUsize,
    userinfo_faults: Mutex<VecDeque<Fault>>,
    /// Accepted end-session requests.
    logouts: Mutex<Vec<RecordedRequest>>,
    /// Every client must push its authorization requests (RFC 9126 §5).
    require_par: bool,
    /// Pushed authorization requests not yet used, by `request_uri`.
    pushed: Mutex<HashMap<String, par::PushedRequest>>,
    par_requests: AtomicUsize,
    par_faults: Mutex<VecDeque<Fault>>,
    /// The `expires_in` of device codes (RFC 8628 §3.2).
    device_code_lifetime: u64,
    /// The `interval` announced with device codes (RFC 8628 §3.2).
    device_poll_interval: u64,
    /// Answer `slow_down` to polls sooner than the interval (RFC 8628 §3.5).
    enforce_device_slow_down: bool,
    /// Device authorization requests not yet redeemed, by device code.
    device_codes: Mutex<HashMap<String, device::DeviceAuthorization>>,
    /// The order of device authorization and backchannel authentication
    /// requests.
    polled_seq: AtomicUsize,
    device_requests: AtomicUsize,
    device_faults: Mutex<VecDeque<Fault>>,
    /// Faults for the next device code polls of the token endpoint.
    device_poll_faults: Mutex<VecDeque<Fault>>,
    /// The `expires_in` of backchannel authentication requests (CIBA Core
    /// §7.3).
    backchannel_lifetime: u64,
    /// The `interval` announced with them (CIBA Core §7.3).
    backchannel_interval: u64,
    /// Answer `slow_down` to polls sooner than the interval (CIBA Core §11).
    enforce_backchannel_slow_down: bool,
    /// Backchannel authentication requests not yet redeemed, by
    /// `auth_req_id`.
    backchannel_requests: Mutex<HashMap<String, ciba::BackchannelRequest>>,
    backchannel_request_count: AtomicUsize,
    backchannel_faults: Mutex<VecDeque<Fault>>,
    /// Faults for the next CIBA polls of the token endpoint.
    backchannel_poll_faults: Mutex<VecDeque<Fault>>,
    /// The initial access token registration requires, if any.
    initial_access_token: Option<String>,
    rotate_registration_access_tokens: bool,
    /// Clients registered at the registration endpoint, by client id.
    registrations: Mutex<HashMap<String, registration::Registered>>,
    registration_faults: Mutex<VecDeque<Fault>>,
    /// Patches for the next client information responses.
    registration_tampers: Mutex<VecDeque<Map<String, Value>>>,
    /// Changes for the next resource metadata documents (RFC 9728).
    resource_metadata_changes: Mutex<VecDeque<Map<String, Value>>>,
    resource_metadata_faults: Mutex<VecDeque<Fault>>,
    /// Faults for the next JWT introspection responses (RFC 9701).
    introspection_faults: Mutex<VecDeque<IntrospectionFault>>,
}

/// The user every authorization request signs in as.
struct MockUser {
    subject: String,
    claims: Map<String, Value>,
    /// A fixed `auth_time`, else the time of the authorization request.
    auth_time: Option<u64>,
}

/// What the user granted a client through the authorization code flow;
/// shared by the code's tokens and every refresh of them.
struct UserGrant {
    client_id: String,
    subject: String,
    /// The scope granted (space-separated, possibly empty).
    scope: String,
    auth_time: u64,
}

impl UserGrant {
    fn has_scope(&self, scope: &str) -> bool {
        has_scope(&self.scope, scope)
    }
}

/// Whether the space-separated `scopes` contain `scope`.
fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split(' ').any(|s| s == scope)
}

/// An issued access token.
struct IssuedToken {
    /// The client it was issued to.
    client_id: String,
    /// The resource it is for (the request's `resource`, or the default
    /// audience of JWT access tokens), if any.
    audience: Option<String>,
    /// The thumbprint of the DPoP key it is bound to.
    jkt: Option<String>,
    /// When it expires (seconds since the epoch), if it does.
    expires_at: Option<u64>,
    /// Its scope.
    scope: Option<String>,
    /// The user's grant, for tokens of the authorization code flow.
    grant: Option<Arc<UserGrant>>,
}

impl ServerState {
    /// The time now, in seconds since the epoch, from the clock.
    fn now(&self) -> u64 {
        unix_seconds(self.clock.now())
    }

    /// The client registered with this `client_id`.
    fn client(&self, client_id: &str) -> Option<MockClient> {
        self.clients
            .read()
            .expect("lock")
            .iter()
            .find(|c| c.client_id == client_id)
            .cloned()
    }

    fn metadata(&self) -> Value {
        let iss = &self.issuer;
        let alg = self.signing.lock().expect("lock").alg().name();
        let mut grant_types: Vec<&str> = vec![
            "authorization_code",
            "refresh_token",
            "client_credentials",
            crate::TOKEN_EXCHANGE_GRANT_TYPE,
            crate::JWT_BEARER_GRANT_TYPE,
            device::DEVICE_CODE_GRANT_TYPE,
            ciba::CIBA_GRANT_TYPE,
        ];
        grant_types.extend(self.extension_grants.iter().map(String::as_str));
        json!({
            "issuer": self.advertised_issuer.as_deref().unwrap_or(iss),
            "token_endpoint": format!("{iss}/token"),
            "authorization_endpoint": format!("{iss}/authorize"),
            "jwks_uri": format!("{iss}/jwks"),
            "userinfo_endpoint": format!("{iss}/userinfo"),
            "end_session_endpoint": format!("{iss}/logout"),
            "introspection_endpoint": format!("{iss}/introspect"),
            "revocation_endpoint": format!("{iss}/revoke"),
            "grant_types_supported": grant_types,
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "client_secret_jwt",
                "private_key_jwt", "none"
            ],
            "token_endpoint_auth_signing_alg_values_supported": [
                "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384",
                "PS512", "ES256", "ES384", "ES512", "EdDSA"
            ],
            "scopes_supported": [
                "openid", "profile", "email", "address", "phone", "offline_access", "read", "write"
            ],
            "dpop_signing_alg_values_supported": ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"],
            "response_types_supported": ["code", "code id_token", "id_token"],
            "response_modes_supported": [
                "query", "fragment", "form_post", "jwt", "query.jwt", "form_post.jwt"
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [alg],
            "userinfo_signing_alg_values_supported": [alg],
            "introspection_signing_alg_values_supported": [alg],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": false,
            "request_parameter_supported": true,
            "request_object_signing_alg_values_supported": jar::REQUEST_OBJECT_ALGS,
            // Only the request_uri of a pushed request (RFC 9126 §4): none is
            // fetched.
            "request_uri_parameter_supported": false,
            "pushed_authorization_request_endpoint": format!("{iss}/par"),
            "device_authorization_endpoint": format!("{iss}/device_authorization"),
            "backchannel_authentication_endpoint": format!("{iss}/backchannel_authentication"),
            "backchannel_token_delivery_modes_supported": ["poll"],
            "backchannel_user_code_parameter_supported": false,
            "registration_endpoint": format!("{iss}/register"),
            "require_pushed_authorization_requests": self.require_par,
            "authorization_signing_alg_values_supported": [alg],
        })
    }
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let recorded = RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
        form: form.clone(),
        query: query.clone(),
    };
    state.requests.lock().expect("lock").push(recorded.clone());
    // The parameters of the OpenID endpoints, which take GET and POST.
    let params = if method == Method::POST {
        &form
    } else {
        &query
    };
    let get_or_post = method == Method::GET || method == Method::POST;
    let p = &state.issuer_path;
    let oidc = format!("{p}/.well-known/openid-configuration");
    let oauth = format!("/.well-known/oauth-authorization-server{p}");
    if method == Method::GET && (path == oidc || path == oauth) {
        let fault = state.discovery_faults.lock().expect("lock").pop_front();
        let normal = || axum::Json(state.metadata()).into_response();
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/token") {
        state.token_requests.fetch_add(1, Ordering::SeqCst);
        let grant_type = form
            .iter()
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.as_str());
        let poll_faults = match grant_type {
            Some(device::DEVICE_CODE_GRANT_TYPE) => Some(&state.device_poll_faults),
            Some(ciba::CIBA_GRANT_TYPE) => Some(&state.backchannel_poll_faults),
            _ => None,
        };
        let fault = state
            .token_faults
            .lock()
            .expect("lock")
            .pop_front()
            .or_else(|| poll_faults.and_then(|f| f.lock().expect("lock").pop_front()));
        let normal = || {
            let mut response = token::token(&state, &headers, &form);
            state.add_nonce_header(&mut response);
            response
        };
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/introspect") {
        let fault = state.endpoint_faults.lock().expect("lock").pop_front();
        return respond(fault, || token::introspect(&state, &headers, &form)).await;
    }
    if method == Method::POST && path == format!("{p}/revoke") {
        let fault = state.endpoint_faults.lock().expect("lock").pop_front();
        return respond(fault, || token::revoke(&state, &headers, &form)).await;
    }
    if method == Method::POST && path == format!("{p}/par") {
        state.par_requests.fetch_add(1, Ordering::SeqCst);
        let fault = state.par_faults.lock().expect("lock").pop_front();
        let normal = || {
            let mut response = par::push(&state, &headers, &form);
            state.add_nonce_header(&mut response);
            response
        };
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/device_authorization") {
        state.device_requests.fetch_add(1, Ordering::SeqCst);
        let fault = state.device_faults.lock().expect("lock").pop_front();
        let normal = || device::device_authorization(&state, &headers, &form);
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/backchannel_authentication") {
        state
            .backchannel_request_count
            .fetch_add(1, Ordering::SeqCst);
        let fault = state.backchannel_faults.lock().expect("lock").pop_front();
        let normal = || ciba::backchannel_authentication(&state, &headers, &form);
        return respond(fault, normal).await;
    }
    if method == Method::POST && path == format!("{p}/register") {
        let fault = state.registration_faults.lock().expect("lock").pop_front();
        return respond(fault, || registration::register(&state, &headers, &body)).await;
    }
    if let Some(client_id) = path.strip_prefix(&format!("{p}/register/")) {
        let fault = state.registration_faults.lock().expect("lock").pop_front();
        let normal = || registration::manage(&state, &method, client_id, &headers, &body);
        return respond(fault, normal).await;
    }
    if method == Method::GET && path == format!("{p}/device") {
        return device::verification_page(&query);
    }
    if get_or_post && path == format!("{p}/authorize") {
        return authorize::authorize(&state, params);
    }
    if method == Method::GET && path == format!("{p}/jwks") {
        state.jwks_requests.fetch_add(1, Ordering::SeqCst);
        let fault = state.jwks_faults.lock().expect("lock").pop_front();
        return respond(fault, || keys::jwks(&state)).await;
    }
    if get_or_post && path == format!("{p}/userinfo") {
        state.userinfo_requests.fetch_add(1, Ordering::SeqCst);
        let fault = state.userinfo_faults.lock().expect("lock").pop_front();
        let normal = || {
            let mut response = userinfo::userinfo(&state, &method, &headers, &form);
            state.add_nonce_header(&mut response);
            response
        };
        return respond(fault, normal).await;
    }
    if get_or_post && path == format!("{p}/logout") {
        return logout::end_session(&state, params, recorded);
    }
    if method == Method::GET && path == resource::metadata_url(&state).path() {
        return resource::metadata(&state).await;
    }
    if path == format!("{p}/resource") {
        let mut response = resource::resource(&state, &method, &headers);
        state.add_nonce_header(&mut response);
        return response;
    }
    oauth_error(StatusCode::NOT_FOUND, "invalid_request", "no such endpoint")
}

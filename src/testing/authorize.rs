//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) with PKCE
//! (RFC 7636) and the `iss` response parameter (RFC 9207), for the code,
//! hybrid (`code id_token`, OIDC Core §3.3) and implicit (`id_token`, OIDC
//! Core §3.2) response types; its requests (plain, pushed under a
//! `request_uri`, RFC 9126 §4, or in a request object, RFC 9101); its
//! responses (query, fragment, the Form Post Response Mode, and JARM's
//! `query.jwt`/`form_post.jwt`) with the front-channel ID Token of the
//! hybrid and implicit flows; the faults that spoil a response; the
//! redemption of codes at the token endpoint (with their DPoP binding, RFC
//! 9449 §10); and the browserless driver.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

use serde_json::{Map, Value};

use super::client::MockClient;
use super::id_token::{self, Hashed};
use super::jarm::ResponseMode;
use super::response_type::{delivery_mode, ResponseType};
use super::token::oauth_error;
use super::{has_scope, jar, jarm, par, MockAuthorizationServer, ServerState, UserGrant};
use crate::error::{Error, ErrorKind};
use crate::jose::{b64url, random_b64url, sha256};

/// How long an authorization code can be redeemed, in seconds.
const CODE_LIFETIME: u64 = 60;

/// Scopes a client may always ask for, whatever its registered
/// [`scopes`](MockClient::scopes): those OpenID Connect defines (OIDC Core
/// §5.4, §11).
const OPENID_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// What is wrong with the next response of the authorization endpoint (see
/// [`MockAuthorizationServer::tamper_next_authorization_response`]), to test
/// a client's checks of the authorization response (RFC 6749 §4.1.2, RFC
/// 9207 §2.4, OIDC Core §3.1.2.7, JWT Secured Authorization Response Mode
/// §2.4).
///
/// In a JARM response (`response_mode=jwt`, `query.jwt`, `form_post.jwt`)
/// the variants other than the `Jarm…` ones spoil the parameters before
/// they become the claims of the response JWT (a repeated `state` is then
/// one claim); the `Jarm…` ones spoil the JWT, and do nothing to a plain
/// response (they are used up all the same).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationResponseFault {
    /// An error response (RFC 6749 §4.1.2.1) instead of a code: `error`,
    /// `error_description` when given, `state` and `iss`. No code is
    /// issued.
    Error {
        /// The `error` code, e.g. `access_denied`.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// An `iss` of another server (the mix-up attack RFC 9207 defends
    /// against).
    WrongIssuer(String),
    /// No `iss`, although the metadata says
    /// `authorization_response_iss_parameter_supported`.
    NoIssuer,
    /// `state` twice (the request's value both times; if the request had
    /// none, `duplicate-state` twice): repeated response parameters are
    /// forbidden (RFC 6749 §3.1).
    DuplicateState,
    /// One more parameter, e.g. `("id_token", "…")` in a code-flow
    /// response.
    ExtraParam(String, String),
    /// Without the parameter of this name (every occurrence), e.g. a hybrid
    /// response without its `id_token` (OIDC Core §3.3.2.5 requires it), or
    /// without its `code`. Nothing else changes: a code left out is still
    /// issued.
    MissingParam(String),
    /// A `state` that is not the request's (a random value, also when the
    /// request had none): a CSRF defence must refuse it.
    WrongState,
    /// For a JARM response (JWT Secured Authorization Response Mode, §2.1):
    /// sets each member as a claim of the response JWT, replacing the one
    /// the server would send; a `null` value removes the claim. The JWT is
    /// then signed normally. E.g. another `iss` or `aud`, an `exp` in the
    /// past, or no `exp`: each a response the client must refuse (JARM §2.4).
    /// No effect on a plain response.
    JarmClaims(Map<String, Value>),
    /// For a JARM response: an Unsecured JWS (RFC 7519 §6), header
    /// `{"alg":"none","typ":"JWT"}`, the normal claims, an empty signature
    /// (the JWT ends in `.`); JARM §2.1 requires a signed response. No
    /// effect on a plain response.
    JarmAlgNone,
    /// For a JARM response: signed with a fresh key of the server's
    /// algorithm whose `kid` (`unknown-…`) is not in the JWK Set. No effect
    /// on a plain response.
    JarmUnknownKid,
    /// For a JARM response: signed normally, then every signature byte
    /// inverted (XORed with `0xff`), so the signature no longer verifies
    /// (JARM §2.4). No effect on a plain response.
    JarmSignature,
}

impl AuthorizationResponseFault {
    /// [`AuthorizationResponseFault::JarmClaims`] from a JSON object, e.g.
    /// `AuthorizationResponseFault::jarm_claims(json!({"aud": "someone-else", "exp": null}))`.
    ///
    /// # Panics
    /// If `claims` is not a JSON object.
    pub fn jarm_claims(claims: Value) -> Self {
        match claims {
            Value::Object(map) => AuthorizationResponseFault::JarmClaims(map),
            _ => panic!("AuthorizationResponseFault::jarm_claims takes a JSON object"),
        }
    }
}

/// An authorization code not yet redeemed.
pub(super) struct AuthorizationCode {
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    /// The thumbprint of the DPoP key the token request must prove
    /// possession of (RFC 9449 §10).
    dpop_jkt: Option<String>,
    expires_at: u64,
    grant: Arc<UserGrant>,
}

/// A redeemed code: what the token response is made of.
pub(super) struct Redeemed {
    pub(super) code: String,
    pub(super) grant: Arc<UserGrant>,
    pub(super) nonce: Option<String>,
}

/// The first value of `name` in `params`.
pub(super) fn first<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether `name` appears more than once in `params`.
fn repeated(params: &[(String, String)], name: &str) -> bool {
    params.iter().filter(|(k, _)| k == name).count() > 1
}

/// `GET` or `POST {issuer}/authorize`: finds the request (the parameters
/// themselves, those pushed under a `request_uri`, RFC 9126 §4, or those
/// of a request object, RFC 9101 §6), checks it and approves it at once as
/// the configured user.
pub(super) fn authorize(state: &ServerState, query: &[(String, String)]) -> Response {
    // Errors that must not be sent to an unverified redirect URI (RFC 6749
    // §4.1.2.1): shown to the user, here a 400 with a JSON error.
    let bad_request = |error: &str, why: &str| oauth_error(StatusCode::BAD_REQUEST, error, why);
    for name in ["client_id", "request", "request_uri"] {
        if repeated(query, name) {
            return bad_request("invalid_request", &format!("{name} repeated"));
        }
    }
    let Some(client_id) = first(query, "client_id") else {
        return bad_request("invalid_request", "client_id missing");
    };
    let Some(client) = state.client(client_id) else {
        return bad_request("invalid_client", &format!("unknown client {client_id:?}"));
    };
    let client = &client;
    let pushed;
    let from_object;
    let params = match (first(query, "request_uri"), first(query, "request")) {
        (Some(_), Some(_)) => {
            return bad_request(
                "invalid_request",
                "request and request_uri together (RFC 9101 §5)",
            )
        }
        // RFC 9126 §4: the pushed parameters, and no others.
        (Some(uri), None) => match par::take(state, client, uri) {
            Ok(params) => {
                pushed = params;
                &pushed
            }
            Err(why) => return bad_request("invalid_request_uri", &why),
        },
        (None, _) if state.require_par || client.require_par => {
            return bad_request(
                "invalid_request",
                "pushed authorization requests are required (RFC 9126 §5, §6): send the \
                 request_uri of the PAR endpoint",
            )
        }
        // RFC 9101 §6.3: only the parameters of the request object.
        (None, Some(jwt)) => match jar::request_object_params(state, client, jwt) {
            Ok(params) => {
                from_object = params;
                &from_object
            }
            Err(why) => return request_object_error(state, client, query, why),
        },
        (None, None) => query,
    };
    let redirect = match redirect_target(client, params) {
        Ok(url) => url,
        Err(why) => return bad_request("invalid_request", &why),
    };
    // From here on, errors go back to the client, in the requested
    // response mode when it suits the response type, else in the type's
    // default one (fragment for an ID Token).
    let mode = delivery_mode(
        first(params, "response_type"),
        first(params, "response_mode"),
    );
    let checked = check(client, params);
    let fault = state.authorization_faults.lock().expect("lock").pop_front();
    let response: Vec<(String, String)> = match (&fault, checked) {
        (Some(AuthorizationResponseFault::Error { error, description }), _) => {
            error_params(error, description.as_deref())
        }
        (_, Err((error, description))) => error_params(error, Some(&description)),
        (_, Ok(request)) => match approve(state, client, params, request) {
            Ok(response) => response,
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                )
            }
        },
    };
    respond(
        state,
        client,
        redirect,
        mode,
        first(params, "state"),
        response,
        fault,
    )
}

/// Approves a checked request as the configured user: the response
/// parameters, `code` (kept for the token endpoint) and `id_token` (the
/// front-channel ID Token, OIDC Core §3.3.2.11, §3.2.2.10: `nonce`,
/// `auth_time`, `c_hash` of the code, `s_hash` of the request's `state`,
/// and no `at_hash`, as no access token is in the front channel) as the
/// response type asks. The ID Token is signed before the code is kept, so
/// a signing failure leaves no code behind.
fn approve(
    state: &ServerState,
    client: &MockClient,
    params: &[(String, String)],
    request: ValidRequest,
) -> crate::Result<Vec<(String, String)>> {
    let now = state.now();
    let grant = Arc::new(UserGrant {
        client_id: client.client_id.clone(),
        subject: state.user.subject.clone(),
        scope: request.scope,
        auth_time: state.user.auth_time.unwrap_or(now),
    });
    let mut response = Vec::new();
    // A code for the response types with one, whose PKCE challenge check()
    // took.
    let code = match request.code_challenge {
        Some(challenge) => Some((random_b64url(32)?, challenge)),
        None => None,
    };
    if let Some((code, _)) = &code {
        response.push(("code".to_owned(), code.clone()));
    }
    if request.response_type.has_id_token() {
        let hashed = Hashed {
            access_token: None,
            code: code.as_ref().map(|(code, _)| code.as_str()),
            state: first(params, "state"),
        };
        let id_token = id_token::issue(state, &grant, request.nonce.as_deref(), hashed)?;
        response.push(("id_token".to_owned(), id_token));
    }
    if let Some((code, code_challenge)) = code {
        state.codes.lock().expect("lock").insert(
            code,
            AuthorizationCode {
                redirect_uri: first(params, "redirect_uri").unwrap_or_default().to_owned(),
                code_challenge,
                nonce: request.nonce,
                dpop_jkt: request.dpop_jkt,
                expires_at: now + CODE_LIFETIME,
                grant,
            },
        );
    }
    Ok(response)
}

/// The answer to a request object that is refused (RFC 9101 §6.1, §6.2):
/// `invalid_request_object` sent to the client when its redirect URI can
/// be trusted without the object (the query's `redirect_uri` if it is
/// registered for the client, else the client's only registered one), with
/// the query's `state`, in the query's `response_mode` (as its
/// `response_type` allows); otherwise a 400.
fn request_object_error(
    state: &ServerState,
    client: &MockClient,
    query: &[(String, String)],
    why: String,
) -> Response {
    let registered = |uri: &&str| client.redirect_uris.iter().any(|r| r == uri);
    let trusted = first(query, "redirect_uri")
        .filter(registered)
        .or(match client.redirect_uris.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        })
        .and_then(|uri| Url::parse(uri).ok());
    let Some(redirect) = trusted else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request_object", &why);
    };
    let mode = delivery_mode(first(query, "response_type"), first(query, "response_mode"));
    let fault = state.authorization_faults.lock().expect("lock").pop_front();
    let response = match &fault {
        Some(AuthorizationResponseFault::Error { error, description }) => {
            error_params(error, description.as_deref())
        }
        _ => error_params("invalid_request_object", Some(&why)),
    };
    respond(
        state,
        client,
        redirect,
        mode,
        first(query, "state"),
        response,
        fault,
    )
}

/// Sends `response` (a code, an ID Token, or an error) to the client at
/// `redirect`: adds `state` (the request's) and `iss` (RFC 9207), spoils it
/// as `fault` says, wraps it in a JWT for a JARM mode, and answers with a
/// `303` to the redirect URI (the parameters in its query, or in its
/// fragment for `fragment`) or a form-post page.
fn respond(
    state: &ServerState,
    client: &MockClient,
    redirect: Url,
    mode: ResponseMode,
    request_state: Option<&str>,
    mut response: Vec<(String, String)>,
    fault: Option<AuthorizationResponseFault>,
) -> Response {
    if let Some(s) = request_state {
        response.push(("state".into(), s.into()));
    }
    response.push(("iss".into(), state.issuer.clone()));
    if let Some(fault) = &fault {
        spoil(&mut response, fault);
    }
    if mode.is_jwt() {
        match jarm::response_jwt(state, &client.client_id, &response, fault.as_ref()) {
            Ok(jwt) => response = vec![("response".to_owned(), jwt)],
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                )
            }
        }
    }
    if mode.is_form_post() {
        form_post_response(redirect.as_str(), &response)
    } else {
        let mut location = redirect;
        if mode == ResponseMode::Fragment {
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&response)
                .finish();
            location.set_fragment(Some(&fragment));
        } else {
            location.query_pairs_mut().extend_pairs(&response);
        }
        let mut r = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(location.as_str()) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// The `redirect_uri` of the request, if acceptable for `client`: present
/// once and registered (compared as a string), or, when the client
/// registered none, an absolute URL without a fragment (RFC 6749 §3.1.2,
/// OIDC Core §3.1.2.1). Also checks that `client_id` is not repeated.
pub(super) fn redirect_target(
    client: &MockClient,
    params: &[(String, String)],
) -> Result<Url, String> {
    for name in ["client_id", "redirect_uri"] {
        if repeated(params, name) {
            return Err(format!("{name} repeated"));
        }
    }
    let Some(redirect_uri) = first(params, "redirect_uri") else {
        return Err("redirect_uri missing".into());
    };
    match Url::parse(redirect_uri) {
        Ok(url) if MockClient::allows_uri(&client.redirect_uris, redirect_uri) => Ok(url),
        _ if client.redirect_uris.is_empty() => {
            Err("redirect_uri is not an absolute URL without a fragment".into())
        }
        _ => Err("redirect_uri is not registered for this client".into()),
    }
}

/// What a valid authorization request asks for.
pub(super) struct ValidRequest {
    response_type: ResponseType,
    scope: String,
    /// The PKCE challenge, for the response types with a code.
    code_challenge: Option<String>,
    nonce: Option<String>,
    /// The DPoP key the code is bound to (RFC 9449 §10).
    dpop_jkt: Option<String>,
}

/// Checks the parameters whose errors go back to the client: the OAuth
/// error code and description, or the request.
pub(super) fn check(
    client: &MockClient,
    params: &[(String, String)],
) -> Result<ValidRequest, (&'static str, String)> {
    let param = |name: &str| first(params, name);
    let invalid = |why: &str| Err(("invalid_request", why.to_owned()));
    for name in [
        "response_type",
        "response_mode",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "max_age",
        "prompt",
        "dpop_jkt",
    ] {
        if repeated(params, name) {
            return invalid(&format!("{name} repeated"));
        }
    }
    let Some(requested) = param("response_type") else {
        return invalid("response_type missing");
    };
    let Some(response_type) = ResponseType::of(requested) else {
        return Err((
            "unsupported_response_type",
            format!(
                "response_type {requested:?} is not supported: only code, code id_token and \
                 id_token"
            ),
        ));
    };
    // RFC 6749 §4.1.2.1: the client is not allowed this response type.
    if !client.allows_response_type(response_type) {
        return Err((
            "unauthorized_client",
            format!(
                "the client did not register response_type {:?} (response_types)",
                response_type.name()
            ),
        ));
    }
    if let Some(value) = param("response_mode") {
        let Some(mode) = ResponseMode::of(value) else {
            return invalid(&format!("response_mode {value:?} is not supported"));
        };
        if let Some(why) = response_type.refuses(mode) {
            return invalid(&why);
        }
    }
    let scopes: Vec<&str> = param("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(allowed) = &client.scopes {
        let refused = scopes
            .iter()
            .find(|s| !OPENID_SCOPES.contains(s) && !allowed.iter().any(|a| a == *s));
        if let Some(bad) = refused {
            return Err(("invalid_scope", format!("scope {bad} is not allowed")));
        }
    }
    let scope = scopes.join(" ");
    if response_type.has_id_token() {
        // OIDC Core §3.3.2.1, §3.2.2.1: an OpenID request, and a nonce, which
        // is what ties a front-channel ID Token to the client's session.
        if !has_scope(&scope, "openid") {
            return invalid(&format!(
                "response_type {:?} returns an ID Token: the scope must have openid",
                response_type.name()
            ));
        }
        if param("nonce").is_none_or(str::is_empty) {
            return invalid(&format!(
                "nonce missing: required with response_type {:?} (OIDC Core §3.3.2.11, \
                 §3.2.2.1)",
                response_type.name()
            ));
        }
    }
    // RFC 7636 §4.4.1: PKCE is required for a code, and only S256.
    let code_challenge = if response_type.has_code() {
        let Some(code_challenge) = param("code_challenge") else {
            return invalid("code_challenge missing: PKCE (RFC 7636) with S256 is required");
        };
        if param("code_challenge_method") != Some("S256") {
            return invalid("code_challenge_method must be S256 (plain is not supported)");
        }
        if !is_pkce_string(code_challenge) {
            return invalid("code_challenge is not 43 to 128 unreserved characters");
        }
        Some(code_challenge.to_owned())
    } else {
        None
    };
    if param("max_age").is_some_and(|m| m.parse::<u64>().is_err()) {
        return invalid("max_age is not a number of seconds");
    }
    Ok(ValidRequest {
        response_type,
        scope,
        code_challenge,
        nonce: param("nonce").map(str::to_owned),
        dpop_jkt: param("dpop_jkt").map(str::to_owned),
    })
}

/// RFC 7636 §4.1, §4.2: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] /
/// "-" / "." / "_" / "~"`.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn error_params(error: &str, description: Option<&str>) -> Vec<(String, String)> {
    let mut params = vec![("error".to_owned(), error.to_owned())];
    if let Some(d) = description {
        params.push(("error_description".into(), d.into()));
    }
    params
}

/// Applies a fault to the response parameters: not
/// [`AuthorizationResponseFault::Error`] (done already) nor the JARM ones
/// (applied to the response JWT).
fn spoil(params: &mut Vec<(String, String)>, fault: &AuthorizationResponseFault) {
    let set = |params: &mut Vec<(String, String)>, name: &str, value: String| match params
        .iter_mut()
        .find(|(k, _)| k == name)
    {
        Some((_, v)) => *v = value,
        None => params.push((name.to_owned(), value)),
    };
    match fault {
        AuthorizationResponseFault::Error { .. }
        | AuthorizationResponseFault::JarmClaims(_)
        | AuthorizationResponseFault::JarmAlgNone
        | AuthorizationResponseFault::JarmUnknownKid
        | AuthorizationResponseFault::JarmSignature => {}
        AuthorizationResponseFault::WrongIssuer(iss) => set(params, "iss", iss.clone()),
        AuthorizationResponseFault::NoIssuer => params.retain(|(k, _)| k != "iss"),
        AuthorizationResponseFault::DuplicateState => {
            let value = params
                .iter()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.clone());
            if value.is_none() {
                params.push(("state".into(), "duplicate-state".into()));
            }
            let value = value.unwrap_or_else(|| "duplicate-state".into());
            params.push(("state".into(), value));
        }
        AuthorizationResponseFault::ExtraParam(name, value) => {
            params.push((name.clone(), value.clone()));
        }
        AuthorizationResponseFault::MissingParam(name) => params.retain(|(k, _)| k != name),
        AuthorizationResponseFault::WrongState => {
            set(params, "state", random_b64url(16).unwrap_or_default());
        }
    }
}

/// The Form Post Response Mode: a page whose form POSTs `params` to
/// `action` as soon as it loads.
fn form_post_response(action: &str, params: &[(String, String)]) -> Response {
    let mut r = form_post_page(action, params).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn form_post_page(action: &str, params: &[(String, String)]) -> String {
    let mut inputs = String::new();
    for (name, value) in params {
        inputs.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>\n",
            html_escape(name),
            html_escape(value)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Submit this form</title></head>\n\
         <body onload=\"javascript:document.forms[0].submit()\">\n\
         <form method=\"post\" action=\"{}\">\n{inputs}\
         <noscript><button type=\"submit\">Continue</button></noscript>\n\
         </form>\n</body></html>\n",
        html_escape(action)
    )
}

/// Reads the form of a page made by [`form_post_page`]: the action and the
/// hidden inputs.
fn parse_form_post(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let len = tag[start..].find('"')?;
        Some(html_unescape(&tag[start..start + len]))
    };
    let form_start = html.find("<form ")?;
    let form_tag = &html[form_start..form_start + html[form_start..].find('>')?];
    let action = attribute(form_tag, "action")?;
    let mut params = Vec::new();
    let mut rest = &html[form_start..];
    while let Some(i) = rest.find("<input ") {
        let end = i + rest[i..].find('>')?;
        let tag = &rest[i..end];
        if attribute(tag, "type").as_deref() == Some("hidden") {
            params.push((attribute(tag, "name")?, attribute(tag, "value")?));
        }
        rest = &rest[end..];
    }
    Some((action, params))
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636 §4.6): the
/// code must be known, unused, unexpired and issued to `client`; the
/// `redirect_uri` that of the authorization request; the `code_verifier`
/// must hash to the `code_challenge`; a code bound to a DPoP key needs a
/// proof of that key, `proof_jkt` (RFC 9449 §10). A code is spent by the
/// first token request that presents it, whatever the outcome; presenting
/// it again revokes the tokens issued for it (RFC 6749 §4.1.2).
pub(super) fn redeem(
    state: &ServerState,
    client: &MockClient,
    form: &[(String, String)],
    proof_jkt: Option<&str>,
) -> Result<Redeemed, (&'static str, String)> {
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let invalid_grant = |why: &str| ("invalid_grant", why.to_owned());
    let Some(code) = param("code") else {
        return Err(("invalid_request", "code missing".into()));
    };
    let entry = state.codes.lock().expect("lock").remove(code);
    let Some(entry) = entry else {
        let spent = state
            .used_codes
            .lock()
            .expect("lock")
            .get_mut(code)
            .map(std::mem::take);
        return Err(match spent {
            Some(tokens) => {
                let mut issued = state.issued.lock().expect("lock");
                let mut refresh = state.refresh_tokens.lock().expect("lock");
                for t in &tokens {
                    issued.remove(t);
                    refresh.remove(t);
                }
                invalid_grant(
                    "the authorization code was already used (the tokens issued for it are revoked)",
                )
            }
            None => invalid_grant("unknown authorization code"),
        });
    };
    state
        .used_codes
        .lock()
        .expect("lock")
        .insert(code.to_owned(), Vec::new());
    if state.now() >= entry.expires_at {
        return Err(invalid_grant("the authorization code expired"));
    }
    if entry.grant.client_id != client.client_id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    match param("redirect_uri") {
        None => {
            return Err((
                "invalid_request",
                "redirect_uri missing (the authorization request had one)".into(),
            ))
        }
        Some(r) if r != entry.redirect_uri => {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
        }
        Some(_) => {}
    }
    let Some(verifier) = param("code_verifier") else {
        return Err(invalid_grant("code_verifier missing (PKCE)"));
    };
    if !is_pkce_string(verifier) {
        return Err(invalid_grant(
            "code_verifier is not 43 to 128 unreserved characters",
        ));
    }
    if b64url(&sha256(verifier.as_bytes())) != entry.code_challenge {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge (PKCE)",
        ));
    }
    // RFC 9449 §10: a code bound to a DPoP key is redeemed with a proof of
    // that key.
    match (&entry.dpop_jkt, proof_jkt) {
        (Some(bound), Some(proof)) if bound == proof => {}
        (Some(_), Some(_)) => {
            return Err(invalid_grant(
                "the DPoP proof is not from the key the authorization code is bound to (dpop_jkt)",
            ))
        }
        (Some(_), None) => return Err(invalid_grant(
            "the authorization code is bound to a DPoP key (dpop_jkt): a DPoP proof is required",
        )),
        (None, _) => {}
    }
    Ok(Redeemed {
        code: code.to_owned(),
        grant: entry.grant,
        nonce: entry.nonce,
    })
}

/// The authorization endpoint and the browserless driver.
impl MockAuthorizationServer {
    /// The authorization endpoint URL, `{issuer}/authorize`.
    pub fn authorization_endpoint(&self) -> Url {
        self.endpoint("authorize")
    }

    /// Makes the next response of the authorization endpoint faulty (a
    /// response that goes back to the client: a code or a redirected
    /// error, plain or JARM; a 400 for an unknown client, an unusable
    /// `request_uri` or redirect URI does not consume it). Several calls
    /// queue several faults, one per response.
    pub fn tamper_next_authorization_response(&self, fault: AuthorizationResponseFault) {
        self.state
            .authorization_faults
            .lock()
            .expect("lock")
            .push_back(fault);
    }

    /// Plays the browser: GETs `authorization_url` (an authorization
    /// request to this server, as a client builds it) without following
    /// redirects, and returns the callback URL the server redirects to, i.e.
    /// the `redirect_uri` with `code`, `state` and `iss` (or `error`, …) in
    /// its query, or, for `response_mode=jwt` or `query.jwt` (JARM §2.3.1),
    /// with only `response`, the response JWT. For `response_type=code
    /// id_token` or `id_token` the parameters (`code`, `id_token`, `state`,
    /// `iss`, or `error`, …) are in the URL's **fragment** instead (the
    /// default `response_mode=fragment`), as a browser script would find
    /// them; the client's `authorization_code_grant` and
    /// `implicit_authentication` read it. The user approves at once; there
    /// is no login page. A pushed request's URL (`client_id` and
    /// `request_uri`, RFC 9126 §4) and one with a request object
    /// (`client_id` and `request`, RFC 9101 §5) work the same way.
    ///
    /// # Errors
    /// - `InvalidInput` if the URL is not this server's authorization
    ///   endpoint;
    /// - `UnexpectedStatus` if the server refuses the request without
    ///   redirecting (unknown client, unregistered redirect URI, unusable
    ///   `request_uri`, pushed request required: a 400 whose
    ///   [`body_snippet`](crate::Error::body_snippet) is the JSON error);
    /// - `InvalidResponse` for a `response_mode=form_post` (or
    ///   `form_post.jwt`) request, whose answer is a page: use
    ///   [`authorize_form_post`](Self::authorize_form_post).
    pub async fn authorize(&self, authorization_url: &Url) -> crate::Result<Url> {
        let (status, location, body) = self.visit(authorization_url).await?;
        match location {
            Some(location) if status.is_redirection() => {
                authorization_url.join(&location).map_err(|e| {
                    Error::invalid_response(
                        "the Location of the authorization response is not a URL",
                    )
                    .with_source(e)
                })
            }
            _ if status == StatusCode::OK => Err(Error::invalid_response(
                "the authorization response is a form_post page: use authorize_form_post",
            )),
            _ => Err(Error::unexpected_status(status, &body, Vec::new())),
        }
    }

    /// Plays the browser for a `response_mode=form_post` request (OAuth 2.0
    /// Form Post Response Mode): GETs `authorization_url` and returns what
    /// the page's auto-submitting form would POST: the `redirect_uri` (the
    /// form's action) and the parameters (`code`, `state`, `iss`; `code`,
    /// `id_token`, `state`, `iss` for `response_type=code id_token`;
    /// `id_token`, `state`, `iss` for `id_token`; or `error`, …) in order;
    /// for `response_mode=form_post.jwt` (JARM §2.3.3), the one parameter
    /// `("response", <the response JWT>)`. POST them yourself, e.g. with
    /// reqwest's `.form(&params)`, or give them to the client as
    /// `Callback::form_post(&url, &body)`.
    ///
    /// # Errors
    /// As [`authorize`](Self::authorize), with `InvalidResponse` for a
    /// request answered with a redirect (not `form_post`).
    pub async fn authorize_form_post(
        &self,
        authorization_url: &Url,
    ) -> crate::Result<(Url, Vec<(String, String)>)> {
        let (status, location, body) = self.visit(authorization_url).await?;
        if status.is_redirection() && location.is_some() {
            return Err(Error::invalid_response(
                "the authorization response is a redirect, not a form_post page: use authorize",
            ));
        }
        if status != StatusCode::OK {
            return Err(Error::unexpected_status(status, &body, Vec::new()));
        }
        let html = String::from_utf8_lossy(&body);
        let (action, params) = parse_form_post(&html)
            .ok_or_else(|| Error::invalid_response("no form in the form_post page"))?;
        let action = Url::parse(&action)
            .map_err(|e| Error::invalid_response("the form action is not a URL").with_source(e))?;
        Ok((action, params))
    }

    /// GETs an authorization URL of this server: the status, `Location` and
    /// body.
    async fn visit(
        &self,
        url: &Url,
    ) -> crate::Result<(StatusCode, Option<String>, axum::body::Bytes)> {
        let endpoint = self.authorization_endpoint();
        if url.origin() != endpoint.origin() || url.path() != endpoint.path() {
            return Err(Error::invalid_input(format!(
                "{url} is not the authorization endpoint of this server ({endpoint})"
            )));
        }
        let failed = |e| Error::from_reqwest(Some(url.clone()), e);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(failed)?;
        let response = client.get(url.clone()).send().await.map_err(failed)?;
        let status = StatusCode::from_u16(response.status().as_u16())
            .map_err(|e| Error::new(ErrorKind::InvalidResponse, "bad status").with_source(e))?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(failed)?;
        Ok((status, location, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_post_page_round_trips_awkward_values() {
        let params = vec![
            ("code".to_owned(), "a&b<c>\"d'".to_owned()),
            ("state".to_owned(), "&amp;".to_owned()),
        ];
        let page = form_post_page("https://app.example/cb?x=1&y=\"2\"", &params);
        assert!(!page.contains("a&b"));
        let (action, read) = parse_form_post(&page).unwrap();
        assert_eq!(action, "https://app.example/cb?x=1&y=\"2\"");
        assert_eq!(read, params);
    }

    #[test]
    fn pkce_strings() {
        assert!(is_pkce_string(&"a".repeat(43)));
        assert!(is_pkce_string(&"-._~".repeat(32)));
        assert!(!is_pkce_string(&"a".repeat(42)));
        assert!(!is_pkce_string(&"a".repeat(129)));
        assert!(!is_pkce_string(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn spoiled_responses() {
        let base = || {
            vec![
                ("code".to_owned(), "c".to_owned()),
                ("state".to_owned(), "s".to_owned()),
                ("iss".to_owned(), "https://as".to_owned()),
            ]
        };
        let mut p = base();
        spoil(&mut p, &AuthorizationResponseFault::NoIssuer);
        assert!(!p.iter().any(|(k, _)| k == "iss"));
        let mut p = base();
        spoil(&mut p, &AuthorizationResponseFault::DuplicateState);
        let states: Vec<_> = p.iter().filter(|(k, _)| k == "state").collect();
        assert_eq!(states.len(), 2);
        assert!(states.iter().all(|(_, v)| v == "s"));
        let mut p = base();
        spoil(&mut p, &AuthorizationResponseFault::WrongState);
        let state = &p.iter().find(|(k, _)| k == "state").unwrap().1;
        assert_ne!(state, "s");
        assert_eq!(p.len(), 3);
        let mut p = base();
        p.insert(1, ("id_token".to_owned(), "t".to_owned()));
        spoil(
            &mut p,
            &AuthorizationResponseFault::MissingParam("id_token".into()),
        );
        assert_eq!(p, base());
    }
}

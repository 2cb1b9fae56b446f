//! Dynamic client registration (RFC 7591) at `{issuer}/register`, and its
//! management (RFC 7592) at `{issuer}/register/{client_id}`: registered
//! clients join the server's [`MockClient`]s, so they can use the token
//! endpoint (and every other) at once.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::client::MockClient;
use super::token::oauth_error;
use super::ServerState;
use crate::jose::random_b64url;

/// A client registered through the endpoint.
pub(super) struct Registered {
    /// Its metadata as registered (with `client_id` and
    /// `client_id_issued_at`, without the secrets).
    metadata: Map<String, Value>,
    secret: Option<String>,
    /// The current registration access token.
    token: String,
}

/// The methods the endpoint registers; those with a secret first.
const SECRET_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// Members the client may not send in an update (RFC 7592 §2.2).
const FORBIDDEN_IN_UPDATE: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

/// `POST {issuer}/register` (RFC 7591 §3).
pub(super) fn register(state: &ServerState, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(expected) = &state.initial_access_token {
        match bearer(headers) {
            Some(given) if constant_eq(given, expected) => {}
            // RFC 6750 §3.1.
            _ => return invalid_token("a valid initial access token is required"),
        }
    }
    let mut metadata = match json_object(body) {
        Ok(m) => m,
        Err(refused) => return refuse(refused),
    };
    if metadata.contains_key("software_statement") {
        return metadata_error(
            "unapproved_software_statement",
            "this server approves no software statement",
        );
    }
    for name in ["client_secret", "registration_access_token"] {
        metadata.remove(name);
    }
    let client_id = format!("dyn-{}", random_b64url(12).unwrap_or_default());
    metadata.insert("client_id".into(), client_id.clone().into());
    metadata.insert("client_id_issued_at".into(), state.now().into());
    let method = match check(&metadata) {
        Ok(m) => m,
        Err(refused) => return refuse(refused),
    };
    let secret = SECRET_METHODS
        .contains(&method.as_str())
        .then(|| random_b64url(32).unwrap_or_default());
    let mock = match mock_client(&client_id, &method, secret.as_deref(), &metadata) {
        Ok(c) => c,
        Err(refused) => return refuse(refused),
    };
    let registered = Registered {
        metadata,
        secret,
        token: random_b64url(32).unwrap_or_default(),
    };
    let body = information(state, &client_id, &registered);
    state.clients.write().expect("lock").push(mock);
    state
        .registrations
        .lock()
        .expect("lock")
        .insert(client_id, registered);
    respond(state, StatusCode::CREATED, body)
}

/// `GET`, `PUT` and `DELETE {issuer}/register/{client_id}` (RFC 7592 §2).
pub(super) fn manage(
    state: &ServerState,
    method: &Method,
    client_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut registrations = state.registrations.lock().expect("lock");
    // RFC 7592 §2.1: an unknown client or a wrong token is a 401.
    let authorized = registrations
        .get(client_id)
        .zip(bearer(headers))
        .is_some_and(|(r, given)| constant_eq(given, &r.token));
    if !authorized {
        return invalid_token("unknown client or invalid registration access token");
    }
    let registered = registrations.get_mut(client_id).expect("checked above");
    if *method == Method::GET {
        let body = information(state, client_id, registered);
        return respond(state, StatusCode::OK, body);
    }
    if *method == Method::DELETE {
        registrations.remove(client_id);
        state
            .clients
            .write()
            .expect("lock")
            .retain(|c| c.client_id != client_id);
        return StatusCode::NO_CONTENT.into_response();
    }
    if *method != Method::PUT {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "GET, PUT or DELETE",
        );
    }
    let mut metadata = match json_object(body) {
        Ok(m) => m,
        Err(refused) => return refuse(refused),
    };
    if let Some(name) = FORBIDDEN_IN_UPDATE
        .iter()
        .find(|name| metadata.contains_key(**name))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("{name} must not be sent in an update (RFC 7592 §2.2)"),
        );
    }
    if metadata.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the update must carry the client's client_id (RFC 7592 §2.2)",
        );
    }
    if let Some(given) = metadata.remove("client_secret") {
        let matches = match (&given, &registered.secret) {
            (Value::String(g), Some(s)) => constant_eq(g, s),
            _ => false,
        };
        if !matches {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_secret is not the client's (RFC 7592 §2.2)",
            );
        }
    }
    let issued_at = registered.metadata["client_id_issued_at"].clone();
    metadata.insert("client_id_issued_at".into(), issued_at);
    let auth_method = match check(&metadata) {
        Ok(m) => m,
        Err(refused) => return refuse(refused),
    };
    // The secret stays while the method needs one; one is issued when a
    // method that needs one comes in.
    let secret = match (
        SECRET_METHODS.contains(&auth_method.as_str()),
        &registered.secret,
    ) {
        (false, _) => None,
        (true, Some(s)) => Some(s.clone()),
        (true, None) => Some(random_b64url(32).unwrap_or_default()),
    };
    let mock = match mock_client(client_id, &auth_method, secret.as_deref(), &metadata) {
        Ok(c) => c,
        Err(refused) => return refuse(refused),
    };
    registered.metadata = metadata;
    registered.secret = secret;
    if state.rotate_registration_access_tokens {
        registered.token = random_b64url(32).unwrap_or_default();
    }
    let body = information(state, client_id, registered);
    let mut clients = state.clients.write().expect("lock");
    clients.retain(|c| c.client_id != client_id);
    clients.push(mock);
    respond(state, StatusCode::OK, body)
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3).
fn information(
    state: &ServerState,
    client_id: &str,
    registered: &Registered,
) -> Map<String, Value> {
    let mut body = registered.metadata.clone();
    if let Some(secret) = &registered.secret {
        body.insert("client_secret".into(), secret.clone().into());
        body.insert("client_secret_expires_at".into(), 0.into());
    }
    body.insert(
        "registration_access_token".into(),
        registered.token.clone().into(),
    );
    body.insert(
        "registration_client_uri".into(),
        format!("{}/register/{client_id}", state.issuer).into(),
    );
    body
}

/// The response, with the next tamper applied: each member of the patch
/// replaces the response's, `null` removes it.
fn respond(state: &ServerState, status: StatusCode, mut body: Map<String, Value>) -> Response {
    if let Some(patch) = state.registration_tampers.lock().expect("lock").pop_front() {
        for (name, value) in patch {
            match value {
                Value::Null => body.remove(&name),
                value => body.insert(name, value),
            };
        }
    }
    let mut response = (status, axum::Json(Value::Object(body))).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// Checks the metadata as a server does (RFC 7591 §2, §3.2.2): the redirect
/// URIs `https:` or loopback `http:`, without a fragment; a known client
/// authentication method (default `client_secret_basic`), with `jwks` for
/// `private_key_jwt`; the lists lists of strings. Returns the method.
fn check(metadata: &Map<String, Value>) -> Result<String, Refusal> {
    for name in [
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "response_types",
    ] {
        match metadata.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(_) => {
                return Err(refusal(
                    "invalid_client_metadata",
                    &format!("{name} must be a list of strings"),
                ))
            }
        }
    }
    for uri in strings(metadata, "redirect_uris") {
        if !acceptable_redirect_uri(&uri) {
            return Err(refusal(
                "invalid_redirect_uri",
                &format!("{uri:?} is not an https: or loopback http: URL without a fragment"),
            ));
        }
    }
    let method = match metadata.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => "client_secret_basic",
        Some(Value::String(m)) => m.as_str(),
        Some(_) => {
            return Err(refusal(
                "invalid_client_metadata",
                "token_endpoint_auth_method must be a string",
            ))
        }
    };
    if !SECRET_METHODS.contains(&method) && !["private_key_jwt", "none"].contains(&method) {
        return Err(refusal(
            "invalid_client_metadata",
            &format!("unsupported token_endpoint_auth_method {method:?}"),
        ));
    }
    Ok(method.to_owned())
}

fn acceptable_redirect_uri(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    url.fragment().is_none() && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

/// The strings of a list member.
fn strings(metadata: &Map<String, Value>, name: &str) -> Vec<String> {
    metadata
        .get(name)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The [`MockClient`] the rest of the server knows the registration as.
fn mock_client(
    client_id: &str,
    method: &str,
    secret: Option<&str>,
    metadata: &Map<String, Value>,
) -> Result<MockClient, Refusal> {
    let secret = secret.unwrap_or_default().to_owned();
    let mut client = match method {
        "client_secret_basic" => MockClient::client_secret_basic(client_id, secret),
        "client_secret_post" => MockClient::client_secret_post(client_id, secret),
        "client_secret_jwt" => MockClient::client_secret_jwt(client_id, secret),
        "private_key_jwt" => {
            let key = metadata
                .get("jwks")
                .and_then(|jwks| jwks.get("keys"))
                .and_then(Value::as_array)
                .and_then(|keys| keys.first())
                .and_then(Value::as_object)
                .filter(|key| josekit::jwk::Jwk::from_map((*key).clone()).is_ok());
            let Some(key) = key else {
                return Err(refusal(
                    "invalid_client_metadata",
                    "private_key_jwt needs jwks with a public key",
                ));
            };
            MockClient::private_key_jwt(client_id, key)
        }
        _ => MockClient::none(client_id),
    };
    if let Some(scope) = metadata.get("scope").and_then(Value::as_str) {
        client = client.scopes(scope.split(' ').filter(|s| !s.is_empty()));
    }
    client = client
        .redirect_uris(strings(metadata, "redirect_uris"))
        .post_logout_redirect_uris(strings(metadata, "post_logout_redirect_uris"));
    if metadata.contains_key("response_types") {
        client = client.response_types(strings(metadata, "response_types"));
    }
    Ok(client)
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(refusal(
            "invalid_client_metadata",
            "the body must be a JSON object",
        )),
    }
}

/// Why metadata is refused: the error code (RFC 7591 §3.2.2) and a
/// description.
type Refusal = (&'static str, String);

fn refusal(error: &'static str, description: &str) -> Refusal {
    (error, description.to_owned())
}

fn refuse((error, description): Refusal) -> Response {
    metadata_error(error, &description)
}

/// A registration error (RFC 7591 §3.2.2): 400 with a JSON body.
fn metadata_error(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// A 401 with a Bearer challenge (RFC 6750 §3.1).
fn invalid_token(description: &str) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": "invalid_token", "error_description": description})),
    )
        .into_response();
    r.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    r
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

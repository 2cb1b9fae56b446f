//! The web application of the `web_sign_in` example: sign in with OpenID
//! Connect (authorization code + PKCE, `state`, `nonce`), a page with the
//! user's claims, sign out through the server's end-session endpoint.
//! Shared with tests/browser.rs, which drives it in a real Chromium.
//!
//! Sessions live in memory, keyed by a random id in an `HttpOnly`,
//! `SameSite=Lax` cookie: the PKCE verifier, `state` and `nonce` never reach
//! the browser.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oidckit::{
    authorization_code_grant, build_authorization_url, build_end_session_url,
    calculate_pkce_code_challenge, fetch_userinfo, random_nonce, random_pkce_code_verifier,
    random_state, AuthorizationChecks, Configuration, ErrorKind, IdTokenClaims, Url, UserInfo,
};

const COOKIE_NAME: &str = "web_sign_in_session";
/// Sessions kept at most; the oldest pending sign-ins go first.
const MAX_SESSIONS: usize = 10_000;

/// One browser's state.
enum Session {
    /// Between the redirect to the server and the callback.
    SigningIn {
        verifier: String,
        state: String,
        nonce: String,
    },
    SignedIn {
        claims: Box<IdTokenClaims>,
        id_token: Option<String>,
        userinfo: Option<Box<UserInfo>>,
    },
}

struct App {
    config: Configuration,
    /// The application's own base URL, e.g. `http://127.0.0.1:3000`.
    base: Url,
    scope: String,
    sessions: Mutex<HashMap<String, Session>>,
}

/// The application's routes: `/`, `/login`, `/cb`, `/logout`, `/signed-out`.
pub fn router(config: Configuration, base: Url, scope: &str) -> Router {
    let app = Arc::new(App {
        config,
        base,
        scope: scope.to_owned(),
        sessions: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/cb", get(callback))
        .route("/logout", get(logout))
        .route("/signed-out", get(signed_out))
        .with_state(app)
}

/// The callback URL to register at the server for `base`.
pub fn redirect_uri(base: &Url) -> Url {
    base.join("/cb").expect("a base URL")
}

/// The page the server sends the browser back to after signing out.
pub fn post_logout_redirect_uri(base: &Url) -> Url {
    base.join("/signed-out").expect("a base URL")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}dt{{font-weight:bold}}</style></head>\
         <body>{body}</body></html>"
    ))
}

/// HTML-escapes text from the server (claims are data, not markup).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response()
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "Sign-in failed",
            &format!(
                "<h1 id=\"error\">Sign-in failed</h1><p>{}</p><a id=\"sign-in\" href=\"/login\">Try again</a>",
                escape(message)
            ),
        ),
    )
        .into_response()
}

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let sessions = app.sessions.lock().unwrap_or_else(|e| e.into_inner());
    let signed_in = session_id(&headers).and_then(|id| match sessions.get(&id) {
        Some(Session::SignedIn {
            claims, userinfo, ..
        }) => Some((claims.clone(), userinfo.clone())),
        _ => None,
    });
    drop(sessions);
    let Some((claims, userinfo)) = signed_in else {
        return page(
            "Signed out",
            "<h1>Welcome</h1><a id=\"sign-in\" href=\"/login\">Sign in</a>",
        )
        .into_response();
    };
    let mut rows = String::new();
    for (name, value) in claims.all() {
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.push_str(&format!(
            "<dt>{}</dt><dd id=\"claim-{}\">{}</dd>",
            escape(name),
            escape(name),
            escape(&value)
        ));
    }
    let from_userinfo = userinfo
        .as_ref()
        .and_then(|u| u.email().or(u.name()))
        .map(|v| format!("<p id=\"userinfo\">From userinfo: {}</p>", escape(v)))
        .unwrap_or_default();
    page(
        "Signed in",
        &format!(
            "<h1 id=\"signed-in\">Signed in as {}</h1>{from_userinfo}\
             <h2>ID Token claims</h2><dl id=\"claims\">{rows}</dl>\
             <a id=\"sign-out\" href=\"/logout\">Sign out</a>",
            escape(claims.subject())
        ),
    )
    .into_response()
}

async fn login(State(app): State<Arc<App>>) -> Response {
    let verifier = random_pkce_code_verifier();
    let state = random_state();
    let nonce = random_nonce();
    let url = build_authorization_url(
        &app.config,
        &[
            ("redirect_uri", redirect_uri(&app.base).as_str()),
            ("scope", &app.scope),
            ("code_challenge", &calculate_pkce_code_challenge(&verifier)),
            ("code_challenge_method", "S256"),
            ("state", &state),
            ("nonce", &nonce),
        ],
    );
    let url = match url {
        Ok(url) => url,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let id = random_state();
    {
        let mut sessions = app.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| matches!(s, Session::SignedIn { .. }));
        }
        sessions.insert(
            id.clone(),
            Session::SigningIn {
                verifier,
                state,
                nonce,
            },
        );
    }
    (
        StatusCode::SEE_OTHER,
        [
            (LOCATION, url.to_string()),
            (
                SET_COOKIE,
                format!("{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Lax"),
            ),
        ],
    )
        .into_response()
}

async fn callback(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    let Some(id) = session_id(&headers) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "no sign-in in progress in this browser",
        );
    };
    // One use: the pending values go whatever happens next.
    let pending = app
        .sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    let Some(Session::SigningIn {
        verifier,
        state,
        nonce,
    }) = pending
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "no sign-in in progress in this browser",
        );
    };
    // The URL the browser requested: the base URL plus path and query.
    let current = match app.base.join(&uri.to_string()) {
        Ok(url) => url,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let checks = AuthorizationChecks::new()
        .pkce_code_verifier(verifier)
        .expected_state(state)
        .expected_nonce(nonce);
    let tokens = match authorization_code_grant(&app.config, &current, &checks).await {
        Ok(tokens) => tokens,
        Err(e) if e.kind() == ErrorKind::OAuth => {
            return error_page(StatusCode::FORBIDDEN, &e.to_string())
        }
        Err(e) => return error_page(StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    let Some(claims) = tokens.claims().cloned() else {
        return error_page(StatusCode::BAD_GATEWAY, "the server returned no ID Token");
    };
    // Userinfo is optional: a server without it still signs the user in.
    let userinfo = if app.config.server_metadata().userinfo_endpoint.is_some() {
        match fetch_userinfo(&app.config, tokens.access_token(), Some(claims.subject())).await {
            Ok(info) => Some(Box::new(info)),
            Err(e) => return error_page(StatusCode::BAD_GATEWAY, &e.to_string()),
        }
    } else {
        None
    };
    app.sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            id,
            Session::SignedIn {
                claims: Box::new(claims),
                id_token: tokens.id_token().map(str::to_owned),
                userinfo,
            },
        );
    redirect("/")
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    // The local session goes first: the browser may never come back.
    let session = session_id(&headers).and_then(|id| {
        app.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id)
    });
    let id_token = match session {
        Some(Session::SignedIn { id_token, .. }) => id_token,
        _ => None,
    };
    let after = post_logout_redirect_uri(&app.base);
    let mut params = vec![("post_logout_redirect_uri", after.to_string())];
    if let Some(id_token) = id_token {
        params.push(("id_token_hint", id_token));
    }
    match build_end_session_url(&app.config, &params) {
        Ok(url) => redirect(url.as_str()),
        // No end_session_endpoint: signed out here only.
        Err(e) if e.kind() == ErrorKind::MissingMetadata => redirect("/signed-out"),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn signed_out() -> Html<String> {
    page(
        "Signed out",
        "<h1 id=\"signed-out\">Signed out</h1><a id=\"sign-in\" href=\"/login\">Sign in again</a>",
    )
}

//! The token endpoint (RFC 6749 §3.2 and the grants), introspection (RFC
//! 7662) and revocation (RFC 7009).

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::client::authenticate;
use super::dpop::optional_proof;
use super::{authorize, ciba, device, id_token, IssuedToken, ServerState, UserGrant};
use crate::jose::random_b64url;

pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

pub(super) fn token(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    let param = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let client = match authenticate(state, headers, form) {
        Ok(c) => c,
        Err(reason) => return invalid_client(&reason),
    };
    let client = &client;
    if form.iter().filter(|(k, _)| k == "grant_type").count() != 1 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "one grant_type required",
        );
    }
    // The proof first: a refused one (a missing nonce) leaves a code
    // unspent for the retry, and the code's binding needs its key.
    let jkt = match optional_proof(state, headers, &format!("{}/token", state.issuer)) {
        Ok(jkt) => jkt,
        Err((error, why)) => return oauth_error(StatusCode::BAD_REQUEST, error, &why),
    };
    let invalid_grant = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let mut extra = Map::new();
    let mut token_type_override = None;
    let grant_type = param("grant_type").unwrap_or_default();
    // The user's grant (authorization code flow), the nonce of its
    // authorization request, and the code redeemed.
    let mut grant: Option<Arc<UserGrant>> = None;
    let mut nonce = None;
    let mut code = None;
    let mut scope = param("scope").map(str::to_owned);
    match grant_type {
        "client_credentials" => {}
        "authorization_code" => {
            let redeemed = match authorize::redeem(state, client, form, jkt.as_deref()) {
                Ok(r) => r,
                Err((error, why)) => return oauth_error(StatusCode::BAD_REQUEST, error, &why),
            };
            scope = Some(redeemed.grant.scope.clone()).filter(|s| !s.is_empty());
            nonce = redeemed.nonce;
            code = Some(redeemed.code);
            grant = Some(redeemed.grant);
        }
        device::DEVICE_CODE_GRANT_TYPE | ciba::CIBA_GRANT_TYPE => {
            // RFC 8628 §3.5, CIBA Core §11: the pending, slow-down, denied
            // and expired answers are all 400s.
            let redeem = if grant_type == ciba::CIBA_GRANT_TYPE {
                ciba::redeem
            } else {
                device::redeem
            };
            let approved = match redeem(state, client, form) {
                Ok(g) => g,
                Err((error, why)) => return oauth_error(StatusCode::BAD_REQUEST, error, &why),
            };
            scope = Some(approved.scope.clone()).filter(|s| !s.is_empty());
            grant = Some(approved);
        }
        "refresh_token" => {
            let rt = param("refresh_token").unwrap_or_default();
            let mut refresh_tokens = state.refresh_tokens.lock().expect("lock");
            // Rotation: a refresh token works once.
            match refresh_tokens.get(rt) {
                None => return invalid_grant("unknown or used refresh token"),
                Some(Some(g)) if g.client_id != client.client_id => {
                    return invalid_grant("the refresh token was issued to another client")
                }
                Some(Some(g)) => {
                    // RFC 6749 §6: the scope may narrow, never widen; absent,
                    // it is the one granted.
                    match &scope {
                        Some(requested) => {
                            if let Some(bad) = requested
                                .split(' ')
                                .find(|s| !s.is_empty() && !g.has_scope(s))
                            {
                                return oauth_error(
                                    StatusCode::BAD_REQUEST,
                                    "invalid_scope",
                                    &format!("scope {bad} was not granted"),
                                );
                            }
                        }
                        None => scope = Some(g.scope.clone()).filter(|s| !s.is_empty()),
                    }
                    grant = Some(g.clone());
                }
                Some(None) => {}
            }
            refresh_tokens.remove(rt);
        }
        crate::TOKEN_EXCHANGE_GRANT_TYPE => {
            let subject = param("subject_token").unwrap_or_default();
            if param("subject_token_type").is_none() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "subject_token_type missing",
                );
            }
            if !state.issued.lock().expect("lock").contains_key(subject) {
                return invalid_grant("unknown subject_token");
            }
            let requested =
                param("requested_token_type").unwrap_or(crate::token_types::ACCESS_TOKEN);
            if requested != crate::token_types::ACCESS_TOKEN {
                token_type_override = Some("N_A".to_owned());
            }
            extra.insert("issued_token_type".into(), requested.into());
        }
        crate::JWT_BEARER_GRANT_TYPE => {
            if param("assertion").is_none_or(|a| a.split('.').count() != 3) {
                return invalid_grant("the assertion is not a JWT");
            }
        }
        g if state.extension_grants.iter().any(|e| e == g) => {}
        g => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {g:?} is not supported"),
            )
        }
    }
    // The scopes of a user's grant were checked at the authorization
    // endpoint.
    if let (Some(allowed), Some(scope), None) = (&client.scopes, &scope, &grant) {
        if let Some(bad) = scope.split(' ').find(|s| !allowed.iter().any(|a| a == s)) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("scope {bad} is not allowed"),
            );
        }
    }
    let audience = param("resource")
        .map(str::to_owned)
        .or_else(|| state.jwt_access_tokens.clone());
    let access_token = match (&state.jwt_access_tokens, &audience) {
        (Some(_), Some(audience)) => {
            let subject = grant
                .as_ref()
                .map_or(client.client_id.as_str(), |g| g.subject.as_str());
            let claims = AccessTokenClaims {
                client_id: &client.client_id,
                subject,
                audience,
                scope: scope.as_deref(),
                jkt: jkt.as_deref(),
            };
            match jwt_access_token(state, &claims) {
                Ok(token) => token,
                Err(e) => {
                    return oauth_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        &e.to_string(),
                    )
                }
            }
        }
        _ => random_b64url(32).unwrap_or_default(),
    };
    // N_A (not an access token) stays N_A even with a proof: nothing to bind.
    let token_type = match (token_type_override, &jkt) {
        (Some(na), _) => na,
        (None, Some(_)) => "DPoP".to_owned(),
        (None, None) => state.token_type.clone(),
    };
    // OIDC Core §3.1.3.3 and §12.2: an ID Token for a grant with `openid`,
    // signed before anything is stored so a signing failure leaves no trace.
    if let Some(g) = grant.as_ref().filter(|g| g.has_scope("openid")) {
        let hashed = id_token::Hashed {
            access_token: Some(&access_token),
            ..Default::default()
        };
        match id_token::issue(state, g, nonce.as_deref(), hashed) {
            Ok(id_token) => {
                extra.insert("id_token".into(), id_token.into());
            }
            Err(e) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &e.to_string(),
                )
            }
        }
    }
    let mut issued_here = vec![access_token.clone()];
    let offline = grant
        .as_ref()
        .is_some_and(|g| g.has_scope("offline_access"));
    if state.issue_refresh_tokens || grant_type == "refresh_token" || offline {
        let rt = random_b64url(32).unwrap_or_default();
        state
            .refresh_tokens
            .lock()
            .expect("lock")
            .insert(rt.clone(), grant.clone());
        issued_here.push(rt.clone());
        extra.insert("refresh_token".into(), rt.into());
    }
    state.issued.lock().expect("lock").insert(
        access_token.clone(),
        IssuedToken {
            audience,
            client_id: client.client_id.clone(),
            jkt,
            expires_at: state.token_lifetime.map(|l| state.now() + l),
            scope: scope.clone(),
            grant,
        },
    );
    if let Some(code) = code {
        if let Some(tokens) = state.used_codes.lock().expect("lock").get_mut(&code) {
            tokens.extend(issued_here);
        }
    }
    let mut body = extra;
    body.insert("access_token".into(), access_token.into());
    body.insert("token_type".into(), token_type.into());
    if let Some(l) = state.token_lifetime {
        body.insert("expires_in".into(), l.into());
    }
    if let Some(scope) = scope {
        body.insert("scope".into(), scope.into());
    }
    let mut response = axum::Json(Value::Object(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

/// What a JWT access token of the mock says.
struct AccessTokenClaims<'a> {
    client_id: &'a str,
    subject: &'a str,
    audience: &'a str,
    scope: Option<&'a str>,
    jkt: Option<&'a str>,
}

/// An RFC 9068 JWT access token, signed with the current key.
fn jwt_access_token(state: &ServerState, at: &AccessTokenClaims<'_>) -> crate::Result<String> {
    let key = state.signing.lock().expect("lock").current().clone();
    let now = state.now();
    let mut claims = Map::new();
    claims.insert("iss".into(), state.issuer.clone().into());
    claims.insert("sub".into(), at.subject.into());
    claims.insert("aud".into(), at.audience.into());
    claims.insert("client_id".into(), at.client_id.into());
    claims.insert("jti".into(), random_b64url(16)?.into());
    claims.insert("iat".into(), now.into());
    claims.insert(
        "exp".into(),
        (now + state.token_lifetime.unwrap_or(3600)).into(),
    );
    if let Some(scope) = at.scope {
        claims.insert("scope".into(), scope.into());
    }
    if let Some(jkt) = at.jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    key.sign_jwt(Some("at+jwt"), &[], claims)
}

pub(super) fn invalid_client(reason: &str) -> Response {
    let mut r = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", reason);
    r.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"mock\", error=\"invalid_client\""),
    );
    r
}

/// RFC 7662: authenticated; `active` and what the server knows of the token.
pub(super) fn introspect(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    let client = match authenticate(state, headers, form) {
        Ok(c) => c,
        Err(reason) => return invalid_client(&reason),
    };
    let client = &client;
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str());
    let Some(token) = token else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token missing");
    };
    let known = state.issued.lock().expect("lock").get(token).map(|t| {
        (
            t.client_id.clone(),
            t.jkt.clone(),
            t.scope.clone(),
            t.grant.as_ref().map(|g| g.subject.clone()),
            t.audience.clone(),
            t.expires_at,
        )
    });
    let body = match known {
        // Unknown, revoked, or expired by the server's clock.
        Some((.., Some(exp))) if exp <= state.now() => json!({"active": false}),
        None => json!({"active": false}),
        Some((client_id, jkt, scope, subject, audience, expires_at)) => {
            let mut b = json!({
                "active": true,
                "client_id": client_id,
                "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
                "iss": state.issuer,
                "aud": audience.as_deref().unwrap_or("urn:mock:api"),
                "iat": state.now(),
            });
            if let Some(exp) = expires_at {
                b["exp"] = exp.into();
            }
            if let Some(jkt) = jkt {
                b["cnf"] = json!({"jkt": jkt});
            }
            if let Some(scope) = scope {
                b["scope"] = scope.into();
            }
            if let Some(subject) = subject {
                b["sub"] = subject.into();
            }
            b
        }
    };
    super::introspection::answer(state, client, headers, body)
}

/// RFC 7009: authenticated; 200 with an empty body, known token or not.
pub(super) fn revoke(
    state: &ServerState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    if let Err(reason) = authenticate(state, headers, form) {
        return invalid_client(&reason);
    }
    let Some((_, token)) = form.iter().find(|(k, _)| k == "token") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token missing");
    };
    state.issued.lock().expect("lock").remove(token);
    state.refresh_tokens.lock().expect("lock").remove(token);
    StatusCode::OK.into_response()
}

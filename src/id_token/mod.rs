//! ID Token validation ([OIDC Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation),
//! §2, §12.2), to openid-client's rules and past them (`at_hash` and
//! `c_hash` are checked when present).
//!
//! [`validate_id_token`] is the low-level, sans-IO step: a JWT, the
//! server's keys and the expectations in, the claims out. The grants call
//! it with the keys of the [JWKS cache](crate::jwks).

pub(crate) mod claims;

pub use claims::IdTokenClaims;

use openssl::hash::MessageDigest;
use serde_json::Value;

use crate::clock::unix_seconds;
use crate::endpoint::EndpointContext;
use crate::error::{server_text, Error, ErrorKind, Result};
use crate::jose::claims::{mismatch, optional_time as claim_time, timestamp};
use crate::jose::jwt::{self, SignedJwt};
use crate::jose::{b64url, JwkSet, JwsAlgorithm};

const WHAT: &str = "the ID Token";

/// What an ID Token must match besides the fixed rules: the values of the
/// authorization request and of the response that carried the token.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdTokenChecks<'a> {
    /// The `nonce` sent in the authorization request; without one, the ID
    /// Token must have no `nonce` either.
    pub nonce: Option<&'a str>,
    /// The `max_age` sent in the authorization request (seconds); the
    /// client metadata's `default_max_age` applies when `None`.
    pub max_age: Option<u64>,
    /// The access token of the same response, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// The authorization code, for `c_hash`.
    pub code: Option<&'a str>,
    /// The `sub` the token must have: after a refresh, the subject of the
    /// original ID Token (OIDC Core §12.2).
    pub subject: Option<&'a str>,
    /// The `state` of the authorization response, for `s_hash` (checked
    /// when the token has one).
    pub state: Option<&'a str>,
    /// Skips the `nonce` rule: after a refresh, the ID Token's `nonce` is
    /// not compared (OIDC Core §12.2; openid-client checks it in the code
    /// flow only).
    pub skip_nonce_check: bool,
}

/// What a grant expects of the ID Token in its response (owned, as the
/// [`Call`](crate::Call) outlives the caller's values).
#[derive(Debug, Clone, Default)]
pub(crate) struct IdTokenExpectations {
    /// The response must have an ID Token (the authorization request had
    /// `scope=openid`, known from a nonce or max_age).
    pub required: bool,
    pub nonce: Option<String>,
    pub skip_nonce_check: bool,
    pub max_age: Option<u64>,
    pub code: Option<String>,
    pub state: Option<String>,
    pub subject: Option<String>,
}

impl IdTokenExpectations {
    /// An optional ID Token from a flow without a nonce (the device flow).
    pub(crate) fn without_nonce() -> Self {
        IdTokenExpectations {
            skip_nonce_check: true,
            ..Default::default()
        }
    }

    /// A required ID Token from a flow without a nonce (CIBA Core §10.1.1:
    /// the token response of a successful authentication has one).
    pub(crate) fn required_without_nonce() -> Self {
        IdTokenExpectations {
            required: true,
            ..Self::without_nonce()
        }
    }

    /// After a refresh: an ID Token is optional, its nonce not compared,
    /// its subject the original one when known.
    pub(crate) fn after_refresh(subject: Option<&str>) -> Self {
        IdTokenExpectations {
            skip_nonce_check: true,
            subject: subject.map(str::to_owned),
            ..Default::default()
        }
    }
}

/// Validates an ID Token with the keys of `config`'s JWKS cache (fetched
/// when needed; see [`jwks`](crate::jwks)) and returns its claims: for an
/// ID Token that did not come from one of this crate's grants (those
/// validate theirs: [`TokenEndpointResponse::claims`](crate::TokenEndpointResponse::claims)).
/// The checks are those of [`validate_id_token`].
///
/// ```no_run
/// # async fn run(config: oidckit::Configuration, id_token: &str) -> Result<(), oidckit::Error> {
/// use oidckit::{id_token_claims, IdTokenChecks};
///
/// let checks = IdTokenChecks { nonce: Some("n-0S6_WzA2Mj"), ..Default::default() };
/// let claims = id_token_claims(&config, id_token, &checks).await?;
/// # Ok(()) }
/// ```
pub fn id_token_claims<'a>(
    config: &'a crate::Configuration,
    id_token: &str,
    checks: &IdTokenChecks<'_>,
) -> crate::Call<'a, IdTokenClaims> {
    let id_token = id_token.to_owned();
    let expected = IdTokenExpectations {
        required: true,
        nonce: checks.nonce.map(str::to_owned),
        skip_nonce_check: checks.skip_nonce_check,
        max_age: checks.max_age,
        code: checks.code.map(str::to_owned),
        state: checks.state.map(str::to_owned),
        subject: checks.subject.map(str::to_owned),
    };
    let access_token = checks.access_token.map(str::to_owned);
    crate::Call::new(move |options: crate::RequestOptions| async move {
        options.check(crate::options::Accepts {
            form_params: false,
            dpop: false,
            owned_headers: &[],
        })?;
        validate_with_cache(config, &id_token, access_token.as_deref(), &expected).await
    })
}

/// Validates the ID Token of a token response (if any) with the keys of
/// `config`'s JWKS cache; `None` when the response has none and none was
/// required.
pub(crate) async fn validate_returned(
    config: &crate::Configuration,
    token: &crate::TokenEndpointResponse,
    expected: &IdTokenExpectations,
) -> Result<Option<IdTokenClaims>> {
    let Some(id_token) = token.id_token() else {
        if expected.required {
            return Err(Error::invalid_response(
                "the token response has no id_token, though the request was an OpenID Connect one",
            ));
        }
        return Ok(None);
    };
    validate_with_cache(
        config,
        id_token,
        Some(token.access_token().secret()),
        expected,
    )
    .await
    .map(Some)
}

/// Decodes, finds the key through the JWKS cache, verifies, checks claims.
pub(crate) async fn validate_with_cache(
    config: &crate::Configuration,
    id_token: &str,
    access_token: Option<&str>,
    expected: &IdTokenExpectations,
) -> Result<IdTokenClaims> {
    let ctx = config.context();
    let jwt = decode(&ctx, id_token)?;
    let key = crate::jwks::key_for(config, jwt.alg, jwt.kid.as_deref()).await?;
    jwt.verify(&key, WHAT)?;
    let checks = IdTokenChecks {
        nonce: expected.nonce.as_deref(),
        max_age: expected.max_age,
        access_token,
        code: expected.code.as_deref(),
        state: expected.state.as_deref(),
        subject: expected.subject.as_deref(),
        skip_nonce_check: expected.skip_nonce_check,
    };
    validate_claims(&ctx, jwt, &checks)
}

/// Validates `id_token` against the server metadata, client metadata and
/// clock of `ctx`, with a key of `jwks`, and returns its claims.
///
/// ```
/// # fn run(ctx: &oidckit::EndpointContext<'_>, id_token: &str, jwks: &oidckit::JwkSet) -> Result<(), oidckit::Error> {
/// use oidckit::{validate_id_token, IdTokenChecks};
///
/// let checks = IdTokenChecks { nonce: Some("n-0S6_WzA2Mj"), ..Default::default() };
/// let claims = validate_id_token(ctx, id_token, jwks, &checks)?;
/// println!("signed in: {}", claims.subject());
/// # Ok(()) }
/// ```
pub fn validate_id_token(
    ctx: &EndpointContext<'_>,
    id_token: &str,
    jwks: &JwkSet,
    checks: &IdTokenChecks<'_>,
) -> Result<IdTokenClaims> {
    let jwt = decode(ctx, id_token)?;
    let key = jwks.select(jwt.alg, jwt.kid.as_deref())?;
    jwt.verify(key, WHAT)?;
    validate_claims(ctx, jwt, checks)
}

/// Reads `id_token` and checks its `alg` against the allowed ones, before
/// any key is looked for.
pub(crate) fn decode<'a>(ctx: &EndpointContext<'_>, id_token: &'a str) -> Result<SignedJwt<'a>> {
    let jwt = jwt::decode(id_token, WHAT)?;
    check_algorithm(ctx, jwt.alg)?;
    Ok(jwt)
}

/// The allowed `alg`: the client's `id_token_signed_response_alg`, else the
/// server's `id_token_signing_alg_values_supported`, else RS256.
fn check_algorithm(ctx: &EndpointContext<'_>, alg: JwsAlgorithm) -> Result<()> {
    jwt::check_allowed_algorithm(
        ctx,
        alg,
        ctx.client.id_token_signed_response_alg.as_deref(),
        ctx.server.id_token_signing_alg_values_supported.as_deref(),
        WHAT,
    )
}

/// The claim checks, once the signature is verified.
pub(crate) fn validate_claims(
    ctx: &EndpointContext<'_>,
    jwt: SignedJwt<'_>,
    checks: &IdTokenChecks<'_>,
) -> Result<IdTokenClaims> {
    let claims = &jwt.claims;
    let now = unix_seconds(ctx.now());
    let tolerance = ctx.clock_tolerance.as_secs();
    let client_id = ctx.client.client_id.as_str();

    // OIDC Core §2: the claims every ID Token has.
    let issuer = crate::jose::claims::required_string(claims, "iss", WHAT)?;
    let subject = crate::jose::claims::required_string(claims, "sub", WHAT)?;
    let expires_at = crate::jose::claims::required_time(claims, "exp", WHAT)?;
    let issued_at = crate::jose::claims::required_time(claims, "iat", WHAT)?;
    let audiences = crate::jose::claims::audiences(claims, WHAT)?;

    if issuer != ctx.server.issuer {
        return Err(mismatch(format!(
            "{WHAT}'s `iss` is {:?}, not the issuer {:?}",
            server_text(issuer, 120),
            ctx.server.issuer
        )));
    }
    if !audiences.iter().any(|a| a == client_id) {
        return Err(mismatch(format!(
            "{WHAT}'s `aud` does not contain this client's id {client_id:?}"
        )));
    }
    // OIDC Core §3.1.3.7 (4, 5): with several audiences, `azp` says which
    // one the token was issued to; when present it must be this client.
    match claims.get("azp") {
        Some(Value::String(azp)) if azp == client_id => {}
        Some(_) => {
            return Err(mismatch(format!(
                "{WHAT}'s `azp` is not this client's id {client_id:?}"
            )))
        }
        None if audiences.len() > 1 => {
            return Err(mismatch(format!(
                "{WHAT} has several audiences and no `azp`"
            )))
        }
        None => {}
    }

    // RFC 7519 §4.1.4, §4.1.5, §4.1.6, each with the clock tolerance.
    crate::jose::claims::check_times(claims, now, tolerance, true, WHAT)?;

    if !checks.skip_nonce_check {
        check_nonce(claims, checks.nonce)?;
    }
    let auth_time = check_auth_time(ctx, claims, checks.max_age, now, tolerance)?;

    if let Some(token) = checks.access_token {
        check_hash(claims, "at_hash", jwt.alg, token)?;
    }
    if let Some(code) = checks.code {
        check_hash(claims, "c_hash", jwt.alg, code)?;
    }
    if let Some(state) = checks.state {
        check_hash(claims, "s_hash", jwt.alg, state)?;
    }
    if let Some(expected) = checks.subject {
        if subject != expected {
            return Err(mismatch(format!(
                "{WHAT}'s `sub` differs from the original ID Token's (OIDC Core §12.2)"
            )));
        }
    }

    Ok(IdTokenClaims::new(
        issuer.to_owned(),
        subject.to_owned(),
        audiences,
        expires_at,
        issued_at,
        auth_time,
        jwt.claims,
    ))
}

/// The nonce must be exactly the one sent, or absent when none was (a
/// replayed ID Token from another flow carries another nonce).
fn check_nonce(claims: &serde_json::Map<String, Value>, expected: Option<&str>) -> Result<()> {
    match (claims.get("nonce"), expected) {
        (None, None) => Ok(()),
        (Some(Value::String(nonce)), Some(expected)) if nonce == expected => Ok(()),
        (None, Some(_)) => Err(mismatch(format!("{WHAT} has no `nonce`; one was sent"))),
        (Some(_), None) => Err(mismatch(format!(
            "{WHAT} has a `nonce`, but none was sent in the authorization request"
        ))),
        (Some(_), Some(_)) => Err(mismatch(format!(
            "{WHAT}'s `nonce` is not the one sent in the authorization request"
        ))),
    }
}

/// `auth_time` is required when a `max_age` applies or the client
/// registered `require_auth_time`, and must not be older than `max_age`
/// (OIDC Core §3.1.2.1, §3.1.3.7 (13)).
fn check_auth_time(
    ctx: &EndpointContext<'_>,
    claims: &serde_json::Map<String, Value>,
    max_age: Option<u64>,
    now: u64,
    tolerance: u64,
) -> Result<Option<u64>> {
    let max_age = max_age.or(ctx.client.default_max_age);
    let required = max_age.is_some() || ctx.client.require_auth_time == Some(true);
    let auth_time = match claim_time(claims, "auth_time", WHAT)? {
        Some(t) => t,
        None if required => {
            return Err(mismatch(format!(
                "{WHAT} has no `auth_time`, required with max_age or require_auth_time"
            )))
        }
        None => return Ok(None),
    };
    if let Some(max_age) = max_age {
        if auth_time.saturating_add(max_age).saturating_add(tolerance) < now {
            return Err(timestamp(format!(
                "the end-user authenticated {} s ago (`auth_time`), longer than max_age {max_age} s",
                now - auth_time
            )));
        }
    }
    Ok(Some(auth_time))
}

/// `at_hash` / `c_hash` (OIDC Core §3.1.3.6, §3.3.2.11): the left half of
/// the hash of the ASCII value, base64url; the hash is the one of the
/// token's `alg` (SHA-512 for Ed25519).
fn check_hash(
    claims: &serde_json::Map<String, Value>,
    claim: &str,
    alg: JwsAlgorithm,
    value: &str,
) -> Result<()> {
    let Some(sent) = claims.get(claim) else {
        return Ok(());
    };
    let expected = left_half_hash(alg, value)?;
    if sent.as_str() != Some(expected.as_str()) {
        return Err(mismatch(format!(
            "{WHAT}'s `{claim}` does not match the {}",
            match claim {
                "at_hash" => "access token",
                "c_hash" => "authorization code",
                _ => "state",
            }
        )));
    }
    Ok(())
}

/// The base64url left half of the `alg`'s hash of `value`.
pub(crate) fn left_half_hash(alg: JwsAlgorithm, value: &str) -> Result<String> {
    use JwsAlgorithm::*;
    let digest = match alg {
        HS256 | RS256 | PS256 | ES256 => MessageDigest::sha256(),
        HS384 | RS384 | PS384 | ES384 => MessageDigest::sha384(),
        HS512 | RS512 | PS512 | ES512 | EdDSA => MessageDigest::sha512(),
    };
    let hash = openssl::hash::hash(digest, value.as_bytes()).map_err(|e| {
        Error::new(ErrorKind::SignatureVerification, "hashing failed").with_source(e)
    })?;
    Ok(b64url(&hash[..hash.len() / 2]))
}

#[cfg(test)]
mod tests;

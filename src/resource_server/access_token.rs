//! JWT access tokens at the resource server
//! ([RFC 9068](https://www.rfc-editor.org/rfc/rfc9068)): a token the
//! authorization server signed for this resource, checked as §4 says —
//! `typ` `at+jwt`, the signature with the server's keys (through the same
//! JWKS cache and rules as ID Tokens), `iss`, `aud`, the times, and the
//! claims §2.2 requires — into typed claims.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::clock::unix_seconds;
use crate::error::Result;
use crate::jose::claims::{self, mismatch};
use crate::jose::jwt::{self, SignedJwt};
use crate::jose::{JwkSet, JwsAlgorithm};

const WHAT: &str = "the access token";

/// The algorithms a JWT access token may be signed with by default: every
/// asymmetric one this crate verifies (RFC 9068 §4: the resource server
/// must refuse `none`; a MAC would need a key it shares with the
/// authorization server).
pub const DEFAULT_ACCESS_TOKEN_ALGORITHMS: [JwsAlgorithm; 10] =
    crate::resource_server::dpop_proof::DEFAULT_DPOP_ALGORITHMS;

/// What a JWT access token must match besides the fixed rules.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct AccessTokenChecks<'a> {
    /// The authorization server's issuer identifier: `iss` must be it.
    pub issuer: &'a str,
    /// This resource's identifier: `aud` must contain it (RFC 9068 §4,
    /// item 5).
    pub audience: &'a str,
    /// The signature algorithms accepted.
    pub algorithms: &'a [JwsAlgorithm],
    /// Seconds of leeway for `exp`, `nbf` and `iat`.
    pub clock_tolerance: Duration,
    /// "Now".
    pub now: SystemTime,
    /// The `typ`s accepted: RFC 9068's `at+jwt` ([`RFC9068_TYPES`]), or a
    /// server's own (see [`ResourceServerBuilder::token_types`](super::ResourceServerBuilder::token_types)).
    pub token_types: &'a [&'a str],
    /// The claims a token must have besides `iss`, `aud`, `exp` and `iat`:
    /// RFC 9068 §2.2's `sub`, `client_id`, `jti` ([`RFC9068_CLAIMS`]) by
    /// default.
    pub required_claims: &'a [&'a str],
}

/// RFC 9068's access token type (§2.1), the default.
pub const RFC9068_TYPES: [&str; 1] = ["at+jwt"];

/// The string claims RFC 9068 §2.2 requires besides `iss`, `aud`, `exp`
/// and `iat`, the default.
pub const RFC9068_CLAIMS: [&str; 3] = ["sub", "client_id", "jti"];

impl<'a> AccessTokenChecks<'a> {
    /// Checks for tokens of `issuer` for `audience` at `now`: every
    /// asymmetric algorithm, 30 s of tolerance.
    pub fn new(issuer: &'a str, audience: &'a str, now: SystemTime) -> Self {
        AccessTokenChecks {
            issuer,
            audience,
            algorithms: &DEFAULT_ACCESS_TOKEN_ALGORITHMS,
            clock_tolerance: Duration::from_secs(30),
            now,
            token_types: &RFC9068_TYPES,
            required_claims: &RFC9068_CLAIMS,
        }
    }
}

/// The claims of a validated access token — a JWT access token's (RFC
/// 9068 §2.2) or an introspection answer's (RFC 7662 §2.2), in one shape.
#[derive(Clone, PartialEq)]
pub struct AccessTokenClaims {
    issuer: Option<String>,
    subject: Option<String>,
    client_id: Option<String>,
    audiences: Vec<String>,
    expires_at: Option<u64>,
    scopes: BTreeSet<String>,
    /// `cnf.jkt` and `cnf.x5t#S256`, read once: every request asks.
    jkt: Option<String>,
    x5t_s256: Option<String>,
    all: Map<String, Value>,
}

impl fmt::Debug for AccessTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenClaims")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("client_id", &self.client_id)
            .field("audiences", &self.audiences)
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl AccessTokenClaims {
    /// Claims from a claims set already checked (a JWT's, an introspection
    /// answer's): the typed members read, everything kept.
    pub(crate) fn from_claims(all: Map<String, Value>) -> Result<Self> {
        let audiences = match all.get("aud") {
            None => Vec::new(),
            Some(_) => claims::audiences(&all, WHAT)?,
        };
        Self::with_audiences(all, audiences)
    }

    /// As [`from_claims`](Self::from_claims), with `aud` already read.
    fn with_audiences(all: Map<String, Value>, audiences: Vec<String>) -> Result<Self> {
        let text = |name: &str| all.get(name).and_then(Value::as_str).map(str::to_owned);
        let scopes = match all.get("scope") {
            None => BTreeSet::new(),
            Some(Value::String(scope)) => scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(_) => return Err(mismatch(format!("{WHAT}'s `scope` is not a string"))),
        };
        let confirmation = |member: &str| {
            all.get("cnf")
                .and_then(|cnf| cnf.get(member))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Ok(AccessTokenClaims {
            jkt: confirmation("jkt"),
            x5t_s256: confirmation("x5t#S256"),
            issuer: text("iss"),
            subject: text("sub"),
            client_id: text("client_id"),
            audiences,
            expires_at: claims::optional_time(&all, "exp", WHAT)?,
            scopes,
            all,
        })
    }

    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// `sub`: the resource owner, or the client for a client credentials
    /// token (RFC 9068 §2.2).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// `client_id`: the client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// `aud`.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// `exp`, as seconds since the epoch.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// The granted scopes (`scope`, split on spaces).
    pub fn scopes(&self) -> &BTreeSet<String> {
        &self.scopes
    }

    /// Whether every one of `required` was granted.
    pub fn has_scopes(&self, required: &[&str]) -> bool {
        required.iter().all(|s| self.scopes.contains(*s))
    }

    /// `jti`.
    pub fn jti(&self) -> Option<&str> {
        self.all.get("jti").and_then(Value::as_str)
    }

    /// `cnf.jkt`: the thumbprint of the DPoP key the token is bound to
    /// (RFC 9449 §6).
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.jkt.as_deref()
    }

    /// `cnf.x5t#S256`: the thumbprint of the client certificate the token
    /// is bound to (RFC 8705 §3.1).
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// `authorization_details` (RFC 9396), as sent.
    pub fn authorization_details(&self) -> Option<&[Value]> {
        self.all
            .get("authorization_details")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    }

    /// Any claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.all.get(name)
    }

    /// Every claim.
    pub fn all(&self) -> &Map<String, Value> {
        &self.all
    }
}

/// Validates a JWT access token with a key of `jwks` and returns its
/// claims (RFC 9068 §4): the sans-IO step under
/// [`ResourceServer`](super::ResourceServer), which fetches the keys
/// through the JWKS cache.
///
/// ```
/// # fn run(token: &str, jwks: &oidckit::JwkSet) -> Result<(), oidckit::Error> {
/// use std::time::SystemTime;
/// use oidckit::{validate_jwt_access_token, AccessTokenChecks};
///
/// let checks = AccessTokenChecks::new("https://as.example.com", "https://api.example.com", SystemTime::now());
/// let claims = validate_jwt_access_token(token, jwks, &checks)?;
/// if !claims.has_scopes(&["orders:read"]) { /* 403 */ }
/// # Ok(()) }
/// ```
pub fn validate_jwt_access_token(
    token: &str,
    jwks: &JwkSet,
    checks: &AccessTokenChecks<'_>,
) -> Result<AccessTokenClaims> {
    let jwt = decode(token, checks)?;
    let key = jwks.select(jwt.alg, jwt.kid.as_deref())?;
    jwt.verify(key, WHAT)?;
    validate_claims(jwt, checks)
}

/// Reads the token and applies the header rules (`typ`, `alg`), before any
/// key is looked for.
pub(crate) fn decode<'a>(token: &'a str, checks: &AccessTokenChecks<'_>) -> Result<SignedJwt<'a>> {
    let jwt = jwt::decode(token, WHAT)?;
    // RFC 9068 §4 item 1 (and RFC 8725 §3.11): `typ` at+jwt, so no other
    // JWT of the server (an ID Token) passes for an access token.
    jwt.check_type_and_algorithm(checks.token_types, checks.algorithms, WHAT, "RFC 9068 §4")?;
    Ok(jwt)
}

/// The claim rules, once the signature is verified.
pub(crate) fn validate_claims(
    jwt: SignedJwt<'_>,
    checks: &AccessTokenChecks<'_>,
) -> Result<AccessTokenClaims> {
    let all = &jwt.claims;
    // RFC 9068 §2.2: required claims.
    for name in checks.required_claims {
        claims::required_string(all, name, WHAT)?;
    }
    claims::required_time(all, "iat", WHAT)?;
    claims::check_issuer(all, checks.issuer, WHAT)?;
    let audiences = claims::audiences(all, WHAT)?;
    if !audiences.iter().any(|a| a == checks.audience) {
        return Err(mismatch(format!(
            "{WHAT} is not for this resource: its `aud` does not contain {:?}",
            checks.audience
        )));
    }
    claims::check_times(
        all,
        unix_seconds(checks.now),
        checks.clock_tolerance.as_secs(),
        true,
        WHAT,
    )?;
    AccessTokenClaims::with_audiences(jwt.claims, audiences)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::PrivateKey;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const ISSUER: &str = "https://as.example";
    const API: &str = "https://api.example";

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn key() -> PrivateKey {
        PrivateKey::generate(JwsAlgorithm::ES256)
            .unwrap()
            .with_kid("as-1")
    }

    fn jwks(key: &PrivateKey) -> JwkSet {
        JwkSet::from_json(json!({"keys": [key.public_jwk()]}).to_string().as_bytes()).unwrap()
    }

    fn claims() -> Map<String, Value> {
        json!({
            "iss": ISSUER, "sub": "user-1", "aud": [API, "other"], "client_id": "app",
            "jti": "j1", "iat": NOW, "exp": NOW + 300, "scope": "orders:read  orders:write",
            "cnf": {"jkt": "thumb"}, "authorization_details": [{"type": "payment"}],
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn sign(key: &PrivateKey, typ: Option<&str>, claims: Map<String, Value>) -> String {
        key.sign_jwt(typ, &[], claims).unwrap()
    }

    fn validate(token: &str, jwks: &JwkSet) -> Result<AccessTokenClaims> {
        validate_jwt_access_token(
            token,
            jwks,
            &AccessTokenChecks::new(ISSUER, API, at(NOW + 10)),
        )
    }

    #[test]
    fn a_good_token() {
        let key = key();
        let c = validate(&sign(&key, Some("at+jwt"), claims()), &jwks(&key)).unwrap();
        assert_eq!(c.subject(), Some("user-1"));
        assert_eq!(c.client_id(), Some("app"));
        assert!(c.has_scopes(&["orders:read", "orders:write"]));
        assert!(!c.has_scopes(&["admin"]));
        assert_eq!(c.scopes().len(), 2, "empty parts of `scope` ignored");
        assert_eq!(c.dpop_jkt(), Some("thumb"));
        assert_eq!(c.authorization_details().unwrap()[0]["type"], "payment");
        assert_eq!(c.expires_at(), Some(NOW + 300));
        // The media type form of `typ`, in any case.
        validate(
            &sign(&key, Some("Application/AT+JWT"), claims()),
            &jwks(&key),
        )
        .unwrap();
    }

    #[test]
    fn every_refusal() {
        let key = key();
        let set = jwks(&key);
        let with = |f: &dyn Fn(&mut Map<String, Value>)| {
            let mut c = claims();
            f(&mut c);
            c
        };
        let cases: Vec<(String, ErrorKind, &str)> = vec![
            (sign(&key, None, claims()), ErrorKind::InvalidJwt, "typ"),
            (
                sign(&key, Some("JWT"), claims()),
                ErrorKind::InvalidJwt,
                "typ",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.insert("iss".into(), json!("https://evil"));
                    }),
                ),
                ErrorKind::ClaimComparison,
                "iss",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.insert("aud".into(), json!("https://other-api"));
                    }),
                ),
                ErrorKind::ClaimComparison,
                "aud",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.insert("exp".into(), json!(NOW - 60));
                    }),
                ),
                ErrorKind::TimestampCheck,
                "expired",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.insert("nbf".into(), json!(NOW + 120));
                    }),
                ),
                ErrorKind::TimestampCheck,
                "nbf",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.insert("iat".into(), json!(NOW + 120));
                    }),
                ),
                ErrorKind::TimestampCheck,
                "future",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.remove("exp");
                    }),
                ),
                ErrorKind::ClaimComparison,
                "exp",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.remove("sub");
                    }),
                ),
                ErrorKind::ClaimComparison,
                "sub",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.remove("client_id");
                    }),
                ),
                ErrorKind::ClaimComparison,
                "client_id",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.remove("jti");
                    }),
                ),
                ErrorKind::ClaimComparison,
                "jti",
            ),
            (
                sign(
                    &key,
                    Some("at+jwt"),
                    with(&|c| {
                        c.insert("scope".into(), json!(["a"]));
                    }),
                ),
                ErrorKind::ClaimComparison,
                "scope",
            ),
            // Signed by a key the server does not publish (same kid).
            (
                sign(&self::key(), Some("at+jwt"), claims()),
                ErrorKind::SignatureVerification,
                "signature",
            ),
        ];
        for (token, kind, says) in cases {
            let e = validate(&token, &set).unwrap_err();
            assert_eq!(e.kind(), kind, "{e}");
            assert!(e.to_string().contains(says), "{says:?} not in {e}");
        }
        // An HMAC token: never.
        let e = validate(
            &crate::jose::sign_hmac_jwt(JwsAlgorithm::HS256, &[1; 32], claims()).unwrap(),
            &set,
        )
        .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::InvalidJwt | ErrorKind::UnsupportedAlgorithm
            ),
            "{e}"
        );
    }
}

//! Why a request was refused, as the response to send: the status, the
//! `WWW-Authenticate` challenges of RFC 6750 §3 and RFC 9449 §7.1 (with
//! RFC 9728's `resource_metadata`), and a fresh `DPoP-Nonce` when one is
//! due.

use std::fmt;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, WWW_AUTHENTICATE};
use reqwest::StatusCode;

use crate::error::Error;
use crate::jose::JwsAlgorithm;

/// The `error` code of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionCode {
    /// No credentials at all: a 401 with bare challenges (RFC 6750 §3.1:
    /// no error code).
    MissingToken,
    /// `invalid_request` (400): a malformed request — two tokens, two
    /// proofs, an unknown scheme.
    InvalidRequest,
    /// `invalid_token` (401): expired, revoked, for another resource, badly
    /// signed, or used without its binding.
    InvalidToken,
    /// `insufficient_scope` (403): the token lacks a scope the route needs.
    InsufficientScope,
    /// `invalid_dpop_proof` (401, RFC 9449 §7.1).
    InvalidDPoPProof,
    /// `use_dpop_nonce` (401, RFC 9449 §9): the proof must carry the nonce
    /// in the `DPoP-Nonce` header of this response.
    UseDPoPNonce,
}

impl RejectionCode {
    /// The code as sent (`None` for [`MissingToken`](Self::MissingToken)).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            RejectionCode::MissingToken => None,
            RejectionCode::InvalidRequest => Some("invalid_request"),
            RejectionCode::InvalidToken => Some("invalid_token"),
            RejectionCode::InsufficientScope => Some("insufficient_scope"),
            RejectionCode::InvalidDPoPProof => Some("invalid_dpop_proof"),
            RejectionCode::UseDPoPNonce => Some("use_dpop_nonce"),
        }
    }

    /// The HTTP status of the refusal.
    pub fn status(self) -> StatusCode {
        match self {
            RejectionCode::InvalidRequest => StatusCode::BAD_REQUEST,
            RejectionCode::InsufficientScope => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// Which schemes the challenges offer.
#[derive(Debug, Clone)]
pub(crate) struct Challenges {
    pub bearer: bool,
    pub dpop_algs: Option<Vec<JwsAlgorithm>>,
    pub realm: Option<String>,
    pub resource_metadata: Option<String>,
}

/// A refused request: what to answer, and why (the underlying check's
/// [`Error`] as [`source`](std::error::Error::source), for logs; the
/// response itself says only the code and a short description).
#[derive(Clone)]
pub struct Rejection {
    /// Boxed: a rejection travels in `Err`, which should stay small.
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    code: RejectionCode,
    description: String,
    /// The scheme the error is about (`Bearer` or `DPoP`), when the request
    /// used one.
    scheme: Option<&'static str>,
    scope: Option<String>,
    challenges: Challenges,
    dpop_nonce: Option<String>,
    cause: Option<Error>,
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("code", &self.inner.code)
            .field("description", &self.inner.description)
            .field("scheme", &self.inner.scheme)
            .field("cause", &self.inner.cause)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.inner.code.status().as_u16(),
            self.inner.code.as_str().unwrap_or("no token"),
            self.inner.description
        )?;
        if let Some(cause) = &self.inner.cause {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.cause.as_ref().map(|e| e as _)
    }
}

impl Rejection {
    pub(crate) fn new(
        code: RejectionCode,
        description: impl Into<String>,
        challenges: &Challenges,
    ) -> Self {
        Rejection {
            inner: Box::new(Inner {
                code,
                description: description.into(),
                scheme: None,
                scope: None,
                challenges: challenges.clone(),
                dpop_nonce: None,
                cause: None,
            }),
        }
    }

    pub(crate) fn scheme(mut self, scheme: &'static str) -> Self {
        self.inner.scheme = Some(scheme);
        self
    }

    pub(crate) fn scope(mut self, scope: String) -> Self {
        self.inner.scope = Some(scope);
        self
    }

    pub(crate) fn nonce(mut self, nonce: Option<String>) -> Self {
        self.inner.dpop_nonce = nonce;
        self
    }

    pub(crate) fn caused_by(mut self, cause: Error) -> Self {
        self.inner.cause = Some(cause);
        self
    }

    /// The refusal's code.
    pub fn code(&self) -> RejectionCode {
        self.inner.code
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        self.inner.code.status()
    }

    /// The `error_description` sent.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// The nonce to send in `DPoP-Nonce`, if any.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.inner.dpop_nonce.as_deref()
    }

    /// The check that failed, if the refusal came from one.
    pub fn cause(&self) -> Option<&Error> {
        self.inner.cause.as_ref()
    }

    /// The `WWW-Authenticate` values: one challenge per scheme the server
    /// accepts (RFC 9449 §7.1 lets both be offered), the error on the
    /// scheme the request used (or on each, when it used none that was
    /// understood), `scope` on `insufficient_scope`, `algs` on DPoP and
    /// `resource_metadata` (RFC 9728 §5.1) on every one.
    pub fn www_authenticate(&self) -> Vec<HeaderValue> {
        let c = &self.inner.challenges;
        let mut values = Vec::with_capacity(2);
        let mut schemes: Vec<&'static str> = Vec::with_capacity(2);
        if c.dpop_algs.is_some() {
            schemes.push("DPoP");
        }
        if c.bearer {
            schemes.push("Bearer");
        }
        for scheme in schemes {
            let mut params: Vec<(&str, String)> = Vec::new();
            if let Some(realm) = &c.realm {
                params.push(("realm", realm.clone()));
            }
            let about_this = self.inner.scheme.is_none_or(|s| s == scheme);
            // A nonce error is a DPoP one, whatever the request said.
            let code = match self.inner.code {
                RejectionCode::UseDPoPNonce | RejectionCode::InvalidDPoPProof
                    if scheme != "DPoP" =>
                {
                    None
                }
                code if about_this => code.as_str(),
                _ => None,
            };
            if let Some(code) = code {
                params.push(("error", code.to_owned()));
                params.push(("error_description", self.inner.description.clone()));
                if let Some(scope) = &self.inner.scope {
                    params.push(("scope", scope.clone()));
                }
            }
            if scheme == "DPoP" {
                if let Some(algs) = &c.dpop_algs {
                    let names: Vec<&str> = algs.iter().map(|a| a.name()).collect();
                    params.push(("algs", names.join(" ")));
                }
            }
            if let Some(url) = &c.resource_metadata {
                params.push(("resource_metadata", url.clone()));
            }
            values.push(challenge(scheme, &params));
        }
        values
    }

    /// Every header of the response: `WWW-Authenticate` (one per scheme),
    /// `DPoP-Nonce` when due, and `Cache-Control: no-store`.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in self.www_authenticate() {
            headers.append(WWW_AUTHENTICATE, value);
        }
        if let Some(nonce) = self
            .dpop_nonce()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            headers.insert(HeaderName::from_static("dpop-nonce"), nonce);
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers
    }
}

/// `scheme name="value", …`, values quoted with `"` and `\` escaped
/// (RFC 9110 §11.2, quoted-string); characters a header cannot carry are
/// dropped.
fn challenge(scheme: &str, params: &[(&str, String)]) -> HeaderValue {
    let mut out = String::from(scheme);
    for (i, (name, value)) in params.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        out.push_str(name);
        out.push_str("=\"");
        for ch in value.chars() {
            match ch {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(ch);
                }
                ' '..='~' => out.push(ch),
                _ => {}
            }
        }
        out.push('"');
    }
    HeaderValue::from_str(&out).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::www_authenticate::{parse_www_authenticate, Challenge};

    fn parse_challenges(headers: &HeaderMap) -> Vec<Challenge> {
        headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .flat_map(|v| parse_www_authenticate(v.to_str().unwrap()))
            .collect()
    }

    fn challenges() -> Challenges {
        Challenges {
            bearer: true,
            dpop_algs: Some(vec![JwsAlgorithm::ES256, JwsAlgorithm::EdDSA]),
            realm: None,
            resource_metadata: Some(
                "https://api.example/.well-known/oauth-protected-resource".into(),
            ),
        }
    }

    #[test]
    fn challenges_round_trip_through_the_clients_parser() {
        let r = Rejection::new(
            RejectionCode::InsufficientScope,
            "needs \"orders:write\"",
            &challenges(),
        )
        .scheme("Bearer")
        .scope("orders:write".into());
        assert_eq!(r.status(), 403);
        let headers = r.headers();
        let parsed = parse_challenges(&headers);
        assert_eq!(parsed.len(), 2);
        let dpop = parsed.iter().find(|c| c.scheme() == "dpop").unwrap();
        assert_eq!(dpop.param("algs"), Some("ES256 EdDSA"));
        assert_eq!(dpop.param("error"), None, "the error is on the scheme used");
        let bearer = parsed.iter().find(|c| c.scheme() == "bearer").unwrap();
        assert_eq!(bearer.param("error"), Some("insufficient_scope"));
        assert_eq!(
            bearer.param("error_description"),
            Some("needs \"orders:write\"")
        );
        assert_eq!(bearer.param("scope"), Some("orders:write"));
        assert!(bearer
            .param("resource_metadata")
            .unwrap()
            .ends_with("oauth-protected-resource"));
        assert_eq!(headers[CACHE_CONTROL], "no-store");

        let missing = Rejection::new(RejectionCode::MissingToken, "no token", &challenges());
        let parsed = parse_challenges(&missing.headers());
        assert!(
            parsed.iter().all(|c| c.param("error").is_none()),
            "RFC 6750 §3.1"
        );

        let nonce = Rejection::new(RejectionCode::UseDPoPNonce, "fresh nonce", &challenges())
            .nonce(Some("n-1".into()));
        let headers = nonce.headers();
        assert_eq!(headers["dpop-nonce"], "n-1");
        let parsed = parse_challenges(&headers);
        let dpop = parsed.iter().find(|c| c.scheme() == "dpop").unwrap();
        assert_eq!(dpop.param("error"), Some("use_dpop_nonce"));
        let bearer = parsed.iter().find(|c| c.scheme() == "bearer").unwrap();
        assert_eq!(bearer.param("error"), None);
    }
}

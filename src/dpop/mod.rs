//! DPoP: Demonstrating Proof of Possession
//! ([RFC 9449](https://www.rfc-editor.org/rfc/rfc9449)).
//!
//! A [`DPoPHandle`] holds the client's DPoP key pair and the nonces servers
//! gave it. Every request that carries a proof — token grants, protected
//! resource calls — gets a fresh proof JWT from it, and every response's
//! `DPoP-Nonce` header updates it.

use std::collections::VecDeque;
use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use oauth2::AccessToken;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use url::Url;

use crate::clock::{self, unix_seconds, Clock};
use crate::config::Configuration;
use crate::error::{Error, Result};
use crate::jose::{b64url, random_b64url, sha256, JwsAlgorithm, PrivateKey};

/// The `DPoP` request header carrying the proof (RFC 9449 §4.1).
pub const DPOP_HEADER: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: HeaderName = HeaderName::from_static("dpop-nonce");

/// How many origins' nonces a handle remembers (as openid-client); the least
/// recently used origin is dropped first.
const NONCE_CACHE_SIZE: usize = 100;
/// Nonces longer than this are ignored: a nonce is an opaque token a server
/// chose, not a place to store data, and the cache must stay bounded.
const MAX_NONCE_LEN: usize = 1024;

/// A DPoP key pair and the nonces learned from servers.
///
/// Cheap to clone (clones share the nonce cache); `Send + Sync`; `Debug`
/// shows the algorithm and thumbprint, never the private key.
///
/// To share DPoP-bound tokens across instances of a service, every instance
/// must use the same key: load it with [`PrivateKey::from_pem`] or
/// [`PrivateKey::from_jwk_json`] and [`DPoPHandle::new`].
///
/// ```
/// use oidckit::{ClientAuth, Configuration, DPoPHandle, JwsAlgorithm, ServerMetadata};
///
/// let config = Configuration::new(
///     ServerMetadata::new("https://as.example", "https://as.example/token".parse()?),
///     "client",
///     ClientAuth::none(),
/// )?;
/// let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256)?;
/// let proof = dpop.proof("POST", &"https://as.example/token?x=1".parse()?, None)?;
/// assert_eq!(proof.split('.').count(), 3);
/// assert_eq!(dpop.thumbprint().len(), 43);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DPoPHandle {
    inner: Arc<Inner>,
}

struct Inner {
    key: PrivateKey,
    /// The proof header (`typ`, `alg`, `jwk` with the public key's members
    /// only), base64url-encoded once: it is the same for every proof.
    header_b64: String,
    /// With `jti_counter`, makes each proof's `jti` unique without a call to
    /// the random generator per proof.
    jti_prefix: String,
    jti_counter: AtomicU64,
    thumbprint: String,
    clock: Arc<dyn Clock>,
    clock_skew: i64,
    nonces: Mutex<VecDeque<NonceEntry>>,
}

/// One origin's nonce in the cache.
struct NonceEntry {
    origin: HttpOrigin,
    nonce: String,
}

/// The origin (RFC 6454 §4: scheme, host, port) of an `http`/`https` URL,
/// kept so that a lookup compares it with a URL without allocating.
#[derive(PartialEq)]
struct HttpOrigin {
    scheme: String,
    host: String,
    port: u16,
}

impl HttpOrigin {
    /// `None` for URLs without a tuple origin that DPoP applies to.
    fn of(url: &Url) -> Option<HttpOrigin> {
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        Some(HttpOrigin {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }

    /// Whether `url` has this origin. `Url` keeps the scheme and host
    /// normalized (lowercase, IDNA), so byte comparison is origin comparison.
    fn contains(&self, url: &Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == Some(self.port)
    }
}

impl fmt::Debug for DPoPHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DPoPHandle")
            .field("alg", &self.inner.key.algorithm())
            .field("thumbprint", &self.inner.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DPoPHandle {
    /// A handle with a newly generated key pair. `ES256` is the common
    /// choice; `ES384`, `ES512`, `RS256`, `PS256` and `EdDSA` work too.
    pub fn generate(config: &Configuration, alg: JwsAlgorithm) -> Result<Self> {
        Self::new(config, PrivateKey::generate(alg)?)
    }

    /// A handle for an existing key (to share one key across instances).
    /// Proof times use the configuration's clock and clock skew.
    pub fn new(config: &Configuration, key: PrivateKey) -> Result<Self> {
        if key.algorithm().is_symmetric() {
            return Err(Error::invalid_configuration(
                "a DPoP key must be asymmetric",
            ));
        }
        let public = key.public_jwk();
        let jwk: Map<String, Value> = public
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "kty" | "crv" | "x" | "y" | "n" | "e"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let thumbprint = key.thumbprint()?;
        let header = key.jws_header(Some("dpop+jwt"), &[("jwk", Value::Object(jwk))]);
        let header_b64 = b64url(header.to_string().as_bytes());
        Ok(DPoPHandle {
            inner: Arc::new(Inner {
                header_b64,
                jti_prefix: random_b64url(16)?,
                jti_counter: AtomicU64::new(0),
                key,
                thumbprint,
                clock: config.clock().clone(),
                clock_skew: config.clock_skew(),
                nonces: Mutex::new(VecDeque::new()),
            }),
        })
    }

    /// The key pair.
    pub fn key(&self) -> &PrivateKey {
        &self.inner.key
    }

    /// The proof algorithm.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.inner.key.algorithm()
    }

    /// The RFC 7638 thumbprint of the public key: the `jkt` that a token
    /// bound to this key carries in its `cnf` claim, and the value of the
    /// `dpop_jkt` authorization request parameter (RFC 9449 §10).
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// A fresh proof JWT for one request (RFC 9449 §4.2): header
    /// `typ: dpop+jwt`, `alg` and the public `jwk`; claims `jti`, `htm`,
    /// `htu` (the URL without query and fragment), `iat` (with the clock
    /// skew), `nonce` when one is known for the URL's origin, and `ath` when
    /// an access token is given (requests to resource servers).
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&AccessToken>,
    ) -> Result<String> {
        let now = clock::shift(self.inner.clock.now(), self.inner.clock_skew);
        // The claims are written straight into one buffer: building a JSON
        // map first cost more than everything but the signature.
        let mut payload = Vec::with_capacity(160 + url.as_str().len());
        // 128 random bits per handle plus a counter: unique per proof, which
        // is what RFC 9449 §4.2 asks of `jti`. Both are base64url or digits,
        // so they need no JSON escaping.
        let n = self.inner.jti_counter.fetch_add(1, Ordering::Relaxed);
        // Writing into a `Vec` cannot fail.
        let _ = write!(
            payload,
            "{{\"jti\":\"{}.{n}\",\"htm\":",
            self.inner.jti_prefix
        );
        push_json_string(&mut payload, method);
        payload.extend_from_slice(b",\"htu\":");
        push_json_string(&mut payload, htu(url));
        let _ = write!(payload, ",\"iat\":{}", unix_seconds(now));
        if let Some(nonce) = self.nonce(url) {
            payload.extend_from_slice(b",\"nonce\":");
            push_json_string(&mut payload, &nonce);
        }
        if let Some(token) = access_token {
            payload.extend_from_slice(b",\"ath\":\"");
            payload.extend_from_slice(ath(token).as_bytes());
            payload.push(b'"');
        }
        payload.push(b'}');
        self.inner
            .key
            .sign_compact(&self.inner.header_b64, &payload)
    }

    /// The nonce last received from the URL's origin, if any. Reading an
    /// origin's nonce makes it the most recently used.
    pub fn nonce(&self, url: &Url) -> Option<String> {
        let mut nonces = self.inner.nonces.lock().unwrap_or_else(|e| e.into_inner());
        let at = nonces.iter().position(|entry| entry.origin.contains(url))?;
        let entry = nonces.remove(at)?;
        let nonce = entry.nonce.clone();
        nonces.push_front(entry);
        Some(nonce)
    }

    /// Remembers the `DPoP-Nonce` of a response from `url` (any response,
    /// errors included, RFC 9449 §8). A value that is not a valid nonce
    /// (RFC 9449 §8.1: `NQCHAR`s only), or a URL without an HTTP(S) origin,
    /// is ignored.
    pub fn record_nonce(&self, url: &Url, headers: &HeaderMap) {
        let Some(nonce) = headers.get(DPOP_NONCE_HEADER).and_then(valid_nonce) else {
            return;
        };
        let Some(origin) = HttpOrigin::of(url) else {
            return;
        };
        let mut nonces = self.inner.nonces.lock().unwrap_or_else(|e| e.into_inner());
        nonces.retain(|entry| entry.origin != origin);
        nonces.push_front(NonceEntry {
            origin,
            nonce: nonce.to_owned(),
        });
        nonces.truncate(NONCE_CACHE_SIZE);
    }

    /// Adds a proof header for `method` `url` to `headers`.
    pub(crate) fn add_proof(
        &self,
        headers: &mut HeaderMap,
        method: &str,
        url: &Url,
        access_token: Option<&AccessToken>,
    ) -> Result<()> {
        let proof = self.proof(method, url, access_token)?;
        let mut value = HeaderValue::from_str(&proof)
            .map_err(|_| Error::signing("the DPoP proof is not a valid header value"))?;
        value.set_sensitive(true);
        headers.insert(DPOP_HEADER, value);
        Ok(())
    }
}

/// `NQCHAR = %x21 / %x23-5B / %x5D-7E` (RFC 9449 §8.1), bounded in length.
fn valid_nonce(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_NONCE_LEN
        && bytes
            .iter()
            .all(|&b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    ok.then(|| value.to_str().ok()).flatten()
}

/// `htu`: the URL without query and fragment (RFC 9449 §4.2).
fn htu(url: &Url) -> &str {
    &url[..url::Position::AfterPath]
}

/// Appends `value` as a JSON string (quoted and escaped, RFC 8259 §7).
fn push_json_string(out: &mut Vec<u8>, value: &str) {
    // Writing a `&str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// `ath`: base64url(SHA-256(access token)) (RFC 9449 §4.2).
fn ath(token: &AccessToken) -> String {
    b64url(&sha256(token.secret().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientAuth, ManualClock, ServerMetadata};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use std::time::{Duration, SystemTime};

    fn config(clock: ManualClock) -> Configuration {
        Configuration::builder(
            ServerMetadata::new(
                "https://as.example",
                "https://as.example/token".parse().unwrap(),
            ),
            "c",
            ClientAuth::none(),
        )
        .clock(Arc::new(clock))
        .clock_skew(5)
        .build()
        .unwrap()
    }

    fn part(jwt: &str, i: usize) -> Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn proof_header_and_claims() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
        let dpop = DPoPHandle::generate(&config(clock), JwsAlgorithm::ES256).unwrap();
        let url: Url = "https://rs.example/api/x?q=1#frag".parse().unwrap();
        let token = AccessToken::new("at".into());
        let proof = dpop.proof("GET", &url, Some(&token)).unwrap();
        let header = part(&proof, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        let jwk = header["jwk"].as_object().unwrap();
        let mut members: Vec<_> = jwk.keys().collect();
        members.sort();
        assert_eq!(
            members,
            ["crv", "kty", "x", "y"],
            "the jwk header carries the public key only"
        );
        let claims = part(&proof, 1);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://rs.example/api/x");
        assert_eq!(claims["iat"], 1_005);
        assert_eq!(claims["ath"], b64url(&sha256(b"at")));
        assert!(claims.get("nonce").is_none());
        let again = dpop.proof("GET", &url, Some(&token)).unwrap();
        assert_ne!(part(&again, 1)["jti"], claims["jti"]);
    }

    #[test]
    fn nonces_are_per_origin_bounded_and_validated() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        let dpop = DPoPHandle::generate(&config(clock), JwsAlgorithm::ES256).unwrap();
        let a: Url = "https://a.example/token".parse().unwrap();
        let a_other_path: Url = "https://a.example/other".parse().unwrap();
        let b: Url = "https://b.example/token".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("n-1"));
        dpop.record_nonce(&a, &h);
        assert_eq!(dpop.nonce(&a_other_path).as_deref(), Some("n-1"));
        assert_eq!(dpop.nonce(&b), None);
        let claims = part(&dpop.proof("POST", &a, None).unwrap(), 1);
        assert_eq!(claims["nonce"], "n-1");
        // An invalid nonce (a space, RFC 9449 §8.1) is ignored.
        h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("bad nonce"));
        dpop.record_nonce(&a, &h);
        assert_eq!(dpop.nonce(&a).as_deref(), Some("n-1"));
        // Bounded: the oldest origins fall out.
        for i in 0..(NONCE_CACHE_SIZE + 10) {
            let u: Url = format!("https://h{i}.example/").parse().unwrap();
            h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("n"));
            dpop.record_nonce(&u, &h);
        }
        assert_eq!(dpop.inner.nonces.lock().unwrap().len(), NONCE_CACHE_SIZE);
        assert_eq!(dpop.nonce(&a), None);
        // Least recently *used* goes first: reading h10 keeps it.
        let h10: Url = "https://h10.example/".parse().unwrap();
        assert!(dpop.nonce(&h10).is_some());
        for i in 0..(NONCE_CACHE_SIZE - 1) {
            let u: Url = format!("https://g{i}.example/").parse().unwrap();
            dpop.record_nonce(&u, &h);
        }
        assert!(dpop.nonce(&h10).is_some());
    }

    #[test]
    fn nonce_origins_are_scheme_host_and_port() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        let dpop = DPoPHandle::generate(&config(clock), JwsAlgorithm::ES256).unwrap();
        let mut h = HeaderMap::new();
        h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("n-1"));
        dpop.record_nonce(&"https://A.example/token".parse().unwrap(), &h);
        let same = |u: &str| dpop.nonce(&u.parse().unwrap()).is_some();
        assert!(same("https://a.example:443/x?y#z"), "default port, case");
        assert!(!same("http://a.example/token"), "other scheme");
        assert!(!same("https://a.example:8443/token"), "other port");
        assert!(!same("https://b.a.example/token"), "other host");
        // URLs without an HTTP origin are never cached, so two of them
        // cannot share a nonce (their origins are opaque, RFC 6454 §5).
        dpop.record_nonce(&"urn:example:a".parse().unwrap(), &h);
        assert!(!same("urn:example:b"));
        h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("n-6"));
        dpop.record_nonce(&"http://[::1]:8080/".parse().unwrap(), &h);
        assert_eq!(
            dpop.nonce(&"http://[0:0::1]:8080/t".parse().unwrap())
                .as_deref(),
            Some("n-6")
        );
    }

    #[test]
    fn proof_claims_are_exactly_the_rfc_members_and_valid_json() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(7));
        let dpop = DPoPHandle::generate(&config(clock), JwsAlgorithm::ES256).unwrap();
        let url: Url = "https://as.example/t%22x/\\y?q".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(DPOP_NONCE_HEADER, HeaderValue::from_static("n!#$[]~"));
        dpop.record_nonce(&url, &h);
        let token = AccessToken::new("tok".into());
        let claims = part(&dpop.proof("PATCH", &url, Some(&token)).unwrap(), 1);
        let mut members: Vec<_> = claims.as_object().unwrap().keys().cloned().collect();
        members.sort();
        assert_eq!(members, ["ath", "htm", "htu", "iat", "jti", "nonce"]);
        assert_eq!(claims["htm"], "PATCH");
        assert_eq!(claims["htu"], url[..url::Position::AfterPath]);
        assert_eq!(claims["iat"], 12);
        assert_eq!(claims["nonce"], "n!#$[]~");
        let jti = claims["jti"].as_str().unwrap();
        assert!(jti.len() >= 24, "{jti}");
        // A method that needs escaping still gives valid JSON.
        let odd = part(&dpop.proof("X\"\\", &url, None).unwrap(), 1);
        assert_eq!(odd["htm"], "X\"\\");
    }

    #[test]
    fn debug_hides_the_key_and_symmetric_keys_are_refused() {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
        let dpop = DPoPHandle::generate(&config(clock), JwsAlgorithm::EdDSA).unwrap();
        let d = format!("{dpop:?}");
        assert!(d.contains("EdDSA") && d.contains(dpop.thumbprint()), "{d}");
        assert!(PrivateKey::generate(JwsAlgorithm::HS256).is_err());
    }
}

//! The one place requests are sent.
//!
//! Every request to an authorization server goes through [`execute`], which
//! enforces the transport rules in one place: `https:` only (unless insecure
//! requests are allowed), no redirects, a timeout covering the whole exchange,
//! and a cap on the body size, with a `tracing` span per request. Nothing
//! secret is recorded: the span holds the endpoint name, method, URL, status
//! and elapsed time, never headers or bodies.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use tracing::Instrument as _;
use url::Url;

use crate::error::{Error, Result};

/// How to send requests: the client and the rules.
pub(crate) struct Transport<'a> {
    pub client: &'a reqwest::Client,
    pub timeout: Duration,
    pub allow_insecure_requests: bool,
    pub max_response_size: usize,
}

/// A response whose body has been read in full (within the size cap). No
/// `Debug`: the body may hold tokens.
pub(crate) struct HttpResponse {
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Refuses anything but `https:`, and `http:` unless allowed.
pub(crate) fn check_url(url: &Url, allow_insecure_requests: bool) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_requests => Ok(()),
        _ => Err(Error::insecure_url(url)),
    }
}

/// Sends `request` under the transport rules and reads the whole body
/// (within the size cap).
///
/// `endpoint` names the endpoint in the tracing span (`token`, `discovery`, …).
pub(crate) async fn execute(
    transport: &Transport<'_>,
    request: reqwest::Request,
    endpoint: &'static str,
    timeout: Option<Duration>,
) -> Result<HttpResponse> {
    let (request, url) = prepare(transport, request, timeout)?;
    let span = request_span(endpoint, &request);
    traced(span, |r: &HttpResponse| r.status, async {
        let mut response = send_checked(transport, request, &url).await?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let body = read_body(response, &url, transport.max_response_size).await?;
        Ok(HttpResponse {
            url,
            status,
            headers,
            body,
        })
    })
    .await
}

/// Sends `request` under the transport rules and returns the response with
/// its body unread (for protected resources, whose bodies are the caller's).
pub(crate) async fn send(
    transport: &Transport<'_>,
    request: reqwest::Request,
    endpoint: &'static str,
    timeout: Option<Duration>,
) -> Result<reqwest::Response> {
    let (request, url) = prepare(transport, request, timeout)?;
    let span = request_span(endpoint, &request);
    traced(span, reqwest::Response::status, async {
        send_checked(transport, request, &url).await
    })
    .await
}

fn prepare(
    transport: &Transport<'_>,
    mut request: reqwest::Request,
    timeout: Option<Duration>,
) -> Result<(reqwest::Request, Url)> {
    let url = request.url().clone();
    check_url(&url, transport.allow_insecure_requests)?;
    *request.timeout_mut() = Some(timeout.unwrap_or(transport.timeout));
    Ok((request, url))
}

/// A span naming the endpoint, method and URL. Headers and bodies are never
/// recorded: they carry credentials.
fn request_span(endpoint: &'static str, request: &reqwest::Request) -> tracing::Span {
    tracing::debug_span!(
        "oidckit.http",
        endpoint,
        method = %request.method(),
        url = %request.url(),
        status = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
    )
}

/// Runs `exchange` in `span` and records the status and elapsed time.
async fn traced<T>(
    span: tracing::Span,
    status_of: impl Fn(&T) -> StatusCode,
    exchange: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let started = Instant::now();
    let result = exchange.instrument(span.clone()).await;
    span.record("elapsed_ms", started.elapsed().as_millis() as u64);
    match &result {
        Ok(r) => {
            let status = status_of(r).as_u16();
            span.record("status", status);
            tracing::debug!(parent: &span, status, "response");
        }
        Err(e) => tracing::debug!(parent: &span, error = %e, "request failed"),
    }
    result
}

async fn send_checked(
    transport: &Transport<'_>,
    request: reqwest::Request,
    url: &Url,
) -> Result<reqwest::Response> {
    let response = transport
        .client
        .execute(request)
        .await
        .map_err(|e| Error::from_reqwest(Some(url.clone()), e))?;
    let status = response.status();
    // The default client follows no redirects; a caller's client might, and
    // a redirect can carry credentials to another host, so both are refused.
    if status.is_redirection() || response.url() != url {
        let location = if response.url() != url {
            Some(response.url().to_string())
        } else {
            response
                .headers()
                .get(LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
        };
        return Err(Error::redirect(url, status, location.as_deref()));
    }
    Ok(response)
}

/// Reads at most `limit` bytes; a longer body is an error, not a truncation.
async fn read_body(mut response: reqwest::Response, url: &Url, limit: usize) -> Result<Bytes> {
    let too_large = || Error::body_too_large(url, limit);
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    // A small response usually arrives as one chunk: keep it as it is and
    // copy only when a second one comes.
    let mut first: Option<Bytes> = None;
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::from_reqwest(Some(url.clone()), e))?
    {
        let so_far = first.as_ref().map_or(0, Bytes::len) + body.len();
        if so_far + chunk.len() > limit {
            return Err(too_large());
        }
        match first.take() {
            None if body.is_empty() => first = Some(chunk),
            None => body.extend_from_slice(&chunk),
            Some(earlier) => {
                body.extend_from_slice(&earlier);
                body.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| body.freeze()))
}

/// True for `application/json` and `application/<something>+json`
/// (parameters such as `charset` ignored).
pub(crate) fn is_json_content_type(value: &str) -> bool {
    // Compared as bytes: a hostile header may hold non-ASCII characters, and
    // slicing a `str` there could split one.
    let essence = value.split(';').next().unwrap_or("").trim().as_bytes();
    let prefix = b"application/";
    let suffix = b"+json";
    essence.eq_ignore_ascii_case(b"application/json")
        || (essence.len() > prefix.len() + suffix.len()
            && essence[..prefix.len()].eq_ignore_ascii_case(prefix)
            && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
}

/// Parses a body that must be a JSON object. A `Content-Type` other than
/// JSON is refused (RFC 6749 §5.1 requires `application/json`); a missing
/// one is tolerated.
pub(crate) fn json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>> {
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let ct = String::from_utf8_lossy(ct.as_bytes());
        if !is_json_content_type(&ct) {
            return Err(Error::invalid_response(format!(
                "expected a JSON body, got content-type {ct:?}"
            )));
        }
    }
    match serde_json::from_slice::<UniqueKeys>(body) {
        Ok(UniqueKeys(map)) => Ok(map),
        Err(e) if e.is_data() => Err(Error::invalid_response(format!(
            "the body is not a usable JSON object: {e}"
        ))),
        Err(e) => Err(Error::invalid_response(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// A JSON object whose members are unique. JSON parsers disagree on which of
/// two `access_token` members wins (RFC 8259 §4 leaves it open), and a
/// response that means different things to different parsers is refused.
struct UniqueKeys(serde_json::Map<String, serde_json::Value>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> std::result::Result<UniqueKeys, A::Error> {
                use serde_json::map::Entry;
                let mut map = serde_json::Map::new();
                while let Some((key, value)) = access.next_entry::<String, serde_json::Value>()? {
                    match map.entry(key) {
                        Entry::Vacant(member) => {
                            member.insert(value);
                        }
                        Entry::Occupied(member) => {
                            return Err(serde::de::Error::custom(format!(
                                "duplicate member {:?}",
                                crate::error::server_text(member.key(), 64)
                            )));
                        }
                    }
                }
                Ok(UniqueKeys(map))
            }
        }
        d.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_only_unless_allowed() {
        let https: Url = "https://a.example/".parse().unwrap();
        let http: Url = "http://a.example/".parse().unwrap();
        let ftp: Url = "ftp://a.example/".parse().unwrap();
        assert!(check_url(&https, false).is_ok());
        assert_eq!(
            check_url(&http, false).unwrap_err().kind(),
            crate::ErrorKind::InsecureUrl
        );
        assert!(check_url(&http, true).is_ok());
        assert!(check_url(&ftp, true).is_err());
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json_content_type(ok), "{ok}");
        }
        for bad in [
            "text/html",
            "application/jsonp",
            "text/json+html",
            "+json",
            "",
            "applicatioé/x+json",
        ] {
            assert!(!is_json_content_type(bad), "{bad}");
        }
    }

    #[test]
    fn json_object_rules() {
        let mut h = HeaderMap::new();
        assert!(json_object(&h, b"{\"a\":1}").is_ok());
        let dup = json_object(&h, b"{\"access_token\":\"a\",\"access_token\":\"b\"}").unwrap_err();
        assert!(dup.to_string().contains("duplicate member"), "{dup}");
        assert!(json_object(&h, b"[1]").is_err());
        assert!(json_object(&h, b"{").is_err());
        assert!(json_object(&h, b"\xff\xfe").is_err());
        h.insert(CONTENT_TYPE, "text/html".parse().unwrap());
        let err = json_object(&h, b"{\"a\":1}").unwrap_err();
        assert!(err.to_string().contains("text/html"), "{err}");
    }
}

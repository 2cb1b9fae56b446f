//! One-shot fault injection: [`Fault`] and the code that writes a faulty
//! response instead of the normal one.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

/// A response the server gives instead of its normal one, once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Fault {
    /// Any status, headers and body.
    Response {
        /// The status code.
        status: u16,
        /// Response headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Send the headers, then trickle the normal body out one byte per
    /// `interval` (a slow body).
    SlowBody(Duration),
    /// Send the headers and the first half of the normal body, then drop
    /// the connection (a reset mid-body).
    ResetMidBody,
    /// A redirect to `location`.
    Redirect {
        /// The 3xx status code.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// A 200 JSON response of about `bytes` bytes, streamed without a
    /// `Content-Length`.
    LargeBody {
        /// The body size.
        bytes: usize,
    },
}

impl Fault {
    /// A JSON response.
    pub fn json(status: u16, body: Value) -> Self {
        Fault::Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A response with this content type and body.
    pub fn body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Fault::Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// Adds a header to a [`Fault::Response`].
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Fault::Response { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

pub(super) async fn respond(fault: Option<Fault>, normal: impl FnOnce() -> Response) -> Response {
    match fault {
        None => normal(),
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            normal()
        }
        Some(Fault::ResetMidBody) => {
            let (parts, body) = normal().into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "reset",
                )),
            ];
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            tokio::spawn(async move {
                for c in chunks {
                    let _ = tx.send(c).await;
                }
            });
            let mut response = Response::from_parts(parts, Body::from_stream(ReceiverStream(rx)));
            response
                .headers_mut()
                .remove(axum::http::header::CONTENT_LENGTH);
            response
        }
        Some(Fault::SlowBody(interval)) => {
            let (parts, body) = normal().into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let stream = async_stream(bytes, interval);
            let mut response = Response::from_parts(parts, Body::from_stream(stream));
            response
                .headers_mut()
                .remove(axum::http::header::CONTENT_LENGTH);
            response
        }
        Some(Fault::Response {
            status,
            headers,
            body,
        }) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    response.headers_mut().append(k, v);
                }
            }
            response
        }
        Some(Fault::Redirect { status, location }) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            if let Ok(v) = HeaderValue::from_str(&location) {
                response
                    .headers_mut()
                    .insert(axum::http::header::LOCATION, v);
            }
            response
        }
        Some(Fault::LargeBody { bytes }) => {
            // Streamed in chunks with no Content-Length, so the client can
            // only find out by reading.
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'a'; 64 * 1024]);
                let _ = tx
                    .send(Ok(Bytes::from_static(b"{\"access_token\":\"")))
                    .await;
                let mut sent = 0;
                while sent < bytes {
                    let n = chunk.len().min(bytes - sent);
                    if tx.send(Ok(chunk.slice(..n))).await.is_err() {
                        return;
                    }
                    sent += n;
                }
                let _ = tx.send(Ok(Bytes::from_static(b"\"}"))).await;
            });
            let mut response = Response::new(Body::from_stream(ReceiverStream(rx)));
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

/// The body, one byte per `interval`.
fn async_stream(
    bytes: Bytes,
    interval: Duration,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    tokio::spawn(async move {
        for i in 0..bytes.len() {
            tokio::time::sleep(interval).await;
            if tx.send(Ok(bytes.slice(i..i + 1))).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream(rx)
}

struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

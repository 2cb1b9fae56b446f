//! A static token endpoint for the comparison benches.
//!
//! ```text
//! static-token-server [--port PORT] [--max-lifetime SECONDS] [--max-requests N] [--threads N]
//! ```
//!
//! Listens on 127.0.0.1 only (port 0, the default, picks a free one) and
//! prints the port on the first line of stdout. Every `POST /token` gets the
//! same JSON; `token_type` is `DPoP` when the request carries a `DPoP` header
//! and `Bearer` otherwise. Nothing is verified: the point is to cost the
//! clients as little server time as possible. Anything else gets a 404.
//!
//! `--threads 1` (the default) runs one event loop on one thread, as one
//! nginx worker does; more threads make a multi-threaded tokio runtime.
//!
//! The server stops by itself after `--max-lifetime` seconds (default 900)
//! or `--max-requests` requests (default 20,000,000), whichever comes first.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::Write as _;

const BEARER: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"scope":"read"}"#;
const DPOP: &[u8] = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"DPoP","expires_in":3600,"scope":"read"}"#;

struct Args {
    port: u16,
    max_lifetime: Duration,
    max_requests: u64,
    threads: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        port: 0,
        max_lifetime: Duration::from_secs(900),
        max_requests: 20_000_000,
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--port" => args.port = value().parse().unwrap_or_else(|_| usage("bad --port")),
            "--max-lifetime" => {
                args.max_lifetime = Duration::from_secs(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage("bad --max-lifetime")),
                )
            }
            "--max-requests" => {
                args.max_requests = value()
                    .parse()
                    .unwrap_or_else(|_| usage("bad --max-requests"))
            }
            "--threads" => {
                args.threads = value().parse().unwrap_or_else(|_| usage("bad --threads"))
            }
            // A bare number is the port.
            other => args.port = other.parse().unwrap_or_else(|_| usage("unknown argument")),
        }
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!("static-token-server: {msg}");
    eprintln!("usage: static-token-server [--port PORT] [--max-lifetime SECONDS] [--max-requests N] [--threads N]");
    std::process::exit(2)
}

async fn handle(
    req: Request<Incoming>,
    served: Arc<AtomicU64>,
    max_requests: u64,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if served.fetch_add(1, Ordering::Relaxed) + 1 >= max_requests {
        eprintln!("static-token-server: {max_requests} requests served, stopping");
        std::process::exit(0);
    }
    if req.method() != Method::POST || req.uri().path() != "/token" {
        let mut res = Response::new(Full::new(Bytes::from_static(b"not found")));
        *res.status_mut() = StatusCode::NOT_FOUND;
        return Ok(res);
    }
    let body = if req.headers().contains_key("dpop") {
        DPOP
    } else {
        BEARER
    };
    // Read the request body so the connection can be reused.
    let _ = req.into_body().collect().await;
    let mut res = Response::new(Full::new(Bytes::from_static(body)));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn main() {
    let args = parse_args();
    // One thread: a single event loop, as one nginx worker (the default: it
    // leaves the most CPU to the client under test, see README.md).
    let mut builder = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.threads);
        b
    };
    let runtime = builder.enable_all().build().expect("tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .unwrap_or_else(|e| {
                eprintln!("static-token-server: cannot listen on 127.0.0.1:{}: {e}", args.port);
                std::process::exit(1)
            });
        let port = listener.local_addr().expect("local addr").port();
        println!("{port}");
        std::io::stdout().flush().ok();
        eprintln!(
            "static-token-server: http://127.0.0.1:{port}/token, stops after {} s or {} requests",
            args.max_lifetime.as_secs(),
            args.max_requests
        );

        let served = Arc::new(AtomicU64::new(0));
        let deadline = tokio::time::sleep(args.max_lifetime);
        tokio::pin!(deadline);
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler");
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let served = served.clone();
                    let max_requests = args.max_requests;
                    tokio::spawn(async move {
                        let service = service_fn(move |req| handle(req, served.clone(), max_requests));
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                _ = &mut deadline => {
                    eprintln!("static-token-server: max lifetime reached, stopping");
                    break;
                }
                _ = sigterm.recv() => break,
            }
        }
        eprintln!(
            "static-token-server: served {} requests",
            served.load(Ordering::Relaxed)
        );
    });
    // Do not wait for open keep-alive connections.
    std::process::exit(0);
}

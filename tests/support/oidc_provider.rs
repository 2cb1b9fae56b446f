//! Starts panva's `oidc-provider` (tests/interop/provider.mjs) on 127.0.0.1.
//! `bash scripts/test.sh` installs it with `npm ci`; without it (or without
//! `node`) a test fails with one line saying so. The process exits when
//! the test process ends: its stdin, held here, closes.

// Each test binary includes this file and uses only some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use oidckit::Url;
use serde_json::Value;

pub struct OidcProvider {
    pub issuer: Url,
    _child: Child,
    _stdin: ChildStdin,
}

impl OidcProvider {
    /// Starts a provider with these clients; `dpop_nonce` is `None`,
    /// `Some("required")` or `Some("offered")`.
    pub fn start(clients: Vec<Value>, dpop_nonce: Option<&str>) -> OidcProvider {
        match dpop_nonce {
            Some(mode) => Self::start_with_env(clients, &[("INTEROP_DPOP_NONCE", mode.to_owned())]),
            None => Self::start_with_env(clients, &[]),
        }
    }

    /// Starts a provider with these clients and extra environment variables
    /// (see tests/interop/README.md).
    pub fn start_with_env(clients: Vec<Value>, env: &[(&str, String)]) -> OidcProvider {
        crate::support::prerequisites::require_oidc_provider();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
        let mut command = Command::new("node");
        command
            .arg("provider.mjs")
            .current_dir(dir)
            .env("INTEROP_CLIENTS", Value::Array(clients).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start node");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let _ = tx.send(first);
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("oidc-provider did not start within 60 s")
            .expect("oidc-provider exited before it was ready");
        let issuer = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected first line from provider: {line}"));
        OidcProvider {
            issuer: issuer.parse().unwrap(),
            _child: child,
            _stdin: stdin,
        }
    }
}

/// Client metadata for a client credentials client.
pub fn client(id: &str, method: &str, extra: Value) -> Value {
    let mut c = serde_json::json!({
        "client_id": id,
        "token_endpoint_auth_method": method,
        "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [],
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        c[k] = v;
    }
    c
}

//! What the tests that start real servers need from the machine. A test that
//! lacks it fails with one line saying what is missing and that
//! `bash scripts/test.sh` installs it, instead of a panic from deep inside a
//! helper (an io error from spawning a program that is not there).

use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// `node` on PATH and oidc-provider installed in tests/interop/node_modules
/// (`npm ci`), for tests/support/oidc_provider.rs.
pub fn require_oidc_provider() {
    static CHECKED: OnceLock<Vec<String>> = OnceLock::new();
    let missing = CHECKED.get_or_init(|| {
        let mut missing = Vec::new();
        missing.extend(program_missing("node"));
        let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
        if !interop.join("node_modules").is_dir() {
            missing.push(
                "oidc-provider is not installed (tests/interop/node_modules missing)".to_owned(),
            );
        } else if !interop.join("node_modules/oidc-provider").is_dir() {
            missing.push(
                "oidc-provider is not installed (tests/interop/node_modules/oidc-provider missing)"
                    .to_owned(),
            );
        }
        missing
    });
    fail_if_missing(missing);
}

/// Debian's Chromium and ChromeDriver, for tests/browser.rs.
pub fn require_chromium() {
    static CHECKED: OnceLock<Vec<String>> = OnceLock::new();
    fail_if_missing(CHECKED.get_or_init(|| {
        [
            crate::support::browser::CHROMIUM,
            crate::support::browser::CHROMEDRIVER,
        ]
        .into_iter()
        .filter_map(program_missing)
        .collect()
    }));
}

/// `redis-server` on PATH, for tests/redis_store.rs.
pub fn require_redis_server() {
    static CHECKED: OnceLock<Vec<String>> = OnceLock::new();
    fail_if_missing(CHECKED.get_or_init(|| program_missing("redis-server").into_iter().collect()));
}

/// Why `program` cannot be run, if it cannot: it is run once with `--version`.
fn program_missing(program: &str) -> Option<String> {
    let status = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`{program} --version` failed ({status})")),
        Err(e) if e.kind() == ErrorKind::NotFound => Some(format!("{program} is not on PATH")),
        Err(e) => Some(format!("{program} cannot be run ({e})")),
    }
}

fn fail_if_missing(missing: &[String]) {
    if !missing.is_empty() {
        let them = if missing.len() == 1 { "it" } else { "them" };
        panic!(
            "{}: run `bash scripts/test.sh`, which installs {them}",
            missing.join("; ")
        );
    }
}

#!/usr/bin/env bash
# The full test suite: installs what it needs, then runs every test.
# Usage: bash scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: OpenSSL headers for josekit/native-tls, Node for the
# oidc-provider interop server, redis-server for the shared token store
# tests, Debian's Chromium and ChromeDriver for the browser test
# (tests/browser.rs). Installed only when missing.
missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null 2>&1 || { echo "please install: ${missing[*]}" >&2; exit 1; }
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null 2>&1 || { echo "a Rust toolchain (cargo) is required: https://rustup.rs" >&2; exit 1; }

# The real authorization server for interop tests, pinned by the lockfile.
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

# Every feature but vendored-openssl, so the suite runs against the system's
# OpenSSL (the vendored build is checked on its own in .ci/run).
cargo test --features testing,redis,middleware,axum "$@"

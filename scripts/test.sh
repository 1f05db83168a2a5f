#!/usr/bin/env bash
# Runs every test of the workspace (unit, integration against exorun-sim over HTTPS, the Python
# msal conformance test, doc tests) after installing what they need.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
# requests would prefer these over the emulator's CA (docs/protocol.md §6); the msal test unsets them
# for its child process, and nothing else here needs them.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE
# Plugins are WebAssembly components built from source (Rust and Python); the runtime tests run them.
bash scripts/build-plugins.sh
cargo test --workspace --doc --quiet
if cargo nextest --version >/dev/null 2>&1; then
  exec cargo nextest run --workspace --no-fail-fast
else
  exec cargo test --workspace --no-fail-fast
fi

#!/usr/bin/env bash
# The demo: installs prerequisites, then starts the embedded Exchange Online emulator, signs in
# with the ready-made app's certificate and pages through every mailbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
exec cargo run --quiet -p exorun-sim --example demo -- "$@"

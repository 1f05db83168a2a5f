#!/usr/bin/env bash
# Installs what exorun's build, demo and tests need on a fresh Debian machine, and nothing twice:
# the Debian packages for OpenSSL (library and command: the demo makes the service's TLS
# certificate with it), curl (the demo's stand-in for `az account get-access-token`) and the C
# toolchain, systemd-analyze (the service unit is verified with it), minisign (the signing tests check exorun's
# keys and signatures against it), chromium (the report test opens a run's HTML report in it,
# headless), Debian's PostgreSQL server binaries (the service's replica tests start servers of
# their own; no system cluster is made or started), the wasm32-wasip2 Rust target, and the Python packages of the independent-client
# conformance test (msal, requests) and the independent parser of the service's metrics
# (prometheus_client) and the independent validator of the service's OpenAPI document
# (openapi-spec-validator).
#
# Usage: scripts/prereqs.sh [--demo]
#   --demo   only what the demo needs to build and run (the C toolchain, OpenSSL, curl, Python,
#            the wasm32-wasip2 target): a first look does not wait for Chromium, PostgreSQL,
#            minisign or the tests' Python packages. Without it: everything, for the tests.
set -euo pipefail

demo=0
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "prereqs: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "exorun: need root (or sudo) to run: $*" >&2; exit 1
  fi
}

if ! command -v cargo >/dev/null; then
  echo "exorun: cargo is missing. Install Rust 1.95 or newer with rustup (https://rustup.rs) and rerun." >&2
  exit 1
fi

missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [ "$demo" = 0 ]; then
  command -v minisign >/dev/null || missing+=(minisign)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  command -v chromium >/dev/null || missing+=(chromium)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "exorun: installing Debian packages: ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
[ "$demo" = 1 ] && exit 0

# PostgreSQL: postgresql-common first, told not to make (and start) a "main" cluster when the
# server package is installed; the tests run their own servers in temporary directories.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "exorun: installing Debian packages: postgresql (server binaries only, no cluster)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-common >/dev/null
  as_root sed -ri 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

if ! python3 -c 'import msal, requests, prometheus_client, openapi_spec_validator' 2>/dev/null; then
  echo "exorun: installing Python packages msal, requests, prometheus_client and openapi-spec-validator" >&2
  python3 -m pip install --quiet --disable-pip-version-check msal==1.39.0 requests prometheus_client==0.21.1 openapi-spec-validator==0.9.0 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages msal==1.39.0 requests prometheus_client==0.21.1 openapi-spec-validator==0.9.0
fi

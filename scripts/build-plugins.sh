#!/usr/bin/env bash
# Builds every plugin under plugins/ and packs each with its manifest.toml into one artifact:
#   target/plugins/<name>.wasm        packed artifact (component + manifest), what exorun runs
#   target/plugins/raw/<name>.wasm    the bare component, before packing
# The Rust plugins are one cargo workspace (plugins/Cargo.toml, its own target dir plugins/target)
# built for wasm32-wasip2; the Python plugin is built with componentize-py (installed with pip if
# missing). Safe to rerun: every output is rebuilt and overwritten.
#
# Usage: scripts/build-plugins.sh [--no-python] [--no-pack | --pack-only]
#   --no-python   skip the Python plugin (stale-mailboxes), e.g. on a machine without pip
#   --no-pack     build the components only (target/plugins/raw/), e.g. while exorun itself is
#                 still being built
#   --pack-only   pack the components built before with their manifests
# Environment: EXORUN=<path to an exorun binary> packs with it instead of `cargo run -p exorun`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

COMPONENTIZE_PY_VERSION=0.25.1
RUST_PLUGINS=(mailbox-inventory auto-reply mailbox-permission-audit find-recipient offboard-mailbox grant-mailbox-access remove-group-member hostile echo)
PYTHON_PLUGINS=(stale-mailboxes)

python=1
build=1
pack=1
for arg in "$@"; do
  case "$arg" in
    --no-python) python=0 ;;
    --no-pack) pack=0 ;;
    --pack-only) build=0 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-plugins: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

out=target/plugins
raw="$out/raw"
mkdir -p "$raw"

[ "$build" = 0 ] && [ "$pack" = 0 ] && { echo "build-plugins: --no-pack and --pack-only leave nothing to do" >&2; exit 2; }
[ "$python" = 0 ] && PYTHON_PLUGINS=()

# --- Rust plugins ---------------------------------------------------------------------------
build_rust() {
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
  fi
  echo "build-plugins: building the Rust plugins (wasm32-wasip2, release)" >&2
  cargo build --manifest-path plugins/Cargo.toml --target-dir plugins/target --target wasm32-wasip2 --release \
    --workspace --exclude exorun-plugin
  for name in "${RUST_PLUGINS[@]}"; do
    cp "plugins/target/wasm32-wasip2/release/${name//-/_}.wasm" "$raw/$name.wasm"
  done
}

# --- Python plugins -------------------------------------------------------------------------
# Runs componentize-py from the Python package, so it works whether or not pip put its script
# on PATH.
componentize_py() {
  python3 -c 'import sys, componentize_py; sys.argv[0] = "componentize-py"; sys.exit(componentize_py.script())' "$@"
}
installed_version() {
  python3 -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null || true
}
build_python() {
  [ "${#PYTHON_PLUGINS[@]}" -gt 0 ] || return 0
  if [ "$(installed_version)" != "$COMPONENTIZE_PY_VERSION" ]; then
    echo "build-plugins: installing componentize-py $COMPONENTIZE_PY_VERSION with pip" >&2
    python3 -m pip install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION" \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "componentize-py==$COMPONENTIZE_PY_VERSION"
  fi
  for name in "${PYTHON_PLUGINS[@]}"; do
    echo "build-plugins: building the Python plugin $name (componentize-py $COMPONENTIZE_PY_VERSION)" >&2
    componentize_py -d wit -w automation componentize app -p "plugins/$name" -o "$raw/$name.wasm" >/dev/null
    rm -rf "plugins/$name/__pycache__"
  done
}

if [ "$build" = 1 ]; then
  build_rust
  build_python
fi
[ "$pack" = 0 ] && { echo "build-plugins: built the components into $raw/ (not packed)"; exit 0; }

# --- Pack each component with its manifest ----------------------------------------------------
pack() {
  if [ -n "${EXORUN:-}" ]; then
    "$EXORUN" plugin pack "$@"
  else
    cargo run --quiet -p exorun -- plugin pack "$@"
  fi
}
built=("${RUST_PLUGINS[@]}" "${PYTHON_PLUGINS[@]}")
for name in "${built[@]}"; do
  pack "$raw/$name.wasm" --manifest "plugins/$name/manifest.toml" --out "$out/$name.wasm" >/dev/null
done

# --- Report -------------------------------------------------------------------------------------
size() {
  local bytes
  bytes=$(wc -c <"$1")
  awk -v b="$bytes" 'BEGIN { if (b >= 1048576) printf "%.1f MiB", b / 1048576; else printf "%.0f KiB", b / 1024 }'
}
echo "build-plugins: built ${#built[@]} plugins into $out/"
for name in "${built[@]}"; do
  printf '  %-44s %9s  (%s bytes)\n' "$out/$name.wasm" "$(size "$out/$name.wasm")" "$(wc -c <"$out/$name.wasm")"
done

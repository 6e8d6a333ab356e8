#!/usr/bin/env bash
# Installs what building and testing Promptly needs on a fresh Debian machine with Rust:
# the wasm32 target, cargo-leptos 0.3.11, wasm-bindgen-cli (the version in Cargo.lock),
# wasm-opt (npm binaryen@132), Chromium, the end2end npm packages and schemathesis (PyPI, in
# a virtualenv under target/). Idempotent: each step
# is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup: $*" >&2; }

rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || { say "adding the wasm32 target"; rustup target add wasm32-unknown-unknown; }

if ! cargo leptos --version 2>/dev/null | grep -q '0\.3\.11'; then
  say "installing cargo-leptos 0.3.11 (about 20 minutes on 2 cores, once)"
  # Its lockfile wants rustc 1.96: on failure, rebuild from the downloaded .crate with one
  # dependency pinned back (see shared NOTES-BUILD).
  if ! cargo install cargo-leptos --version 0.3.11 --locked; then
    d=$(mktemp -d)
    tar xzf "$(ls ~/.cargo/registry/cache/*/cargo-leptos-0.3.11.crate | head -1)" -C "$d"
    (cd "$d/cargo-leptos-0.3.11" && cargo update -p cargo-util-schemas --precise 0.14.1 \
      && cargo install --path . --locked)
    rm -rf "$d"
  fi
fi

wbg=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q "$wbg"; then
  say "installing wasm-bindgen-cli $wbg"
  if ! cargo install wasm-bindgen-cli --version "$wbg" --locked; then
    d=$(mktemp -d)
    tar xzf "$(ls ~/.cargo/registry/cache/*/wasm-bindgen-cli-"$wbg".crate | head -1)" -C "$d"
    (cd "$d/wasm-bindgen-cli-$wbg" && cargo update -p webpki-roots --precise 1.0.10 \
      && cargo install --path . --locked --force)
    rm -rf "$d"
  fi
fi

if ! command -v chromium >/dev/null; then
  say "installing Chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -d end2end/node_modules/@playwright/test ] || [ ! -d end2end/node_modules/axe-core ]; then
  say "installing end2end npm packages (Playwright test runner, binaryen's wasm-opt, axe-core)"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi
st=target/schemathesis-venv
if ! "$st/bin/st" --version 2>/dev/null | grep -q '4\.32\.5'; then
  say "installing schemathesis 4.32.5 (the API contract test) into $st"
  python3 -m venv "$st" && "$st/bin/pip" install -q schemathesis==4.32.5
fi
say "ready"

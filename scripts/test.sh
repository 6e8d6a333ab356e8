#!/usr/bin/env bash
# The whole test suite: formatting and lints (ssr and wasm32 hydrate), unit tests, the store
# contract on SQLite and on a throwaway PostgreSQL, the HTTP tests, the domain crate built for
# wasm32, then the release build, the API contract test (schemathesis) and the browser
# tests in Chromium (JavaScript off and hydrated). Installs what it needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# A whole-suite run gains nothing from incremental compilation, which doubles the debug
# target's size on disk.
export CARGO_INCREMENTAL=0
started=$SECONDS
step() { echo; echo "=== $* (at $((SECONDS - started)) s) ==="; }

step "format"
cargo fmt --all --check

step "clippy (ssr)"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy (hydrate, wasm32)"
cargo clippy -p app --lib --target wasm32-unknown-unknown --no-default-features --features hydrate -- -D warnings
step "domain crate on wasm32"
cargo build -p promptly --target wasm32-unknown-unknown

step "unit, contract and HTTP tests (SQLite and PostgreSQL)"
cargo test --workspace
step "HTTP tests again, each server on its own throwaway PostgreSQL"
PROMPTLY_TEST_DATABASE=postgres cargo test -p server --test suite -- \
  --skip store_contract:: --skip fault_two_servers::

step "release build (server + wasm, wasm-opt)"
bash scripts/build-release.sh

step "API contract (schemathesis against a throwaway release server)"
bash scripts/api-contract.sh target/release/promptly 40

step "end2end (Chromium: JavaScript off, then hydrated)"
(cd end2end && npx playwright test)
echo "=== all passed in $((SECONDS - started)) s ==="

#!/usr/bin/env bash
# The release build of Promptly: the server and the hydrated WebAssembly UI (wasm-opt),
# the site's assets named by their content's hash (`target/release/hash.txt` says which,
# and the server serves them as immutable) and stored precompressed (brotli and gzip) next
# to them, so no asset is compressed per request. `scripts/run.sh` and `scripts/test.sh`
# call it; it expects the tools `scripts/setup.sh` installs on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
# Hashed names for release builds only: `cargo leptos watch` does not hash its rebuilds.
LEPTOS_HASH_FILES=true cargo leptos build --release --precompress

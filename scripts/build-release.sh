#!/usr/bin/env bash
# The release build of Promptly: the server and the hydrated WebAssembly UI (wasm-opt),
# the site's assets named by their content's hash (`target/release/hash.txt` says which,
# and the server serves them as immutable) and stored precompressed (brotli and gzip) next
# to them, so no asset is compressed per request. `scripts/run.sh` and `scripts/test.sh`
# call it; it expects the tools `scripts/setup.sh` installs on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
# Hashed names for release builds only: `cargo leptos watch` does not hash its rebuilds.
# `--split` cuts the WebAssembly at the lazy routes (`app/src/lib.rs`), so a page downloads
# only the code it runs; every build of the UI needs it (`cargo leptos watch --split` too),
# since a lazy route calls into a chunk that only the split creates.
LEPTOS_HASH_FILES=true cargo leptos build --release --precompress --split

#!/usr/bin/env bash
# Fuzzes the domain crate: each cargo-fuzz target of fuzz/ for SECONDS (default 60), starting
# from the committed corpus (fuzz/corpus/<target>) and the crashes found before
# (fuzz/regressions/<target>). Fails on the first crash or timeout; libFuzzer leaves the
# input in fuzz/artifacts/<target>/. Installs the nightly toolchain and cargo-fuzz if missing.
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_MERGE=1 scripts/fuzz.sh 300       then rewrite fuzz/corpus/<target> as the fewest
#                                          files covering every edge it and the new inputs cover
#   FUZZ_TARGETS="calendar duration" ...   only these targets
#   FUZZ_SANITIZER=none ...                without AddressSanitizer (faster; Rust code is
#                                          memory-safe here, the targets look for panics)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets=(${FUZZ_TARGETS:-event_json rule_json calendar duration sla_check})
sanitizer="${FUZZ_SANITIZER:-address}"

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# New inputs go to a scratch corpus; the committed one is read, not written.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cargo +nightly fuzz build -s "$sanitizer"

summary=()
for t in "${targets[@]}"; do
  echo "=== $t: ${seconds} s ==="
  mkdir -p "$scratch/$t" "fuzz/corpus/$t" "fuzz/regressions/$t"
  status=0
  cargo +nightly fuzz run -s "$sanitizer" "$t" "$scratch/$t" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$scratch/$t.log" 2>&1 || status=$?
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$scratch/$t.log" || true
  if [ "$status" -ne 0 ]; then
    grep -E -A40 'panicked|ERROR: libFuzzer' "$scratch/$t.log" | head -60
    echo "=== $t failed: the input is in fuzz/artifacts/$t/; reproduce with cargo +nightly fuzz run $t fuzz/artifacts/$t/<file>"
    exit 1
  fi
  execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/$t.log")
  edges=$(sed -n 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$scratch/$t.log")
  corpus=$(ls "fuzz/corpus/$t" | wc -l)
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    # Every edge that the committed and the new inputs cover, in few files: a greedy set
    # cover on edges (hit counts ignored), which keeps the committed corpus small.
    mkdir -p "$scratch/$t.merged"
    cargo +nightly fuzz run -s "$sanitizer" "$t" "$scratch/$t.merged" "fuzz/corpus/$t" "$scratch/$t" -- \
      -set_cover_merge=1 -use_counters=0 >"$scratch/$t.merge.log" 2>&1
    find "fuzz/corpus/$t" -type f -delete
    mv "$scratch/$t.merged"/* "fuzz/corpus/$t/"
    corpus="$corpus -> $(ls "fuzz/corpus/$t" | wc -l)"
  fi
  summary+=("$(printf '%-11s %8s execs/s  %6s edges  corpus %s files' "$t" "$execs" "$edges" "$corpus")")
done
echo
echo "=== no crash in ${#targets[@]} targets, ${seconds} s each ==="
printf '%s\n' "${summary[@]}"

#!/usr/bin/env bash
# Reproduces an intermittent hang of the in-process test server: runs the page tests on
# PostgreSQL three processes at a time, round after round, for MINUTES (default 12), and
# keeps the log of every failed process as /tmp/stress-fail-ROUND-K.log. Seen on
# 2026-12-06: about one failed process in ten rounds, always in
# admin_pages::policies_are_created_versioned_made_default_and_conflicts_are_explained, a
# request (POST /policies, or GET /policies?...) that gets no answer at all, even with a
# 100 s client timeout (so not a PostgreSQL statement, which ends after 60 s).
#
#   bash scripts/stress-page-tests.sh [MINUTES]
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-12}
bin=$(cargo test -p server --test suite --no-run 2>&1 | sed -n 's/.*Executable tests\/suite\/main.rs (\(.*\))/\1/p')
[ -x "$bin" ] || { echo "no test binary"; exit 1; }
cd server
end=$((SECONDS + minutes * 60)); round=0
while [ $SECONDS -lt $end ]; do
  round=$((round + 1))
  for k in 1 2 3; do
    (PROMPTLY_TEST_DATABASE=postgres timeout 300 "../$bin" admin_pages:: compliance_pages:: rules_pages:: \
      > "/tmp/stress-$k.log" 2>&1; echo "rc=$?" >> "/tmp/stress-$k.log") &
  done
  wait
  for k in 1 2 3; do
    grep -q "rc=0" "/tmp/stress-$k.log" || { cp "/tmp/stress-$k.log" "/tmp/stress-fail-$round-$k.log"; echo "round $round: process $k failed"; }
  done
done
echo "rounds: $round"

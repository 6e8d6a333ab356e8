#!/usr/bin/env bash
# The kill test at length: the real `promptly` binary under an ingest load, killed with
# SIGKILL KILLS times (default 200) at varied points and restarted on the same database and
# port; then every acknowledged event must be stored, every due SLA warning and breach (with
# its rule runs, label changes and outbox rows) fired exactly once, the database consistent,
# and the stream client's view whole (server/tests/suite/kill.rs; the test command runs the
# short form, 20 kills). The load grows with the kills (12 conversations per kill, at most
# 4,800) so that it lasts about as long. DATABASE is sqlite (default) or postgres.
#
#   bash scripts/kill-test.sh [KILLS] [DATABASE]
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-200}
database=${2:-sqlite}
conversations=$((kills * 12))
[ "$conversations" -gt 4800 ] && conversations=4800
[ "$conversations" -lt 240 ] && conversations=240
started=$SECONDS
PROMPTLY_TEST_DATABASE=$database \
PROMPTLY_KILL_TEST_KILLS=$kills \
PROMPTLY_KILL_TEST_CONVERSATIONS=$conversations \
  cargo test -p server --test suite -- kill:: --nocapture
echo "kill test: $kills kills, $conversations conversations on $database in $((SECONDS - started)) s"

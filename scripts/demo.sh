#!/usr/bin/env bash
# The README's main command (`make demo` runs scripts/bootstrap.sh first, then this):
# start the calibration sandbox on 127.0.0.1, run the nightly job against it with the default
# SQLite database, stop the sandbox, and say where the report, the evidence CSV and the bundle are.
#
#   DEMO_BASE_PORT=28000   first sandbox port (0 = ephemeral ports)
#   DEMO_TIMEOUT=180       seconds to wait for the sandbox to come up
set -euo pipefail
cd "$(dirname "$0")/.."

ZW=.venv/bin/zwaudit
if [ ! -x "$ZW" ]; then
  echo "demo: $ZW not found; run 'make demo' (or bash scripts/bootstrap.sh) first" >&2
  exit 2
fi

BASE_PORT=${DEMO_BASE_PORT:-28000}
TIMEOUT=${DEMO_TIMEOUT:-180}
VAR=${ZWAUDIT_VAR:-var}
SANDBOX_DIR=$VAR/sandbox
OUT=${ZWAUDIT_OUT:-out}
mkdir -p "$VAR" "$OUT"
LOG=$VAR/demo-sandbox.log

echo "demo: starting the sandbox on 127.0.0.1 (base port $BASE_PORT), log: $LOG"
"$ZW" sandbox serve --base-port "$BASE_PORT" --dir "$SANDBOX_DIR" >"$LOG" 2>&1 &
SANDBOX_PID=$!

stop_sandbox() {
  if kill -0 "$SANDBOX_PID" 2>/dev/null; then
    kill -TERM "$SANDBOX_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SANDBOX_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SANDBOX_PID" 2>/dev/null || true
  fi
  wait "$SANDBOX_PID" 2>/dev/null || true
}
trap stop_sandbox EXIT

# the sandbox prints "profiles: …" once it has bound its ports and written the profiles
for _ in $(seq 1 $((TIMEOUT * 5))); do
  if grep -q "^profiles: " "$LOG" 2>/dev/null; then break; fi
  if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then
    echo "demo: the sandbox exited early:" >&2
    tail -n 20 "$LOG" >&2
    exit 3
  fi
  sleep 0.2
done
if ! grep -q "^profiles: " "$LOG"; then
  echo "demo: the sandbox did not come up within ${TIMEOUT}s (see $LOG)" >&2
  exit 3
fi
sed -n '/^sbx-/p' "$LOG"

status=0
"$ZW" --config "$SANDBOX_DIR/config" nightly --out "$OUT" || status=$?
stop_sandbox
trap - EXIT

if [ -f "$OUT/report/index.html" ]; then
  # the report's first page as the auditors see it, rendered by headless Chromium
  "$ZW" --config "$SANDBOX_DIR/config" report --run latest --out "$OUT/report" --png "$OUT/report/first-page.png" \
    || echo "demo: could not render $OUT/report/first-page.png" >&2
fi

echo
echo "demo: nightly exit code $status (0 ok, 1 regressions, 2 config error, 3 run error)"
echo "  report        $OUT/report/index.html"
for f in "$OUT"/findings-run*.csv; do [ -e "$f" ] && latest_csv=$f; done
for f in "$OUT"/evidence-run*.zip; do [ -e "$f" ] && latest_zip=$f; done
echo "  evidence CSV  ${latest_csv:-(none)}"
echo "  bundle        ${latest_zip:-(none)}"
echo "  first page    $OUT/report/first-page.png"
echo "  history       $ZW runs   |   $ZW diff"
exit "$status"

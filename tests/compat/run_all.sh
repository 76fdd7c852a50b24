#!/usr/bin/env bash
# Runs the ClearML SDK compatibility flows against a running server.
#
# Required environment:
#   CLEARML_API_HOST        API server base URL, e.g. http://localhost:8008
#   CLEARML_WEB_HOST        Web UI base URL,     e.g. http://localhost:8080
#   CLEARML_FILES_HOST      File server base URL, e.g. http://localhost:8081
#   CLEARML_API_ACCESS_KEY  access key of a valid credential pair
#   CLEARML_API_SECRET_KEY  secret key of that pair
# Optional:
#   COMPAT_PROJECT          project name to use (default: compat-<epoch seconds>, i.e. fresh per run)
#   COMPAT_PYTHON           interpreter (default: /usr/bin/python3)
#   COMPAT_SDK_DIR          SDK source checkout (default: /opt/clearml-sdk)
#   COMPAT_SHIM_DIR         shim modules dir (default: /opt/pyshim)
#   COMPAT_FLOW_TIMEOUT     seconds per script run (default: 300)
#   COMPAT_POLL_TIMEOUT     seconds the read-back checks keep retrying (default: 30)
#   COMPAT_LOG_DIR          where per-flow logs go (default: a fresh temp dir, kept)
#   COMPAT_KEEP_HOME=1      keep the temporary HOME (SDK cache/session files) after the run
#   COMPAT_REUSE_SOFT=1     report, but do not fail, when the reuse flow does not reuse the id
#   COMPAT_CONF             a clearml.conf to take unset CLEARML_* URLs and keys from (see common.sh)
#   COMPAT_AS_MEMBER=1      create a fresh member user with those (admin) keys and run as it (see common.sh)
#
# Exit status: 0 if every flow passed, 1 otherwise, 2 on setup errors.

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
FLOW_TIMEOUT="${COMPAT_FLOW_TIMEOUT:-300}"

# ---------------------------------------------------------------- setup checks
require_clearml_setup

if [ -n "${CLEARML_OFFLINE_MODE:-}" ] && [ "${CLEARML_OFFLINE_MODE}" != "0" ]; then
  die "CLEARML_OFFLINE_MODE is set; these flows need a live server"
fi

export PYTHONPATH="$SDK_DIR:$SHIM_DIR"
export PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED=1
export MPLBACKEND=Agg
export COMPAT_PROJECT="${COMPAT_PROJECT:-compat-$(date +%s)}"
export CLEARML_API_HOST CLEARML_WEB_HOST CLEARML_FILES_HOST CLEARML_API_ACCESS_KEY CLEARML_API_SECRET_KEY
# never pick up a developer's own config / task / token
unset CLEARML_CONFIG_FILE CLEARML_TASK_ID CLEARML_AUTH_TOKEN CLEARML_PROC_MASTER_ID CLEARML_TASK_NO_REUSE || true

ORIG_HOME="${HOME:-}"
TMP_HOME="$(mktemp -d /tmp/clearml-compat-home.XXXXXX)"
export HOME="$TMP_HOME"
export CLEARML_CACHE_DIR="$TMP_HOME/.clearml/cache"
# The scripts run from a copy outside any git checkout: Task.init inspects the git repository
# of the script's directory (runs git commands there); this keeps the source tree untouched.
WORK_DIR="$TMP_HOME/flows"
mkdir -p "$WORK_DIR"
cp "$HERE"/flow_*.py "$HERE"/compat_common.py "$WORK_DIR"/
LOG_DIR="${COMPAT_LOG_DIR:-$(mktemp -d /tmp/clearml-compat-logs.XXXXXX)}"
mkdir -p "$LOG_DIR"

cleanup() {
  if [ "${COMPAT_KEEP_HOME:-0}" != "1" ]; then rm -rf "$TMP_HOME"; fi
}
trap cleanup EXIT

SDK_VERSION="$(cd "$TMP_HOME" && "$PY" -c 'import clearml; print(clearml.__version__)' 2>&1)" \
  || die "cannot import the ClearML SDK with $PY: $SDK_VERSION"

echo "== ClearML SDK compat run"
echo "   sdk        : $SDK_VERSION ($SDK_DIR)"
echo "   python     : $("$PY" --version 2>&1) ($PY)"
echo "   api host   : $CLEARML_API_HOST"
echo "   project    : $COMPAT_PROJECT"
echo "   temp HOME  : $TMP_HOME"
echo "   logs       : $LOG_DIR"

declare -a RESULTS=()
FAILED=0

# run_py <log-name> <args...> : runs a script with a timeout, tees output to a log, returns its exit code
run_py() {
  local name="$1"; shift
  local log="$LOG_DIR/$name.log"
  echo "-- running: $* (log: $log)"
  local rc=0
  (cd "$WORK_DIR" && timeout --kill-after=10 "$FLOW_TIMEOUT" "$PY" "$@") >"$log" 2>&1 || rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "   !! timed out after ${FLOW_TIMEOUT}s" | tee -a "$log"
  fi
  return $rc
}

show_log() {
  echo "   ---- last lines of $LOG_DIR/$1.log ----"
  tail -n 40 "$LOG_DIR/$1.log" | sed 's/^/   | /'
  echo "   ----"
}

record() {  # record <flow> <PASS|FAIL> <detail>
  RESULTS+=("$(printf '%-10s %-4s %s' "$1" "$2" "$3")")
  if [ "$2" != "PASS" ]; then FAILED=1; echo "   => $1 FAILED: $3" >&2; else echo "   => $1 passed"; fi
}

grab() {  # grab <log-name> <PREFIX> : prints the first token after PREFIX in that log
  sed -n "s/^.*$2 \([0-9A-Za-z_-]\{1,\}\).*$/\1/p" "$LOG_DIR/$1.log" | head -n 1
}

# ---------------------------------------------------------------- flow 2a: train
TRAIN_ID=""
if run_py 2a-train flow_2a_train.py --lr 0.1 --epochs 3; then
  TRAIN_ID="$(grab 2a-train 'FLOW 2a OK')"
  if [ -n "$TRAIN_ID" ]; then record 2a-train PASS "task $TRAIN_ID"
  else show_log 2a-train; record 2a-train FAIL "exit 0 but no 'FLOW 2a OK <id>' line"; fi
else
  rc=$?; show_log 2a-train; record 2a-train FAIL "exit code $rc"
  TRAIN_ID="$(grab 2a-train 'COMPAT-STDOUT task id')"
fi

# ---------------------------------------------------------------- flow 2a: fail
rc=0
run_py 2a-fail-run flow_2a_fail.py run || rc=$?
FAIL_ID="$(grab 2a-fail-run 'FAIL_TASK_ID')"
if [ $rc -eq 0 ]; then
  show_log 2a-fail-run; record 2a-fail FAIL "script was expected to exit non-zero (uncaught exception), got 0"
elif [ -z "$FAIL_ID" ]; then
  show_log 2a-fail-run; record 2a-fail FAIL "Task.init did not produce a task id (exit $rc)"
elif ! grep -q "CompatDeliberateError" "$LOG_DIR/2a-fail-run.log"; then
  show_log 2a-fail-run; record 2a-fail FAIL "script failed, but not with the deliberate exception (exit $rc)"
elif run_py 2a-fail-check flow_2a_fail.py check "$FAIL_ID"; then
  record 2a-fail PASS "task $FAIL_ID failed as expected"
else
  rc=$?; show_log 2a-fail-check; record 2a-fail FAIL "status check failed (exit $rc)"
fi

# ---------------------------------------------------------------- flow 2a: reuse
if run_py 2a-reuse-first flow_2a_reuse.py first; then
  FIRST_ID="$(grab 2a-reuse-first 'REUSE_FIRST_ID')"
  if [ -z "$FIRST_ID" ]; then
    show_log 2a-reuse-first; record 2a-reuse FAIL "first run printed no task id"
  elif run_py 2a-reuse-second flow_2a_reuse.py second "$FIRST_ID"; then
    record 2a-reuse PASS "$(grep -m1 '^REUSED:' "$LOG_DIR/2a-reuse-second.log" || echo 'REUSED: ?') (first $FIRST_ID)"
  else
    rc=$?; show_log 2a-reuse-second
    record 2a-reuse FAIL "$(grep -m1 '^REUSED:' "$LOG_DIR/2a-reuse-second.log" || echo 'second run failed') (exit $rc)"
  fi
else
  rc=$?; show_log 2a-reuse-first; record 2a-reuse FAIL "first run failed (exit $rc)"
fi

# ---------------------------------------------------------------- flow 2e: clone + enqueue
if [ -z "$TRAIN_ID" ]; then
  record 2e-clone FAIL "skipped: no task id from flow 2a-train"
elif run_py 2e-clone flow_2e_clone.py "$TRAIN_ID" default; then
  if grep -q "^FLOW 2e OK" "$LOG_DIR/2e-clone.log"; then
    record 2e-clone PASS "$(grep -m1 '^FLOW 2e OK' "$LOG_DIR/2e-clone.log")"
  else
    show_log 2e-clone; record 2e-clone FAIL "exit 0 but no 'FLOW 2e OK' line"
  fi
else
  rc=$?; show_log 2e-clone; record 2e-clone FAIL "exit code $rc"
fi

# ---------------------------------------------------------------- flows 2b + 2c (file server, models, datasets)
if run_py 2b-2c-files flow_2b_2c_files.py; then
  if grep -q "^FLOW 2c OK" "$LOG_DIR/2b-2c-files.log"; then
    record 2b-2c-files PASS "$(grep -m1 '^FLOW 2b OK' "$LOG_DIR/2b-2c-files.log"); $(grep -m1 '^FLOW 2c OK' "$LOG_DIR/2b-2c-files.log")"
  else
    show_log 2b-2c-files; record 2b-2c-files FAIL "exit 0 but no 'FLOW 2c OK' line"
  fi
else
  rc=$?; show_log 2b-2c-files; record 2b-2c-files FAIL "exit code $rc"
fi

# ---------------------------------------------------------------- summary
echo
echo "== Summary (project $COMPAT_PROJECT, logs in $LOG_DIR)"
for r in "${RESULTS[@]}"; do echo "   $r"; done
if [ $FAILED -ne 0 ]; then
  echo "== SOME FLOWS FAILED" >&2
  exit 1
fi
echo "== ALL FLOWS PASSED"
exit 0

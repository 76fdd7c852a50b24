#!/usr/bin/env bash
# The request log read back by the official SDK: after N requests to an endpoint that logs them, a dataset version exists
# and `Dataset.get(...).get_local_copy()` reads rows that match what was sent (input, output, model version).
#   1. the SDK registers an ONNX model y = x (serving_cli_interop.py writes it); `slipway serving endpoint create` and
#      `version add` deploy it, and its request_log (max_records N) is set through the SDK's session;
#   2. `slipway serve` answers N requests at /serve/logged, each with a different x;
#   3. once the host has written the dataset version, the SDK reads it (serving_request_log.py read).
#
# With no CLEARML_API_HOST set it starts its own server (this checkout's Release build, SQLite, a temporary data
# directory, free ports). Optional: COMPAT_PYTHON, COMPAT_SDK_DIR, COMPAT_SHIM_DIR, COMPAT_PROJECT, COMPAT_KEEP_WORK=1,
# COMPAT_REQUESTS (default 12). Prints PASS/FAIL per check and "SERVING REQUEST LOG PASSED" when all pass; exits 1 on a
# failed check, 2 on setup errors.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"
N="${COMPAT_REQUESTS:-12}"

begin_flow request-log
export PYTHONPATH="$SDK_DIR:$SHIM_DIR"
export COMPAT_PROJECT="${COMPAT_PROJECT:-request-log-$(date +%s)}"

fail=0
check() { if [ "$1" = 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fail=1; fi; }
DATASET="logged-requests"

echo "== deploying"
"$PY" "$HERE/serving_cli_interop.py" onnx "$WORK/times1.onnx" 1
model="$("$PY" "$HERE/serving_cli_interop.py" register "$COMPAT_PROJECT" "identity" "$WORK/times1.onnx" | sed -n 's/^MODEL //p')"
[ -n "$model" ] || die "the SDK did not register the model"
endpoint="$(slipway serving endpoint create logged)" || die "slipway serving endpoint create failed"
slipway serving version add logged "$model" >/dev/null || die "slipway serving version add failed"
"$PY" "$HERE/serving_request_log.py" configure "$endpoint" "$COMPAT_PROJECT" "$DATASET" "$N" || die "could not set the request log"
KEY="$(slipway serving key create logged --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])')"

echo "== slipway serve"
start_serve "$WORK"
ready=1
for _ in $(seq 1 150); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H "Authorization: Bearer $KEY" "$URL/v2/models/logged/versions/1/ready")" = 200 ] && { ready=0; break; }
  sleep 0.2
done
check $ready "slipway serve has logged/1 ready"

: >"$WORK/sent.jsonl"
answered=0
for i in $(seq 1 "$N"); do
  body="{\"x\": [[$i, 2, 3, 4]]}"
  got="$(curl -s -m 10 -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$body" "$URL/serve/logged")"
  [ "$got" = "{\"y\":[[$i,2,3,4]]}" ] && answered=$((answered + 1))
  echo "$body" >>"$WORK/sent.jsonl"
done
[ "$answered" = "$N" ]; check $? "/serve/logged answered $answered of $N requests"

# The host writes the version once it holds N records: poll until the SDK sees it, then read it back.
read=1
for _ in $(seq 1 60); do
  if "$PY" "$HERE/serving_request_log.py" read "$COMPAT_PROJECT" "$DATASET" "$WORK/sent.jsonl" >"$WORK/read.log" 2>&1; then read=0; break; fi
  sleep 1
done
[ "$read" = 0 ] || tail -n 15 "$WORK/read.log"
check $read "the SDK's Dataset.get(...).get_local_copy() reads the $N logged requests ($(tail -n 1 "$WORK/read.log"))"

if [ "$fail" = 0 ]; then echo "SERVING REQUEST LOG PASSED"; else echo "== serve log"; tail -n 30 "$WORK/serve.log"; fi
exit $fail

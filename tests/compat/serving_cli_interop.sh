#!/usr/bin/env bash
# The official clearml-serving CLI (run from its public source, unmodified) configures a serving service on Slipway, and
# `slipway serve` answers what it configured at clearml-serving's URLs (/serve/{endpoint}[/{version}]):
#   1. `clearml-serving create`, then `model add --engine triton` of an ONNX model the official SDK registered
#      (endpoint scale, version 1): /serve/scale/1 answers the model's output;
#   2. `model auto-update` (name + project, --max-versions 2) with one matching model: /serve/scale_auto/1 answers;
#      a second model registered with the SDK becomes version 2 without any command;
#   3. `model canary --weights 0.1 0.9 --input-endpoint-prefix scale_auto/`: /serve/scale_canary splits traffic, about 10 %
#      to the newest version (the model that doubles its input) and 90 % to the older one;
#   4. `metrics add --endpoint scale/1 --log-freq 1 --variable-scalar x=...`: the host's /metrics shows the histogram;
#   5. a name Slipway cannot serve (`model add --endpoint team/detect`) is reported by `slipway serving control-planes`.
# Imported endpoints need a key like any Slipway endpoint; the script issues them with `slipway serving key create`, and
# then makes scale public (`slipway serving endpoint update scale --public true`) and calls it without one.
#
# With no CLEARML_API_HOST set it starts its own server (this checkout's Release build, SQLite, a temporary data
# directory, free ports); otherwise it uses the server those CLEARML_* variables name. Optional: COMPAT_PYTHON,
# COMPAT_SDK_DIR, COMPAT_SHIM_DIR, COMPAT_SERVING_DIR (default /opt/clearml-serving), COMPAT_PROJECT, COMPAT_KEEP_WORK=1.
# Prints PASS/FAIL per check and "SERVING CLI INTEROP PASSED" when all pass; exits 1 on a failed check, 2 on setup errors.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"
SERVING_DIR="${COMPAT_SERVING_DIR:-/opt/clearml-serving}"
[ -f "$SERVING_DIR/clearml_serving/__main__.py" ] || die "clearml-serving source not found at $SERVING_DIR"

begin_flow serving-interop
export PYTHONPATH="$SERVING_DIR:$SDK_DIR:$SHIM_DIR"
export COMPAT_PROJECT="${COMPAT_PROJECT:-serving-interop-$(date +%s)}"

fail=0
check() { if [ "$1" = 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fail=1; fi; }
cs() { "$PY" -m clearml_serving --yes "$@" >>"$WORK/clearml-serving.log" 2>&1 || { tail -n 20 "$WORK/clearml-serving.log"; die "clearml-serving $* failed"; }; }
model() { "$PY" "$HERE/serving_cli_interop.py" register "$COMPAT_PROJECT" "$1" "$2" | sed -n 's/^MODEL //p'; }
key() { slipway serving key create "$1" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["key"])'; }
IO=(--input-size 1 4 --input-name x --input-type float32 --output-size -1 4 --output-name y --output-type float32)

"$PY" "$HERE/serving_cli_interop.py" onnx "$WORK/times1.onnx" 1
"$PY" "$HERE/serving_cli_interop.py" onnx "$WORK/times2.onnx" 2
added="$(model "scale model added" "$WORK/times1.onnx")"
first="$(model "scale model" "$WORK/times1.onnx")"
[ -n "$added" ] && [ -n "$first" ] || die "the SDK did not register the models"

echo "== clearml-serving configures the service"
"$PY" -m clearml_serving --yes create --name "serving interop" --project "$COMPAT_PROJECT" >"$WORK/create.log" 2>&1 || { cat "$WORK/create.log"; die "clearml-serving create failed"; }
service="$(sed -n 's/.*created: id=\([0-9a-f]*\).*/\1/p' "$WORK/create.log" | tail -n 1)"
[ -n "$service" ] || { cat "$WORK/create.log"; die "no service id from clearml-serving create"; }
cs --id "$service" model add --engine triton --endpoint scale --version 1 --model-id "$added" "${IO[@]}"
cs --id "$service" model auto-update --engine triton --endpoint scale_auto --name "scale model" --project "$COMPAT_PROJECT" --max-versions 2 "${IO[@]}"
cs --id "$service" model canary --endpoint scale_canary --weights 0.1 0.9 --input-endpoint-prefix scale_auto/
cs --id "$service" metrics add --endpoint scale/1 --log-freq 1 --variable-scalar "x=0,1.5,3"
cs --id "$service" model add --engine triton --endpoint team/detect --version 1 --model-id "$added" "${IO[@]}"

echo "== slipway serve"
K_SCALE="$(key scale)" K_AUTO="$(key scale_auto)" K_CANARY="$(key scale_canary)"
start_serve "$WORK"
post() { curl -s -m 10 ${1:+-H "Authorization: Bearer $1"} -H 'Content-Type: application/json' -d "$3" "$URL/serve/$2"; }
# Polls until a request answers with the expected body (the host loads versions in the background).
answers() {
  local got=""
  for _ in $(seq 1 150); do
    got="$(post "$1" "$2" '{"x": [[1, 2, 3, 4]]}')"
    [ "$got" = "$3" ] && return 0
    sleep 0.2
  done
  echo "  /serve/$2 answered: $got (wanted $3)"
  return 1
}

answers "$K_SCALE" scale/1 '{"y":[[1,2,3,4]]}'; check $? "model add: /serve/scale/1 answers the model's output"
answers "$K_AUTO" scale_auto/1 '{"y":[[1,2,3,4]]}'; check $? "model auto-update: /serve/scale_auto/1 serves the matching model"
second="$(model "scale model" "$WORK/times2.onnx")"
answers "$K_AUTO" scale_auto/2 '{"y":[[2,4,6,8]]}'; check $? "model auto-update: a model registered later is /serve/scale_auto/2 ($second)"

answers "$K_CANARY" scale_canary/1 '{"y":[[2,4,6,8]]}'; check $? "model canary: the newest version is the canary's first"
newest=0
for _ in $(seq 1 400); do
  [ "$(post "$K_CANARY" scale_canary '{"x": [[1, 1, 1, 1]]}')" = '{"y":[[2,2,2,2]]}' ] && newest=$((newest + 1))
done
# 400 draws at p = 0.1: mean 40, standard deviation 6; 16..64 is four deviations either side.
[ "$newest" -ge 16 ] && [ "$newest" -le 64 ]; check $? "model canary: /serve/scale_canary sent $newest of 400 requests to the newest version (weights 0.1 0.9)"

metrics="$(curl -s -m 10 "$URL/metrics")"
grep -q 'slipway_serving_metric_scalar_bucket{endpoint="scale",version="1",variable="x",le="1.5"} [1-9]' <<<"$metrics"
check $? "metrics add: the host's /metrics has the x histogram of scale/1"

# clearml-serving's clients send no key: an imported endpoint made public answers them as before.
slipway serving endpoint update scale --public true >/dev/null
answers "" scale/1 '{"y":[[1,2,3,4]]}'; check $? "slipway serving endpoint update scale --public true: /serve/scale/1 answers without a key"

planes="$(slipway serving control-planes --json)"
"$PY" -c '
import json, sys
plane = [p for p in json.loads(sys.argv[1]) if p["task"] == sys.argv[2]][0]
assert sorted(plane["endpoints"]) == ["scale", "scale_auto", "scale_canary"], plane
assert [r["name"] for r in plane["rejected"]] == ["team/detect/1"], plane
' "$planes" "$service"
check $? "a name Slipway cannot serve (team/detect) is reported by slipway serving control-planes"

if [ "$fail" = 0 ]; then echo "SERVING CLI INTEROP PASSED"; else echo "== serve log"; tail -n 30 "$WORK/serve.log"; fi
exit $fail

#!/usr/bin/env bash
# Models and runs shared between the official ClearML Python SDK and Slipway's .NET side:
#   1. a model registered by the SDK (OutputModel.update_weights) is fetched byte-identical by `slipway model get`;
#   2. a model registered by Slipway.Client (examples/MlNetTraining) is fetched by the SDK's Model.get_local_copy()
#      byte-identical to what `slipway model get` fetches, and the SDK reads that run's scalars.
# Needs the CLEARML_* variables of a running server (see README.md) and a built solution (dotnet build).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
. "$HERE/common.sh"
require_clearml_setup
export PYTHONPATH="$SDK_DIR:$SHIM_DIR${PYTHONPATH:+:$PYTHONPATH}"
SLIPWAY=(dotnet "$ROOT/src/Slipway/bin/Debug/net10.0/slipway.dll")
EXAMPLE="$ROOT/examples/MlNetTraining/bin/Debug/net10.0/MlNetTraining.dll"
[ -f "$EXAMPLE" ] || die "build the solution first (dotnet build Slipway.slnx)"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
fail=0

read -r _ py_model py_sha < <("$PY" "$HERE/model_interop.py" make | grep '^MODEL ')
path="$("${SLIPWAY[@]}" model get "$py_model" --copy "$WORK/from-python")"
got="$(sha256sum "$path" | cut -d' ' -f1)"
if [ "$got" = "$py_sha" ]; then echo "PASS python model -> slipway model get ($py_model)"; else echo "FAIL python model: $got != $py_sha"; fail=1; fi

out="$(dotnet "$EXAMPLE")"
net_model="$(sed -n 's/^model \([0-9a-f]*\) registered.*/\1/p' <<<"$out")"
net_task="$(sed -n 's#.*/experiments/\([0-9a-f]*\)$#\1#p' <<<"$out")"
path="$("${SLIPWAY[@]}" model get "$net_model" --copy "$WORK/from-dotnet")"
want="$(sha256sum "$path" | cut -d' ' -f1)"
read -r _ got < <("$PY" "$HERE/model_interop.py" get "$net_model" | grep '^GOT ')
if [ "$got" = "$want" ]; then echo "PASS .NET model -> python Model.get_local_copy ($net_model)"; else echo "FAIL .NET model: $got != $want"; fail=1; fi
scalars="$("$PY" "$HERE/model_interop.py" scalars "$net_task" | sed -n 's/^SCALARS //p')"
if "$PY" -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["accuracy"]["test"] == 10 and s["log loss"]["train"] == 10, s' "$scalars"; then
  echo "PASS .NET run scalars -> python get_reported_scalars ($net_task)"
else
  echo "FAIL .NET run scalars: $scalars"; fail=1
fi
exit $fail

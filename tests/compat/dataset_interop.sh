#!/usr/bin/env bash
# Dataset interop between Slipway.Client and the official ClearML Python SDK, both ways, on one server.
#
#   1. Slipway.Client writes a parent and a child version (nested folders, a non-ASCII name, a file larger than
#      the 1 MiB chunk size, several chunks; the child keeps, modifies, removes and adds files); the SDK reads
#      both with Dataset.get(dataset_id=...).get_local_copy() and get_mutable_local_copy(), compares the SHA-256
#      of every file (and that there is nothing extra), verify_dataset_hash(), and its list_added/removed/
#      modified_files against the parent.
#   2. The SDK writes a parent and a child (Dataset.create, add_files, remove_files, upload(chunk_size=1),
#      finalize, parent_datasets); Slipway.Client reads both (cached copy and a copy to a folder, byte for byte)
#      and its diff against the parent.
#   3. Across: the SDK derives a child from Slipway's child, and Slipway.Client derives one from the SDK's child;
#      each is read by the other side.
#
# With no CLEARML_API_HOST set it starts its own server (built from this checkout, SQLite, a temporary data
# directory, free ports) and stops it at the end; otherwise it uses the server those CLEARML_* variables name.
# Needs the SDK as tests/compat/README.md describes. Optional: COMPAT_PYTHON, COMPAT_SDK_DIR, COMPAT_SHIM_DIR,
# COMPAT_PROJECT (default interop-<epoch>), COMPAT_KEEP_WORK=1 (keep the temporary folder).
# Prints "DATASET INTEROP PASSED" and exits 0 when every step passes; exits 1 otherwise, 2 on setup errors.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

begin_flow dataset-interop
dotnet build "$HERE/DatasetInterop/DatasetInterop.csproj" -c Release -v q -nologo >>"$WORK/build.log" 2>&1 \
  || { tail -n 30 "$WORK/build.log"; die "build failed"; }
INTEROP=(dotnet "$HERE/DatasetInterop/bin/Release/net10.0/DatasetInterop.dll")
export PYTHONPATH="$SDK_DIR:$SHIM_DIR"
export COMPAT_PROJECT="${COMPAT_PROJECT:-interop-$(date +%s)}"
# Fresh caches on both sides: the SDK's under the flow's temporary HOME, Slipway.Client's under it too.

SDK_VERSION="$(cd "$WORK" && "$PY" -c 'import clearml; print(clearml.__version__)' 2>&1)" || die "cannot import the ClearML SDK: $SDK_VERSION"
echo "   sdk     : clearml $SDK_VERSION ($SDK_DIR), $("$PY" --version 2>&1)"
echo "   server  : $CLEARML_API_HOST (files $CLEARML_FILES_HOST)"
echo "   project : $COMPAT_PROJECT"

FAILED=0
declare -a RESULTS=()
step() {  # step <name> <command...>: runs it (from the work folder, so the SDK sees no git checkout), logs it
  local name="$1"; shift
  echo "-- $name"
  if (cd "$WORK" && "$@") >"$WORK/$name.log" 2>&1; then
    RESULTS+=("PASS $name"); grep -E "^(made|READ|  FAIL|[0-9]+ of)" "$WORK/$name.log" | sed 's/^/   /'
  else
    RESULTS+=("FAIL $name"); FAILED=1; tail -n 40 "$WORK/$name.log" | sed 's/^/   | /'
  fi
}
PYSCRIPT="$HERE/dataset_interop.py"

step slipway-write "${INTEROP[@]}" write "$WORK"
step sdk-reads-slipway-parent "$PY" "$PYSCRIPT" read "$WORK/ours-parent.json"
step sdk-reads-slipway-child "$PY" "$PYSCRIPT" read "$WORK/ours.json"
step sdk-write "$PY" "$PYSCRIPT" write "$WORK"
step slipway-reads-sdk-parent "${INTEROP[@]}" read "$WORK/sdk-parent.json"
step slipway-reads-sdk-child "${INTEROP[@]}" read "$WORK/sdk.json"
OURS_CHILD="$(sed -n 's/^ *"id": "\(.*\)",*$/\1/p' "$WORK/ours.json" 2>/dev/null | head -n 1)"
SDK_CHILD="$(sed -n 's/^ *"id": "\(.*\)",*$/\1/p' "$WORK/sdk.json" 2>/dev/null | head -n 1)"
step sdk-derives-from-slipway "$PY" "$PYSCRIPT" child-of "$OURS_CHILD" "$WORK"
step slipway-reads-sdk-derived "${INTEROP[@]}" read "$WORK/sdk-child.json"
step sdk-reads-sdk-derived "$PY" "$PYSCRIPT" read "$WORK/sdk-child.json"
step slipway-derives-from-sdk "${INTEROP[@]}" child-of "$SDK_CHILD" "$WORK"
step sdk-reads-slipway-derived "$PY" "$PYSCRIPT" read "$WORK/ours-child.json"

echo
for r in "${RESULTS[@]}"; do echo "   $r"; done
if [ $FAILED -ne 0 ]; then echo "DATASET INTEROP FAILED (logs in $WORK with COMPAT_KEEP_WORK=1)"; exit 1; fi
echo "DATASET INTEROP PASSED"

#!/usr/bin/env bash
# Datasets between the `slipway dataset` command line and the official ClearML Python SDK:
#   1. a parent and a child version made with `slipway dataset create|add|remove|upload|finalize` (each step its
#      own process, as clearml-data is used) are read by the SDK (get_local_copy, get_mutable_local_copy,
#      verify_dataset_hash, list_*_files) byte for byte;
#   2. a parent and a child made with the SDK are fetched byte-identical by `slipway dataset get --copy`.
# Needs the CLEARML_* variables of a running server (see README.md) and a built solution (dotnet build).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
. "$HERE/common.sh"
require_clearml_setup
export PYTHONPATH="$SDK_DIR:$SHIM_DIR${PYTHONPATH:+:$PYTHONPATH}"
export COMPAT_PROJECT="${COMPAT_PROJECT:-cli-interop-$RANDOM}"
slipway() { dotnet "$ROOT/src/Slipway/bin/Debug/net10.0/slipway.dll" "$@"; }
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
fail=0

# Expectation file for dataset_interop.py read: the files of a folder and the changes against the parent.
expect() { # <id> <version> <parent or ""> <folder> <added,...> <removed,...> <modified,...> <out>
  "$PY" - "$@" <<'PY'
import hashlib, json, os, sys
vid, version, parent, folder, added, removed, modified, out = sys.argv[1:9]
files = {}
for base, _, names in os.walk(folder):
    for n in names:
        full = os.path.join(base, n)
        files[os.path.relpath(full, folder)] = hashlib.sha256(open(full, "rb").read()).hexdigest()
split = lambda s: sorted(x for x in s.split(",") if x)
json.dump(dict(id=vid, project=os.environ["COMPAT_PROJECT"], name="made-by-cli", version=version, parent=parent or None,
               files=files, added=split(added), removed=split(removed), modified=split(modified)), open(out, "w"))
PY
}

# 1. slipway dataset → SDK
mkdir -p "$WORK/v1/nested/deeper" "$WORK/v2"
head -c 3000000 /dev/urandom > "$WORK/v1/big.bin"
head -c 200000 /dev/urandom > "$WORK/v1/nested/deeper/data.bin"
echo "parent content" > "$WORK/v1/modify.txt"; echo "removed later" > "$WORK/v1/remove.txt"; echo "kept" > "$WORK/v1/keep.txt"
parent="$(slipway dataset create --project "$COMPAT_PROJECT" --name made-by-cli)"
slipway dataset add --id "$parent" --files "$WORK/v1" >/dev/null
slipway dataset upload --id "$parent" --chunk-size 1 >/dev/null
slipway dataset finalize --id "$parent" >/dev/null
child="$(slipway dataset create --project "$COMPAT_PROJECT" --name made-by-cli --parents "$parent")"
echo "child content, longer" > "$WORK/v2/modify.txt"; echo "added" > "$WORK/v2/new.txt"
slipway dataset add --id "$child" --files "$WORK/v2/modify.txt" "$WORK/v2/new.txt" >/dev/null
slipway dataset remove --id "$child" --files remove.txt >/dev/null
slipway dataset upload --id "$child" >/dev/null
slipway dataset finalize --id "$child" >/dev/null
cp -r "$WORK/v1" "$WORK/v2-full"; cp "$WORK/v2/modify.txt" "$WORK/v2/new.txt" "$WORK/v2-full/"; rm "$WORK/v2-full/remove.txt"
version() { slipway dataset show --id "$1" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }
expect "$parent" "$(version "$parent")" "" "$WORK/v1" "big.bin,nested/deeper/data.bin,modify.txt,remove.txt,keep.txt" "" "" "$WORK/parent.json"
expect "$child" "$(version "$child")" "$parent" "$WORK/v2-full" "new.txt" "remove.txt" "modify.txt" "$WORK/child.json"
for e in parent child; do
  if "$PY" "$HERE/dataset_interop.py" read "$WORK/$e.json"; then echo "PASS slipway dataset ($e) -> SDK"; else echo "FAIL slipway dataset ($e) -> SDK"; fail=1; fi
done

# 2. SDK → slipway dataset get
"$PY" "$HERE/dataset_interop.py" write "$WORK" >/dev/null
for e in sdk-parent sdk; do
  id="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/$e.json")"
  slipway dataset get --id "$id" --copy "$WORK/got-$e" --cache-dir "$WORK/cache" >/dev/null
  if "$PY" - "$WORK/$e.json" "$WORK/got-$e" <<'PY'
import hashlib, json, os, sys
expected = json.load(open(sys.argv[1]))["files"]
actual = {}
for base, _, names in os.walk(sys.argv[2]):
    for n in names:
        full = os.path.join(base, n)
        actual[os.path.relpath(full, sys.argv[2])] = hashlib.sha256(open(full, "rb").read()).hexdigest()
assert actual == expected, (sorted(set(actual) ^ set(expected)), [p for p in expected if actual.get(p) != expected[p]][:5])
PY
  then echo "PASS SDK dataset ($e) -> slipway dataset get"; else echo "FAIL SDK dataset ($e) -> slipway dataset get"; fail=1; fi
done
exit $fail

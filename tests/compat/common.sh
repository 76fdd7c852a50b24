# Shared by the compat scripts (sourced): where the SDK lives, and the checks every flow needs first.
PY="${COMPAT_PYTHON:-/usr/bin/python3}"
SDK_DIR="${COMPAT_SDK_DIR:-/opt/clearml-sdk}"
SHIM_DIR="${COMPAT_SHIM_DIR:-/opt/pyshim}"

die() { echo "$(basename "$0"): ERROR: $*" >&2; exit 2; }

# The server's URLs and keys must be set, and the interpreter and SDK sources found.
require_clearml_setup() {
  local missing=() v
  for v in CLEARML_API_HOST CLEARML_WEB_HOST CLEARML_FILES_HOST CLEARML_API_ACCESS_KEY CLEARML_API_SECRET_KEY; do
    if [ -z "${!v:-}" ]; then missing+=("$v"); fi
  done
  [ ${#missing[@]} -eq 0 ] || die "missing required environment variable(s): ${missing[*]}"
  [ -x "$PY" ] || die "python interpreter not found: $PY"
  [ -d "$SDK_DIR/clearml" ] || die "ClearML SDK source not found at $SDK_DIR (see README.md)"
  [ -f "$SHIM_DIR/pathlib2.py" ] || die "pathlib2 shim not found at $SHIM_DIR/pathlib2.py (see README.md)"
}

# Starts `slipway server` from this checkout's Release build (SQLite, data under $1, free ports) unless
# CLEARML_API_HOST already names a server, and exports the CLEARML_* variables from what it prints (the URLs)
# and the clearml.conf it writes (the keys: the secret is never printed).
# Sets SERVER_PID (empty when nothing was started); the caller stops it.
start_server_unless_set() {
  local work="$1" repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  SERVER_PID=""
  [ -z "${CLEARML_API_HOST:-}" ] || return 0
  echo "== starting a server"
  dotnet "$repo/src/Slipway/bin/Release/net10.0/slipway.dll" server --data "$work/data" --host 127.0.0.1 \
    --api-port 0 --web-port 0 --files-port 0 >"$work/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    grep -q "^Point the ClearML SDK here" "$work/server.log" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$work/server.log"; die "the server did not start"; }
    sleep 0.1
  done
  field() { sed -n "s/^ *$1 *\(.*\)$/\1/p" "$work/server.log" | head -n 1 | sed 's:/*$::'; }
  export CLEARML_API_HOST="$(field 'API:')" CLEARML_WEB_HOST="$(field 'Web:')" CLEARML_FILES_HOST="$(field 'Files:')"
  key() { sed -n "s/^ *\"$1\": *\"\(.*\)\"$/\1/p" "$work/data/clearml.conf" | head -n 1; }
  export CLEARML_API_ACCESS_KEY="$(key access_key)" CLEARML_API_SECRET_KEY="$(key secret_key)"
}

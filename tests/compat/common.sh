# Shared by the compat scripts (sourced): where the SDK lives, and the checks every flow needs first.
PY="${COMPAT_PYTHON:-/usr/bin/python3}"
SDK_DIR="${COMPAT_SDK_DIR:-/opt/clearml-sdk}"
SHIM_DIR="${COMPAT_SHIM_DIR:-/opt/pyshim}"
COMPAT_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

die() { echo "$(basename "$0"): ERROR: $*" >&2; exit 2; }

# Optional, for every script that calls require_clearml_setup:
#   COMPAT_CONF=<clearml.conf>  take the URLs and keys from that file (e.g. the one `slipway server --data D` writes
#                               to D/clearml.conf) for the CLEARML_* variables that are not set;
#   COMPAT_AS_MEMBER=1          with the (admin) keys found so far, add a fresh user with role member
#                               (`slipway user add --role member`, name COMPAT_MEMBER_NAME, default compat-member-<epoch>-<pid>)
#                               and run every flow with that member's keys instead. Done once: the member's keys are
#                               exported with COMPAT_MEMBER_USER set, so scripts started from this one keep using them.
load_compat_conf() {
  local conf="${COMPAT_CONF:-}"
  [ -n "$conf" ] || return 0
  [ -r "$conf" ] || die "COMPAT_CONF: cannot read $conf"
  confval() { sed -n "s/^[[:space:]]*\"\{0,1\}$1\"\{0,1\}[[:space:]]*[:=][[:space:]]*\"\{0,1\}\([^\"[:space:]]*\)\"\{0,1\}[[:space:]]*$/\1/p" "$conf" | head -n 1 | sed 's:/*$::'; }
  : "${CLEARML_API_HOST:=$(confval api_server)}" "${CLEARML_WEB_HOST:=$(confval web_server)}"
  : "${CLEARML_FILES_HOST:=$(confval files_server)}"
  : "${CLEARML_API_ACCESS_KEY:=$(confval access_key)}" "${CLEARML_API_SECRET_KEY:=$(confval secret_key)}"
  export CLEARML_API_HOST CLEARML_WEB_HOST CLEARML_FILES_HOST CLEARML_API_ACCESS_KEY CLEARML_API_SECRET_KEY
}

switch_to_member() {
  [ "${COMPAT_AS_MEMBER:-0}" = "1" ] || return 0
  [ -z "${COMPAT_MEMBER_USER:-}" ] || return 0   # already switched (inherited from a parent script)
  local dll name out
  dll="$COMPAT_REPO/src/Slipway/bin/Release/net10.0/slipway.dll"
  [ -f "$dll" ] || dll="$COMPAT_REPO/src/Slipway/bin/Debug/net10.0/slipway.dll"
  [ -f "$dll" ] || die "COMPAT_AS_MEMBER: build src/Slipway first (no slipway.dll)"
  name="${COMPAT_MEMBER_NAME:-compat-member-$(date +%s)-$$}"
  # The admin keys come from the CLEARML_* variables (slipway's client commands read them like the SDK does).
  out="$(env -u CLEARML_CONFIG_FILE dotnet "$dll" user add --name "$name" --role member --json)" \
    || die "COMPAT_AS_MEMBER: 'slipway user add --name $name --role member' failed (are the CLEARML_* keys an admin's?)"
  jf() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$out" "$1"; }
  export COMPAT_MEMBER_USER="$(jf user)" COMPAT_MEMBER_NAME="$name"
  export CLEARML_API_ACCESS_KEY="$(jf access_key)" CLEARML_API_SECRET_KEY="$(jf secret_key)"
  [ -n "$CLEARML_API_ACCESS_KEY" ] && [ -n "$CLEARML_API_SECRET_KEY" ] || die "COMPAT_AS_MEMBER: no keys in: $out"
  echo "== running as member '$name' (user $COMPAT_MEMBER_USER, access key $CLEARML_API_ACCESS_KEY)"
}

# The server's URLs and keys must be set, and the interpreter and SDK sources found.
require_clearml_setup() {
  local missing=() v
  load_compat_conf
  for v in CLEARML_API_HOST CLEARML_WEB_HOST CLEARML_FILES_HOST CLEARML_API_ACCESS_KEY CLEARML_API_SECRET_KEY; do
    if [ -z "${!v:-}" ]; then missing+=("$v"); fi
  done
  [ ${#missing[@]} -eq 0 ] || die "missing required environment variable(s): ${missing[*]}"
  [ -x "$PY" ] || die "python interpreter not found: $PY"
  [ -d "$SDK_DIR/clearml" ] || die "ClearML SDK source not found at $SDK_DIR (see README.md)"
  [ -f "$SHIM_DIR/pathlib2.py" ] || die "pathlib2 shim not found at $SHIM_DIR/pathlib2.py (see README.md)"
  switch_to_member
}

# Starts `slipway server` from this checkout's Release build (SQLite, data under $1, free ports) unless
# CLEARML_API_HOST already names a server, and exports the CLEARML_* variables from what it prints (the URLs)
# and the clearml.conf it writes (the keys: the secret is never printed).
# Sets SERVER_PID (empty when nothing was started); the caller stops it.
start_server_unless_set() {
  local work="$1"
  SERVER_PID=""
  load_compat_conf
  [ -z "${CLEARML_API_HOST:-}" ] || return 0
  echo "== starting a server"
  dotnet "$COMPAT_REPO/src/Slipway/bin/Release/net10.0/slipway.dll" server --data "$work/data" --host 127.0.0.1 \
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

# The start the self-contained flows share: WORK, a fresh folder /tmp/slipway-$1.XXXXXX (removed at exit unless
# COMPAT_KEEP_WORK=1); this checkout's Release build, callable as `slipway`; a server started unless CLEARML_API_HOST
# names one; the setup checked; a fresh HOME and SDK cache under WORK, no inherited task or config; the caller in WORK.
# At exit every pid the caller appends to STOP_PIDS, then the server, is stopped: SIGINT as Ctrl+C would, SIGTERM to
# what is left a second later.
begin_flow() {
  WORK="$(mktemp -d "/tmp/slipway-$1.XXXXXX")"
  STOP_PIDS=()
  SERVER_PID=""
  trap end_flow EXIT
  echo "== building"
  dotnet build "$COMPAT_REPO/src/Slipway/Slipway.csproj" -c Release -v q -nologo >"$WORK/build.log" 2>&1 \
    || { tail -n 30 "$WORK/build.log"; die "build failed"; }
  SLIPWAY_DLL="$COMPAT_REPO/src/Slipway/bin/Release/net10.0/slipway.dll"
  # Processes started in the background run `dotnet "$SLIPWAY_DLL"` themselves: `slipway … &` would leave the pid of a
  # subshell running the function, and stopping that would not stop the process.
  slipway() { dotnet "$SLIPWAY_DLL" "$@"; }
  start_server_unless_set "$WORK"
  require_clearml_setup
  export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
  unset CLEARML_CONFIG_FILE CLEARML_TASK_ID CLEARML_AUTH_TOKEN CLEARML_PROC_MASTER_ID || true
  export HOME="$WORK/home" CLEARML_CACHE_DIR="$WORK/home/.clearml/cache"
  mkdir -p "$HOME"
  cd "$WORK" || die "cannot enter $WORK"
}

end_flow() {
  local pids=("${STOP_PIDS[@]}") pid
  [ -z "$SERVER_PID" ] || pids+=("$SERVER_PID")
  if [ ${#pids[@]} -gt 0 ]; then
    kill -INT "${pids[@]}" 2>/dev/null
    for _ in $(seq 1 10); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.1; done
    kill "${pids[@]}" 2>/dev/null
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  fi
  cd / || true
  if [ "${COMPAT_KEEP_WORK:-0}" != "1" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}

# Starts `slipway serve` (free port, fast polls, cache and log under $1), stopped at exit with the flow, and waits for
# the URL it prints. Sets SERVE_PID and URL.
start_serve() {
  local work="$1"
  dotnet "$SLIPWAY_DLL" serve --port 0 --poll 0.2 --cache "$work/cache" >"$work/serve.log" 2>&1 &
  SERVE_PID=$!
  STOP_PIDS+=("$SERVE_PID")
  URL=""
  for _ in $(seq 1 300); do
    URL="$(grep -o 'on http://127.0.0.1:[0-9]*' "$work/serve.log" | head -n 1 | cut -c4-)"
    [ -n "$URL" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$work/serve.log"; die "slipway serve did not start"; }
    sleep 0.1
  done
  [ -n "$URL" ] || die "slipway serve printed no URL"
}

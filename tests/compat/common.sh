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

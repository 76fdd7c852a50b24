#!/usr/bin/env bash
# Flow 2f (agent): the official, unmodified clearml-agent pulls a queued task from a running
# server, executes it with the system interpreter and reports its result back.
#
# What it does:
#   a) creates a task through the REST API (SDK APIClient) in project 'agent-compat' whose code is
#      a literal script in `script.diff` (no repository), entry point job.py, working dir '.',
#      binary python3; the script prints a marker line, calls Task.init() and reports one scalar;
#      then enqueues it on the queue (default: 'default');
#   b) starts `clearml-agent daemon --queue <queue> --foreground` in the background (temporary
#      HOME and TMPDIR, CLEARML_WORKER_ID=compat-agent, no virtualenv: the task runs with the
#      agent's own interpreter), logging to a file;
#   c) polls the task status until 'completed' or 'failed' (default timeout 240 s);
#   d) stops the agent (SIGINT, so it unregisters; then SIGTERM/SIGKILL to its process group);
#   e) verifies: status 'completed', the console log (events.get_task_log, via
#      Task.get_reported_console_output) contains the marker line, the scalar m/v = 1.0 at iteration 1.
#   Prints "FLOW 2f OK <task id>", or what failed (plus the agent log tail) and exits non-zero.
#
# Required environment:
#   CLEARML_API_HOST, CLEARML_WEB_HOST, CLEARML_FILES_HOST, CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY
# Optional:
#   COMPAT_PYTHON          interpreter for the SDK, the agent and the task (default: /usr/bin/python3)
#   COMPAT_SDK_DIR         ClearML SDK source (default: /opt/clearml-sdk)
#   COMPAT_SHIM_DIR        shim modules, e.g. pathlib2.py (default: /opt/pyshim)
#   COMPAT_AGENT_DIR       clearml-agent source, containing clearml_agent/ (default: /opt/clearml-agent)
#   COMPAT_AGENT_QUEUE     queue name (default: default); the queue is created when missing
#   COMPAT_AGENT_TIMEOUT   seconds to wait for the task to finish (default: 240)
#   COMPAT_POLL_TIMEOUT    seconds the read-back checks keep retrying (default: 30)
#   COMPAT_LOG_DIR         where the agent log goes (default: a fresh temp dir, kept)
#   COMPAT_KEEP_HOME=1     keep the temporary HOME after the run
#
# Note: the agent pulls queued tasks in order; if other tasks are already waiting in the queue
# it runs those first (this script warns about them and tries to move its own task to the front).
# Run this flow before flows that leave tasks in the same queue (e.g. 2e), or use COMPAT_AGENT_QUEUE.
#
# Exit status: 0 on success, 1 if a check failed, 2 on setup errors.

set -uo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
AGENT_DIR="${COMPAT_AGENT_DIR:-/opt/clearml-agent}"
QUEUE="${COMPAT_AGENT_QUEUE:-default}"
AGENT_TIMEOUT="${COMPAT_AGENT_TIMEOUT:-240}"
export COMPAT_POLL_TIMEOUT="${COMPAT_POLL_TIMEOUT:-30}"

# ---------------------------------------------------------------- setup checks
require_clearml_setup
[ -f "$AGENT_DIR/clearml_agent/__main__.py" ] || die "clearml-agent source not found at $AGENT_DIR (see README.md)"

# The agent, the SDK and the task all run with $PY; the task inherits this PYTHONPATH (no venv).
export PYTHONPATH="$SDK_DIR:$SHIM_DIR:$AGENT_DIR"
export PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED=1
export CLEARML_API_HOST CLEARML_WEB_HOST CLEARML_FILES_HOST CLEARML_API_ACCESS_KEY CLEARML_API_SECRET_KEY
# never pick up a developer's own config / task / token / worker settings
unset CLEARML_CONFIG_FILE TRAINS_CONFIG_FILE CLEARML_TASK_ID TRAINS_TASK_ID CLEARML_AUTH_TOKEN \
      CLEARML_PROC_MASTER_ID CLEARML_TASK_NO_REUSE CLEARML_WORKER_NAME CLEARML_AGENT_FORCE_CODE_DIR \
      CLEARML_AGENT_FORCE_EXEC_SCRIPT CLEARML_OFFLINE_MODE || true

# Temporary HOME: the agent writes ~/.clearml/{venvs-builds,vcs-cache,pip-download-cache,...}
# (the literal script is written to ~/.clearml/venvs-builds/...), the SDK its cache under ~/.clearml.
# TMPDIR: the agent keeps its singleton pid/lock files and temp config/log files there.
TMP_HOME="$(mktemp -d /tmp/clearml-agent-home.XXXXXX)"
export HOME="$TMP_HOME"
export TMPDIR="$TMP_HOME/tmp"
export CLEARML_CACHE_DIR="$TMP_HOME/.clearml/cache"
mkdir -p "$TMPDIR"
LOG_DIR="${COMPAT_LOG_DIR:-$(mktemp -d /tmp/clearml-agent-logs.XXXXXX)}"
mkdir -p "$LOG_DIR"
AGENT_LOG="$LOG_DIR/agent.log"
HELPER="$TMP_HOME/flow_2f_helper.py"

AGENT_PID=""
stop_agent() {
  [ -n "$AGENT_PID" ] || return 0
  # SIGINT first: the daemon handles KeyboardInterrupt and unregisters the worker. If a task is
  # still running, the first SIGINT only aborts that task and the daemon keeps polling: send a second.
  local _round
  for _round in 1 2; do
    kill -0 "$AGENT_PID" 2>/dev/null || break
    kill -INT "$AGENT_PID" 2>/dev/null || true
    for _ in $(seq 1 10); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 1; done
  done
  # the agent was started with setsid: its pid is its process group id; clean up leftovers
  kill -TERM -- "-$AGENT_PID" 2>/dev/null || true
  sleep 1
  kill -KILL -- "-$AGENT_PID" 2>/dev/null || true
  wait "$AGENT_PID" 2>/dev/null || true
  AGENT_PID=""
}
cleanup() {
  stop_agent
  if [ "${COMPAT_KEEP_HOME:-0}" != "1" ]; then rm -rf "$TMP_HOME"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_agent_log() {
  echo "---- last lines of the agent log ($AGENT_LOG) ----" >&2
  tail -n 60 "$AGENT_LOG" 2>/dev/null | sed 's/^/| /' >&2
  echo "----" >&2
}

# ---------------------------------------------------------------- python helper (create / wait / verify)
cat >"$HELPER" <<'PYEOF'
"""Helper for flow_2f_agent.sh (uses only the public ClearML SDK API)."""
import os
import sys
import time

from clearml import Task
from clearml.backend_api.session.client import APIClient

PROJECT = "agent-compat"

# The task's code (stored verbatim in script.diff, run by the agent as job.py).
JOB_CODE = '''\
import sys
from clearml import Task

print("{marker}")
sys.stdout.flush()
t = Task.init()
t.get_logger().report_scalar("m", "v", 1.0, iteration=1)
t.get_logger().flush()
print("agent-compat job done, task", t.id)
sys.exit(0)
'''


def fail(msg):
    print("[2f] ERROR: " + msg, file=sys.stderr)
    sys.exit(1)


def find_one(items, name):
    items = [i for i in (items or []) if getattr(i, "name", None) == name]
    return items[0] if items else None


def create(queue_name, marker):
    client = APIClient()
    project = find_one(client.projects.get_all(name="^{}$".format(PROJECT)), PROJECT)
    project_id = project.id if project else client.projects.create(
        name=PROJECT, description="clearml-agent compat flow 2f").id
    queue = find_one(client.queues.get_all(name="^{}$".format(queue_name)), queue_name)
    queue_id = queue.id if queue else client.queues.create(name=queue_name).id

    task = client.tasks.create(
        name="agent-job-{}".format(int(time.time())),
        project=project_id,
        type="training",
        script={
            "binary": "python3",
            "repository": "",
            "branch": "",
            "version_num": "",
            "entry_point": "job.py",
            "working_dir": ".",
            "diff": JOB_CODE.format(marker=marker),
            "requirements": {},
        },
    )
    task_id = task.id
    print("AGENT_TASK_ID {}".format(task_id))

    ahead = []
    try:
        ahead = [e.task for e in (client.queues.get_by_id(queue=queue_id).entries or [])]
    except Exception as ex:
        print("[2f] note: could not read queue entries: {}".format(ex))
    client.tasks.enqueue(task=task_id, queue=queue_id)
    if ahead:
        print("[2f] WARNING: {} other task(s) already waiting in queue '{}' ({}); the agent runs them first"
              .format(len(ahead), queue_name, ", ".join(ahead)))
        try:
            client.queues.move_task_to_front(queue=queue_id, task=task_id)
            print("[2f] moved our task to the front of the queue")
        except Exception as ex:
            print("[2f] note: could not move our task to the front: {}".format(ex))
    status = client.tasks.get_by_id(task=task_id).status
    print("[2f] task {} created and enqueued on '{}' ({}), status '{}'".format(task_id, queue_name, queue_id, status))
    if str(status) != "queued":
        fail("task status after enqueue is '{}', expected 'queued'".format(status))


def wait(task_id, agent_pid, timeout):
    client = APIClient()
    deadline = time.time() + float(timeout)
    last = None
    while True:
        try:
            status = str(client.tasks.get_by_id(task=task_id).status)
        except Exception as ex:
            status = "error: {}".format(ex)
        if status != last:
            print("[2f] {:.0f}s left, task status: {}".format(max(0, deadline - time.time()), status))
            sys.stdout.flush()
            last = status
        if status in ("completed", "failed", "stopped", "closed", "published"):
            print("FINAL_STATUS {}".format(status))
            return
        try:
            os.kill(int(agent_pid), 0)
        except OSError:
            print("FINAL_STATUS agent-exited({})".format(status))
            fail("the agent process exited before the task finished")
        if time.time() > deadline:
            print("FINAL_STATUS timeout({})".format(status))
            fail("timed out after {}s waiting for the task to finish (status '{}')".format(timeout, status))
        time.sleep(2)


def verify(task_id, marker):
    failures = []

    def check(cond, what, detail=None):
        if cond:
            print("[2f] check ok: {}".format(what))
        else:
            print("[2f] CHECK FAILED: {}{}".format(what, "" if detail is None else " -- {}".format(detail)),
                  file=sys.stderr)
            failures.append(what)
        sys.stdout.flush()
        sys.stderr.flush()

    poll_timeout = float(os.environ.get("COMPAT_POLL_TIMEOUT", "30"))

    def poll(fn, accept):
        deadline = time.time() + poll_timeout
        while True:
            try:
                last = fn()
            except Exception as ex:
                last = ex
            if not isinstance(last, Exception) and accept(last):
                return last
            if time.time() >= deadline:
                return last
            time.sleep(1)

    task = Task.get_task(task_id=task_id)
    status = task.get_status()
    check(status == "completed", "task status is 'completed'", status)
    try:
        data = APIClient().tasks.get_by_id(task=task_id)
        print("[2f] info: status_reason={!r} status_message={!r} last_worker={!r}".format(
            getattr(data, "status_reason", None), getattr(data, "status_message", None),
            getattr(data, "last_worker", None)))
    except Exception as ex:
        print("[2f] info: could not read task details: {}".format(ex))
    # informational only: the stopped agent should have unregistered itself (workers.unregister)
    try:
        workers = [w.id for w in (APIClient().workers.get_all() or [])]
        print("[2f] info: worker 'compat-agent' still registered after the agent stopped: {}".format(
            "compat-agent" in workers))
    except Exception as ex:
        print("[2f] info: could not list workers: {}".format(ex))

    def console():
        return "\n".join(task.get_reported_console_output(number_of_reports=1000) or [])

    log = poll(console, lambda s: marker in s)
    log = log if isinstance(log, str) else ""
    check(marker in log, "console log contains the printed marker line",
          "marker {!r} not found; console log ({} chars) ends with: {!r}".format(marker, len(log), log[-800:]))

    def scalar_value():
        scalars = task.get_reported_scalars() or {}
        series = (scalars.get("m") or {}).get("v") or {}
        return list(series.get("x") or []), list(series.get("y") or [])

    xy = poll(scalar_value, lambda r: 1 in r[0] or 1.0 in r[0])
    ok = isinstance(xy, tuple) and list(zip(*xy)) and any(
        float(x) == 1.0 and abs(float(y) - 1.0) < 1e-9 for x, y in zip(*xy))
    check(bool(ok), "scalar m/v = 1.0 at iteration 1 reported", xy)

    if failures:
        fail("{} check(s) failed: {}".format(len(failures), "; ".join(failures)))
    print("FLOW 2f OK {}".format(task_id))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "create":
        create(sys.argv[2], sys.argv[3])
    elif cmd == "wait":
        wait(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "verify":
        verify(sys.argv[2], sys.argv[3])
    else:
        print("usage: flow_2f_helper.py create|wait|verify ...", file=sys.stderr)
        sys.exit(2)
PYEOF

SDK_VERSION="$(cd "$TMP_HOME" && "$PY" -c 'import clearml; print(clearml.__version__)' 2>&1)" \
  || die "cannot import the ClearML SDK with $PY: $SDK_VERSION"
AGENT_VERSION="$(cd "$TMP_HOME" && "$PY" -c 'from clearml_agent.version import __version__; print(__version__)' 2>&1)" \
  || die "cannot import clearml_agent with $PY: $AGENT_VERSION"

echo "== flow 2f: clearml-agent runs a queued task"
echo "   sdk        : $SDK_VERSION ($SDK_DIR)"
echo "   agent      : $AGENT_VERSION ($AGENT_DIR)"
echo "   python     : $("$PY" --version 2>&1) ($PY)"
echo "   api host   : $CLEARML_API_HOST"
echo "   queue      : $QUEUE"
echo "   temp HOME  : $TMP_HOME"
echo "   agent log  : $AGENT_LOG"

# ---------------------------------------------------------------- a) create + enqueue
MARKER="AGENT-COMPAT-MARKER-$(date +%s)-$$-$RANDOM"
CREATE_OUT="$(cd "$TMP_HOME" && "$PY" "$HELPER" create "$QUEUE" "$MARKER" 2>&1)"
rc=$?
echo "$CREATE_OUT" | sed 's/^/   /'
TASK_ID="$(echo "$CREATE_OUT" | sed -n 's/^AGENT_TASK_ID \([0-9A-Za-z_-]\{1,\}\).*$/\1/p' | head -n 1)"
if [ $rc -ne 0 ] || [ -z "$TASK_ID" ]; then
  echo "FLOW 2f FAILED: could not create/enqueue the task (exit $rc)" >&2
  exit 1
fi

# ---------------------------------------------------------------- b) start the agent
# CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL=1: no virtualenv, no pip install; the code goes to
#   ~/.clearml/venvs-builds and runs with the agent's interpreter (sys.executable = $PY).
# CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=$PY: same intent for code paths that read this one instead.
# The agent reads its server/credentials from the CLEARML_* variables above (no clearml.conf).
echo "-- starting: $PY -m clearml_agent daemon --queue $QUEUE --foreground"
(
  cd "$TMP_HOME" || exit 2
  export CLEARML_WORKER_ID=compat-agent
  export CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL=1
  export CLEARML_AGENT_SKIP_PIP_VENV_INSTALL="$PY"
  exec setsid "$PY" -m clearml_agent daemon --queue "$QUEUE" --foreground
) >"$AGENT_LOG" 2>&1 </dev/null &
AGENT_PID=$!

# ---------------------------------------------------------------- c) wait for the task
(cd "$TMP_HOME" && "$PY" "$HELPER" wait "$TASK_ID" "$AGENT_PID" "$AGENT_TIMEOUT") 2>&1 | sed 's/^/   /'
WAIT_RC=${PIPESTATUS[0]}

# ---------------------------------------------------------------- d) stop the agent
stop_agent
echo "-- agent stopped"

# ---------------------------------------------------------------- e) verify
if [ "$WAIT_RC" -ne 0 ]; then
  show_agent_log
  echo "FLOW 2f FAILED: task $TASK_ID did not finish (see above)" >&2
  exit 1
fi
if (cd "$TMP_HOME" && "$PY" "$HELPER" verify "$TASK_ID" "$MARKER"); then
  exit 0
fi
show_agent_log
echo "FLOW 2f FAILED: task $TASK_ID" >&2
exit 1

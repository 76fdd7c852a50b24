#!/usr/bin/env bash
# `slipway agent` runs a task made by the official ClearML Python SDK (not run in CI).
#
#   1. the SDK runs train.py locally: Task.init, argparse --lr (default 0.1), prints LR=<lr>, reports the scalar
#      loss/train = lr at iterations 0..2; the task completes (its code is recorded as a literal script);
#   2. the SDK clones that task, sets Args/lr = 0.5 on the clone and enqueues it (Task.clone, set_parameter,
#      Task.enqueue);
#   3. `slipway agent --queue <queue> --system-python` (this checkout, Release) pulls and runs the clone; with
#      COMPAT_AGENT=official the official `clearml-agent daemon --queue <queue> --foreground` (from
#      COMPAT_AGENT_DIR, default /opt/clearml-agent, no venv) runs it instead;
#   4. checks, through the SDK: the clone is completed, its console (shipped by the agent) holds LR=0.5, the
#      changed hyperparameter reached argparse, and the scalar loss/train is 0.5.
#
# With no CLEARML_API_HOST set it starts its own server (SQLite, temporary data, free ports) and stops it at the
# end. Needs the SDK as tests/compat/README.md describes. Optional: COMPAT_PYTHON, COMPAT_SDK_DIR,
# COMPAT_SHIM_DIR, COMPAT_AGENT_QUEUE (default slipway-agent-<epoch>), COMPAT_KEEP_WORK=1.
# Prints "FLOW AGENT SLIPWAY OK <task id>" (or OFFICIAL) and exits 0 on success; 1 when a check fails, 2 on setup errors.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$HERE/common.sh"

begin_flow agent-flow
export PYTHONPATH="$SDK_DIR:$SHIM_DIR"
mkdir -p "$WORK/code"
QUEUE="${COMPAT_AGENT_QUEUE:-slipway-agent-$(date +%s)}"
PROJECT="agent-flow-$(date +%s)"

cat >"$WORK/code/train.py" <<'PY'
import argparse
from clearml import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
task = Task.init(project_name=__import__("os").environ.get("FLOW_PROJECT", "agent-flow"), task_name="agent-flow-train")
args = parser.parse_args()
print(f"LR={args.lr}")
for i in range(3):
    task.get_logger().report_scalar("loss", "train", value=args.lr, iteration=i)
task.close()
PY

cat >"$WORK/helper.py" <<'PY'
import sys, time
from clearml import Task

def clone(source_id, queue):
    source = Task.get_task(task_id=source_id)
    copy = Task.clone(source_task=source, name="agent-flow-clone")
    copy.set_parameter("Args/lr", 0.5)
    Task.enqueue(copy, queue_name=queue)
    print(copy.id)

def check(task_id, timeout):
    deadline = time.time() + timeout
    task = Task.get_task(task_id=task_id)
    while time.time() < deadline:
        task.reload()
        if task.get_status() in ("completed", "failed", "stopped"):
            break
        time.sleep(1)
    ok = True
    def expect(name, cond, detail=""):
        nonlocal ok
        print(("PASS " if cond else "FAIL ") + name + ("" if cond else f": {detail}"))
        ok = ok and cond
    expect("status completed", task.get_status() == "completed", task.get_status() + " " + str(task.data.status_reason))
    console = "".join(e if isinstance(e, str) else e.get("msg", "") for e in task.get_reported_console_output(number_of_reports=100) or [])
    expect("console holds LR=0.5 (the changed hyperparameter reached argparse)", "LR=0.5" in console, console[-2000:])
    expect("Args/lr is 0.5 on the task", str(task.get_parameter("Args/lr")) == "0.5", task.get_parameter("Args/lr"))
    scalars = task.get_reported_scalars()
    values = scalars.get("loss", {}).get("train", {}).get("y", [])
    expect("scalar loss/train = 0.5 at 3 iterations", len(values) == 3 and all(abs(v - 0.5) < 1e-9 for v in values), scalars)
    return ok

if sys.argv[1] == "clone":
    clone(sys.argv[2], sys.argv[3])
else:
    sys.exit(0 if check(sys.argv[2], float(sys.argv[3])) else 1)
PY

echo "== 1. the SDK runs train.py locally"
(cd "$WORK/code" && FLOW_PROJECT="$PROJECT" "$PY" train.py >"$WORK/local.log" 2>&1) || { tail -n 30 "$WORK/local.log"; die "the local run failed"; }
SOURCE_ID="$(sed -n 's/.*ClearML Task: .*id=\([0-9a-f]*\).*/\1/p' "$WORK/local.log" | head -n 1)"
[ -n "$SOURCE_ID" ] || SOURCE_ID="$(cd "$WORK" && "$PY" -c "from clearml import Task; print(Task.get_task(project_name='$PROJECT', task_name='agent-flow-train').id)")"
echo "   source task: $SOURCE_ID"

echo "== 2. the SDK clones it with Args/lr=0.5 and enqueues it on $QUEUE"
slipway queue create "$QUEUE" >/dev/null || die "could not create the queue"
CLONE_ID="$(cd "$WORK" && "$PY" "$WORK/helper.py" clone "$SOURCE_ID" "$QUEUE" 2>"$WORK/clone.log" | tail -n 1)"
[ -n "$CLONE_ID" ] || { cat "$WORK/clone.log"; die "clone failed"; }
echo "   clone: $CLONE_ID"

if [ "${COMPAT_AGENT:-slipway}" = "official" ]; then
  echo "== 3. the official clearml-agent runs it"
  AGENT_DIR="${COMPAT_AGENT_DIR:-/opt/clearml-agent}"
  [ -f "$AGENT_DIR/clearml_agent/__main__.py" ] || die "clearml-agent source not found at $AGENT_DIR"
  (
    cd "$WORK" || exit 2
    export PYTHONPATH="$SDK_DIR:$SHIM_DIR:$AGENT_DIR" TMPDIR="$WORK" CLEARML_WORKER_ID=compat-official-agent
    export CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL=1 CLEARML_AGENT_SKIP_PIP_VENV_INSTALL="$PY"
    exec "$PY" -m clearml_agent daemon --queue "$QUEUE" --foreground
  ) >"$WORK/agent.log" 2>&1 </dev/null &
else
  echo "== 3. slipway agent runs it"
  dotnet "$SLIPWAY_DLL" agent --queue "$QUEUE" --system-python --python "$PY" --work-dir "$WORK/agent" >"$WORK/agent.log" 2>&1 &
fi
STOP_PIDS+=($!)

echo "== 4. checks"
if (cd "$WORK" && "$PY" "$WORK/helper.py" check "$CLONE_ID" 180); then
  echo "FLOW AGENT $(tr '[:lower:]' '[:upper:]' <<<"${COMPAT_AGENT:-slipway}") OK $CLONE_ID"
  exit 0
fi
echo "--- agent log (tail)"; tail -n 40 "$WORK/agent.log"
exit 1

#!/usr/bin/env python3
"""Flow 2a (fail): a task whose script dies with an uncaught exception must end up 'failed'.

Usage:
  flow_2a_fail.py run            -> Task.init, print "FAIL_TASK_ID <id>", raise (exits non-zero on purpose)
  flow_2a_fail.py check <id>     -> Task.get_task(<id>) and verify status == 'failed'
                                    prints "FLOW 2a-fail OK <id>"
"""
import sys

from clearml import Task

from compat_common import Checker, poll, project_name


class CompatDeliberateError(RuntimeError):
    pass


def run():
    task = Task.init(project_name=project_name(), task_name="fail", reuse_last_task_id=False)
    print("FAIL_TASK_ID {}".format(task.id))
    print("COMPAT-STDOUT about to raise")
    sys.stdout.flush()
    raise CompatDeliberateError("deliberate failure for the compat flow")


def check(task_id):
    chk = Checker("2a-fail")
    t = Task.get_task(task_id=task_id)
    chk.check(t is not None and t.id == task_id, "Task.get_task returns the task", getattr(t, "id", None))
    status = poll(t.get_status, lambda s: s == "failed")
    chk.check(status == "failed", "status is 'failed' after an uncaught exception", status)
    chk.finish("FLOW 2a-fail OK {}".format(task_id))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        run()
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

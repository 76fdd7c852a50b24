#!/usr/bin/env python3
"""Flow 2a (reuse): two separate processes call Task.init with the same project/name.

The SDK reuses the previous task id when (among other things) the previous task
has the 'development' system tag, no artifacts / output models and is not
published or closed; the last-used id is remembered in the SDK session cache
under $HOME, so both runs must share the same HOME.

Usage:
  flow_2a_reuse.py first                 -> Task.init, close; prints "REUSE_FIRST_ID <id>"
  flow_2a_reuse.py second <first_id>     -> Task.init again, prints "REUSED: yes|no"
                                            and "FLOW 2a-reuse OK <id>" when reused
Set COMPAT_REUSE_SOFT=1 to only report (exit 0) when the id was not reused.
"""
import os
import sys

from clearml import Task

from compat_common import Checker, project_name

TASK_NAME = "reuse-check"


def first():
    task = Task.init(project_name=project_name(), task_name=TASK_NAME)
    print("REUSE_FIRST_ID {}".format(task.id))
    print("COMPAT-STDOUT reuse first run")
    task.close()


def second(first_id):
    chk = Checker("2a-reuse")
    task = Task.init(project_name=project_name(), task_name=TASK_NAME)
    second_id = task.id
    reused = second_id == first_id
    print("REUSE_SECOND_ID {}".format(second_id))
    print("REUSED: {}".format("yes" if reused else "no"))
    tags = list(task.get_system_tags() or [])
    status = task.get_status()
    task.close()
    chk.check("development" in tags, "reused task carries the 'development' system tag", tags)
    chk.check(status == "in_progress", "task is in_progress after Task.init", status)
    if os.environ.get("COMPAT_REUSE_SOFT") == "1":
        if not reused:
            print("[2a-reuse] note: task id NOT reused (soft mode, not failing)")
    else:
        chk.check(reused, "second Task.init reused the first task id",
                  "first={} second={}".format(first_id, second_id))
    chk.finish("FLOW 2a-reuse OK {}".format(second_id))


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "first":
        first()
    elif len(sys.argv) == 3 and sys.argv[1] == "second":
        second(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

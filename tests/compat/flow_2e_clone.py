#!/usr/bin/env python3
"""Flow 2e (clone + enqueue): clone an existing task and put the clone into the 'default' queue.

Usage:
  flow_2e_clone.py <source_task_id> [queue_name]

Verifies the clone is a new task named 'cloned-exp', parented to the source,
that it kept the source's hyper-parameters, and that its status is 'queued'.
Prints "FLOW 2e OK <cloned_id>".
"""
import sys

from clearml import Task

from compat_common import Checker, poll


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    source_id = sys.argv[1]
    queue_name = sys.argv[2] if len(sys.argv) == 3 else "default"
    chk = Checker("2e-clone")

    source = Task.get_task(task_id=source_id)
    chk.check(source is not None and source.id == source_id, "source task found", getattr(source, "id", None))
    src_params = source.get_parameters() or {}

    cloned = Task.clone(source_task=source, name="cloned-exp")
    print("CLONED_TASK_ID {}".format(cloned.id))
    chk.check(cloned.id and cloned.id != source_id, "clone has a new id", cloned.id)
    chk.check(cloned.name == "cloned-exp", "clone is named 'cloned-exp'", cloned.name)
    chk.check(cloned.get_status() == "created", "clone starts in 'created'", cloned.get_status())

    Task.enqueue(cloned, queue_name=queue_name)

    back = Task.get_task(task_id=cloned.id)
    status = poll(back.get_status, lambda s: s == "queued")
    chk.check(status == "queued", "cloned task status is 'queued'", status)
    chk.check(back.parent == source_id, "clone's parent is the source task", back.parent)
    cl_params = back.get_parameters() or {}
    for key in ("General/batch", "General/opt"):
        if key in src_params:
            chk.check(cl_params.get(key) == src_params.get(key), "clone kept hyper-param {}".format(key),
                      "{!r} vs {!r}".format(cl_params.get(key), src_params.get(key)))
    chk.finish("FLOW 2e OK {}".format(cloned.id))


if __name__ == "__main__":
    main()

"""Shared helpers for the ClearML SDK compatibility flows (tests/compat).

These scripts only use the public API of the official, unmodified ClearML
Python SDK. They are run by run_all.sh with Debian's /usr/bin/python3.
"""
import hashlib
import os
import sys
import time


def sha256(path):
    """The SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def project_name():
    return os.environ.get("COMPAT_PROJECT") or "compat"


class CheckFailed(Exception):
    pass


class Checker(object):
    """Collects check results; exits non-zero at the end if any check failed."""

    def __init__(self, flow):
        self.flow = flow
        self.failures = []

    def check(self, condition, what, detail=None):
        if condition:
            print("[{}] check ok: {}".format(self.flow, what))
        else:
            msg = "[{}] CHECK FAILED: {}".format(self.flow, what)
            if detail is not None:
                msg += " -- {}".format(detail)
            print(msg, file=sys.stderr)
            self.failures.append(what)
        sys.stdout.flush()
        sys.stderr.flush()
        return condition

    def finish(self, ok_line):
        if self.failures:
            print("[{}] FAILED ({} check(s)): {}".format(
                self.flow, len(self.failures), "; ".join(self.failures)), file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)
        print(ok_line)
        sys.stdout.flush()


def poll(fn, accept, timeout=None, interval=1.0):
    """Call fn() until accept(result) is true or the timeout expires; returns the last result
    (or None when the last call raised).

    The server may need a moment to make freshly reported events visible, so reads are retried.
    """
    if timeout is None:
        timeout = float(os.environ.get("COMPAT_POLL_TIMEOUT", "30"))
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            last = fn()
        except Exception as ex:  # keep polling, but remember the error
            last = ex
        if not isinstance(last, Exception) and accept(last):
            return last
        if time.time() >= deadline:
            if isinstance(last, Exception):
                print("poll: giving up, last call raised {}: {}".format(type(last).__name__, last),
                      file=sys.stderr)
                return None
            return last
        time.sleep(interval)

"""Slipway's Python serving worker: runs one endpoint version's Preprocess class for the inference host.

The host starts one worker per endpoint version and talks to it over this process's stdin and stdout with
length-prefixed frames (see WorkerProtocol.cs); user code's own prints go to stderr, which the host logs. The worker
answers one request at a time, in the order they arrive; the host matches answers to requests by id.

Frame: u32 payload length, u32 request id, u8 kind (little-endian), then the payload.
  host -> worker  1 call with a JSON body, 2 call with a raw bytes body; 3 and 4 the same for a request the endpoint's
                  metric rule does not sample (collect_custom_statistics_fn is None, as in clearml-serving)
  worker -> host  10 ready, 11 load failed, 12 JSON answer, 13 bytes answer, 14 error
An answer's payload is u32 meta length, meta JSON ({"ns": time in the hooks, "stats": custom statistics}), the result.
"""

import asyncio
import importlib.util
import inspect
import json
import os
import struct
import sys
import threading
import time
import traceback
import types

HEADER = struct.Struct("<IIB")
META = struct.Struct("<I")
CALL_JSON, CALL_BYTES = 1, 2
NOT_SAMPLED = 2  # added to a call's kind
READY, LOAD_FAILED, ANSWER_JSON, ANSWER_BYTES, ERROR = 10, 11, 12, 13, 14


def parse_args(argv):
    args = {}
    i = 0
    while i + 1 < len(argv):
        if argv[i].startswith("--"):
            args[argv[i][2:]] = argv[i + 1]
        i += 2
    return args


def load_module(path):
    """Imports a preprocess file, or a folder with __init__.py, as clearml-serving does."""
    if os.path.isdir(path):
        spec = importlib.util.spec_from_file_location(
            "slipway_preprocess", os.path.join(path, "__init__.py"), submodule_search_locations=[path])
    else:
        spec = importlib.util.spec_from_file_location("slipway_preprocess", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def to_json(value):
    """numpy arrays and scalars (and anything with tolist/item) become plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError("the answer holds a %s, which is not JSON serializable" % type(value).__name__)


def error_payload(stage, e):
    return json.dumps({
        "stage": stage,
        "type": type(e).__name__,
        "message": str(e),
        "traceback": "".join(traceback.format_exception(type(e), e, e.__traceback__))[-4000:],
    }).encode()


class Worker:
    def __init__(self, out_fd):
        self.out_fd = out_fd
        self.loop = None

    def send(self, request_id, kind, payload):
        data = HEADER.pack(len(payload), request_id, kind) + payload
        view = memoryview(data)
        while view:
            written = os.write(self.out_fd, view)
            view = view[written:]

    def run_hook(self, hook, *args):
        result = hook(*args)
        if inspect.isawaitable(result):
            # custom_async style hooks: run the coroutine to completion on the worker's own loop.
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            result = self.loop.run_until_complete(result)
        return result

    def serve(self, preprocess, stdin):
        has_pre = callable(getattr(preprocess, "preprocess", None))
        has_process = callable(getattr(preprocess, "process", None))
        has_post = callable(getattr(preprocess, "postprocess", None))
        read = stdin.read
        while True:
            header = read(HEADER.size)
            if len(header) < HEADER.size:
                return
            length, request_id, kind = HEADER.unpack(header)
            payload = read(length) if length else b""
            if len(payload) < length:
                return
            stage = "request"
            stats = {}
            sampled = kind <= CALL_BYTES
            if not sampled:
                kind -= NOT_SAMPLED
            try:
                if kind == CALL_JSON:
                    stage = "body"
                    try:
                        body = json.loads(payload)
                    except ValueError as e:
                        raise ValueError("the body is not JSON: %s" % e) from None
                else:
                    body = bytes(payload)
                state = {}
                collect = stats.update if sampled else None
                started = time.perf_counter_ns()
                stage = "preprocess"
                data = self.run_hook(preprocess.preprocess, body, state, collect) if has_pre else body
                stage = "process"
                # As clearml-serving's custom engine: without process() there is nothing to run and the data is None.
                data = self.run_hook(preprocess.process, data, state, collect) if has_process else None
                stage = "postprocess"
                data = self.run_hook(preprocess.postprocess, data, state, collect) if has_post else data
                elapsed = time.perf_counter_ns() - started
                stage = "answer"
                if isinstance(data, (bytes, bytearray, memoryview)):
                    kind_out, result = ANSWER_BYTES, bytes(data)
                else:
                    kind_out, result = ANSWER_JSON, json.dumps(data, default=to_json, separators=(",", ":")).encode()
                meta = {"ns": elapsed}
                if stats:
                    meta["stats"] = json.loads(json.dumps(stats, default=to_json))
                meta_bytes = json.dumps(meta, separators=(",", ":")).encode()
                self.send(request_id, kind_out, META.pack(len(meta_bytes)) + meta_bytes + result)
            except Exception as e:  # the worker keeps serving; the host answers with the error
                self.send(request_id, ERROR, error_payload(stage, e))


def watch_parent(parent):
    """Ends the worker when the host is gone, even if user code never returns to read stdin."""
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(3)


def main():
    args = parse_args(sys.argv[1:])
    # Frames go to a private copy of stdout; fd 1 becomes stderr, so print() in user code cannot corrupt the protocol.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    worker = Worker(out_fd)
    code = args.get("code", "")
    try:
        folder = code if os.path.isdir(code) else os.path.dirname(os.path.abspath(code))
        if folder not in sys.path:
            sys.path.insert(0, folder)
        started = time.perf_counter()
        module = load_module(code)
        cls = getattr(module, "Preprocess", None)
        if cls is None:
            raise AttributeError("%s defines no class named Preprocess" % os.path.basename(code))
        preprocess = cls()
        preprocess.model_endpoint = types.SimpleNamespace(
            engine_type="python",
            serving_url=args.get("endpoint", ""),
            version=args.get("version", ""),
            model_id=args.get("model-id", ""),
            preprocess_artifact=os.path.basename(code),
        )
        if callable(getattr(preprocess, "load", None)):
            worker.run_hook(preprocess.load, args.get("model", ""))
        ready = {"load_ms": round((time.perf_counter() - started) * 1000, 3), "python": sys.version.split()[0]}
        worker.send(0, READY, json.dumps(ready).encode())
    except BaseException as e:  # SystemExit too: a load that exits is a load that failed
        worker.send(0, LOAD_FAILED, error_payload("load", e))
        return 2
    worker.serve(preprocess, stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())

using System.Text.Json.Nodes;

namespace Slipway.Serving.Tests.Infrastructure;

/// <summary>
/// A clearml-serving style preprocess.py that needs only the standard library: its "model" is a JSON file of linear weights
/// (y = w·x + b). The model file can also name files the code uses to show where it is (its pid while loading or while
/// answering) and a gate file that load() waits for, so tests can kill a worker mid-load or mid-request deterministically.
/// </summary>
public static class PythonCode
{
    public const string Linear = """
        import json
        import os
        import time


        def _touch(path, text):
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)


        class Preprocess(object):
            def __init__(self):
                self.model = None
                self.instances = getattr(Preprocess, "instances", 0) + 1
                Preprocess.instances = self.instances
                self.requests = 0

            def load(self, local_file_name):
                with open(local_file_name) as f:
                    model = json.load(f)
                if model.get("loading_pid"):
                    _touch(model["loading_pid"], str(os.getpid()))
                if model.get("gate"):
                    while not os.path.exists(model["gate"]):
                        time.sleep(0.02)
                if model.get("fail_load"):
                    raise RuntimeError("cannot read weights: " + model["fail_load"])
                model["file"] = os.path.basename(local_file_name)
                self.model = model
                return model

            def preprocess(self, body, state, collect_custom_statistics_fn):
                assert state == {}, "state must be fresh per request"
                if isinstance(body, bytes):
                    state["raw"] = len(body)
                    state["scale"] = 1.0
                    return [float(len(body))] + [0.0] * (len(self.model["w"]) - 1)
                if "inputs" in body:
                    x = body["inputs"][0]["data"]
                else:
                    x = body["x"]
                if body.get("fail") == "value":
                    raise ValueError("x must have %d numbers" % len(self.model["w"]))
                state["fail"] = body.get("fail")
                state["hang"] = body.get("hang")
                state["raw_answer"] = body.get("raw_answer")
                state["v2"] = "inputs" in body
                state["scale"] = float(body.get("scale", 1))
                if collect_custom_statistics_fn:
                    collect_custom_statistics_fn({"x0": x[0], "kind": body.get("kind", "plain")})
                return x

            def process(self, data, state, collect_custom_statistics_fn):
                if state.get("fail") == "zero":
                    return 1 / 0
                if state.get("hang"):
                    _touch(self.model["serving_pid"], str(os.getpid()))
                    time.sleep(120)
                print("process called", flush=True)  # goes to the host's log, never into the protocol
                y = sum(w * v for w, v in zip(self.model["w"], data)) + self.model["b"]
                return y

            def postprocess(self, data, state, collect_custom_statistics_fn):
                self.requests += 1
                y = data * state["scale"]
                if state.get("raw_answer"):
                    return ("y=%g" % y).encode()
                if state.get("v2"):
                    return {"outputs": [{"name": "y", "datatype": "FP64", "shape": [1], "data": [y]}]}
                if collect_custom_statistics_fn:
                    collect_custom_statistics_fn({"y": y})
                return {
                    "y": y,
                    "raw": state.get("raw"),
                    "requests": self.requests,
                    "instances": self.instances,
                    "file": self.model["file"],
                    "endpoint": self.model_endpoint.serving_url,
                    "version": self.model_endpoint.version,
                    "pid": os.getpid(),
                }
        """;

    /// <summary>The model file: weights, bias and optional control files.</summary>
    public static byte[] Weights(double[] w, double b, JsonObject? extra = null)
    {
        var model = extra ?? [];
        model["w"] = new JsonArray(w.Select(v => (JsonNode)v).ToArray());
        model["b"] = b;
        return System.Text.Encoding.UTF8.GetBytes(model.ToJsonString());
    }
}

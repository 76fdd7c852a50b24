"""Model interop between the official ClearML Python SDK and Slipway (tests/compat/model_interop.sh).

make            register a model with OutputModel.update_weights (uploaded to the file server);
                prints "MODEL <id> <sha256>"
get <id>        download a model with Model(id).get_local_copy(); prints "GOT <sha256>"
scalars <task>  read a task's scalars with Task.get_task(...).get_reported_scalars(); prints "SCALARS <json>"
"""
import json
import os
import sys
import tempfile

from compat_common import sha256
from clearml import Model, OutputModel, Task


def make():
    task = Task.init(project_name="compat/models", task_name="python model", output_uri=True)
    folder = tempfile.mkdtemp()
    weights = os.path.join(folder, "weights.bin")
    with open(weights, "wb") as f:
        f.write(os.urandom(300 * 1024 + 17))
    digest = sha256(weights)  # update_weights deletes the local file once uploaded
    model = OutputModel(task=task, name="python model", framework="PyTorch")
    model.update_weights(weights_filename=weights, iteration=3)
    task.flush(wait_for_uploads=True)
    print("MODEL {} {}".format(model.id, digest))
    task.close()


def get(model_id):
    path = Model(model_id=model_id).get_local_copy(force_download=True)
    print("GOT {}".format(sha256(path)))


def scalars(task_id):
    reported = Task.get_task(task_id=task_id).get_reported_scalars()
    print("SCALARS " + json.dumps({m: {v: len(p["y"]) for v, p in vs.items()} for m, vs in reported.items()}))


if __name__ == "__main__":
    {"make": lambda: make(), "get": lambda: get(sys.argv[2]), "scalars": lambda: scalars(sys.argv[2])}[sys.argv[1]]()

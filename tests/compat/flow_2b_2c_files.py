"""Flows 2b and 2c against the file server: output models, artifacts, debug images and datasets.

Usage: flow_2b_2c_files.py  (environment as for run_all.sh). Prints "FLOW 2b/2c OK" or exits non-zero.
"""
import filecmp
import os
import sys
import tempfile

import numpy as np
from clearml import Dataset, OutputModel, Task

project = os.environ.get("COMPAT_PROJECT", "compat") + "-files"
work = tempfile.mkdtemp()

# 2b: a task with output_uri, an output model, artifacts and a debug image.
task = Task.init(project_name=project, task_name="files", output_uri=True, reuse_last_task_id=False)
weights = os.path.join(work, "weights.bin")
weight_bytes = os.urandom(200_000)
with open(weights, "wb") as f:
    f.write(weight_bytes)
kept = os.path.join(work, "artifact.bin")
with open(kept, "wb") as f:
    f.write(weight_bytes)
model = OutputModel(task=task, name="my-model", framework="PyTorch")
model.update_weights(weights_filename=weights, iteration=5)  # uploads, then deletes the local file
task.upload_artifact("stats", artifact_object={"rows": 2, "name": "x"})
task.upload_artifact("array", artifact_object=np.arange(12).reshape(3, 4))
task.upload_artifact("file", artifact_object=kept)
task.get_logger().report_image("img", "sample", iteration=1, image=np.zeros((8, 8, 3), dtype=np.uint8))
task.flush(wait_for_uploads=True)
task_id = task.id
task.close()

again = Task.get_task(task_id=task_id)
local = again.models["output"][-1].get_local_copy()
assert local and open(local, "rb").read() == weight_bytes, f"model copy differs: {local}"
assert again.artifacts["stats"].get() == {"rows": 2, "name": "x"}, again.artifacts["stats"].get()
assert (again.artifacts["array"].get() == np.arange(12).reshape(3, 4)).all()
assert open(again.artifacts["file"].get_local_copy(), "rb").read() == weight_bytes
samples = again.get_debug_samples("img", "sample")
assert samples, "no debug image"
print("FLOW 2b OK", task_id)

# 2c: a dataset, then a child version that changes one file and adds another.
src = os.path.join(work, "data")
os.makedirs(os.path.join(src, "sub"))
for name, size in [("a.bin", 5000), ("b.txt", 10), ("sub/c.bin", 70_000)]:
    with open(os.path.join(src, name), "wb") as f:
        f.write(os.urandom(size))
ds = Dataset.create(dataset_name="ds1", dataset_project=project)
ds.add_files(src)
ds.upload()
ds.finalize()
with open(os.path.join(src, "b.txt"), "wb") as f:
    f.write(b"changed")
with open(os.path.join(src, "d.txt"), "wb") as f:
    f.write(b"new file")
child = Dataset.create(dataset_name="ds1", dataset_project=project, parent_datasets=[ds.id])
child.add_files(src)
child.upload()
child.finalize()

os.environ["HOME"] = tempfile.mkdtemp()  # a clean cache for the read-back
copy = Dataset.get(dataset_name="ds1", dataset_project=project).get_local_copy()
compare = filecmp.dircmp(src, copy)
assert not compare.left_only and not compare.right_only and not compare.diff_files, (compare.left_only, compare.right_only, compare.diff_files)
assert not compare.subdirs["sub"].diff_files
print("FLOW 2c OK", child.id)

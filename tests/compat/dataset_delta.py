"""Measures what the SDK moves to get a dataset version whose parent it already has.

A parent version of FILES files of SIZE bytes each, a child that changes one of them; the parent is
fetched into a clean cache first, then the child. The bytes the file server served for the child (from
Slipway's /metrics) are compared with the changed file's size. Environment as for run_all.sh;
DELTA_FILES (default 1000) and DELTA_SIZE (default 1048576) set the shape.
"""
import os
import shutil
import tempfile

import requests
from clearml import Dataset

files = int(os.environ.get("DELTA_FILES", "1000"))
size = int(os.environ.get("DELTA_SIZE", str(1 << 20)))
project = os.environ.get("COMPAT_PROJECT", "compat") + "-delta"


def served():
    api = os.environ["CLEARML_API_HOST"]
    token = requests.get(f"{api}/auth.login", auth=(os.environ["CLEARML_API_ACCESS_KEY"], os.environ["CLEARML_API_SECRET_KEY"])).json()["data"]["token"]
    text = requests.get(f"{api}/metrics", headers={"Authorization": f"Bearer {token}"}).text
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith("slipway_file_served_bytes_total")))


src = tempfile.mkdtemp()
for i in range(files):
    with open(os.path.join(src, f"f{i:04d}.bin"), "wb") as f:
        f.write(os.urandom(size))
parent = Dataset.create(dataset_name="big", dataset_project=project)
parent.add_files(src)
parent.upload()
parent.finalize()

with open(os.path.join(src, "f0007.bin"), "wb") as f:
    f.write(os.urandom(size))
child = Dataset.create(dataset_name="big", dataset_project=project, parent_datasets=[parent.id])
child.add_files(src)
child.upload()
child.finalize()
shutil.rmtree(src)

os.environ["HOME"] = tempfile.mkdtemp()
Dataset.get(dataset_id=parent.id).get_local_copy()
before = served()
copy = Dataset.get(dataset_id=child.id).get_local_copy()
moved = served() - before
total = files * size
assert len(os.listdir(copy)) == files
print(f"DELTA files={files} size={size} total={total} changed={size} moved={moved} "
      f"moved/changed={moved / size:.4f} slack={(moved - size) / total * 100:.3f}% of the version")

"""The Python half of the dataset interop check (run by dataset_interop.sh), with the official ClearML SDK.

  write <dir>            a parent and a child version made with the SDK          -> <dir>/sdk.json
  child-of <id> <dir>    a child (made with the SDK) of a version made by Slipway -> <dir>/sdk-child.json
  read <expected.json>   Dataset.get(dataset_id=...): get_local_copy() and get_mutable_local_copy() compared
                         file by file (SHA-256, nothing extra), and the SDK's own view of the changes

Expectation files: {"id", "project", "name", "version", "parent", "files": {path: sha256}, "added", "removed", "modified"}.
"""
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile

from compat_common import sha256
from clearml import Dataset

PROJECT = os.environ.get("COMPAT_PROJECT", "interop")


def folder_hashes(root):
    """Every file under root (symlinks followed, as a reader of the copy sees them): relative path -> sha256."""
    result = {}
    for base, _, names in os.walk(root, followlinks=True):
        for name in names:
            full = os.path.join(base, name)
            result[os.path.relpath(full, root).replace(os.sep, "/")] = sha256(full)
    return result


def write_files(root, files):
    for path, data in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    return root


def save(path, ds, parent, files, added, removed, modified):
    expected = dict(id=ds.id, project=ds.project, name=ds.name, version=ds.version, parent=parent,
                    files={p: hashlib.sha256(d).hexdigest() for p, d in files.items()},
                    added=sorted(added), removed=sorted(removed), modified=sorted(modified))
    with open(path, "w") as f:
        json.dump(expected, f, indent=2)


def rand(size, seed):
    return random.Random(seed).randbytes(size)


def write(workdir):
    parent_files = {
        "keep.txt": b"kept by the child\n",
        "modify.txt": b"parent content\n",
        "remove.txt": b"removed by the child\n",
        "nested/deeper/data.bin": rand(300000, 11),
        "big.bin": rand(3 << 20, 12),
        "text/rows.csv": "".join("{},{}\n".format(i, i * 3) for i in range(30000)).encode(),
    }
    parent_files.update({"many/f{:03d}.txt".format(i): "small file {}\n".format(i).encode() for i in range(60)})
    child_files = dict(parent_files)
    child_files["modify.txt"] = b"child content, of another length\n"
    child_files["nested/new.txt"] = b"added by the child\n"
    child_files["child-big.bin"] = rand(2500000, 13)
    del child_files["remove.txt"]

    parent = Dataset.create(dataset_name="made-by-sdk", dataset_project=PROJECT)
    parent.add_files(write_files(os.path.join(workdir, "sdk-parent"), parent_files))
    # 1 MB chunks, zipped 4 at a time: several chunks, and the SDK merges the small leftover zips in append mode,
    # which stores (does not deflate) the entries it moves.
    parent.upload(chunk_size=1, max_workers=4)
    parent.finalize()

    child = Dataset.create(dataset_name="made-by-sdk", dataset_project=PROJECT, parent_datasets=[parent.id])
    child.add_files(write_files(os.path.join(workdir, "sdk-child"), child_files))
    child.remove_files("remove.txt")
    child.upload(chunk_size=1)
    child.finalize()
    print("made parent {} ({}) and child {} ({})".format(parent.id, parent.version, child.id, child.version))
    save(os.path.join(workdir, "sdk-parent.json"), parent, None, parent_files, parent_files.keys(), [], [])
    save(os.path.join(workdir, "sdk.json"), child, parent.id, child_files, ["nested/new.txt", "child-big.bin"], ["remove.txt"], ["modify.txt"])


def child_of(parent_id, workdir):
    parent = Dataset.get(dataset_id=parent_id)
    source = parent.get_mutable_local_copy(os.path.join(workdir, "sdk-on-ours"))
    files = {}
    for path in folder_hashes(source):
        with open(os.path.join(source, path), "rb") as f:
            files[path] = f.read()
    names = sorted(files)
    modified, removed = names[0], names[-1]
    files[modified] = b"modified by the Python SDK\n"
    files["from-sdk/added.bin"] = rand(1200000, 14)
    del files[removed]
    shutil.rmtree(source)
    child = Dataset.create(dataset_name=parent.name, dataset_project=parent.project, parent_datasets=[parent_id])
    child.add_files(write_files(os.path.join(workdir, "sdk-on-ours"), files))
    child.remove_files(removed)
    child.upload(chunk_size=1)
    child.finalize()
    print("made child {} ({}) of Slipway's {}".format(child.id, child.version, parent_id))
    save(os.path.join(workdir, "sdk-child.json"), child, parent_id, files, ["from-sdk/added.bin"], [removed], [modified])


def read(expected_path):
    with open(expected_path) as f:
        expected = json.load(f)
    failures = []

    def check(what, ok, detail=""):
        print("  {} {}{}".format("ok  " if ok else "FAIL", what, (": " + detail) if detail and not ok else ""))
        if not ok:
            failures.append(what)

    def compare(what, folder):
        actual = folder_hashes(folder)
        missing = sorted(set(expected["files"]) - set(actual))
        extra = sorted(set(actual) - set(expected["files"]))
        different = sorted(p for p in expected["files"] if p in actual and actual[p] != expected["files"][p])
        check("{}: every file, byte for byte, nothing extra ({} files)".format(what, len(expected["files"])),
              not (missing or extra or different), "missing {} extra {} different {}".format(missing[:5], extra[:5], different[:5]))

    ds = Dataset.get(dataset_id=expected["id"])
    check("is final", ds.is_final())
    check("version", ds.version == expected["version"], "{} != {}".format(ds.version, expected["version"]))
    by_name = Dataset.get(dataset_project=expected["project"], dataset_name=expected["name"], dataset_version=expected["version"])
    check("Dataset.get by project/name/version finds it", by_name.id == expected["id"], by_name.id)
    compare("get_local_copy()", ds.get_local_copy())
    target = tempfile.mkdtemp(prefix="sdk-mutable-")
    shutil.rmtree(target)
    compare("get_mutable_local_copy()", ds.get_mutable_local_copy(target))
    shutil.rmtree(target)
    check("list_files", sorted(ds.list_files()) == sorted(expected["files"]))
    mismatched = ds.verify_dataset_hash()
    check("verify_dataset_hash() finds every hash right", mismatched == [], str(mismatched[:5]))
    if expected.get("parent"):
        parents = ds._get_parents()  # no public accessor in 1.17.0
        check("parents", list(parents) == [expected["parent"]], str(parents))
        for kind, listed in (("added", ds.list_added_files()), ("removed", ds.list_removed_files()), ("modified", ds.list_modified_files())):
            check("list_{}_files".format(kind), sorted(listed) == sorted(expected[kind]), "{} != {}".format(sorted(listed), sorted(expected[kind])))
    if failures:
        print("READ FAILED {}: {}".format(expected["id"], "; ".join(failures)))
        sys.exit(1)
    print("READ OK {}".format(expected["id"]))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "write":
        write(sys.argv[2])
    elif command == "child-of":
        child_of(sys.argv[2], sys.argv[3])
    elif command == "read":
        read(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)

"""Helpers for serving_request_log.sh, through the official SDK only.

  configure <endpoint id> <project> <dataset> <max records>
      sets the endpoint's request_log (serving.update_endpoint, sent with the SDK's own session)
  read <project> <dataset> <sent.jsonl>
      Dataset.get(...).get_local_copy() of the latest version; its rows must be those sent, one each, answered by
      version 1 with y = x. Prints ROWS <n> OK
"""
import glob
import json
import os
import sys


def configure(endpoint, project, dataset, max_records):
    from clearml.backend_api import Session
    session = Session()
    body = {"endpoint": endpoint, "request_log": {"sample": 1, "max_records": int(max_records), "max_seconds": 3600,
                                                   "project": project, "dataset": dataset}}
    response = session.send_request("serving", "update_endpoint", method="post", json=body)
    if response.status_code != 200:
        sys.exit("serving.update_endpoint answered {}: {}".format(response.status_code, response.text))


def read(project, dataset, sent_path):
    from clearml import Dataset
    with open(sent_path) as f:
        sent = [json.loads(line) for line in f if line.strip()]
    ds = Dataset.get(dataset_project=project, dataset_name=dataset)
    folder = ds.get_local_copy()
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.jsonl"), recursive=True)):
        with open(path) as f:
            rows.extend(json.loads(line) for line in f if line.strip())
    assert len(rows) == len(sent), "{} rows in dataset {} ({}), {} requests sent".format(len(rows), ds.id, folder, len(sent))
    remaining = list(sent)
    for row in rows:
        assert row["status"] == 200 and row["version"] == 1, row
        assert row["input"] in remaining, "a row whose input was not sent (or twice): {}".format(row)
        remaining.remove(row["input"])
        # The model is y = x * 1: the logged answer is the input under the output's name.
        assert row["output"] == {"y": row["input"]["x"]}, row
    print("ROWS {} OK".format(len(rows)))


if __name__ == "__main__":
    if sys.argv[1] == "configure":
        configure(*sys.argv[2:])
    elif sys.argv[1] == "read":
        read(*sys.argv[2:])
    else:
        sys.exit(__doc__)

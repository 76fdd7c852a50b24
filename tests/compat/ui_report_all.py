#!/usr/bin/env python3
"""UI data: one task that reports every kind of data the official SDK can send, so that each tab of the
web UI's experiment page (and the model and dataset pages) shows SDK-made data.

Reports: argparse `Args`, `connect` of a dict (General) and of a nested dict (its own section),
`connect_configuration` of a dict and of a YAML file, user properties; console output with ANSI
colours, carriage-return progress lines (tqdm when installed, a hand-made bar otherwise) and stderr;
scalars; `report_plotly`, `report_matplotlib_figure` (as a plot and as an image), matplotlib
auto-capture through `plt.show()`, `report_table` (pandas DataFrame when installed, a CSV file and a list
of rows), `report_scatter2d`, `report_scatter3d`, `report_histogram`, `report_vector`,
`report_confusion_matrix`, `report_line_plot`, `report_surface`; debug images through `report_image`
(numpy arrays, a PIL image, a local file, a URL), `report_media` of an HTML file and `report_text`;
artifacts of type dict, numpy, pandas, str, file, folder, image; an `OutputModel` with weights; and a
dataset with two versions. Reads nothing back: the page checks are made in a browser.

Prints "UI REPORT OK <task_id> <model_id> <dataset_id> <child_dataset_id>".
"""
import argparse
import math
import os
import sys
import tempfile
import time

import numpy as np
from clearml import Dataset, Logger, OutputModel, Task

from compat_common import project_name

ESC = "\x1b"


def main():
    parser = argparse.ArgumentParser(description="ClearML UI report-all")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--flag", action="store_true")
    parser.add_argument("--layers", type=int, nargs="+", default=[64, 32])
    args = parser.parse_args()

    task = Task.init(project_name=project_name(), task_name="ui-report-all", reuse_last_task_id=False,
                     output_uri=True, tags=["sdk", "ui"])
    task.connect({"batch": 32, "dropout": 0.25, "name": "resnet"})
    task.connect({"lr_schedule": {"kind": "cosine", "warmup": 5}, "seed": 7}, name="train_cfg")
    task.connect_configuration({"layers": [1, 2, 3], "head": {"act": "relu"}}, name="model_cfg",
                               description="a dict")
    work = tempfile.mkdtemp(prefix="ui-report-all-")
    yaml_path = os.path.join(work, "pipeline.yaml")
    with open(yaml_path, "w") as f:
        f.write("stages:\n  - prepare\n  - train\nbatch: 8\n")
    task.connect_configuration(yaml_path, name="pipeline_file")
    task.set_user_properties(owner="ui-check", purpose={"value": "display", "description": "why"})

    logger = task.get_logger()

    # Console: ANSI colours, a carriage-return progress bar, stderr.
    print("plain line")
    print("{0}[31mred error text{0}[0m and {0}[1;32mbold green{0}[0m".format(ESC))
    try:
        from tqdm import tqdm  # noqa
        for _ in tqdm(range(30), desc="tqdm bar", file=sys.stdout, mininterval=0):
            time.sleep(0.01)
    except ImportError:
        for i in range(0, 101, 10):
            sys.stdout.write("\rprogress {:3d}% |{:<10}|".format(i, "#" * (i // 10)))
            sys.stdout.flush()
            time.sleep(0.05)
        sys.stdout.write("\n")
    print("after progress")
    print("to stderr", file=sys.stderr)

    for i in range(args.epochs * 5):
        logger.report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
        logger.report_scalar("loss", "val", 1.2 / (i + 1), iteration=i)
        logger.report_scalar("accuracy", "val", 1 - 1.0 / (i + 2), iteration=i)
    logger.report_single_value("best_accuracy", 0.95)

    # Plots.
    logger.report_plotly(title="plotly", series="sine", iteration=0, figure={
        "data": [{"type": "scatter", "mode": "lines", "x": list(range(20)), "y": [math.sin(x / 3) for x in range(20)]}],
        "layout": {"title": "a sine"}})
    try:
        import plotly.graph_objects as go
        logger.report_plotly(title="plotly", series="go-bar", iteration=0,
                             figure=go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2])))
    except ImportError:
        pass
    logger.report_scatter2d("scatter2d", "points", iteration=1, scatter=np.array([[0, 1], [1, 3], [2, 2], [3, 5]]),
                            xaxis="x", yaxis="y", mode="markers")
    logger.report_scatter2d("scatter2d", "lines", iteration=1, scatter=[(0, 0), (1, 1), (2, 4)], mode="lines+markers")
    logger.report_scatter3d("scatter3d", "cloud", iteration=1, scatter=np.random.RandomState(0).rand(20, 3))
    logger.report_histogram("histogram", "counts", iteration=2, values=[5, 3, 8, 1], xlabels=["a", "b", "c", "d"])
    logger.report_vector("vector", "v", iteration=2, values=[1, 4, 2, 8])
    logger.report_confusion_matrix("confusion", "cm", iteration=3, matrix=np.array([[5, 1], [2, 7]]),
                                   xaxis="predicted", yaxis="actual", xlabels=["cat", "dog"], ylabels=["cat", "dog"])
    logger.report_line_plot("lineplot", series=[Logger.SeriesInfo(name="one", data=np.array([[0, 1], [1, 2], [2, 1]]))],
                            xaxis="x", yaxis="y", iteration=3)
    logger.report_surface("surface", "s", iteration=3, matrix=np.random.RandomState(1).rand(5, 5))
    rows = [["name", "score"], ["a", 1], ["b", 2]]
    logger.report_table("table", "rows", iteration=4, table_plot=rows)
    csv_path = os.path.join(work, "t.csv")
    with open(csv_path, "w") as f:
        f.write("col1,col2\n1,x\n2,y\n")
    logger.report_table("table", "csv", iteration=4, csv=csv_path)
    try:
        import pandas as pd
        df = pd.DataFrame({"num": [1, 2, 3], "txt": ["x", "y", "z"]})
        logger.report_table("table", "pandas", iteration=4, table_plot=df)
    except ImportError:
        df = None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig = plt.figure()
        plt.plot([0, 1, 2, 3], [3, 1, 2, 0], label="zigzag")
        plt.title("matplotlib plot")
        logger.report_matplotlib_figure(title="matplotlib", series="as-plot", figure=fig, iteration=5, report_image=False)
        logger.report_matplotlib_figure(title="matplotlib", series="as-image", figure=fig, iteration=5, report_image=True)
        plt.close(fig)
        fig2 = plt.figure()
        plt.imshow(np.random.RandomState(2).rand(8, 8))
        plt.title("auto-captured imshow")
        plt.show()
        plt.close(fig2)
        fig3 = plt.figure()
        plt.bar(["x", "y"], [2, 3])
        plt.title("auto-captured bar")
        plt.show()
        plt.close(fig3)
    except ImportError:
        pass

    # Debug images and media.
    for it in range(3):
        img = (np.random.RandomState(it).rand(32, 48, 3) * 255).astype(np.uint8)
        logger.report_image("images", "rgb", iteration=it, image=img)
    logger.report_image("images", "gray", iteration=0, image=(np.eye(16) * 255).astype(np.uint8))
    try:
        from PIL import Image
        pil = Image.new("RGB", (40, 20), (200, 30, 30))
        logger.report_image("images", "pil", iteration=0, image=pil)
        png = os.path.join(work, "file.png")
        Image.new("RGB", (20, 20), (30, 30, 200)).save(png)
        logger.report_image("images", "file", iteration=0, local_path=png)
    except ImportError:
        pass
    logger.report_image("images", "url", iteration=0, url="https://example.com/some.png")
    html = os.path.join(work, "page.html")
    with open(html, "w") as f:
        f.write("<html><body><h1>media</h1></body></html>")
    logger.report_media("media", "html", iteration=0, local_path=html)
    logger.report_text("a text line through report_text")

    # Artifacts.
    task.upload_artifact("dict", artifact_object={"a": 1, "b": [1, 2]}, wait_on_upload=True)
    task.upload_artifact("numpy", artifact_object=np.arange(12).reshape(3, 4), wait_on_upload=True)
    if df is not None:
        task.upload_artifact("pandas", artifact_object=df, wait_on_upload=True)
    task.upload_artifact("text", artifact_object="just a string", wait_on_upload=True)
    task.upload_artifact("file", artifact_object=csv_path, wait_on_upload=True)
    folder = os.path.join(work, "folder")
    os.makedirs(folder)
    for n in ("a.txt", "b.txt"):
        with open(os.path.join(folder, n), "w") as f:
            f.write(n)
    task.upload_artifact("folder", artifact_object=folder, wait_on_upload=True)
    try:
        from PIL import Image
        task.upload_artifact("image", artifact_object=Image.new("RGB", (10, 10), (0, 128, 0)), wait_on_upload=True)
    except ImportError:
        pass

    # A model with weights.
    weights = os.path.join(work, "model.bin")
    with open(weights, "wb") as f:
        f.write(os.urandom(2048))
    model = OutputModel(task=task, name="ui-model", framework="PyTorch", tags=["ui"], comment="SDK model")
    model.update_labels({"cat": 0, "dog": 1})
    model.update_design(config_dict={"hidden": 64})
    model.update_weights(weights_filename=weights, iteration=10)

    task.flush(wait_for_uploads=True)
    task_id = task.id
    task.close()

    # A dataset with two versions.
    dsdir = os.path.join(work, "ds")
    os.makedirs(os.path.join(dsdir, "sub"))
    for n, text in (("a.csv", "x,y\n1,2\n"), ("sub/b.txt", "hello\n")):
        with open(os.path.join(dsdir, n), "w") as f:
            f.write(text)
    ds = Dataset.create(dataset_name="ui-dataset", dataset_project=project_name())
    ds.add_files(dsdir)
    ds.upload()
    ds.finalize()
    with open(os.path.join(dsdir, "c.txt"), "w") as f:
        f.write("added\n")
    child = Dataset.create(dataset_name="ui-dataset", dataset_project=project_name(), parent_datasets=[ds.id])
    child.add_files(dsdir)
    child.get_logger().report_table("preview", "data", iteration=0, table_plot=[["x", "y"], [1, 2]])
    child.upload()
    child.finalize()

    print("UI REPORT OK {} {} {} {}".format(task_id, model.id, ds.id, child.id))


if __name__ == "__main__":
    main()

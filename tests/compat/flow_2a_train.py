#!/usr/bin/env python3
"""Flow 2a (train): a minimal "training" run with the official ClearML SDK.

Creates a task, connects hyper-parameters and a configuration object, writes
console output, reports scalars / plots / a single value, closes the task and
then reads everything back through Task.get_task() to verify the server stored it.

Prints "FLOW 2a OK <task_id>" on success, exits non-zero on any mismatch.
"""
import argparse
import math
import sys

from clearml import Task

from compat_common import Checker, poll, project_name

N_ITER = 20
STDOUT_MARK = "COMPAT-STDOUT"
STDERR_MARK = "COMPAT-STDERR"


def loss_at(i, lr):
    # deterministic, exactly representable enough to compare with a tolerance
    return round(1.0 / (i + 1) + lr, 6)


def main():
    parser = argparse.ArgumentParser(description="ClearML compat flow 2a (train)")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    chk = Checker("2a-train")

    task = Task.init(project_name=project_name(), task_name="train", reuse_last_task_id=False)
    task_id = task.id
    print("{} task id {}".format(STDOUT_MARK, task_id))

    params = task.connect({"batch": 32, "opt": "adam"})
    cfg = task.connect_configuration({"layers": [1, 2, 3]}, name="model_cfg")
    print("{} connected params {} cfg {}".format(STDOUT_MARK, dict(params), dict(cfg)))

    logger = task.get_logger()
    for epoch in range(args.epochs):
        print("{} epoch {} of {}".format(STDOUT_MARK, epoch + 1, args.epochs))
    print("{} something went sideways (on purpose)".format(STDERR_MARK), file=sys.stderr)

    expected_y = []
    for i in range(N_ITER):
        value = loss_at(i, args.lr)
        expected_y.append(value)
        logger.report_scalar("loss", "train", value, iteration=i)

    plotly_fig = {
        "data": [{"type": "scatter", "mode": "lines", "name": "sine",
                  "x": list(range(10)), "y": [math.sin(x / 3.0) for x in range(10)]}],
        "layout": {"title": "compat plotly"},
    }
    logger.report_plotly(title="compat plotly", series="sine", figure=plotly_fig, iteration=0)

    have_mpl = False
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        have_mpl = True
    except ImportError:
        print("{} matplotlib not installed, skipping matplotlib figure".format(STDOUT_MARK))
    if have_mpl:
        fig = plt.figure()
        plt.plot([0, 1, 2, 3], [3, 1, 2, 0], label="zigzag")
        plt.title("compat matplotlib")
        logger.report_matplotlib_figure(title="compat matplotlib", series="zigzag", figure=fig,
                                        iteration=0, report_image=False)
        plt.close(fig)

    logger.report_single_value("accuracy", 0.93)
    print("{} done training".format(STDOUT_MARK))
    sys.stdout.flush()
    sys.stderr.flush()

    task.close()

    # ------------------------------------------------------------------
    # Read back through a fresh task object
    # ------------------------------------------------------------------
    t = Task.get_task(task_id=task_id)
    chk.check(t is not None and t.id == task_id, "Task.get_task returns the same id",
              getattr(t, "id", None))
    chk.check(t.name == "train", "task name is 'train'", t.name)
    chk.check(t.get_project_name() == project_name(), "project name round-trips", t.get_project_name())
    status = t.get_status()
    chk.check(status == "completed", "status after close() is 'completed'", status)

    p = t.get_parameters() or {}
    chk.check(str(p.get("General/batch")) == "32", "hyper-param General/batch == 32", p.get("General/batch"))
    chk.check(p.get("General/opt") == "adam", "hyper-param General/opt == adam", p.get("General/opt"))
    chk.check(p.get("Args/lr") not in (None, "") and float(p.get("Args/lr")) == args.lr,
              "argparse Args/lr captured", p.get("Args/lr"))
    chk.check(p.get("Args/epochs") not in (None, "") and int(p.get("Args/epochs")) == args.epochs,
              "argparse Args/epochs captured", p.get("Args/epochs"))

    cfg_back = t.get_configuration_object_as_dict("model_cfg")
    chk.check(cfg_back == {"layers": [1, 2, 3]}, "configuration 'model_cfg' round-trips", cfg_back)

    # scalars
    def _scalars_ok(s):
        try:
            return len(s["loss"]["train"]["y"]) >= N_ITER
        except (KeyError, TypeError):
            return False

    scalars = poll(t.get_reported_scalars, _scalars_ok)
    series = (scalars or {}).get("loss", {}).get("train")
    if chk.check(series is not None, "get_reported_scalars has loss/train",
                 sorted((scalars or {}).keys())):
        xs = list(series.get("x", []))
        ys = list(series.get("y", []))
        chk.check([int(x) for x in xs] == list(range(N_ITER)), "loss/train x == iterations 0..{}".format(N_ITER - 1), xs)
        chk.check(len(ys) == N_ITER and all(abs(float(a) - b) < 1e-6 for a, b in zip(ys, expected_y)),
                  "loss/train y values match reported values", ys)

    # console
    def _console_ok(lines):
        text = "\n".join(lines or [])
        return "{} done training".format(STDOUT_MARK) in text and STDERR_MARK in text

    lines = poll(lambda: t.get_reported_console_output(number_of_reports=500), _console_ok)
    text = "\n".join(lines or [])
    chk.check("{} task id {}".format(STDOUT_MARK, task_id) in text, "console has first stdout line", len(text))
    chk.check("{} epoch {} of {}".format(STDOUT_MARK, args.epochs, args.epochs) in text,
              "console has epoch lines", len(text))
    chk.check("{} done training".format(STDOUT_MARK) in text, "console has last stdout line", len(text))
    chk.check(STDERR_MARK in text, "console has stderr line", len(text))

    # plots
    plots = poll(t.get_reported_plots, lambda pl: bool(pl))
    chk.check(bool(plots), "get_reported_plots non-empty", plots)
    metrics = sorted(set(pl.get("metric") for pl in (plots or [])))
    chk.check("compat plotly" in metrics, "plotly plot 'compat plotly' reported", metrics)
    if have_mpl:
        chk.check("compat matplotlib" in metrics, "matplotlib plot 'compat matplotlib' reported", metrics)
    for pl in plots or []:
        if pl.get("metric") == "compat plotly":
            chk.check(isinstance(pl.get("plot_str"), str) and "sine" in pl.get("plot_str"),
                      "plotly plot_str carries the figure", str(pl.get("plot_str"))[:200])
            break

    # single value
    try:
        sv = poll(lambda: t.get_reported_single_value("accuracy"), lambda v: v is not None)
    except Exception as ex:
        sv = ex
    chk.check(isinstance(sv, (int, float)) and abs(sv - 0.93) < 1e-9,
              "get_reported_single_value('accuracy') == 0.93", sv)

    chk.finish("FLOW 2a OK {}".format(task_id))


if __name__ == "__main__":
    main()

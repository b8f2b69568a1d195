"""A tour of everything a training script can report to Tracklane.

Start the platform (``make up``), then run::

    .venv/bin/python examples/tour.py            # about 30 seconds
    .venv/bin/python examples/tour.py --epochs 20 --sleep 0.5   # long enough to stop it from the web

and open the URLs it prints. Stop it from outside with
``curl -X POST -H "Authorization: Bearer $KEY" localhost:8080/api/v1/experiments/<id>/stop``:
it raises ``tracklane.InterruptedExperiment``, saves a checkpoint in ``on_abort`` and ends
``stopped``.

Needs numpy; uses pandas, plotly, matplotlib and Pillow when they are installed (the
development environment has them all).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tracklane

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--steps", type=int, default=200, help="steps per epoch")
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--sleep", type=float, default=0.02, help="seconds per step, to watch it live")
args = parser.parse_args()  # recorded automatically as the hyperparameter section "Args"

workdir = Path(tempfile.mkdtemp(prefix="tracklane-tour-"))


def save_checkpoint() -> None:
    (workdir / "checkpoint.txt").write_text("saved on abort\n")
    print("abort callback: checkpoint saved")


exp = tracklane.init(project="examples/tour", name="everything", tags=["tour"], on_abort=save_checkpoint)
print(f"experiment {exp.id}: http://127.0.0.1:8080/api/v1/experiments/{exp.id}")

# -- hyperparameters, configuration, properties, tags ---------------------------------------------
exp.log_params({"optimizer": {"name": "sgd", "momentum": 0.9}, "batch_size": 64})
exp.connect_configuration({"layers": [784, 256, 10], "activation": "relu", "dropout": 0.2}, name="model")
exp.connect_configuration("augment:\n  flip: true\n  crop: 28\n", name="data")
exp.set_user_properties(team="vision", dataset="mnist-like")
exp.add_tags("example")
exp.set_nan_value(0.0)  # a NaN reported below is stored as 0.0 (by default it is stored as NaN)

# -- training: scalars, console, progress lines ---------------------------------------------------
rng = np.random.default_rng(0)
step = 0
try:
    for epoch in range(args.epochs):
        for i in range(args.steps):
            loss = math.exp(-step / 300) * (1 + 0.1 * rng.standard_normal()) * args.lr * 10
            exp.log_scalar("loss", "train", loss, iteration=step)
            if step % 10 == 0:
                exp.log_scalars({"accuracy": 1 - loss / 2, "lr": args.lr}, iteration=step, variant="train")
            sys.stdout.write(f"\repoch {epoch} [{'#' * (20 * (i + 1) // args.steps):<20}]")  # collapsed to one line
            step += 1
            time.sleep(args.sleep)
        sys.stdout.write("\n")
        val = math.exp(-step / 300) * args.lr * 12
        exp.log_scalar("loss", "validation", val, iteration=step)
        exp.log_scalar("loss", "nan-example", float("nan") if epoch == 0 else val, iteration=step)
        exp.log_histogram("weights", "layer1", rng.normal(0, 1 / (epoch + 1), 5000), iteration=epoch)
        exp.log_image("predictions", "digit", rng.random((28, 28)), iteration=epoch)
        print(f"epoch {epoch}: validation loss {val:.4f}")
    exp.log_text("training finished", level="info")

    # -- plots -----------------------------------------------------------------------------------
    xs = np.linspace(0, 1, 50)
    exp.log_plot("roc", "validation", {"data": [{"type": "scatter", "x": xs.tolist(), "y": (xs**0.3).tolist()}],
                                       "layout": {"title": {"text": "ROC"}}})  # fmt: skip
    exp.log_confusion_matrix("confusion", "validation", [[50, 3, 1], [4, 45, 2], [0, 5, 48]], labels=["0", "1", "2"])
    exp.log_table("per class", "validation", [["class", "precision", "recall"], ["0", 0.93, 0.96], ["1", 0.85, 0.88]])
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(xs, np.sin(6 * xs))
        fig.suptitle("a matplotlib figure")
        plt.show()  # captured automatically
    except ImportError:
        print("matplotlib is not installed: skipping plt.show()")

    # -- debug samples: audio and HTML -------------------------------------------------------------
    exp.log_audio("sound", "tone", np.sin(np.linspace(0, 2000, 16000)), sample_rate=16000)
    exp.log_html("report", "summary", f"<h1>Tour</h1><p>{step} steps</p>")

    # -- artifacts and models ----------------------------------------------------------------------
    exp.upload_artifact("metrics", {"validation_loss": val, "steps": step}, metadata={"split": "validation"})
    exp.upload_artifact("predictions", rng.random((10, 3)))
    try:
        import pandas as pd

        exp.upload_artifact("table", pd.DataFrame({"epoch": range(args.epochs), "loss": rng.random(args.epochs)}))
    except ImportError:
        pass
    notes = workdir / "notes.md"
    notes.write_text("# Notes\n\nEverything went fine.\n")
    exp.upload_artifact("notes", notes)
    weights = workdir / "model.bin"
    weights.write_bytes(rng.bytes(4096))
    exp.log_model(weights, name="classifier", framework="numpy")
    exp.close()
except tracklane.InterruptedExperiment as stop:
    print(f"stopped from outside: {stop}")
    exp.close("stopped", str(stop))

print(f"done: {exp.status}. See http://127.0.0.1:8080/api/v1/experiments/{exp.id}/scalars")

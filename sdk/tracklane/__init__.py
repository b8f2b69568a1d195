"""Tracklane: log what a training job does to a Tracklane server.

import tracklane
with tracklane.init(project="demo", name="first") as exp:
    for i in range(100_000):
        exp.log_scalar("loss", "train", 1 / (i + 1), iteration=i)
"""

from __future__ import annotations

from tracklane import _capture
from tracklane.experiment import Experiment, InterruptedExperiment

# Arguments parsed before ``init`` are recorded too (section "Args"): the hook only remembers
# the last parse until an experiment asks for it.
_capture.install_argparse_hook()

__all__ = ["Experiment", "InterruptedExperiment", "init"]
__version__ = "0.1.0"


init = Experiment
"""``tracklane.init(project, name, tags=None, **options)`` starts an experiment: see
:class:`tracklane.Experiment` for the options."""

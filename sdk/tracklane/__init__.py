"""Tracklane: log what a training job does to a Tracklane server.

import tracklane
with tracklane.init(project="demo", name="first") as exp:
    for i in range(100_000):
        exp.log_scalar("loss", "train", 1 / (i + 1), iteration=i)
"""

from __future__ import annotations

from tracklane.experiment import Experiment

__all__ = ["Experiment", "init"]
__version__ = "0.1.0"


def init(
    project: str,
    name: str,
    tags: list[str] | None = None,
    *,
    server: str | None = None,
    api_key: str | None = None,
) -> Experiment:
    """Starts an experiment in ``project`` (nested with '/') and returns its handle.

    The server and key come from the arguments, else ``TRACKLANE_SERVER`` and
    ``TRACKLANE_API_KEY``, else the credentials ``make up`` wrote. Returns at once: the
    experiment is registered in the background, so a slow or absent server never holds up
    training.
    """
    return Experiment(project, name, tags, server=server, api_key=api_key)

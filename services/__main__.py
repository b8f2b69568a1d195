"""``tracklane-server <command>`` (or ``python -m services <command>``): the one entry point of
the container image. Each service, the gateway and the one-shot jobs, by name:

    ingestion | metrics | metadata | artifact | reporting   the services (gRPC)
    gateway                                                 the HTTP API and the web UI
    migrate                                                 every schema migration, then exit
    replay --read-model metrics|metadata|reporting|all      rebuild read models from the log

Settings come from the environment, as for ``python -m services.<name>``."""

from __future__ import annotations

import runpy
import sys

COMMANDS = {
    "ingestion": "services.ingestion",
    "metrics": "services.metrics",
    "metadata": "services.metadata",
    "artifact": "services.artifact",
    "reporting": "services.reporting",
    "gateway": "gateway",
    "migrate": "services.migrate",
    "replay": "services.replay",
}
TAKES_ARGUMENTS = {"replay"}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS or (len(argv) > 2 and argv[1] not in TAKES_ARGUMENTS):
        print(f"usage: tracklane-server {{{' | '.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    sys.argv = [f"tracklane-server {argv[1]}", *argv[2:]]
    runpy.run_module(COMMANDS[argv[1]], run_name="__main__", alter_sys=True)
    return 0


def cli() -> int:
    """The ``tracklane-server`` command (the same as ``python -m services``)."""
    return main(sys.argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv))

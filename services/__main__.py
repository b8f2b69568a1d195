"""``python -m services <command>``: the one entry point of the container image. Each service,
the gateway and the one-shot jobs, by name:

    ingestion | metrics | metadata | artifact | reporting   the services (gRPC)
    gateway                                                 the HTTP API and the web UI
    migrate                                                 every schema migration, then exit

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
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in COMMANDS:
        print(f"usage: python -m services {{{' | '.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    sys.argv = [f"python -m services {argv[1]}"]
    runpy.run_module(COMMANDS[argv[1]], run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

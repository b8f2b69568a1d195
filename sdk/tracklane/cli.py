"""The ``tracklane`` command."""

from __future__ import annotations

import argparse

from tracklane import __version__, _config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracklane", description="Tracklane client")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("config", help="show where the SDK will send data")
    args = parser.parse_args(argv)
    if args.command == "config":
        cfg = _config.resolve()
        print(f"server: {cfg.server}\ncredentials: {_config.credentials_path()}")
        return 0
    parser.print_help()
    return 0

"""``tracklane-server replay --read-model metrics|metadata|reporting|all``: drops read models and
rebuilds them from the log — the stream, and the archive past the stream's retention — while
ingestion goes on, with a progress bar. The services do the work (:mod:`services.common.replay`);
this asks for it and follows it. Interrupting it stops only the following: the replay goes on,
and running the command again follows it to the end.

    --detach   ask, and return at once
    --status   show the last replay of each read model, ask for nothing

Settings from the environment, as for the services (``TRACKLANE_NATS_URL``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.common import bus
from services.common.config import CommonSettings
from services.common.projections import REGISTRY
from services.common.replay import READ_MODELS, Job, Jobs


@dataclass
class Progress:
    name: str
    job: Job | None
    done: float  # 0..1
    text: str

    @property
    def finished(self) -> bool:
        return self.job is not None and self.job.state == "done"


async def progress(js: JetStreamContext, jobs: Jobs, name: str) -> Progress:
    """Where the replay of ``name`` stands."""
    job, _ = await jobs.get(name)
    if job is None:
        return Progress(name, None, 0.0, "never replayed")
    if job.state == "requested":
        return Progress(name, job, 0.0, f"waiting for the {name} service to take it (is it running?)")
    if job.state == "running" and job.phase == "reset":
        return Progress(name, job, 0.0, "dropping the read model")
    if job.state == "running" and job.phase == "archive":
        share = job.fed / job.archive_last if job.archive_last else 0.0
        return Progress(name, job, 0.5 * share, f"archive: {job.fed:,} of {job.archive_last:,} positions")
    if job.state == "running":
        return Progress(name, job, 0.5, "making the consumer again")
    if job.state == "live":
        try:
            info = await js.consumer_info(bus.STREAM, REGISTRY[name].durable)
            floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
        except NotFoundError:
            floor = 0
        span = max(job.target - job.start + 1, 1)
        share = min(max(floor - job.start + 1, 0) / span, 1.0) if job.target >= job.start else 1.0
        return Progress(
            name, job, 0.5 + 0.5 * share, f"stream: position {max(floor, job.start - 1):,} of {job.target:,}"
        )
    took = job.finished_at - job.started_at
    return Progress(name, job, 1.0, f"done in {took:.1f} s: {summary(job)}")


def summary(job: Job) -> str:
    streamed = max(job.target - job.start + 1, 0)
    points = f" ({job.archived_points:,} points)" if job.archived_points else ""
    text = f"{job.archived_events:,} events{points} from the archive"
    took = job.archive_done_at - job.started_at
    if took > 0 and job.archived_events:
        text += f" at {job.archived_events / took:,.0f} events/s"
    text += f", positions {job.start:,}..{job.target:,} from the stream" if streamed else ", none left in the stream"
    if job.gap:
        text += f"; positions {job.gap[0]:,}..{job.gap[1]:,} were in neither (they left the stream unarchived)"
    return text


def bar(p: Progress, width: int = 30) -> str:
    filled = int(width * p.done)
    return f"  {p.name:<9} [{'#' * filled}{'.' * (width - filled)}] {100 * p.done:5.1f}%  {p.text}"


async def follow(
    js: JetStreamContext, jobs: Jobs, names: list[str], show: Callable[[list[Progress]], None], every_s: float = 0.5
) -> list[Progress]:
    """Polls the replays of ``names`` until every one is done, showing each round."""
    while True:
        state = [await progress(js, jobs, name) for name in names]
        show(state)
        if all(p.finished for p in state):
            return state
        await asyncio.sleep(every_s)


class Screen:
    """Bars redrawn in place on a terminal; elsewhere a line when something changes."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.drawn = 0
        self.last: list[str] = []
        self.said_at = 0.0

    def __call__(self, state: list[Progress]) -> None:
        lines = [bar(p) for p in state]
        if self.tty:
            if self.drawn:
                sys.stderr.write(f"\x1b[{self.drawn}F")
            sys.stderr.write("".join(f"{line}\x1b[K\n" for line in lines))
            self.drawn = len(lines)
        elif [p.text.split(":")[0] for p in state] != self.last or time.monotonic() - self.said_at > 10:
            sys.stderr.write("".join(f"{line}\n" for line in lines))
            self.last, self.said_at = [p.text.split(":")[0] for p in state], time.monotonic()
        sys.stderr.flush()


async def run(args: argparse.Namespace) -> int:
    settings = CommonSettings.from_env()
    names = list(READ_MODELS) if args.read_model == "all" else [args.read_model]
    nc, js = await bus.connect(settings.nats_url, "replay")
    try:
        jobs = await Jobs.open(js, settings.nats_replicas)
        if args.status:
            for name in names:
                print(bar(await progress(js, jobs, name)))
            return 0
        for name in names:
            job = await jobs.request(name)
            fresh = time.time() - job.requested_at < 5 and job.state == "requested"
            print(f"{name}: {'replay requested' if fresh else 'following the replay under way'} (job {job.id})",
                  file=sys.stderr)  # fmt: skip
        if args.detach:
            return 0
        state = await follow(js, jobs, names, Screen())
        gaps = [p.name for p in state if p.job is not None and p.job.gap]
        for p in state:
            print(f"{p.name}: {p.text}")
        if gaps:
            lost = f"warning: {', '.join(gaps)}: part of the log was lost before it was archived (see above); "
            print(lost + "keep the archiver running and the stream's retention longer than its delay", file=sys.stderr)
        return 0
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracklane-server replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--read-model", required=True, choices=[*READ_MODELS, "all"])
    parser.add_argument("--detach", action="store_true", help="ask for the replay and return at once")
    parser.add_argument("--status", action="store_true", help="show the last replays, ask for nothing")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        print("\nstopped following; the replay goes on (run the command again to follow it)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The scalar store's contract, against the real ClickHouse engine (chDB embedded), and against a
ClickHouse server too when TRACKLANE_TEST_CLICKHOUSE_URL is set."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tracklane_proto import events_pb2

from services.common import bus, contract
from services.common.events import ConsoleColumns, ScalarColumns
from services.common.projections import REGISTRY, Positioned
from services.metrics.domain import SeriesQuery
from services.metrics.projection import ScalarProjection
from services.metrics.store import ClickHouseScalarStore, ConsoleEvent, ScalarEvent, ScalarStore, migrate
from tests.conftest import CLICKHOUSE_TARGETS, new_id, scalar_event

pytestmark = pytest.mark.engines

_stores: dict[str, ClickHouseScalarStore] = {}


@pytest.fixture(params=CLICKHOUSE_TARGETS)
def store(request: pytest.FixtureRequest, chdb_url: str) -> Iterator[ScalarStore]:
    # One store for the whole session; every test uses experiments of its own.
    url = chdb_url if request.param == "chdb" else request.param
    if url not in _stores:
        _stores[url] = ClickHouseScalarStore(url)
    yield _stores[url]


def columns(points: list[tuple[str, str, int, float]], timestamps: list[float] | None = None) -> ScalarColumns:
    return ScalarColumns.decode(scalar_event(1, points, timestamps=timestamps).scalars)


def test_insert_is_deduplicated_by_event_id(store: ScalarStore) -> None:
    exp = new_id()
    cols = columns([("loss", "train", i, 1.0 / (i + 1)) for i in range(1000)])
    store.insert("ws", exp, f"{exp}.1", cols)
    store.insert("ws", exp, f"{exp}.1", cols)  # redelivered
    store.insert("ws", exp, f"{exp}.2", columns([("loss", "train", 1000, 0.0)]))
    [info] = store.list_series("ws", exp)
    assert (info.metric, info.variant, info.points) == ("loss", "train", 1001)


def test_several_events_in_one_insert_are_deduplicated_by_its_token(store: ScalarStore) -> None:
    a, b = new_id(), new_id()
    group = [
        ScalarEvent("ws", a, f"{a}.1", columns([("loss", "train", i, 1.0) for i in range(100)])),
        ScalarEvent("ws", b, f"{b}.1", columns([("loss", "train", 0, 2.0), ("acc", "val", 0, 0.5)])),
        ScalarEvent("ws", a, f"{a}.2", columns([("loss", "train", 100 + i, 0.5) for i in range(50)])),
    ]
    store.insert_many(group, token=f"g:{a}")
    store.insert_many(group, token=f"g:{a}")  # a resumed replay feeds the same batch again
    assert [(i.metric, i.variant, i.points) for i in store.list_series("ws", a)] == [("loss", "train", 150)]
    assert sorted((i.metric, i.points) for i in store.list_series("ws", b)) == [("acc", 1), ("loss", 1)]
    lines = [ConsoleEvent("ws", a, 2, f"{a}.c2", _console(["b0", "b1"])),
             ConsoleEvent("ws", a, 1, f"{a}.c1", _console(["a0"]))]  # fmt: skip
    store.insert_console_many(lines, token=f"c:{a}")
    store.insert_console_many(lines, token=f"c:{a}")
    got, _, total = store.read_console("ws", a, 0, 10, False, "")
    assert total == 3 and [ln.text for ln in got] == ["a0", "b0", "b1"]  # in seq order, once


def test_downsampling_covers_every_point_and_keeps_extremes(store: ScalarStore) -> None:
    exp = new_id()
    n = 100_000
    values = 1.0 / (np.arange(n) + 1.0)
    values[54_321] = -7.0  # one dip that must survive downsampling
    points = [("loss", "train", i, float(v)) for i, v in enumerate(values)]
    for k in range(0, n, 25_000):
        store.insert("ws", exp, f"{exp}.{k}", columns(points[k : k + 25_000]))
    r = store.query_series(SeriesQuery("ws", exp, "loss", "train", samples=2000))
    assert r.downsampled and r.total_points == n
    assert len(r.x) == 2000 and sum(r.count) == n
    assert min(r.min) == -7.0 and max(r.max) == 1.0
    assert r.x == sorted(r.x) and r.x[-1] == n - 1 and r.last[-1] == pytest.approx(1.0 / n)
    assert r.mean[0] == pytest.approx(float(values[: r.count[0]].mean()))


@pytest.mark.parametrize("xaxis", ["iter", "relative"])
def test_a_charts_runs_share_one_bucket_grid(store: ScalarStore, xaxis: str) -> None:
    """Two runs of different lengths in one chart: the same bucket edges (the union of their
    extents), so bucket k of one is bucket k of the other; a spike stays inside its bucket."""
    long_run, short_run = new_id(), new_id()
    t0 = 1_700_000_000.0
    for exp, n in ((long_run, 30_000), (short_run, 12_000)):
        values = np.sin(np.arange(n) / 500.0)
        if exp == short_run:
            values[7_777] = 50.0
        points = [("loss", "train", i, float(v)) for i, v in enumerate(values)]
        stamps = [t0 + i * 0.01 for i in range(n)]
        for k in range(0, n, 10_000):
            store.insert("ws", exp, f"{exp}.{k}", columns(points[k : k + 10_000], stamps[k : k + 10_000]))
    queries = [SeriesQuery("ws", e, "loss", "train", xaxis=xaxis, samples=300) for e in (long_run, short_run)]
    (long_r, short_r), grid = store.query_chart(queries)
    assert grid is not None
    lo, width = grid
    span = 29_999 if xaxis == "iter" else 299.99
    assert lo == 0 and width == pytest.approx(span / 300)
    assert len(long_r.x) == 300 and sum(long_r.count) == 30_000 and sum(short_r.count) == 12_000
    assert short_r.x == long_r.x[: len(short_r.x)]  # the same buckets, the short run's are the first ones
    assert len(short_r.x) == math.ceil(11_999 / (29_999 / 300)) if xaxis == "iter" else len(short_r.x) > 100
    assert max(short_r.max) == 50.0  # the spike, in the band
    spike_x = 7_777 if xaxis == "iter" else 77.77
    k = next(i for i, m in enumerate(short_r.max) if m == 50.0)
    assert short_r.x[k] - width / 2 <= spike_x <= short_r.x[k] + width / 2
    few_points = new_id()
    store.insert("ws", few_points, f"{few_points}.1", columns([("loss", "train", i * 100, 1.0) for i in range(50)],
                                                               [t0 + i for i in range(50)]))  # fmt: skip
    *_, whole = store.query_chart([*queries, SeriesQuery("ws", few_points, "loss", "train", xaxis=xaxis, samples=300)])[
        0
    ]
    assert not whole.downsampled and len(whole.x) == 50 and whole.total_points == 50  # exact points, in the same chart
    alone, grid2 = store.query_chart([queries[0], SeriesQuery("ws", new_id(), "loss", "train", xaxis=xaxis)])
    assert grid2 is not None and alone[1].total_points == 0  # a run without the series draws nothing
    few = store.query_chart([SeriesQuery("ws", short_run, "loss", "train", xaxis=xaxis, samples=20_000)])
    assert few[1] is None and not few[0][0].downsampled  # every point: no grid needed


@pytest.mark.parametrize("xaxis", ["iter", "relative", "wall"])
def test_several_charts_at_once_answer_as_each_alone(store: ScalarStore, xaxis: str) -> None:
    """A page of charts in one call (three statements): each chart on its own grid, as when asked
    alone — a chart of one series in its own buckets at each bucket's last x (as the series asked
    by itself), a chart of several on the union of their extents; short series whole; a series
    that does not exist, empty; and a zoom holds for every chart."""
    exp = new_id()
    t0 = 1_700_000_000.0
    rng = np.random.default_rng(3)
    lengths = {("loss", "train"): 5_000, ("loss", "val"): 300, ("acc", "val"): 3_000, ("lr", "lr"): 80}
    for (metric, variant), n in lengths.items():
        values = rng.normal(size=n)
        values[2 * n // 3] = 99.0  # a spike in each, inside the zoom too
        pts = [(metric, variant, i * 2, float(v)) for i, v in enumerate(values)]
        store.insert("ws", exp, f"{exp}.{metric}.{variant}", columns(pts, [t0 + i * 0.5 for i in range(n)]))
    start = {"iter": 100.0, "relative": 50.0, "wall": t0 + 50}[xaxis]  # a zoom from iteration 100 on
    for zoom in ({}, {"x_min": start}):

        def q(metric: str, variant: str, zoom: dict[str, float] = zoom) -> SeriesQuery:
            return SeriesQuery("ws", exp, metric, variant, xaxis=xaxis, samples=500, **zoom)

        charts = [[q("loss", "train"), q("loss", "val")], [q("acc", "val")], [q("lr", "lr")], [q("gone", "x")]]
        together = store.query_charts(charts)
        assert len(together) == 4
        for chart, (results, grid) in zip(charts, together, strict=True):
            alone, alone_grid = store.query_chart(chart)
            assert grid == alone_grid
            for a, b in zip(results, alone, strict=True):
                assert (a.x, a.min, a.max, a.mean, a.last, a.count) == (b.x, b.min, b.max, b.mean, b.last, b.count)
            if len(chart) == 1:  # a chart of one series: as the series asked by itself
                by_itself = store.query_series(chart[0])
                assert (results[0].x, results[0].max, results[0].count) == (
                    by_itself.x, by_itself.max, by_itself.count
                )  # fmt: skip
        (train, val), grid = together[0]
        assert grid is not None and train.downsampled and not val.downsampled
        assert max(train.max) == 99.0 and len(train.x) <= 500 and max(val.max) == 99.0
        assert val.total_points == len(val.x) == (300 if not zoom else len(val.count))  # every point
        assert train.x[1] - train.x[0] == pytest.approx(grid[1])  # bucket centres of the shared grid
        acc = together[1][0][0]
        assert together[1][1] is None and acc.downsampled and max(acc.max) == 99.0
        assert (
            together[2][0][0].total_points == (80 if not zoom else 30 if xaxis == "iter" else 0)
            and not together[2][0][0].downsampled
        )
        assert together[3][0][0].total_points == 0 and together[3][1] is None


def test_few_points_come_back_at_full_resolution_and_zoom_works(store: ScalarStore) -> None:
    exp = new_id()
    store.insert("ws", exp, f"{exp}.1", columns([("acc", "val", i * 10, i / 10) for i in range(10)]))
    r = store.query_series(SeriesQuery("ws", exp, "acc", "val", samples=2000))
    assert not r.downsampled and r.x == [float(i * 10) for i in range(10)] and r.min == r.max == r.last
    z = store.query_series(SeriesQuery("ws", exp, "acc", "val", samples=2000, x_min=20, x_max=50))
    assert z.x == [20.0, 30.0, 40.0, 50.0] and z.total_points == 4


def test_time_axes(store: ScalarStore) -> None:
    exp = new_id()
    ts = [1000.0, 1001.5, 1003.0]
    store.insert("ws", exp, f"{exp}.1", columns([("m", "v", i, float(i)) for i in range(3)], timestamps=ts))
    wall = store.query_series(SeriesQuery("ws", exp, "m", "v", xaxis="wall"))
    rel = store.query_series(SeriesQuery("ws", exp, "m", "v", xaxis="relative"))
    assert wall.x == ts and rel.x == [0.0, 1.5, 3.0]


def test_workspaces_and_series_are_isolated(store: ScalarStore) -> None:
    exp = new_id()
    store.insert("a", exp, f"{exp}.1", columns([("m", "v", 0, 1.0), ("m", "w", 0, 2.0)]))
    assert store.list_series("b", exp) == []
    assert store.query_series(SeriesQuery("b", exp, "m", "v")).total_points == 0
    assert [s.variant for s in store.list_series("a", exp)] == ["v", "w"]
    assert store.query_series(SeriesQuery("a", exp, "m", "w")).last == [2.0]


def test_bad_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="xaxis"):
        SeriesQuery("ws", "e", "m", "v", xaxis="days")
    with pytest.raises(ValueError, match="samples"):
        SeriesQuery("ws", "e", "m", "v", samples=0)
    with pytest.raises(ValueError, match="x_min"):
        SeriesQuery("ws", "e", "m", "v", x_min=5, x_max=1)


def test_migrations_apply_once(store: ScalarStore) -> None:
    assert isinstance(store, ClickHouseScalarStore)
    assert migrate(store.client) == []  # already applied when the store opened
    versions = [r[0] for r in store.client.query("SELECT version FROM schema_migrations ORDER BY version").result_rows]
    assert versions == sorted(set(versions)) and "0001_scalars" in versions
    assert Path(__file__).exists()


def test_read_points_pages_in_iteration_order(store: ScalarStore) -> None:
    exp = new_id()
    store.insert("ws", exp, f"{exp}.1", columns([("m", "v", i, float(i)) for i in (5, 1, 3, 2, 4)]))
    its, values, ts = store.read_points("ws", exp, "m", "v", None, 2)
    assert its == [1, 2] and values == [1.0, 2.0] and len(ts) == 2
    assert store.read_points("ws", exp, "m", "v", 2, 10)[0] == [3, 4, 5]
    assert store.read_points("ws", exp, "m", "v", 5, 10) == ([], [], [])
    assert store.read_points("other", exp, "m", "v", None, 10) == ([], [], [])


def test_delete_experiment_removes_its_points_only(store: ScalarStore) -> None:
    a, b = new_id(), new_id()
    store.insert("ws", a, f"{a}.1", columns([("m", "v", 0, 1.0)]))
    store.insert("ws", b, f"{b}.1", columns([("m", "v", 0, 1.0)]))
    store.delete_experiment("ws", a, 7)
    store.delete_experiment("ws", a, 7)  # idempotent
    assert store.list_series("ws", a) == [] and len(store.list_series("ws", b)) == 1
    store.delete_experiment("ws", a, 3)  # the log's positions say which clear came last
    assert store.cleared({("ws", a), ("ws", b), ("other", a)}) == {("ws", a): 7}


async def test_a_clear_stays_a_clear_when_older_events_are_delivered_again(store: ScalarStore) -> None:
    """JetStream redelivers an unacknowledged message after newer ones, so after a crash an
    event can come back after its experiment's clear: settling must not bring its points back."""
    exp = new_id()
    old = contract.stamp(scalar_event(1, [("m", "v", i, 1.0) for i in range(50)]), "ws", exp, time.time())
    clear = contract.new_event("ws", exp, f"{exp}.2", seq=2, experiment_cleared=events_pb2.ExperimentCleared())
    new = contract.stamp(scalar_event(3, [("m", "v", 0, 2.0)]), "ws", exp, time.time())
    with ThreadPoolExecutor(1) as pool:
        projection = ScalarProjection(store, pool)
        await projection.handle([Positioned(old, 10), Positioned(clear, 11)])
        await projection.handle([Positioned(new, 12), Positioned(old, 10, redelivered=True)])
    assert store.read_points("ws", exp, "m", "v", None, 100)[:2] == ([0], [2.0])


def _console(texts: list[str], t0: float = 1000.0) -> ConsoleColumns:
    n = len(texts)
    return ConsoleColumns(
        texts, np.arange(n, dtype="<f8") + t0, np.full(n, 2, dtype="u1"), np.array([1, 2] * n, dtype="u1")[:n]
    )


def test_console_pages_tail_search_and_dedup(store: ScalarStore) -> None:
    exp = new_id()
    store.insert_console("ws", exp, 2, f"{exp}.2", _console([f"line {i}" for i in range(5)]))
    store.insert_console("ws", exp, 2, f"{exp}.2", _console([f"line {i}" for i in range(5)]))  # redelivered
    store.insert_console("ws", exp, 1, f"{exp}.1", _console(["first", "Epoch 1 done"]))
    lines, more, total = store.read_console("ws", exp, 0, 4, False, "")
    assert total == 7 and more
    assert [ln.text for ln in lines] == ["first", "Epoch 1 done", "line 0", "line 1"]  # seq order, not arrival
    rest, more, _ = store.read_console("ws", exp, lines[-1].cursor, 100, False, "")
    assert [ln.text for ln in rest] == ["line 2", "line 3", "line 4"] and not more
    tail, _, _ = store.read_console("ws", exp, 0, 2, True, "")
    assert [ln.text for ln in tail] == ["line 3", "line 4"]
    found, _, total = store.read_console("ws", exp, 0, 100, False, "EPOCH")
    assert [ln.text for ln in found] == ["Epoch 1 done"] and total == 1
    assert (found[0].level, found[0].source) == (2, 2)


# -- a crash inside an insert ------------------------------------------------------------------------
# On a non-replicated MergeTree, ClickHouse writes an insert's deduplication token to the table's
# log before it commits the part: a process killed between the two leaves the token without the
# rows, and the event redelivered after the restart is dropped as a duplicate. Deleting an event's
# rows leaves the same state (the token stays), so these tests make the hole that way.
def _hole(store: ScalarStore, table: str, where: str, **params: object) -> None:
    assert isinstance(store, ClickHouseScalarStore)
    store.client.command(f"DELETE FROM {table} WHERE {where}", parameters=params)


def _blocks(store: ScalarStore, exp: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The experiment's block rollups as the table holds them, and as its points make them."""
    assert isinstance(store, ClickHouseScalarStore)
    keys = "metric, variant, block"
    stats = "sum(n), min(lo), max(hi), round(sum(total), 9), min(first_it), max(last)"
    where = "workspace = 'ws' AND experiment_id = {exp:String}"
    rolled = store.client.query(
        f"SELECT {keys}, {stats} FROM scalar_blocks WHERE {where} GROUP BY {keys} ORDER BY {keys}",
        parameters={"exp": exp},
    ).result_rows
    made = store.client.query(
        f"SELECT {keys}, {stats} FROM (SELECT metric, variant, bitShiftRight(iteration, 6) AS block, count() AS n,"
        " min(value) AS lo, max(value) AS hi, sum(value) AS total, min(iteration) AS first_it,"
        f" max((iteration, value)) AS last FROM scalars WHERE {where} GROUP BY {keys}) GROUP BY {keys} ORDER BY {keys}",
        parameters={"exp": exp},
    ).result_rows
    return rolled, made


def test_an_event_whose_token_outlived_its_rows_is_settled(store: ScalarStore) -> None:
    exp = new_id()
    points = [("loss", "train", i, float(i % 7)) for i in range(300)] + [
        ("acc", "val", i, 0.5) for i in range(0, 300, 10)
    ]
    event = ScalarEvent("ws", exp, f"{exp}.1", columns(points))
    after = ScalarEvent("ws", exp, f"{exp}.2", columns([("loss", "train", 300 + i, -1.0) for i in range(100)]))
    store.insert_many([event], event.event_id)
    store.insert_many([after], after.event_id)  # its first points share block 4 (256..319) with the lost event
    _hole(store, "scalars", "experiment_id = {exp:String} AND event_id = {id:String}", exp=exp, id=event.event_id)
    store.insert_many([event], event.event_id)  # redelivered: dropped, its token is still there
    assert store.read_points("ws", exp, "loss", "train", None, 1000)[0] == list(range(300, 400))
    assert store.settle(event) == 330
    assert store.settle(event) == 0  # a second redelivery finds it there
    _hole(store, "scalars", "experiment_id = {exp:String} AND event_id = {id:String}", exp=exp, id=event.event_id)
    assert store.settle(event) == 330  # a crash inside the repair's own insert: made good the same way
    assert store.settle(after) == 0
    its, values, _ = store.read_points("ws", exp, "loss", "train", None, 1000)
    assert its == list(range(400)) and values[:8] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0]
    assert [(i.metric, i.points) for i in store.list_series("ws", exp)] == [("acc", 30), ("loss", 400)]
    rolled, made = _blocks(store, exp)
    assert rolled == made and len(made) == 7 + 5  # the rollups counted the lost event once, not twice


def test_rollups_that_lost_an_event_are_rebuilt_from_its_points(store: ScalarStore) -> None:
    exp = new_id()
    event = ScalarEvent("ws", exp, f"{exp}.1", columns([("m", "v", i, float(-i)) for i in range(40, 200)]))
    store.insert_many([event], event.event_id)
    for _ in range(2):  # the same blocks lost again, after a rebuild: its rows are not taken for duplicates
        _hole(store, "scalar_blocks", "experiment_id = {exp:String} AND block IN (1, 2)", exp=exp)
        assert store.settle(event) == 0  # the points were there: nothing stored again
        rolled, made = _blocks(store, exp)
        assert rolled == made and [b[2] for b in made] == [0, 1, 2, 3]
    assert store.list_series("ws", exp)[0].points == 160


def test_console_lines_whose_token_outlived_them_are_settled(store: ScalarStore) -> None:
    exp = new_id()
    lost = ConsoleEvent("ws", exp, 7, f"{exp}.7", _console(["a", "b", "c"]))
    kept = ConsoleEvent("ws", exp, 8, f"{exp}.8", _console(["d"]))
    for event in (lost, kept):
        store.insert_console_many([event], event.event_id)
    _hole(store, "console", "experiment_id = {exp:String} AND cursor < {c:UInt64}", exp=exp, c=8 << 20)
    store.insert_console_many([lost], lost.event_id)  # dropped
    assert [ln.text for ln in store.read_console("ws", exp, 0, 10, False, "")[0]] == ["d"]
    assert store.settle_console(lost) == 3 and store.settle_console(lost) == 0 and store.settle_console(kept) == 0
    assert [ln.text for ln in store.read_console("ws", exp, 0, 10, False, "")[0]] == ["a", "b", "c", "d"]


def test_a_plot_or_sample_seen_before_goes_in_again(store: ScalarStore) -> None:
    exp = new_id()
    store.insert_plot("ws", exp, 1, _plot("roc", 5, 1), 1.0)
    store.insert_sample("ws", exp, 2, _sample(5, "debug/x.png"), 2.0)
    _hole(store, "plots", "experiment_id = {exp:String}", exp=exp)
    _hole(store, "debug_samples", "experiment_id = {exp:String}", exp=exp)
    store.insert_plot("ws", exp, 1, _plot("roc", 5, 1), 1.0)  # the same row: dropped
    store.insert_sample("ws", exp, 2, _sample(5, "debug/x.png"), 2.0)
    assert store.get_plots("ws", exp, "", "", None) == [] and store.get_samples("ws", exp, "", "", None, 10) == []
    for _ in range(2):  # redelivered twice: one plot, one sample all the same
        store.insert_plot("ws", exp, 1, _plot("roc", 5, 1), 1.0, again=True)
        store.insert_sample("ws", exp, 2, _sample(5, "debug/x.png"), 2.0, again=True)
    [plot] = store.get_plots("ws", exp, "", "", None)
    assert (plot.iteration, plot.iterations, plot.stored_iterations) == (5, 1, (5,))
    [sample] = store.get_samples("ws", exp, "", "", None, 10)
    assert (sample.iteration, sample.key) == (5, "debug/x.png")


async def test_an_event_lost_inside_its_insert_is_back_when_jetstream_redelivers_it(
    store: ScalarStore, nats_url: str
) -> None:
    """The whole way: real JetStream, the bus's consumer loop, the projection, the store. The
    first delivery is "killed" after the inserts, before the ack, with the second event's rows
    lost and its token kept (the hole a kill -9 inside ClickHouse's insert leaves); JetStream
    delivers the batch again, marked, and the projection settles it."""
    exp = new_id()
    events = [
        contract.stamp(scalar_event(seq, [("loss", "train", (seq - 1) * 100 + i, float(seq)) for i in range(100)]),
                       "ws", exp, time.time())
        for seq in (1, 2, 3)
    ]  # fmt: skip
    nc, js = await bus.connect(nats_url, "test-settle")
    deliveries: list[list[bool]] = []
    stopping = asyncio.Event()
    with ThreadPoolExecutor(1) as pool:
        projection = ScalarProjection(store, pool)

        async def handler(batch: Sequence[Positioned]) -> None:
            mine = [p for p in batch if p.event.experiment_id == exp]
            await projection.handle(mine)
            deliveries.append([p.redelivered for p in mine])
            if len(deliveries) == 1:
                _hole(store, "scalars", "experiment_id = {exp:String} AND event_id = {id:String}",
                      exp=exp, id=events[1].event_id)  # fmt: skip
                raise RuntimeError("killed before the ack")
            if sum(map(len, deliveries[1:])) >= len(events):  # JetStream may bring them back in several fetches
                stopping.set()

        try:
            await bus.ensure_stream(js)
            await bus.publish_all(js, [bus.Outgoing.of(e) for e in events])
            await asyncio.wait_for(bus.consume(js, REGISTRY["metrics"], handler, stopping), timeout=60)
        finally:
            await nc.close()
    assert deliveries[0] == [False] * 3 and [again for d in deliveries[1:] for again in d] == [True] * 3
    its, values, _ = store.read_points("ws", exp, "loss", "train", None, 1000)
    assert its == list(range(300)) and values[100:200] == [2.0] * 100
    assert store.list_series("ws", exp)[0].points == 300
    rolled, made = _blocks(store, exp)
    assert rolled == made


def _plot(metric: str, iteration: int, n: int) -> events_pb2.PlotReported:
    return events_pb2.PlotReported(
        metric=metric, variant="v", iteration=iteration, kind="plotly", figure_json=f'{{"data": [], "n": {n}}}'
    )


def test_plots_latest_and_by_iteration(store: ScalarStore) -> None:
    exp = new_id()
    store.insert_plot("ws", exp, 1, _plot("roc", 0, 1), 1.0)
    store.insert_plot("ws", exp, 2, _plot("roc", 5, 2), 2.0)
    store.insert_plot("ws", exp, 3, _plot("roc", 5, 3), 3.0)  # the same iteration again: replaces
    store.insert_plot("ws", exp, 4, _plot("pr", 2, 4), 4.0)
    latest = {p.metric: p for p in store.get_plots("ws", exp, "", "", None)}
    assert latest["roc"].iteration == 5 and '"n": 3' in latest["roc"].figure_json and latest["roc"].iterations == 2
    assert latest["pr"].iteration == 2
    [at0] = store.get_plots("ws", exp, "roc", "", 0)
    assert '"n": 1' in at0.figure_json
    assert store.get_plots("ws", exp, "", "", 99) == []
    assert latest["roc"].stored_iterations == (0, 5)  # the iteration picker's choices


def test_a_plot_over_time_is_each_iteration_once_oldest_first(store: ScalarStore) -> None:
    exp = new_id()
    for seq, it in enumerate([3, 1, 2, 2, 0], start=1):  # iteration 2 logged twice: the later one counts
        store.insert_plot("ws", exp, seq, _plot("hist", it, seq), float(seq))
    store.insert_plot("ws", exp, 9, _plot("other", 7, 9), 9.0)
    rows = store.get_plots("ws", exp, "hist", "v", None, history=3)
    assert [r.iteration for r in rows] == [1, 2, 3]  # the newest three, oldest first
    assert '"n": 4' in rows[1].figure_json
    assert all(r.stored_iterations == (0, 1, 2, 3) and r.iterations == 4 for r in rows)
    assert len(store.get_plots("ws", exp, "", "", None, history=500)) == 5  # every series' history


def _sample(iteration: int, key: str) -> events_pb2.DebugSample:
    return events_pb2.DebugSample(
        metric="img", variant="v", iteration=iteration, kind="image",
        file=events_pb2.FileReference(key=key, size=3, content_type="image/png"),
    )  # fmt: skip


def test_debug_sample_index_navigates_the_retained_window(store: ScalarStore) -> None:
    exp = new_id()
    for i in range(6):
        store.insert_sample("ws", exp, i + 1, _sample(i * 10, f"debug/a/b/{i}.png"), float(i))
    [latest] = store.get_samples("ws", exp, "", "", None, keep_last=3)
    assert (latest.iteration, latest.previous_iteration, latest.next_iteration) == (50, 40, None)
    assert latest.iterations == 3
    [mid] = store.get_samples("ws", exp, "img", "v", 40, keep_last=3)
    assert (mid.key, mid.previous_iteration, mid.next_iteration) == ("debug/a/b/4.png", 30, 50)
    [oldest] = store.get_samples("ws", exp, "img", "v", 30, keep_last=3)
    assert oldest.previous_iteration is None  # 20 is outside the retained window
    assert store.get_samples("ws", exp, "img", "v", 20, keep_last=3) == []


def test_nan_and_infinities_round_trip(store: ScalarStore) -> None:
    exp = new_id()
    store.insert("ws", exp, f"{exp}.1", columns([("m", "v", 0, float("nan")), ("m", "v", 1, float("inf")),
                                                 ("m", "v", 2, float("-inf")), ("m", "v", 3, 1.0)]))  # fmt: skip
    its, values, _ = store.read_points("ws", exp, "m", "v", None, 10)
    assert its == [0, 1, 2, 3]
    assert np.isnan(values[0]) and values[1] == float("inf") and values[2] == float("-inf") and values[3] == 1.0


def test_delete_experiment_removes_every_kind(store: ScalarStore) -> None:
    exp = new_id()
    store.insert("ws", exp, f"{exp}.1", columns([("m", "v", 0, 1.0)]))
    store.insert_console("ws", exp, 2, f"{exp}.2", _console(["x"]))
    store.insert_plot("ws", exp, 3, _plot("p", 0, 1), 1.0)
    store.insert_sample("ws", exp, 4, _sample(0, "debug/a/b/0.png"), 1.0)
    store.delete_experiment("ws", exp)
    assert store.list_series("ws", exp) == []
    assert store.read_console("ws", exp, 0, 10, False, "")[2] == 0
    assert store.get_plots("ws", exp, "", "", None) == []
    assert store.get_samples("ws", exp, "", "", None, 100) == []


def test_block_rollups_answer_like_the_points(chdb_url: str) -> None:
    """Overviews of long series come from per-block rollups (64 iterations). Checked here on
    shorter series by letting the rollups answer any bucket width, against the same store reading
    every point: totals, extremes, last values and means agree; a redelivered event is counted
    once; zoomed ranges take their partial edge blocks from the points."""
    rolled = ClickHouseScalarStore(chdb_url, rollup_min_width=1e-9)
    direct = ClickHouseScalarStore(chdb_url, rollup_min_width=math.inf)
    rng = np.random.default_rng(11)
    for shape in ("dense", "gappy", "negative"):
        exp = new_id()
        n = 60_000
        if shape == "dense":
            its = np.arange(n)
        elif shape == "gappy":
            its = np.sort(rng.choice(5_000_000, n, replace=False))
        else:
            its = np.arange(n) - 30_000
        values = rng.normal(size=n)
        points = [("m", "v", int(i), float(v)) for i, v in zip(its, values, strict=True)]
        for k in range(0, n, 7_000):
            event = f"{exp}.{k}"
            rolled.insert("ws", exp, event, columns(points[k : k + 7_000]))
            rolled.insert("ws", exp, event, columns(points[k : k + 7_000]))  # redelivered
        lo, hi = int(its[0]), int(its[-1])
        ranges = [(None, None), (lo + 1500, hi - 2500), (lo + 5, lo + 1000), (float(lo) + 0.5, None)]
        for x_min, x_max in ranges:
            q = SeriesQuery("ws", exp, "m", "v", samples=50, x_min=x_min, x_max=x_max)
            r, d = rolled.query_series(q), direct.query_series(q)
            [[charted], _] = rolled.query_chart([q])  # a chart of this one series: the same buckets
            assert (charted.x, charted.min, charted.count, charted.total_points) == (
                r.x,
                r.min,
                r.count,
                r.total_points,
            )
            inside = (its >= (x_min if x_min is not None else -np.inf)) & (
                its <= (x_max if x_max is not None else np.inf)
            )
            assert r.total_points == d.total_points == int(inside.sum()), (shape, x_min, x_max)
            assert sum(r.count) == r.total_points and r.downsampled == (r.total_points > 50)
            assert min(r.min) == min(d.min) == values[inside].min() and max(r.max) == max(d.max)
            assert r.x[-1] == d.x[-1] == float(its[inside][-1]) and r.last[-1] == d.last[-1]
            mean = sum(m * c for m, c in zip(r.mean, r.count, strict=True)) / r.total_points
            assert mean == pytest.approx(float(values[inside].mean()), abs=1e-9)
            assert r.x == sorted(r.x) and len(r.x) <= 50
        grid = (lo - 100.0, (hi - lo + 200) / 50)  # a chart's shared grid, wider than this run
        rg, dg = (
            rolled.query_series(SeriesQuery("ws", exp, "m", "v", samples=50), grid),
            direct.query_series(SeriesQuery("ws", exp, "m", "v", samples=50), grid),
        )
        # the same buckets; a rollup block falls whole into the bucket of its first iteration
        assert rg.x == dg.x and sum(rg.count) == sum(dg.count) == n and min(rg.min) == min(dg.min)
        assert all(grid[0] < x < grid[0] + 50 * grid[1] for x in rg.x)  # the buckets' centres
        other = new_id()  # a chart of this run and a short one: rollups for the long, one statement for the short
        rolled.insert("ws", other, f"{other}.1", columns([("m", "v", int(i), 1.0) for i in its[:3000]]))
        pair = [SeriesQuery("ws", e, "m", "v", samples=50) for e in (exp, other)]
        (r_long, r_short), r_grid = rolled.query_chart(pair)
        (d_long, d_short), d_grid = direct.query_chart(pair)
        assert r_grid == d_grid and r_long.x == d_long.x and r_short.x == d_short.x
        assert sum(r_long.count) == n and sum(r_short.count) == 3000 == r_short.total_points
    assert direct._query_blocks(SeriesQuery("ws", exp, "m", "v", samples=50)) is None  # narrow buckets: points
    rolled.delete_experiment("ws", exp)
    assert rolled.query_series(SeriesQuery("ws", exp, "m", "v")).total_points == 0


def test_the_cluster_schema_is_replicated_distributed_and_parses(chdb_url: str) -> None:
    """TRACKLANE_CLICKHOUSE_CLUSTER's DDL (what the migrations run on a cluster), parsed by the
    real engine (chDB has no Keeper to run it): every table a Replicated*MergeTree on each node
    and a Distributed table over them, sharded by experiment; the rollups' view local to local."""
    from importlib import resources

    from services.common.clickhouse_cluster import local_table, statements

    store = ClickHouseScalarStore(chdb_url)
    sql = [
        s
        for f in sorted(resources.files("services.metrics.migrations").iterdir(), key=lambda f: f.name)
        if f.name.endswith(".sql")
        for s in f.read_text().split(";\n")
        if s.strip()
    ]
    made = [t for s in sql for t in statements(s, "tracklane")]
    made.append(f"DELETE FROM {local_table('scalars', 'tracklane')} WHERE workspace = 'w' AND experiment_id = 'e'")
    from services.metadata.table import SCHEMA, TABLE  # the experiment table index, sharded by experiment too

    index = statements(SCHEMA.format(name=TABLE), "tracklane", key="cityHash64(workspace, id)")
    assert "ReplicatedReplacingMergeTree(" in index[0] and "cityHash64(workspace, id)" in index[1]
    for statement in made + index:
        formatted = store.client.query("SELECT formatQuery({q:String})", parameters={"q": statement}).first_row[0]
        assert "ON CLUSTER" in formatted or statement.lstrip().startswith("INSERT"), statement
    tables = [s for s in made if "CREATE TABLE" in s]
    local = [s for s in tables if "_local ON CLUSTER" in s]
    assert {"scalars", "scalar_blocks", "console", "plots", "debug_samples"} <= {
        s.split("IF NOT EXISTS ")[1].split("_local")[0] for s in local
    }
    assert all("ENGINE = Replicated" in s and "{replica}" in s and "non_replicated" not in s for s in local)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/plots_local', '{replica}', seq)" in (
        "".join(local)
    )
    distributed = [s for s in tables if "Distributed(" in s]
    assert len(distributed) == len(local) and all("cityHash64(workspace, experiment_id)" in s for s in distributed)
    [view] = [s for s in made if "MATERIALIZED VIEW" in s]
    assert "TO scalar_blocks_local" in view and "FROM scalars_local" in view
    assert statements(sql[0], "") == [sql[0]]  # no cluster: the statements as they are
    with pytest.raises(ValueError):
        statements(sql[0], "bad name'; DROP")

"""The gateway's query use cases against fake services (see conftest.py): what they ask the
services and how they answer."""

from __future__ import annotations

import uuid

import grpc
import pytest

from gateway import schemas as s
from gateway.usecases import experiment_queries as queries
from services.common.auth import Principal
from tests.unit.conftest import ADMIN, World, experiment


async def test_scalars_ask_only_the_series_wanted_and_a_backwards_zoom_is_the_same_range(world: World) -> None:
    exp = experiment(world.metadata)
    world.metrics.series[exp] = [("loss", "train"), ("loss", "val"), ("acc", "val")]
    answer = await queries.scalars(world.st, ADMIN, exp, s.ScalarQuery(metric="loss", x_min=9.0, x_max=2.0))
    assert [(x.metric, x.variant) for x in answer.series] == [("loss", "train"), ("loss", "val")]
    assert {(q.x_min, q.x_max) for q in world.metrics.queries} == {(2.0, 9.0)}
    assert answer.series[0].last == [1.0, "NaN"]  # JSON has no NaN: the API's string


async def test_compare_counts_a_repeated_id_once_and_defaults_the_variant(world: World) -> None:
    a, b = experiment(world.metadata), experiment(world.metadata)
    answer = await queries.compare(world.st, ADMIN, s.CompareQuery(ids=f"{a},{b},{a}", metric="loss"))
    assert [e.id for e in answer.experiments] == [a, b]
    assert [(q.experiment_id, q.metric, q.variant) for q in world.metrics.queries] == [
        (a, "loss", "loss"), (b, "loss", "loss")
    ]  # fmt: skip
    assert isinstance(answer.scalars, list) and [x.experiment_id for x in answer.scalars] == [a, b]


async def test_another_workspace_sees_nothing(world: World) -> None:
    a, b = experiment(world.metadata), experiment(world.metadata)
    stranger = Principal("other", "admin", "k-other")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await queries.compare(world.st, stranger, s.CompareQuery(ids=f"{a},{b}"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError):
        await queries.scalars(world.st, stranger, uuid.uuid4().hex, s.ScalarQuery())

"""Hostile input on every gRPC method of every service (found from the protocol's descriptors, so
a new method is fuzzed the day it is added): messages generated from each method's request type
with extreme values (huge and empty strings and lists, every number's edges, NaN and the
infinities, unknown enum values, nesting as deep as the types allow), and wire-level garbage
(random bytes, truncated messages, fields of the wrong wire type, strings that are not UTF-8,
lengths past the end), with no key, a malformed key, another's key and the admin key.

Every answer is OK or a clear refusal — INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED,
NOT_FOUND — never UNKNOWN or INTERNAL, and afterwards no service log of the run holds a
traceback. ``FUZZ_EXAMPLES`` sets the examples per method (``make fuzz`` runs many more)."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracklane_proto import (
    artifact_pb2,
    ingest_pb2,
    metadata_pb2,
    metrics_pb2,
    metrics_pb2_grpc,
    reporting_pb2,
    reporting_pb2_grpc,
)

from devstack import Stack
from tests.conftest import API_KEY

pytestmark = [
    pytest.mark.engines,
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning"),  # huge inputs have huge reprs
]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.NOT_FOUND,
}
METHODS = [
    (service, method)
    for module in (ingest_pb2, metadata_pb2, metrics_pb2, artifact_pb2, reporting_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]
KEYS = st.sampled_from([API_KEY, None, "not-a-key", "tl_" + "x" * 43, "Bearer", "tl_\u00e9".encode().hex()])


# -- messages of a type, with the edges of every field ------------------------------------------
_INTS = {
    d.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1), d.FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1), d.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1), d.FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), d.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), d.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}  # fmt: skip


def _edges(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([lo, hi, 0, 1, -1 if lo < 0 else 2]), st.integers(lo, hi))


HUGE_TEXT = st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "\u202e", "\x00", "/", "'"]),
                      st.sampled_from([300, 5_000, 70_000, 300_000]))  # fmt: skip
TEXT = st.one_of(st.just(""), st.text(max_size=40), HUGE_TEXT,
                 st.sampled_from(["../../etc/passwd", "a/b/c", "<script>alert(1)</script>", "0" * 32, "f" * 32,
                                  "attributes.name = 'x' OR 1=1", "metrics.loss >", "'\"\\"]))  # fmt: skip
BYTES = st.one_of(st.binary(max_size=64), st.builds(lambda n: os.urandom(n), st.sampled_from([1024, 200_000])))


def scalar(field: d.FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in _INTS:
        return _edges(*_INTS[t])
    if t == d.FieldDescriptor.TYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if t == d.FieldDescriptor.TYPE_FLOAT:
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if t == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == d.FieldDescriptor.TYPE_STRING:
        return TEXT
    if t == d.FieldDescriptor.TYPE_BYTES:
        return BYTES
    if t == d.FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 40)  # proto3 enums are open: unknown values must be refused cleanly
    raise AssertionError(f"no strategy for {field.full_name}")


def message(desc: d.Descriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    """Messages of type ``desc`` (a random subset of fields set, each to an extreme value)."""
    cls = message_factory.GetMessageClass(desc)
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for field in desc.fields:
        if field.type == d.FieldDescriptor.TYPE_MESSAGE:
            if depth >= 3:
                continue
            if field.message_type.GetOptions().map_entry:
                key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
                value_s = message(value.message_type, depth + 1) if value.message_type else scalar(value)
                parts[field.name] = st.dictionaries(scalar(key), value_s, max_size=4)
                continue
            one = message(field.message_type, depth + 1)
        else:
            one = scalar(field)
        repeated = field.is_repeated
        parts[field.name] = st.lists(one, max_size=6) if repeated else one

    def build(values: dict[str, Any]) -> Any:
        out = cls()
        for name, value in values.items():
            field = desc.fields_by_name[name]
            target = getattr(out, name)
            if field.type == d.FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
                for k, v in value.items():
                    if hasattr(v, "SerializeToString"):
                        target[k].CopyFrom(v)
                    else:
                        target[k] = v
            elif field.is_repeated:
                if field.type == d.FieldDescriptor.TYPE_MESSAGE:
                    for v in value:
                        target.add().CopyFrom(v)
                else:
                    target.extend(value)
            elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
                target.CopyFrom(value)
            else:
                setattr(out, name, value)
        return out

    return st.fixed_dictionaries({}, optional=parts).map(build)


# -- wire-level garbage ------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@st.composite
def wire(draw: st.DrawFn, desc: d.Descriptor) -> bytes:
    """Bytes that are not a valid message of ``desc``, or only barely one."""
    numbers = [f.number for f in desc.fields] or [1]
    kind = draw(st.sampled_from(["random", "fields", "truncated", "utf8"]))
    if kind == "random":
        return draw(st.binary(min_size=1, max_size=300))
    if kind == "truncated":
        whole = draw(message(desc)).SerializeToString()
        return whole[: draw(st.integers(0, max(len(whole) - 1, 0)))] + draw(st.binary(max_size=3))
    out = bytearray()
    for _ in range(draw(st.integers(1, 6))):
        number = draw(st.one_of(st.sampled_from(numbers), st.integers(1, 2**29 - 1)))
        if kind == "utf8":  # a length-delimited field that is not UTF-8 (a string field must be)
            payload = draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"a\xed\xa0\x80b", b"\x80" * 10]))
            out += _varint(number << 3 | 2) + _varint(len(payload)) + payload
            continue
        wire_type = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7]))
        out += _varint(number << 3 | wire_type)
        if wire_type == 0:
            out += _varint(draw(st.integers(0, 2**64 - 1)))
        elif wire_type == 1:
            out += struct.pack("<Q", draw(st.integers(0, 2**64 - 1)))
        elif wire_type == 5:
            out += struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
        elif wire_type == 2:
            payload = draw(st.binary(max_size=40))
            claimed = draw(st.one_of(st.just(len(payload)), st.integers(0, 2**32)))
            out += _varint(claimed) + payload
    return bytes(out)


# -- calling ------------------------------------------------------------------------------------
def _address(stack: Stack, service: d.ServiceDescriptor) -> str:
    port = {"IngestService": stack.ports.ingestion, "MetadataService": stack.ports.metadata,
            "MetricsService": stack.ports.metrics, "ArtifactService": stack.ports.artifact,
            "ReportingService": stack.ports.reporting}[service.name]  # fmt: skip
    return f"127.0.0.1:{port}"


def _call(
    channel: grpc.Channel, path: str, method: d.MethodDescriptor, requests: list[bytes], key: str | None
) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {key}"),) if key else ()
    same: Any = lambda b: b  # noqa: E731 (bytes in, bytes out)
    try:
        if not method.client_streaming and not method.server_streaming:
            channel.unary_unary(path, request_serializer=same, response_deserializer=same)(
                requests[0], metadata=metadata, timeout=30
            )
            return grpc.StatusCode.OK
        call = channel.stream_stream(path, request_serializer=same, response_deserializer=same)
        answers = call(iter(requests), metadata=metadata, timeout=3)
        for _ in range(5):
            next(answers, None)
        answers.cancel()
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
        if method.client_streaming and code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
            return grpc.StatusCode.OK  # a stream the server keeps open for more: ours ended it
        assert code in ALLOWED, f"{path} answered {code.name}: {exc.details()}"  # type: ignore[attr-defined]
        return code  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A private platform (what the fuzzer writes stays out of the other tests' way)."""
    from tests.conftest import start_stack

    s = start_stack(tmp_path_factory.mktemp("fuzz"))
    yield s
    s.stop()


@pytest.mark.parametrize(("service", "method"), METHODS, ids=[f"{s.name}.{m.name}" for s, m in METHODS])
def test_every_method_refuses_hostile_input_cleanly(
    fuzzed: Stack, service: d.ServiceDescriptor, method: d.MethodDescriptor
) -> None:
    path = f"/{service.full_name}/{method.name}"
    request = method.input_type
    options = [
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ]
    with grpc.insecure_channel(_address(fuzzed, service), options=options) as channel:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=os.environ.get("FUZZ_RANDOM") != "1",
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(
            requests=st.lists(
                st.one_of(message(request).map(lambda m: m.SerializeToString()), wire(request)),
                min_size=1, max_size=3,
            ),
            key=KEYS,
        )  # fmt: skip
        def attack(requests: list[bytes], key: str | None) -> None:
            try:
                _call(channel, path, method, requests, key)
            except AssertionError as exc:  # name the input shortly: some are megabytes
                shown = [r[:300] + (b"..." if len(r) > 300 else b"") for r in requests]
                raise AssertionError(
                    f"{exc}\n  with key {key!r} and {[len(r) for r in requests]} bytes: {shown}"
                ) from None

        attack()


def test_no_service_logged_a_traceback(fuzzed: Stack) -> None:
    """Runs after the fuzzing above (same module, same platform): whatever it sent, no service
    crashed on it — every refusal was a decision, not an exception."""
    for log in sorted((fuzzed.data_dir / "logs").glob("*.log")):
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, (
            f"{log.name}:\n" + text[text.index("Traceback") - 2000 : text.index("Traceback") + 3000]
        )


def test_what_the_fuzzer_found_stays_fixed(fuzzed: Stack) -> None:
    """Each a crash the fuzzer once found: an infinite zoom bound (an OverflowError, UNKNOWN),
    and refusals quoting a huge input (their details outgrew gRPC's trailer: RESOURCE_EXHAUSTED)."""
    with grpc.insecure_channel(f"127.0.0.1:{fuzzed.ports.metrics}") as ch:
        query = metrics_pb2.ScalarQuery(workspace="default", experiment_id="0" * 32, metric="m", variant="v",
                                        x_min=float("inf"))  # fmt: skip
        with pytest.raises(grpc.RpcError) as exc:
            metrics_pb2_grpc.MetricsServiceStub(ch).QueryScalars(query, timeout=10)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "finite" in exc.value.details()
    with grpc.insecure_channel(f"127.0.0.1:{fuzzed.ports.reporting}") as ch:
        request = reporting_pb2.GetReportRequest(workspace="\u202e" * 300_000, report_id="f" * 32)
        with pytest.raises(grpc.RpcError) as exc:
            reporting_pb2_grpc.ReportingServiceStub(ch).GetReport(request, timeout=10)
        assert exc.value.code() in ALLOWED and len(exc.value.details().encode()) < 2000

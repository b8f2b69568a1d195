"""ArtifactService over gRPC: presigned links, previews and audit records.

Every call names a workspace and an experiment, and a key relative to that experiment; the full
object key is ``<workspace>/<experiment>/<key>``, so no request can reach outside its experiment.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from collections.abc import AsyncIterator

import grpc
from tracklane_proto import artifact_pb2, artifact_pb2_grpc

from services.artifact import archive
from services.artifact.domain import ObjectNotFoundError
from services.artifact.store import ObjectStore
from services.common.contract import object_key

UPLOAD_EXPIRES_S = 3600
DOWNLOAD_EXPIRES_S = 3600
MAX_DOWNLOAD_EXPIRES_S = 7 * 24 * 3600
PREVIEW_BYTES = 64 * 1024
# What a preview shows as text (the list, and a few kin).
TEXT_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml", ".md", ".txt", ".py", ".log", ".toml", ".ini",
                 ".cfg"}  # fmt: skip


def previewable(key: str, content_type: str = "") -> bool:
    return posixpath.splitext(key)[1].lower() in TEXT_SUFFIXES or content_type.startswith("text/")


class ArtifactApi(artifact_pb2_grpc.ArtifactServiceServicer):
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    async def _key(self, request: object, context: grpc.aio.ServicerContext) -> str:
        try:
            return object_key(request.workspace, request.experiment_id, request.key)  # type: ignore[attr-defined]
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # unreachable

    async def PresignUpload(  # noqa: N802
        self, request: artifact_pb2.PresignUploadRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.PresignedUrl:
        key = await self._key(request, context)
        url = await asyncio.to_thread(self.store.presign_put, key, UPLOAD_EXPIRES_S)
        return artifact_pb2.PresignedUrl(url=url, method="PUT", expires_at=time.time() + UPLOAD_EXPIRES_S)

    async def PresignDownload(  # noqa: N802
        self, request: artifact_pb2.PresignDownloadRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.PresignedUrl:
        key = await self._key(request, context)
        expires = min(request.expires_s or DOWNLOAD_EXPIRES_S, MAX_DOWNLOAD_EXPIRES_S)
        url = await asyncio.to_thread(self.store.presign_get, key, expires)
        return artifact_pb2.PresignedUrl(url=url, method="GET", expires_at=time.time() + expires)

    async def Preview(  # noqa: N802
        self, request: artifact_pb2.PreviewRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.PreviewResponse:
        key = await self._key(request, context)
        if not previewable(request.key):
            return artifact_pb2.PreviewResponse(previewable=False)
        limit = min(request.max_bytes or PREVIEW_BYTES, 1024 * 1024)
        try:
            head = await asyncio.to_thread(self.store.read_head, key, limit + 1)
        except ObjectNotFoundError:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no object {request.key}")
            raise  # unreachable
        text = head[:limit].decode("utf-8", errors="replace")
        return artifact_pb2.PreviewResponse(text=text, truncated=len(head) > limit, previewable=True)

    async def Stat(  # noqa: N802
        self, request: artifact_pb2.StatRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.ObjectRecord:
        key = await self._key(request, context)
        info = await asyncio.to_thread(self.store.stat, key)
        if info is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no object {request.key}")
        assert info is not None
        return artifact_pb2.ObjectRecord(
            key=request.key, size=info.size, sha256=info.sha256, content_type=info.content_type, metadata=info.metadata
        )

    async def ArchiveInfo(  # noqa: N802
        self, request: artifact_pb2.ArchiveInfoRequest, context: grpc.aio.ServicerContext
    ) -> artifact_pb2.ArchiveInfoResponse:
        batches = await asyncio.to_thread(archive.objects, self.store)
        last = max((b[1] for b in batches), default=0)
        return artifact_pb2.ArchiveInfoResponse(last_position=last, objects=len(batches))

    async def ReadArchive(  # noqa: N802
        self, request: artifact_pb2.ReadArchiveRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[artifact_pb2.ArchiveChunk]:
        # The archive's reads block (object storage): each chunk is read on a worker thread.
        chunks = archive.chunks(self.store, max(request.start, 1), request.stop or None)
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield artifact_pb2.ArchiveChunk(positions=[p for p, _ in chunk], events=[e for _, e in chunk])

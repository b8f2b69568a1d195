"""The artifact service's HTTP endpoint for the embedded store's presigned URLs:
``GET``/``PUT /objects/<key>?expires=…&signature=…``. Anything unsigned, expired or signed for
another key or method is refused with 403; nothing else is served."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from services.artifact.domain import ObjectNotFoundError
from services.artifact.store import FileObjectStore
from services.common.contract import check_object_key

# A signed link is its own permission: any page may read it (no cookies are involved), and what
# it serves never runs as a page of this origin (uploaded HTML included).
READ_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "x-tl-sha256",
    "content-security-policy": "sandbox",
    "x-content-type-options": "nosniff",
}


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status)


def create_app(store: FileObjectStore, max_upload_bytes: int = 5 * 1024**3) -> Starlette:
    async def objects(request: Request) -> Response:
        key = request.path_params["key"]
        try:
            check_object_key(key)
        except ValueError as exc:
            return _error(400, "invalid_argument", str(exc), "key")
        q = request.query_params
        if not store.verify(request.method, key, q.get("expires", ""), q.get("signature", "")):
            return _error(403, "forbidden", "the link is invalid or has expired; ask for a new one", "signature")
        if request.method == "PUT":
            size = int(request.headers.get("content-length") or 0)
            if size > max_upload_bytes:
                return _error(413, "too_large", f"uploads are limited to {max_upload_bytes} bytes")
            body = await request.body()
            info = await asyncio.to_thread(
                store.put, key, io.BytesIO(body), request.headers.get("content-type", "application/octet-stream")
            )
            return JSONResponse({"key": info.key, "size": info.size, "sha256": info.sha256})
        found = await asyncio.to_thread(store.stat, key)
        try:
            handle = await asyncio.to_thread(store.open, key)
        except ObjectNotFoundError:
            found = None
        if found is None:
            return _error(404, "not_found", f"no object {key}")
        info = found

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(1024 * 1024):
                    yield chunk

        return StreamingResponse(
            chunks(),
            media_type=info.content_type,
            headers={"content-length": str(info.size), "x-tl-sha256": info.sha256, **READ_HEADERS},
        )

    return Starlette(routes=[Route("/objects/{key:path}", objects, methods=["GET", "PUT"])])

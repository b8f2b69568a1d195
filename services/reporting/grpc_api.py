"""ReportingService over gRPC: documents <-> protobuf."""

from __future__ import annotations

import grpc
from tracklane_proto import reporting_pb2, reporting_pb2_grpc

from services.reporting import domain
from services.reporting.store import ReportStore

MAX_PAGE_SIZE = 500


def report_to_proto(doc: domain.Doc, *, full: bool) -> reporting_pb2.Report:
    out = reporting_pb2.Report(
        report_id=doc["report_id"],
        name=doc["name"],
        project=doc["project"],
        description=doc["description"],
        tags=domain.visible_tags(doc),
        status=domain.status(doc),
        archived=doc["archived"],
        user=doc["user"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        version=doc["position"],
        body_length=len(doc.get("body", "").encode()) if full else 0,
    )
    if full:
        out.body = doc["body"]
        for share_id, s in sorted(doc.get("shares", {}).items(), key=lambda kv: kv[1].get("created_at", 0.0)):
            if "created_at" in s:  # a revocation seen before its share: nothing to show yet
                out.shares.append(
                    reporting_pb2.Share(
                        share_id=share_id, created_at=s["created_at"], expires_at=s["expires_at"],
                        revoked=s["revoked"], by_key=s.get("by_key", ""),
                    )
                )  # fmt: skip
    return out


class ReportingApi(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, store: ReportStore) -> None:
        self.store = store

    async def ListReports(  # noqa: N802
        self, request: reporting_pb2.ListReportsRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.ListReportsResponse:
        if request.status not in ("", "draft", "published"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "status: draft, published or empty")
        try:
            docs, total, projects = await self.store.list_reports(
                request.workspace,
                project=request.project,
                search=request.search,
                tags=list(request.tags),
                status=request.status,
                archived=request.archived,
                order_by=request.order_by or "-updated_at",
                offset=request.offset,
                limit=min(request.limit or 50, MAX_PAGE_SIZE),
            )
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return reporting_pb2.ListReportsResponse(
            reports=[report_to_proto(d, full=False) for d in docs], total=total, projects=projects
        )

    async def GetReport(  # noqa: N802
        self, request: reporting_pb2.GetReportRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.Report:
        doc = await self.store.get_report(request.workspace, request.report_id)
        if doc is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no report {request.report_id}")
            raise AssertionError("unreachable: abort raises")
        return report_to_proto(doc, full=True)

    async def GetNote(  # noqa: N802
        self, request: reporting_pb2.GetNoteRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.Note:
        doc = await self.store.get_note(request.workspace, request.target)
        if doc is None:
            return reporting_pb2.Note(target=request.target)
        return reporting_pb2.Note(
            target=request.target, text=doc["text"], version=doc["position"], user=doc["user"],
            updated_at=doc["updated_at"],
        )  # fmt: skip

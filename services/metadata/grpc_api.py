"""MetadataService over gRPC: documents <-> protobuf."""

from __future__ import annotations

import json

import grpc
from tracklane_proto import events_pb2, metadata_pb2, metadata_pb2_grpc

from services.common.auth import hash_api_key
from services.metadata import domain, query
from services.metadata.projection import EXECUTION_TEXT
from services.metadata.store import MetadataStore
from services.metadata.table import TableQuery

_STATUS_VALUES = {name: value for value, name in domain.STATUS_NAMES.items()}
MAX_PAGE_SIZE = 500
MAX_COLUMNS = 5000  # identifiers ListColumns answers with


def experiment_to_proto(doc: domain.Doc) -> metadata_pb2.Experiment:
    return metadata_pb2.Experiment(
        id=doc["_id"],
        workspace=doc["workspace"],
        project=doc["project"],
        name=doc["name"],
        tags=doc["tags"],
        user=doc["user"],
        status=_STATUS_VALUES.get(doc["status"], 0),  # type: ignore[arg-type]
        status_reason=doc["status_reason"],
        created_at=doc["created_at"],
        started_at=doc["started_at"],
        updated_at=doc["updated_at"],
        ended_at=doc["ended_at"],
        description=doc.get("description", ""),
        archived=doc.get("archived", False),
        published=doc.get("published", False),
        deleted=doc.get("deleted", False),
        last_seen=doc.get("last_seen", 0.0),
        stop_requested=doc.get("stop_requested", False),
        metrics=[
            metadata_pb2.MetricSummary(
                metric=m["metric"],
                variant=m["variant"],
                last=domain.decode_float(m["last"]),
                min=domain.decode_float(m["min"]),
                max=domain.decode_float(m["max"]),
                last_iteration=m["last_iteration"],
            )
            for m in domain.metric_summaries(doc)
        ],
    )


def _pairs(entries: list[domain.Doc]) -> dict[str, str]:
    return {e["key"]: e["value"] for e in entries}


def details_to_proto(doc: domain.Doc) -> metadata_pb2.ExperimentDetails:
    ex = doc.get("execution") or {}
    execution = events_pb2.ExecutionReported(
        **{k: ex.get(k, "") for k in EXECUTION_TEXT},
        environment=_pairs(ex.get("environment", [])),
        runtime=_pairs(ex.get("runtime", [])),
    )
    artifacts = [
        metadata_pb2.ArtifactRecord(
            artifact=events_pb2.ArtifactRegistered(
                name=a["name"],
                kind=a["kind"],
                type=a["type"],
                framework=a["framework"],
                input=a["input"],
                preview=a["preview"],
                metadata=_pairs(a["metadata"]),
                file=events_pb2.FileReference(
                    key=a["key"], size=a["size"], sha256=a["sha256"], content_type=a["content_type"]
                ),
            ),
            registered_at=a["registered_at"],
        )
        for a in sorted(doc.get("artifacts", {}).values(), key=lambda a: (a["kind"], a["name"]))
    ]
    configurations = [
        events_pb2.ConfigurationSet(
            name=c["name"], text=c["text"], content_type=c["content_type"], description=c["description"]
        )
        for c in sorted(doc.get("configurations", {}).values(), key=lambda c: c["name"])
    ]
    return metadata_pb2.ExperimentDetails(
        hyperparameters=[
            metadata_pb2.ParamSection(
                section=section,
                params=[
                    events_pb2.Param(name=p["name"], value=p["value"], type=p["type"], description=p["description"])
                    for p in params
                ],
            )
            for section, params in domain.param_sections(doc)
        ],
        configurations=configurations,
        properties=domain.live_properties(doc),
        execution=execution,
        artifacts=artifacts,
        workspace=doc["workspace"],
    )


async def _page_size(requested: int, context: grpc.aio.ServicerContext) -> int:
    """The page size asked for (50 by default); INVALID_ARGUMENT above MAX_PAGE_SIZE."""
    if requested > MAX_PAGE_SIZE:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size: at most {MAX_PAGE_SIZE}")
    return requested or 50


class MetadataApi(metadata_pb2_grpc.MetadataServiceServicer):
    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    async def GetExperiment(  # noqa: N802
        self, request: metadata_pb2.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.Experiment:
        return experiment_to_proto(await self._experiment(request, context))

    async def _experiment(
        self, request: metadata_pb2.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> domain.Doc:
        doc = await self.store.get_experiment(request.workspace, request.experiment_id, public_only=request.public_only)
        if doc is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"experiment {request.experiment_id} not found")
        assert doc is not None  # abort raises
        return doc

    async def GetDetails(  # noqa: N802
        self, request: metadata_pb2.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ExperimentDetails:
        return details_to_proto(await self._experiment(request, context))

    async def ListExperiments(  # noqa: N802
        self, request: metadata_pb2.ListExperimentsRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ListExperimentsResponse:
        page_size = await _page_size(request.page_size, context)
        try:
            where = query.compile_filter(request.filter)
            sort = query.compile_order(request.order_by)
            columns = query.compile_columns(request.columns, "columns")
            group = query.compile_columns(request.group_by, "group_by")
        except query.QueryError as exc:
            message = str(exc)
            field = message.partition(":")[0]
            if field not in ("columns", "group_by", "order_by"):
                message = f"filter: {message}"
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
        if len(group) > 1:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "group_by: one column")
        among = sorted(await self.store.public_paths(request.workspace)) if request.public_only else None
        if among is not None and request.deleted:
            among = []  # the bin is never public
        q = TableQuery(
            request.workspace, request.project, archived=request.archived, deleted=request.deleted,
            where=where, sort=sort, among=among,
        )  # fmt: skip
        docs, total = await self.store.list_experiments(q, request.page * page_size, page_size)
        experiments = []
        for doc in docs:
            exp = experiment_to_proto(doc)
            for col in columns:
                exp.columns[col.text] = json.dumps(col.value_of(doc))
            experiments.append(exp)
        groups = []
        if group:
            rows = await self.store.group_experiments(q, group[0].path)
            groups = [metadata_pb2.ExperimentGroup(value_json=json.dumps(v), count=n) for v, n in rows]
        return metadata_pb2.ListExperimentsResponse(experiments=experiments, total=total, groups=groups)

    async def ListKeys(  # noqa: N802
        self, request: metadata_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ListKeysResponse:
        docs = await self.store.list_keys(request.workspace)
        return metadata_pb2.ListKeysResponse(
            keys=[
                metadata_pb2.ApiKey(
                    key_id=d["_id"],
                    role=d["role"],
                    name=d["name"],
                    created_at=d["created_at"],
                    rotated_at=d.get("rotated_at", 0.0),
                    revoked=d["revoked"],
                    user=d.get("user", ""),
                )
                for d in docs
            ]
        )

    async def GetWorkspace(  # noqa: N802
        self, request: metadata_pb2.GetWorkspaceRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.Workspace:
        doc = await self.store.get_workspace(request.workspace)
        if doc is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"workspace {request.workspace} not found")
        assert doc is not None  # abort raises
        origins = doc.get("embed_origins")
        return metadata_pb2.Workspace(
            id=doc["_id"], name=doc["name"], created_at=doc["created_at"],
            embed_origins_set=origins is not None, embed_origins=origins or [],
        )  # fmt: skip

    async def ListViews(  # noqa: N802
        self, request: metadata_pb2.ListViewsRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ListViewsResponse:
        views, default = await self.store.list_views(request.workspace, request.project)
        return metadata_pb2.ListViewsResponse(
            views=[
                metadata_pb2.SavedView(
                    name=v["name"], state=v["state"], user=v["user"], updated_at=v["updated_at"],
                )
                for v in views
            ],
            default_view=default or "",
        )  # fmt: skip

    async def ListEmbeds(  # noqa: N802
        self, request: metadata_pb2.ListEmbedsRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ListEmbedsResponse:
        docs = await self.store.list_embeds(request.workspace, request.embed_id)
        if request.embed_id and not docs:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"embed {request.embed_id} not found")
        return metadata_pb2.ListEmbedsResponse(
            embeds=[
                metadata_pb2.Embed(
                    embed_id=d["_id"],
                    scope_json=d["scope_json"],
                    expires_at=d["expires_at"],
                    name=d["name"],
                    created_at=d["created_at"],
                    revoked=d["revoked"],
                    created_by=d["created_by"],
                )
                for d in docs
            ]
        )

    async def ListColumns(  # noqa: N802
        self, request: metadata_pb2.ListColumnsRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ListColumnsResponse:
        projects: list[str] | None = [request.project] if request.project else None
        if request.public_only:
            public = await self.store.public_paths(request.workspace)
            projects = sorted(public if projects is None else public & set(projects))
        names = await self.store.list_columns(request.workspace, projects, MAX_COLUMNS + 1)
        attributes = [f"attributes.{a}" for a in (*query.TEXT_ATTRIBUTES, *query.NUMBER_ATTRIBUTES)]
        return metadata_pb2.ListColumnsResponse(
            identifiers=attributes + [query.identifier(kind, name) for kind, name in names[:MAX_COLUMNS]],
            truncated=len(names) > MAX_COLUMNS,
        )

    async def ListProjects(  # noqa: N802
        self, request: metadata_pb2.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ListProjectsResponse:
        page_size = await _page_size(request.page_size, context)
        key = request.order_by.removeprefix("-") or "name"
        if key not in ("name", "last_update", "experiments", "created"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "order_by: name, last_update, experiments or created")
        rows = await self.store.list_projects(request.workspace)
        if request.public_only:
            rows = [r for r in rows if r["public"]]
        if request.search:
            needle = request.search.casefold()
            rows = [r for r in rows if needle in r["path"].casefold() or needle in r["description"].casefold()]
        field = {"name": "path", "created": "created_at"}.get(key, key)
        rows.sort(key=lambda r: (r[field], r["path"]), reverse=request.order_by.startswith("-"))
        start = request.page * page_size
        return metadata_pb2.ListProjectsResponse(
            projects=[metadata_pb2.Project(**r) for r in rows[start : start + page_size]], total=len(rows)
        )

    async def Authenticate(  # noqa: N802
        self, request: metadata_pb2.AuthenticateRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.Principal:
        digest = hash_api_key(request.api_key) if request.api_key else request.key_hash
        doc = await self.store.find_key(digest) if digest else None
        if doc is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown or revoked API key")
        assert doc is not None  # abort raises
        role, user = doc["role"], doc.get("user", "")
        if user:  # a person's key: never more than the person's current role, nothing once they left
            member = await self.store.get_member(doc["workspace"], user)
            if member is None:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{user} is no longer a member of the workspace")
            assert member is not None  # abort raises
            role = domain.lower_role(role, member["role"])
        return metadata_pb2.Principal(workspace=doc["workspace"], role=role, key_id=doc["_id"], user=user)

    async def ListMembers(  # noqa: N802
        self, request: metadata_pb2.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> metadata_pb2.ListMembersResponse:
        return metadata_pb2.ListMembersResponse(
            members=[
                metadata_pb2.Member(user=d["user"], role=d["role"], added_at=d["added_at"], updated_at=d["updated_at"])
                for d in await self.store.list_members(request.workspace)
            ]
        )

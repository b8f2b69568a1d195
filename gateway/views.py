"""JSON views: how the services' answers look in the HTTP API, in one place. The REST routes,
the widget and the export all render experiments and projects through these."""

from __future__ import annotations

import json
from typing import Any

from tracklane_proto import metadata_pb2

from services.common.contract import STATUS_NAMES


def status_name(e: metadata_pb2.Experiment) -> str:
    return STATUS_NAMES.get(e.status, "unspecified")


def experiment_json(e: metadata_pb2.Experiment) -> dict[str, Any]:
    return {
        "id": e.id,
        "project": e.project,
        "name": e.name,
        "tags": list(e.tags),
        "user": e.user,
        "status": status_name(e),
        "status_reason": e.status_reason,
        "description": e.description,
        "archived": e.archived,
        "published": e.published,
        "deleted": e.deleted,
        "stop_requested": e.stop_requested,
        "last_seen": e.last_seen or None,
        "created_at": e.created_at,
        "started_at": e.started_at,
        "updated_at": e.updated_at,
        "ended_at": e.ended_at or None,
        "metrics": [
            {
                "metric": m.metric,
                "variant": m.variant,
                "last": m.last,
                "min": m.min,
                "max": m.max,
                "last_iteration": m.last_iteration,
            }
            for m in e.metrics
        ],
        **({"columns": {k: json.loads(v) for k, v in e.columns.items()}} if e.columns else {}),
    }


def project_json(p: metadata_pb2.Project) -> dict[str, object]:
    return {
        "path": p.path,
        "name": p.path.rpartition("/")[2],
        "parent": p.path.rpartition("/")[0] or None,
        "description": p.description,
        "public": p.public,
        "experiments": p.experiments,
        "archived_experiments": p.archived_experiments,
        "created_at": p.created_at,
        "last_update": p.last_update,
    }

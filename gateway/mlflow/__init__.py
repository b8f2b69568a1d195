"""MLflow compatibility on the gateway: the tracking REST API (:mod:`.api`), logged models
(:mod:`.models`) and the artifact proxy (:mod:`.artifacts`)."""

from __future__ import annotations

from starlette.routing import Route


def routes() -> list[Route]:
    """Every MLflow route (named ``mlflow``: MLflow documents them, not our OpenAPI document)."""
    from gateway.mlflow import api, artifacts, models

    return api.routes({**api.ENDPOINTS, **models.ENDPOINTS}) + artifacts.routes()

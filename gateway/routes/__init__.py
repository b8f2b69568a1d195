"""The HTTP operations, by module; each module declares its operations with ``gateway.api``."""

from __future__ import annotations

from gateway.api import Endpoint
from gateway.routes import access, details, embeds, experiments, health, projects, reports, session, widget

ENDPOINTS: list[Endpoint] = [
    e
    for module in (health, session, projects, experiments, details, access, embeds, reports, widget)
    for e in module.routes.endpoints
]

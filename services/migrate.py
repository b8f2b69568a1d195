"""``python -m services migrate``: every schema migration not applied yet — MongoDB's (metadata),
the experiment table index's and the metrics tables' (ClickHouse, replicated and distributed on a
cluster) — then exit. Kubernetes runs it as a Job before the services roll out; the services run
the same migrations at start too, so a stack without the Job stays right (each is idempotent)."""

from __future__ import annotations

import asyncio
import sys

from services.common import log
from services.metadata.settings import Settings as MetadataSettings
from services.metadata.store import MongoMetadataStore
from services.metadata.table import ExperimentTable
from services.metrics.settings import Settings as MetricsSettings
from services.metrics.store import ClickHouseScalarStore


async def migrate() -> dict[str, list[str]]:
    meta, metrics = MetadataSettings.from_env(), MetricsSettings.from_env()
    logger = log.configure("migrate", meta.common.log_level, meta.common.log_format)
    table = ExperimentTable(meta.table_url, cluster=meta.clickhouse_cluster)
    store = MongoMetadataStore(meta.mongodb_url.reveal(), meta.database, table)
    try:
        applied = {"mongodb": await store.migrate()}
    finally:
        await store.close()
    scalars = ClickHouseScalarStore(metrics.clickhouse_url, cluster=metrics.clickhouse_cluster)
    applied["clickhouse"] = scalars.applied
    scalars.close()
    logger.info("migrate.done", **applied)
    return applied


def main() -> int:
    try:
        asyncio.run(migrate())
    except Exception as exc:  # one line that says what failed, for the Job's log and its exit code
        print(f"migrate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

-- Scalar points, one row per point. Redelivered events are dropped by insert de-duplication
-- (each event is inserted as one block with its event id as the deduplication token).
CREATE TABLE IF NOT EXISTS scalars
(
    workspace LowCardinality(String),
    experiment_id String,
    metric String,
    variant String,
    iteration Int64,
    value Float64,
    ts Float64,
    event_id String CODEC(ZSTD(3))
)
ENGINE = MergeTree
ORDER BY (workspace, experiment_id, metric, variant, iteration)
SETTINGS non_replicated_deduplication_window = 100000

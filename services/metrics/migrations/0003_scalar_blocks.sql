-- Per-block rollups of every series (blocks of 64 iterations), kept by a materialized view on
-- insert. A series of 10M points is ~156k block rows, so an overview downsampled to 2,000 buckets
-- reads those instead of every point; zoomed ranges read points at the range's partial edge
-- blocks. Each inserted event lands here as one block with the same deduplication token, so a
-- redelivered event adds nothing here either.
CREATE TABLE IF NOT EXISTS scalar_blocks
(
    workspace LowCardinality(String),
    experiment_id String,
    metric String,
    variant String,
    block Int64,                                            -- floor(iteration / 64)
    n SimpleAggregateFunction(sum, UInt64),
    lo SimpleAggregateFunction(min, Float64),
    hi SimpleAggregateFunction(max, Float64),
    total SimpleAggregateFunction(sum, Float64),
    first_it SimpleAggregateFunction(min, Int64),
    last SimpleAggregateFunction(max, Tuple(Int64, Float64)) -- (iteration, value) of the latest point
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace, experiment_id, metric, variant, block)
SETTINGS non_replicated_deduplication_window = 100000;

CREATE MATERIALIZED VIEW IF NOT EXISTS scalar_blocks_mv TO scalar_blocks AS
SELECT workspace, experiment_id, metric, variant, bitShiftRight(iteration, 6) AS block,
       count() AS n, min(value) AS lo, max(value) AS hi, sum(value) AS total,
       min(iteration) AS first_it, max((iteration, value)) AS last
FROM scalars
GROUP BY workspace, experiment_id, metric, variant, block;

INSERT INTO scalar_blocks
SELECT workspace, experiment_id, metric, variant, bitShiftRight(iteration, 6) AS block,
       count(), min(value), max(value), sum(value), min(iteration), max((iteration, value))
FROM scalars
GROUP BY workspace, experiment_id, metric, variant, block

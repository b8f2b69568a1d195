-- Console lines, plots and the debug-sample index. Each event is one insert block with its event
-- id as the deduplication token (as for scalars); plots and samples are also replacing by seq,
-- so a report at the same iteration replaces the older one.
CREATE TABLE IF NOT EXISTS console
(
    workspace LowCardinality(String),
    experiment_id String,
    cursor UInt64,   -- (event seq << 20) | line index: the order the lines were written in
    ts Float64,
    level UInt8,
    source UInt8,
    text String CODEC(ZSTD(3))
)
ENGINE = MergeTree
ORDER BY (workspace, experiment_id, cursor)
SETTINGS non_replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS plots
(
    workspace LowCardinality(String),
    experiment_id String,
    metric String,
    variant String,
    iteration Int64,
    kind LowCardinality(String),
    figure String CODEC(ZSTD(3)),
    ts Float64,
    seq UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (workspace, experiment_id, metric, variant, iteration)
SETTINGS non_replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS debug_samples
(
    workspace LowCardinality(String),
    experiment_id String,
    metric String,
    variant String,
    iteration Int64,
    kind LowCardinality(String),
    key String,
    size UInt64,
    sha256 String,
    content_type String,
    ts Float64,
    seq UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (workspace, experiment_id, metric, variant, iteration)
SETTINGS non_replicated_deduplication_window = 100000;

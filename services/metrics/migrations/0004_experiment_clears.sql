-- Where in the log each experiment was cleared (its points, console, plots and samples deleted).
-- An event delivered again after a crash can be older than its experiment's last clear (JetStream
-- redelivers an unacknowledged message after newer ones): the projection skips such an event, so
-- what the clear deleted stays deleted. Written before the deletes; a clear seen twice is one row.
CREATE TABLE IF NOT EXISTS experiment_clears
(
    workspace LowCardinality(String),
    experiment_id String,
    position UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace, experiment_id, position)

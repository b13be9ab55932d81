-- The durable job queue, SQLite dialect (column notes in migrations/postgres).
CREATE TABLE queue_jobs (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL,
    queue         TEXT NOT NULL,
    lane          TEXT NOT NULL,
    ordered       BOOLEAN NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    order_at      INTEGER NOT NULL,
    due_at        INTEGER NOT NULL,
    lease_until   INTEGER,
    last_error    TEXT,
    dedupe_key    TEXT,
    enqueued_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX queue_jobs_id_key ON queue_jobs (queue, id);
CREATE UNIQUE INDEX queue_jobs_dedupe_key ON queue_jobs (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX queue_jobs_lane_order_idx ON queue_jobs (queue, lane, state, order_at, seq);
CREATE INDEX queue_jobs_lane_due_idx ON queue_jobs (queue, lane, state, due_at, seq);
CREATE INDEX queue_jobs_state_idx ON queue_jobs (queue, state, updated_at);
CREATE INDEX queue_jobs_lease_idx ON queue_jobs (queue, lease_until) WHERE state = 'running';

CREATE TABLE queue_lanes (
    queue     TEXT NOT NULL,
    lane      TEXT NOT NULL,
    ordered   BOOLEAN NOT NULL,
    served    INTEGER NOT NULL DEFAULT 0,
    ready_at  INTEGER,
    PRIMARY KEY (queue, lane)
);

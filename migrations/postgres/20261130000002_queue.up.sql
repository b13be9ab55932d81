-- The durable job queue (see src/queue/mod.rs for the design). Times are
-- milliseconds since the Unix epoch, the same unit the Redis backend uses.

CREATE TABLE queue_jobs (
    seq           BIGSERIAL PRIMARY KEY,                -- enqueue order, the tiebreak everywhere
    id            TEXT NOT NULL,                        -- stable job id (caller's or job_<uuid>)
    queue         TEXT NOT NULL,                        -- messages, webhooks, ...
    lane          TEXT NOT NULL,                        -- fairness/ordering group, e.g. the session
    ordered       BOOLEAN NOT NULL,                     -- one at a time, in order, within the lane
    payload       JSONB NOT NULL,
    state         TEXT NOT NULL,                        -- queued, running, done, dead, cancelled
    attempts      INTEGER NOT NULL DEFAULT 0,           -- attempts started so far
    max_attempts  INTEGER NOT NULL,
    order_at      BIGINT NOT NULL,                      -- position in an ordered lane (first run_at)
    due_at        BIGINT NOT NULL,                      -- not before (scheduled time or retry time)
    lease_until   BIGINT,                               -- while running: reclaimed after this
    last_error    TEXT,
    dedupe_key    TEXT,
    enqueued_at   BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX queue_jobs_id_key ON queue_jobs (queue, id);
-- Only one active job per dedupe key.
CREATE UNIQUE INDEX queue_jobs_dedupe_key ON queue_jobs (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
-- Head of an ordered lane / of an unordered lane.
CREATE INDEX queue_jobs_lane_order_idx ON queue_jobs (queue, lane, state, order_at, seq);
CREATE INDEX queue_jobs_lane_due_idx ON queue_jobs (queue, lane, state, due_at, seq);
-- Stats, dead-letter listing and pruning.
CREATE INDEX queue_jobs_state_idx ON queue_jobs (queue, state, updated_at);
-- Expired leases.
CREATE INDEX queue_jobs_lease_idx ON queue_jobs (queue, lease_until) WHERE state = 'running';

-- One row per lane with work: when its next job may be claimed, and when it
-- was last served (round-robin across lanes). Deliberately without secondary
-- indexes: rows are rewritten on every claim, and unindexed columns let
-- PostgreSQL do that as heap-only (HOT) updates instead of bloating.
CREATE TABLE queue_lanes (
    queue     TEXT NOT NULL,
    lane      TEXT NOT NULL,
    ordered   BOOLEAN NOT NULL,
    served    BIGINT NOT NULL DEFAULT 0,               -- higher = served more recently
    ready_at  BIGINT,                                  -- NULL: nothing claimable (empty or busy)
    PRIMARY KEY (queue, lane)
);

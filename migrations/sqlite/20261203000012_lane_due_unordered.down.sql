DROP INDEX queue_jobs_lane_due_idx;
CREATE INDEX queue_jobs_lane_due_idx ON queue_jobs (queue, lane, state, due_at, seq);

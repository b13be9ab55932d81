-- Only unordered lanes read jobs by due time (ordered ones read by enqueue
-- order through queue_jobs_lane_order_idx), so only their jobs need to be in
-- the due-time index. Indexed for every job, each accepted message (its
-- lane is ordered) also wrote this index at a random place, its lane, and
-- moved its entry on every claim and finish: about a tenth of the pages an
-- accept batch wrote to the WAL. The queue refuses to mix ordered and
-- unordered jobs in one queue, so a job's own flag is its lane's kind.
DROP INDEX queue_jobs_lane_due_idx;
CREATE INDEX queue_jobs_lane_due_idx ON queue_jobs (queue, lane, state, due_at, seq) WHERE NOT ordered;

-- Retention finds the rows older than its cutoff by id (rows are created in
-- id order), so `created_at` needs no index: it was one more index write for
-- every logged message.
DROP INDEX message_logs_created_at_idx;

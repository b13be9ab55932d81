DROP INDEX IF EXISTS message_logs_batch_idx;
ALTER TABLE message_logs DROP COLUMN batch_id;

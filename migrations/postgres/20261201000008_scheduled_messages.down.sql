DROP INDEX IF EXISTS message_logs_scheduled_idx;
ALTER TABLE message_logs DROP COLUMN scheduled_at;

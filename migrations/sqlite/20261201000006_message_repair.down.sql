DROP INDEX IF EXISTS message_logs_status_updated_idx;
ALTER TABLE message_logs DROP COLUMN resends;

DROP TABLE IF EXISTS idempotency_keys;
DROP INDEX IF EXISTS message_logs_session_status_idx;
ALTER TABLE message_logs DROP COLUMN IF EXISTS failed_at;
ALTER TABLE message_logs DROP COLUMN IF EXISTS played_at;
ALTER TABLE message_logs DROP COLUMN IF EXISTS read_at;
ALTER TABLE message_logs DROP COLUMN IF EXISTS delivered_at;
ALTER TABLE message_logs DROP COLUMN IF EXISTS sent_at;
ALTER TABLE message_logs DROP COLUMN IF EXISTS sender_jid;

DROP TABLE IF EXISTS idempotency_keys;
DROP INDEX IF EXISTS message_logs_session_status_idx;
ALTER TABLE message_logs DROP COLUMN failed_at;
ALTER TABLE message_logs DROP COLUMN played_at;
ALTER TABLE message_logs DROP COLUMN read_at;
ALTER TABLE message_logs DROP COLUMN delivered_at;
ALTER TABLE message_logs DROP COLUMN sent_at;
ALTER TABLE message_logs DROP COLUMN sender_jid;

-- Batches: messages sent together under one id (POST …/message/batch).
ALTER TABLE message_logs ADD COLUMN batch_id TEXT;
CREATE INDEX message_logs_batch_idx ON message_logs (session_id, batch_id) WHERE batch_id IS NOT NULL;

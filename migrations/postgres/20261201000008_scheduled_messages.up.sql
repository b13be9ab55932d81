-- Scheduled messages: when a queued message is due to be sent.
ALTER TABLE message_logs ADD COLUMN scheduled_at TIMESTAMPTZ;
CREATE INDEX message_logs_scheduled_idx ON message_logs (session_id, scheduled_at) WHERE scheduled_at IS NOT NULL;

CREATE INDEX message_logs_created_at_idx ON message_logs (created_at);

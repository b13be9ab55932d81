DROP INDEX message_logs_waiting_idx;
CREATE INDEX message_logs_status_updated_idx ON message_logs (status, updated_at);

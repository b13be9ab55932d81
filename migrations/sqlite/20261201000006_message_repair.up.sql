-- Repair of outgoing messages: how often a message stuck at "sent" was sent
-- again, and an index for the sweeps that find stuck (sent) and orphaned
-- (queued) rows by how long they have been in that state.
ALTER TABLE message_logs ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
CREATE INDEX message_logs_status_updated_idx ON message_logs (status, updated_at);

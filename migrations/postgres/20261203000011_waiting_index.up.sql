-- The repair sweeps look for outgoing rows that have waited too long at
-- "queued" or "sent"; only those rows need to be in their index. Indexed
-- for every status it cost two index writes per delivery receipt and two per
-- read receipt (the status and the time change with each step); partial, a
-- row leaves the index once delivered and later receipts touch it no more.
DROP INDEX message_logs_status_updated_idx;
CREATE INDEX message_logs_waiting_idx ON message_logs (status, updated_at)
    WHERE status IN ('queued', 'sent');

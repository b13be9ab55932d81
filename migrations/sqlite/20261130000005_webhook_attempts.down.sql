DROP INDEX IF EXISTS webhook_deliveries_session_status_idx;
DROP TABLE IF EXISTS webhook_attempts;

DROP TABLE IF EXISTS session_events;
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhooks;
DROP TABLE IF EXISTS message_logs;
DROP TABLE IF EXISTS templates;
DROP TABLE IF EXISTS sessions;
DROP FUNCTION IF EXISTS wag_touch_updated_at();

-- The gateway's first tables, SQLite dialect (see migrations/postgres for the
-- column-by-column notes). Timestamps are RFC 3339 UTC text, which sorts and
-- compares in time order; JSON is text. updated_at is kept by trigger for any
-- UPDATE that does not set it (AFTER triggers: SQLite cannot modify NEW).

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    engine        TEXT NOT NULL DEFAULT 'sandbox',
    status        TEXT NOT NULL DEFAULT 'created',
    phone         TEXT,
    push_name     TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',
    last_seen_at  TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE INDEX sessions_status_idx ON sessions (status);
CREATE TRIGGER sessions_touch AFTER UPDATE ON sessions FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE sessions SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') WHERE id = NEW.id;
END;

CREATE TABLE templates (
    name          TEXT PRIMARY KEY NOT NULL,
    content       TEXT NOT NULL,
    description   TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE TRIGGER templates_touch AFTER UPDATE ON templates FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE templates SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') WHERE name = NEW.name;
END;

CREATE TABLE message_logs (
    -- AUTOINCREMENT: ids are never reused, so keyset cursors stay valid.
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction       TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    message_id      TEXT NOT NULL,
    wa_message_id   TEXT,
    chat_jid        TEXT NOT NULL,
    message_type    TEXT NOT NULL,
    content_preview TEXT,
    status          TEXT NOT NULL,
    error           TEXT,
    request_id      TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    CONSTRAINT message_logs_session_message_key UNIQUE (session_id, message_id)
);
CREATE INDEX message_logs_session_id_idx ON message_logs (session_id, id DESC);
CREATE INDEX message_logs_session_chat_idx ON message_logs (session_id, chat_jid, id DESC);
CREATE INDEX message_logs_session_wa_idx ON message_logs (session_id, wa_message_id) WHERE wa_message_id IS NOT NULL;
CREATE INDEX message_logs_created_at_idx ON message_logs (created_at);
CREATE TRIGGER message_logs_touch AFTER UPDATE ON message_logs FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE message_logs SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') WHERE id = NEW.id;
END;

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY NOT NULL,
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL DEFAULT '["*"]',
    secret        TEXT NOT NULL,
    headers       TEXT NOT NULL DEFAULT '{}',
    enabled       BOOLEAN NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE INDEX webhooks_session_idx ON webhooks (session_id, created_at);
CREATE TRIGGER webhooks_touch AFTER UPDATE ON webhooks FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE webhooks SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') WHERE id = NEW.id;
END;

CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id        TEXT NOT NULL,
    webhook_id        TEXT,
    webhook_url       TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    payload           TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending',
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_attempt_at   TEXT,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE INDEX webhook_deliveries_session_idx ON webhook_deliveries (session_id, id DESC);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (status, id DESC);
CREATE TRIGGER webhook_deliveries_touch AFTER UPDATE ON webhook_deliveries FOR EACH ROW
    WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE webhook_deliveries SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') WHERE id = NEW.id;
END;

CREATE TABLE session_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id    TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    details       TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);
CREATE INDEX session_events_session_idx ON session_events (session_id, id DESC);
CREATE INDEX session_events_created_at_idx ON session_events (created_at);

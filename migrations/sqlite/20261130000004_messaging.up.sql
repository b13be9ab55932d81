-- Messaging, SQLite dialect (see migrations/postgres for the notes).

ALTER TABLE message_logs ADD COLUMN sender_jid TEXT;
ALTER TABLE message_logs ADD COLUMN sent_at TEXT;
ALTER TABLE message_logs ADD COLUMN delivered_at TEXT;
ALTER TABLE message_logs ADD COLUMN read_at TEXT;
ALTER TABLE message_logs ADD COLUMN played_at TEXT;
ALTER TABLE message_logs ADD COLUMN failed_at TEXT;
CREATE INDEX message_logs_session_status_idx ON message_logs (session_id, status, id DESC);

CREATE TABLE idempotency_keys (
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    expires_at    TEXT NOT NULL,
    PRIMARY KEY (session_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

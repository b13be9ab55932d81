-- Per-chat settings, SQLite dialect (see migrations/postgres for the notes).
CREATE TABLE chat_settings (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_jid     TEXT NOT NULL,
    archived     BOOLEAN NOT NULL DEFAULT 0,
    pinned       BOOLEAN NOT NULL DEFAULT 0,
    muted_until  TEXT,
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (session_id, chat_jid)
) WITHOUT ROWID;

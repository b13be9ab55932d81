-- Received media handles, SQLite dialect (see migrations/postgres for the notes).
CREATE TABLE media_handles (
    session_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    handle      TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (session_id, message_id),
    FOREIGN KEY (session_id, message_id) REFERENCES message_logs (session_id, message_id) ON DELETE CASCADE
);

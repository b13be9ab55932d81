-- Labels, SQLite dialect (see migrations/postgres for the notes).
CREATE TABLE labels (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    label_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    color        INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (session_id, label_id)
) WITHOUT ROWID;
CREATE TABLE chat_labels (
    session_id   TEXT NOT NULL,
    label_id     TEXT NOT NULL,
    chat_jid     TEXT NOT NULL,
    PRIMARY KEY (session_id, label_id, chat_jid),
    FOREIGN KEY (session_id, label_id) REFERENCES labels (session_id, label_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX chat_labels_chat_idx ON chat_labels (session_id, chat_jid);

-- Contacts, SQLite dialect (see migrations/postgres for the notes).
CREATE TABLE contacts (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid          TEXT NOT NULL,
    name         TEXT,
    first_name   TEXT,
    push_name    TEXT,
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (session_id, jid)
) WITHOUT ROWID;

-- Session lifecycle, SQLite dialect (see migrations/postgres for the notes).

ALTER TABLE sessions ADD COLUMN desired_state TEXT NOT NULL DEFAULT 'stopped';
ALTER TABLE sessions ADD COLUMN last_error TEXT;
CREATE INDEX sessions_desired_state_idx ON sessions (desired_state, id);

CREATE TABLE session_credentials (
    session_id  TEXT PRIMARY KEY NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    engine      TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
);

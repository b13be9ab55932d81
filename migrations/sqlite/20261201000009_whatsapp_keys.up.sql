-- The real engine's key store, SQLite dialect (see migrations/postgres for the notes).
CREATE TABLE wa_keys (
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind        INTEGER NOT NULL,
    scope       TEXT NOT NULL DEFAULT '',
    k           TEXT NOT NULL,
    v           BLOB NOT NULL,
    n1          INTEGER NOT NULL DEFAULT 0,
    n2          INTEGER,
    PRIMARY KEY (session_id, kind, scope, k)
) WITHOUT ROWID;
CREATE INDEX wa_keys_by_k ON wa_keys (session_id, kind, k);

-- Polls and their votes, SQLite dialect (see migrations/postgres for the notes).
CREATE TABLE polls (
    session_id     TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    wa_message_id  TEXT NOT NULL,
    chat_jid       TEXT NOT NULL,
    question       TEXT NOT NULL,
    options        TEXT NOT NULL,
    selectable     INTEGER NOT NULL,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (session_id, message_id),
    FOREIGN KEY (session_id, message_id) REFERENCES message_logs (session_id, message_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX polls_wa_idx ON polls (session_id, wa_message_id);

CREATE TABLE poll_votes (
    session_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    voter_jid   TEXT NOT NULL,
    selected    TEXT NOT NULL,
    voted_ms    INTEGER NOT NULL,
    PRIMARY KEY (session_id, message_id, voter_jid),
    FOREIGN KEY (session_id, message_id) REFERENCES polls (session_id, message_id) ON DELETE CASCADE
);

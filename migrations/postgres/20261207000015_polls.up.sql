-- Polls and their votes. A poll's options are kept here (the log keeps only
-- its question as the preview) so a vote, which names its choices by the
-- SHA-256 of their text, can be read back as option names. A poll goes with
-- its log row; its votes go with the poll. A vote is the voter's latest
-- choice: WhatsApp sends the whole selection each time, empty to retract;
-- voted_ms (the vote's own time, Unix milliseconds) keeps a late copy of an
-- older vote from replacing a newer one.
CREATE TABLE polls (
    session_id     TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    wa_message_id  TEXT NOT NULL,
    chat_jid       TEXT NOT NULL,
    question       TEXT NOT NULL,
    options        TEXT NOT NULL,
    selectable     INTEGER NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, message_id),
    FOREIGN KEY (session_id, message_id) REFERENCES message_logs (session_id, message_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX polls_wa_idx ON polls (session_id, wa_message_id);

CREATE TABLE poll_votes (
    session_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    voter_jid   TEXT NOT NULL,
    selected    TEXT NOT NULL,
    voted_ms    BIGINT NOT NULL,
    PRIMARY KEY (session_id, message_id, voter_jid),
    FOREIGN KEY (session_id, message_id) REFERENCES polls (session_id, message_id) ON DELETE CASCADE
);

-- Labels (WhatsApp Business labels, the lists of personal accounts): made
-- through the API or on the phone (app-state sync), and the chats each one
-- is on. A label's chats go with it; both go with the session.
CREATE TABLE labels (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    label_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    color        INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, label_id)
);
CREATE TABLE chat_labels (
    session_id   TEXT NOT NULL,
    label_id     TEXT NOT NULL,
    chat_jid     TEXT NOT NULL,
    PRIMARY KEY (session_id, label_id, chat_jid),
    FOREIGN KEY (session_id, label_id) REFERENCES labels (session_id, label_id) ON DELETE CASCADE
);
CREATE INDEX chat_labels_chat_idx ON chat_labels (session_id, chat_jid);

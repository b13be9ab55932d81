-- Received media can be downloaded later: the engine's opaque handle for each
-- received media message (the sandbox's id, or WhatsApp's encrypted-media
-- references). Kept apart from message_logs so listings never carry media
-- keys; goes with its log row.
CREATE TABLE media_handles (
    session_id  TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    handle      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, message_id),
    FOREIGN KEY (session_id, message_id) REFERENCES message_logs (session_id, message_id) ON DELETE CASCADE
);

-- The chat list counts each listed chat's unread messages and marking a chat
-- read finds them in id order. Only received, unread incoming messages are in
-- this index, so it stays small and outgoing sends never write to it.
CREATE INDEX message_logs_unread_idx ON message_logs (session_id, chat_jid, id)
    WHERE direction = 'incoming' AND status = 'received';

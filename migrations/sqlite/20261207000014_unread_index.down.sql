DROP INDEX message_logs_unread_idx;

DROP TABLE chat_labels;
DROP TABLE labels;

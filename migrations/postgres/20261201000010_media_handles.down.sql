DROP TABLE IF EXISTS media_handles;

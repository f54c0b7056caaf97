ALTER TABLE articles DROP COLUMN entry_id;

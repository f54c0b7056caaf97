-- Every row has its HTML by now (rendered before this migration runs), and
-- every write stores it with the Markdown: readers may rely on it.
ALTER TABLE articles ALTER COLUMN body_html SET NOT NULL;
ALTER TABLE excerpts ALTER COLUMN body_html SET NOT NULL;

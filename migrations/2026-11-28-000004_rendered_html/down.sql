ALTER TABLE excerpts DROP COLUMN body_html;
ALTER TABLE articles DROP COLUMN body_html;

-- The HTML each Markdown body renders to, stored when the body is written so
-- that no read renders anything. Nullable until the rows written before it
-- existed are rendered: `broadsheet migrate` renders them (in Rust, with the
-- same renderer as every write) before the next migration requires it.
ALTER TABLE articles ADD COLUMN body_html text;
ALTER TABLE excerpts ADD COLUMN body_html text;

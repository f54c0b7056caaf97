-- A feed entry's id must outlive the article's slug: feed readers key what
-- they have shown on it, and a renamed article must not reappear as new.
-- Random, so that it reveals nothing (not even the order of creation), and
-- filled in for the articles that exist already.
ALTER TABLE articles ADD COLUMN entry_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE articles ADD CONSTRAINT articles_entry_id_key UNIQUE (entry_id);

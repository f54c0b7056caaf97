-- Search finds the most recently published matches first, and ranks only
-- them (`search::queries::MAX_RANKED`). Looking that up through `articles`
-- cost an index probe into `article_search` for every article walked (or a
-- join of every match back to `articles`); with the time an article became
-- public beside its document, one index walks the public documents newest
-- first, and a match found through the GIN index carries its own time.
--
-- `published_at` is the article's, held only while its status is
-- 'published' (NULL otherwise): a scheduled post has a time still to come,
-- which the search compares with the time of the request, as
-- `visibility::is_public` does.
ALTER TABLE article_search ADD COLUMN published_at timestamptz;

-- When an article with this status and time is public from: its time while
-- it is published, else never (NULL). `article_is_public(status,
-- published_at, at)` is `article_public_from(status, published_at) <= at`.
CREATE FUNCTION article_public_from(status text, published_at timestamptz)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN status = 'published' THEN published_at END;
$$;

UPDATE article_search s SET published_at = article_public_from(a.status, a.published_at)
  FROM articles a
 WHERE a.id = s.article_id;

CREATE INDEX article_search_published_idx ON article_search (published_at DESC, article_id DESC)
    WHERE published_at IS NOT NULL;

-- As before, and the time it became public with the document.
CREATE OR REPLACE FUNCTION refresh_article_search(targets bigint[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM article_search s
      WHERE s.article_id = ANY (targets)
      ORDER BY s.article_id
      FOR UPDATE;
    INSERT INTO article_search AS s (article_id, document, published_at)
    SELECT a.id, article_search_document(a.id), article_public_from(a.status, a.published_at)
      FROM articles a WHERE a.id = ANY (targets)
    ON CONFLICT (article_id) DO UPDATE
        SET document = excluded.document, published_at = excluded.published_at
        WHERE (s.document, s.published_at) IS DISTINCT FROM (excluded.document, excluded.published_at);
END $$;

-- A change of status or publication time alone sets the time without
-- building the document again.
CREATE OR REPLACE FUNCTION article_search_after_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_article_search(ARRAY(SELECT n.id FROM new_rows n));
    ELSE
        PERFORM refresh_article_search(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE (n.title, n.summary, n.body) IS DISTINCT FROM (o.title, o.summary, o.body)));
        UPDATE article_search s
           SET published_at = article_public_from(n.status, n.published_at)
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE s.article_id = n.id
           AND (n.status, n.published_at) IS DISTINCT FROM (o.status, o.published_at)
           AND s.published_at IS DISTINCT FROM article_public_from(n.status, n.published_at);
    END IF;
    RETURN NULL;
END $$;

-- Documents change only when an editor writes, while every search reads
-- the GIN index: written straight into the index rather than through its
-- pending list, which every search would otherwise scan whole (up to
-- `gin_pending_list_limit`, 4 MB: some 20 ms a search at 1,000,000 articles
-- before autovacuum comes by).
ALTER INDEX article_search_document_idx SET (fastupdate = off);
SELECT gin_clean_pending_list('article_search_document_idx'::regclass);

ANALYZE article_search;

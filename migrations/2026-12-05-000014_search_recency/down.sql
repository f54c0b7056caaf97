-- The functions as the search migration wrote them, and no time.
ALTER INDEX article_search_document_idx SET (fastupdate = on);
DROP INDEX article_search_published_idx;
ALTER TABLE article_search DROP COLUMN published_at;

CREATE OR REPLACE FUNCTION refresh_article_search(targets bigint[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM article_search s
      WHERE s.article_id = ANY (targets)
      ORDER BY s.article_id
      FOR UPDATE;
    INSERT INTO article_search AS s (article_id, document)
    SELECT a.id, article_search_document(a.id) FROM articles a WHERE a.id = ANY (targets)
    ON CONFLICT (article_id) DO UPDATE SET document = excluded.document
        WHERE s.document IS DISTINCT FROM excluded.document;
END $$;

CREATE OR REPLACE FUNCTION article_search_after_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_article_search(ARRAY(SELECT n.id FROM new_rows n));
    ELSE
        PERFORM refresh_article_search(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
             WHERE (n.title, n.summary, n.body) IS DISTINCT FROM (o.title, o.summary, o.body)));
    END IF;
    RETURN NULL;
END $$;

DROP FUNCTION article_public_from(text, timestamptz);

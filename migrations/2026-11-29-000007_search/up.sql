-- Full-text search: one document per article, holding the article and its
-- excerpts, so that `-word` excludes an article that mentions the word
-- anywhere and ranking sees the whole post. Triggers keep it current, so that
-- every path that writes (the HTTP API, `broadsheet import`, seeding, restoring
-- a revision, plain SQL) keeps it current without anyone remembering.

CREATE TABLE article_search (
    article_id bigint PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    document   tsvector NOT NULL
);
CREATE INDEX article_search_document_idx ON article_search USING gin (document);

-- The search document of one article, in the 'english' configuration
-- (stemmed), weighted so that titles rank above bodies: the title 'A'; the
-- summary and the excerpts' headlines 'B'; the commentary 'C'; the excerpts'
-- bodies 'D'.
--
-- A tsvector holds at most 1 MB, and to_tsvector or || raise an error past
-- it, which would make every write to the article fail. Bodies are capped at
-- 128 KiB each by the write rules, but an article may have many excerpts, so
-- what is indexed is bounded:
--   * the commentary: its first 131,072 characters;
--   * the excerpts: the first 100 by position; of each, the headline (at most
--     500 characters by the write rules) and the first 16,384 characters of the
--     body, and 262,144 characters of excerpt bodies in all.
-- Text that is ordinary prose makes a tsvector far smaller than itself (each
-- word is stored once), so this fits with room to spare. Text made to defeat
-- that (hundreds of thousands of distinct short words) can still overflow:
-- the document then drops the excerpt bodies, and after that the commentary,
-- rather than refuse the write.
CREATE FUNCTION article_search_document(target bigint) RETURNS tsvector
LANGUAGE plpgsql STABLE AS $$
DECLARE
    article   record;
    headlines text;
    bodies    text;
    heading   tsvector;
BEGIN
    SELECT a.title, a.summary, a.body INTO article FROM articles a WHERE a.id = target;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT string_agg(e.headline, E'\n' ORDER BY e.position),
           left(string_agg(left(e.body, 16384), E'\n\n' ORDER BY e.position), 262144)
      INTO headlines, bodies
      FROM (SELECT x.headline, x.body, x.position
              FROM excerpts x
             WHERE x.article_id = target
             ORDER BY x.position
             LIMIT 100) e;
    -- At most 500 + 2,000 + 100 × 500 characters: always fits.
    heading := setweight(to_tsvector('english', article.title), 'A')
        || setweight(to_tsvector('english',
               concat_ws(E'\n', article.summary, headlines)), 'B');
    BEGIN
        RETURN heading
            || setweight(to_tsvector('english', left(article.body, 131072)), 'C')
            || setweight(to_tsvector('english', coalesce(bodies, '')), 'D');
    EXCEPTION WHEN program_limit_exceeded THEN
        BEGIN
            RETURN heading
                || setweight(to_tsvector('english', left(article.body, 131072)), 'C');
        EXCEPTION WHEN program_limit_exceeded THEN
            RETURN heading;
        END;
    END;
END $$;

-- Rebuilds the documents of these articles (ids of deleted articles are
-- skipped). The existing rows are locked before the documents are read, in a
-- statement of their own: a concurrent writer of the same article then
-- waits, and reads the other's committed excerpts once it goes on, so that
-- two transactions adding excerpts to one article cannot each write a
-- document that lacks the other's. (A new article's row needs no lock: no
-- one else can write to the article before it commits.) A document that
-- comes out the same, as after a reorder of excerpts that are all counted,
-- is not written again.
CREATE FUNCTION refresh_article_search(targets bigint[]) RETURNS void
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

-- Statement-level triggers with transition tables, so that a bulk write (an
-- import inserts excerpts by the thousand) rebuilds each article once per
-- statement, not once per row. PostgreSQL allows a transition table only on
-- a trigger of one event without a column list: hence one trigger per event,
-- and updates that change no searched column are skipped here.
CREATE FUNCTION article_search_after_articles() RETURNS trigger
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

CREATE FUNCTION article_search_after_excerpts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_article_search(ARRAY(SELECT DISTINCT n.article_id FROM new_rows n));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM refresh_article_search(ARRAY(SELECT DISTINCT o.article_id FROM old_rows o));
    ELSE
        -- An excerpt moved to another article changes both documents; a new
        -- position changes which excerpts are counted.
        PERFORM refresh_article_search(ARRAY(
            SELECT changed.article_id
              FROM new_rows n JOIN old_rows o ON o.id = n.id,
                   LATERAL (VALUES (n.article_id), (o.article_id)) AS changed (article_id)
             WHERE (n.article_id, n.position, n.headline, n.body)
                   IS DISTINCT FROM (o.article_id, o.position, o.headline, o.body)
             GROUP BY changed.article_id));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER article_search_articles_insert
    AFTER INSERT ON articles REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION article_search_after_articles();
CREATE TRIGGER article_search_articles_update
    AFTER UPDATE ON articles REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION article_search_after_articles();
CREATE TRIGGER article_search_excerpts_insert
    AFTER INSERT ON excerpts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION article_search_after_excerpts();
CREATE TRIGGER article_search_excerpts_update
    AFTER UPDATE ON excerpts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION article_search_after_excerpts();
CREATE TRIGGER article_search_excerpts_delete
    AFTER DELETE ON excerpts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION article_search_after_excerpts();

-- The articles written before this migration.
INSERT INTO article_search (article_id, document)
SELECT a.id, article_search_document(a.id) FROM articles a;
ANALYZE article_search;

-- Revision stamps for HTTP validators. `articles.revised_at` moves whenever
-- anything an article's representation shows changes: its own columns, its
-- excerpts, roundups, links and tags, and the outlets and tags they name. It
-- is kept here, by triggers, so that every writer (the HTTP API, import,
-- seeding, restore, psql) keeps it without having to remember.
--
-- Stamps come from clock_timestamp(), not now(): a transaction's start time
-- can be long before its commit, and a stamp older than a page a client
-- already fetched would let If-Modified-Since answer 304 for a changed page.
-- A stamp only ever moves forward (at least by a microsecond), so a clock
-- step backwards cannot hide a change from a list page's ETag.

ALTER TABLE articles ADD COLUMN revised_at timestamptz NOT NULL DEFAULT now();

-- Existing rows: the latest change their stored times record. New rows
-- take the time of their statement, not of their transaction's start.
UPDATE articles a SET revised_at = greatest(
    a.created_at,
    a.updated_at,
    (SELECT max(greatest(e.updated_at, o.updated_at))
       FROM excerpts e JOIN outlets o ON o.id = e.outlet_id
      WHERE e.article_id = a.id),
    (SELECT max(greatest(r.updated_at, l.updated_at, o.updated_at))
       FROM roundups r
       LEFT JOIN roundup_links l ON l.roundup_id = r.id
       LEFT JOIN outlets o ON o.id = l.outlet_id
      WHERE r.article_id = a.id));
ALTER TABLE articles ALTER COLUMN revised_at SET DEFAULT clock_timestamp();

-- When something last left the public set of articles, or left one of its
-- filtered subsets (a tag removed, the last excerpt citing an outlet
-- deleted): list pages fold it into their validators, so that a page that
-- lost an item never shows an older Last-Modified than before. One row,
-- written by the triggers below. Its price: any removal renews the
-- Last-Modified of every list page (their ETags stay exact, as they are
-- computed from what each page shows), and removals take turns on this row.
CREATE TABLE publication_removals (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    removed_at timestamptz NOT NULL
);
-- What left before this migration is unknown: as if just now.
INSERT INTO publication_removals (removed_at) VALUES (now());

CREATE FUNCTION note_publication_removal() RETURNS void
LANGUAGE sql AS $$
    UPDATE publication_removals
       SET removed_at = greatest(clock_timestamp(), removed_at + interval '1 microsecond');
$$;

-- Revises these articles, locking them in id order, the order every
-- multi-article write here takes, so that two of them cannot deadlock.
-- Writers lock articles before the removal watermark, never after it (a
-- deadlock would be a 503 the client retries, but a needless one).
CREATE FUNCTION revise_articles(ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE articles
       SET revised_at = greatest(clock_timestamp(), revised_at + interval '1 microsecond')
     WHERE id IN (SELECT id FROM articles WHERE id = ANY (ids) ORDER BY id FOR UPDATE);
$$;

-- Whether any of these articles is public now (a list could have shown it).
CREATE FUNCTION any_public(ids bigint[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM articles
                    WHERE id = ANY (ids) AND status = 'published'
                      AND published_at <= statement_timestamp());
$$;

-- An article's own columns: any change but to `revised_at` itself is a
-- revision (a whole-row comparison, so that a column added later counts
-- without touching this); an UPDATE that changes nothing is not. A public
-- article that stops being public, or whose publication time moves (it
-- moves between list pages), leaves list pages.
CREATE FUNCTION revise_article() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF to_jsonb(NEW) - 'revised_at' IS DISTINCT FROM to_jsonb(OLD) - 'revised_at' THEN
        NEW.revised_at := greatest(clock_timestamp(), OLD.revised_at + interval '1 microsecond');
        IF OLD.status = 'published' AND OLD.published_at <= statement_timestamp()
           AND (NEW.status IS DISTINCT FROM OLD.status
                OR NEW.published_at IS DISTINCT FROM OLD.published_at) THEN
            PERFORM note_publication_removal();
        END IF;
    ELSE
        NEW.revised_at := greatest(NEW.revised_at, OLD.revised_at);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER articles_revised
    BEFORE UPDATE ON articles
    FOR EACH ROW EXECUTE FUNCTION revise_article();

CREATE FUNCTION note_deleted_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone WHERE status = 'published'
                AND published_at <= statement_timestamp()) THEN
        PERFORM note_publication_removal();
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER articles_deleted
    AFTER DELETE ON articles REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION note_deleted_articles();

-- Rows an article contains directly (excerpts, roundups, article_tags): one
-- pass per statement over the rows it changed. An insert or an update
-- revises the (old and new) article; a delete, or an update that moves a
-- row to another article or outlet, also removes something from a list a
-- public article was on (a tag's, an outlet's, the excerpt list).
CREATE FUNCTION revise_articles_of_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
    removed boolean := false;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT article_id) INTO touched FROM added;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT article_id) INTO touched FROM gone;
        removed := true;
    ELSE
        SELECT array_agg(DISTINCT id) INTO touched
          FROM (SELECT article_id FROM gone UNION SELECT article_id FROM added) AS ids (id);
        -- Rows keep their id across an update: a moved one is one whose
        -- article (or outlet) differs between its old and new versions.
        IF TG_TABLE_NAME = 'excerpts' THEN
            removed := EXISTS (SELECT 1 FROM gone o JOIN added n ON n.id = o.id
                                WHERE n.article_id <> o.article_id OR n.outlet_id <> o.outlet_id);
        ELSIF TG_TABLE_NAME = 'roundups' THEN
            removed := EXISTS (SELECT 1 FROM gone o JOIN added n ON n.id = o.id
                                WHERE n.article_id <> o.article_id);
        ELSE
            removed := true;
        END IF;
    END IF;
    IF touched IS NULL THEN
        RETURN NULL;
    END IF;
    -- Articles first, then the watermark: the order every writer takes them in.
    PERFORM revise_articles(touched);
    IF removed AND any_public(touched) THEN
        PERFORM note_publication_removal();
    END IF;
    RETURN NULL;
END $$;

-- Press links belong to an article through their roundup; a link moved to
-- another roundup revises both articles.
CREATE FUNCTION revise_articles_of_links() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
    removed boolean := false;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT r.article_id) INTO touched
          FROM added l JOIN roundups r ON r.id = l.roundup_id;
    ELSIF TG_OP = 'DELETE' THEN
        -- A link deleted with its roundup finds no roundup: the roundup's
        -- own trigger has revised the article.
        SELECT array_agg(DISTINCT r.article_id) INTO touched
          FROM gone l JOIN roundups r ON r.id = l.roundup_id;
        removed := true;
    ELSE
        SELECT array_agg(DISTINCT r.article_id) INTO touched
          FROM (SELECT roundup_id FROM gone UNION SELECT roundup_id FROM added) AS l
          JOIN roundups r ON r.id = l.roundup_id;
        removed := EXISTS (SELECT 1 FROM gone o JOIN added n ON n.id = o.id
                            WHERE n.roundup_id <> o.roundup_id OR n.outlet_id <> o.outlet_id);
    END IF;
    IF touched IS NULL THEN
        RETURN NULL;
    END IF;
    -- Articles first, then the watermark: the order every writer takes them in.
    PERFORM revise_articles(touched);
    IF removed AND any_public(touched) THEN
        PERFORM note_publication_removal();
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER excerpts_inserted AFTER INSERT ON excerpts REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();
CREATE TRIGGER excerpts_updated AFTER UPDATE ON excerpts
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();
CREATE TRIGGER excerpts_deleted AFTER DELETE ON excerpts REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();

CREATE TRIGGER roundups_inserted AFTER INSERT ON roundups REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();
CREATE TRIGGER roundups_updated AFTER UPDATE ON roundups
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();
CREATE TRIGGER roundups_deleted AFTER DELETE ON roundups REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();

CREATE TRIGGER article_tags_inserted AFTER INSERT ON article_tags REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();
CREATE TRIGGER article_tags_updated AFTER UPDATE ON article_tags
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();
CREATE TRIGGER article_tags_deleted AFTER DELETE ON article_tags REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_rows();

CREATE TRIGGER roundup_links_inserted AFTER INSERT ON roundup_links REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_links();
CREATE TRIGGER roundup_links_updated AFTER UPDATE ON roundup_links
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_links();
CREATE TRIGGER roundup_links_deleted AFTER DELETE ON roundup_links REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_of_links();

-- Outlets and tags are shown by every article citing or carrying them: a
-- change to what is shown of one (not an UPDATE that changes nothing, nor
-- `updated_at` alone) revises those articles.
CREATE FUNCTION revise_articles_citing_outlets() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
BEGIN
    WITH changed AS (
        SELECT n.id FROM gone o JOIN added n ON n.id = o.id
         WHERE (n.slug, n.name, n.home_url, n.country_code)
               IS DISTINCT FROM (o.slug, o.name, o.home_url, o.country_code))
    SELECT array_agg(DISTINCT article_id) INTO touched FROM (
        SELECT e.article_id FROM excerpts e JOIN changed c ON c.id = e.outlet_id
        UNION
        SELECT r.article_id FROM roundup_links l JOIN changed c ON c.id = l.outlet_id
          JOIN roundups r ON r.id = l.roundup_id) AS citing;
    IF touched IS NOT NULL THEN
        PERFORM revise_articles(touched);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER outlets_updated AFTER UPDATE ON outlets
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_citing_outlets();

-- An outlet deleted (only an uncited one can be) leaves the outlet list.
CREATE FUNCTION note_deleted_outlets() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM note_publication_removal();
    RETURN NULL;
END $$;

CREATE TRIGGER outlets_deleted AFTER DELETE ON outlets
    FOR EACH STATEMENT EXECUTE FUNCTION note_deleted_outlets();

CREATE FUNCTION revise_articles_tagged() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
BEGIN
    SELECT array_agg(DISTINCT at.article_id) INTO touched
      FROM gone o JOIN added n ON n.id = o.id
      JOIN article_tags at ON at.tag_id = n.id
     WHERE (n.slug, n.name) IS DISTINCT FROM (o.slug, o.name);
    IF touched IS NOT NULL THEN
        PERFORM revise_articles(touched);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tags_updated AFTER UPDATE ON tags
    REFERENCING OLD TABLE AS gone NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION revise_articles_tagged();

-- The public list is read by effective time, greatest(revised_at,
-- published_at), alongside the rows already fetched: no index needed.

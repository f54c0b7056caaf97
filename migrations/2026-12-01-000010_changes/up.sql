-- The change log: one event per resource whose representation a
-- transaction changed, written by that transaction (a transactional outbox),
-- for mirrors, webhooks and other instances of the server to read.
--
-- Triggers stage what each statement touched, with what the public could
-- see of it before. At commit a deferred trigger decides what happened
-- (created, updated, published, unpublished, renamed, deleted), whether the
-- public may know of it, and hands out positions (`seq`) under one row lock
-- held until the transaction has committed: positions are in commit order,
-- and a reader that sees position N has seen every position below it, so a
-- cursor never skips a transaction that committed late.

CREATE TABLE changes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The event's id and position in commit order; set at commit.
    seq           bigint UNIQUE,
    tx            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind          text NOT NULL
                  CHECK (kind IN ('article', 'excerpt', 'roundup', 'roundup_link', 'outlet')),
    resource_id   bigint NOT NULL,
    -- The article an excerpt or roundup belongs to; the roundup of a link.
    parent_id     bigint,
    -- The article a child row belongs to, an article its own id.
    article_id    bigint,
    -- An article's or outlet's slug: before the transaction while staged,
    -- after it (before, for a deletion) once committed.
    slug          text,
    previous_slug text,
    -- Whether the resource existed, and whether the public could see it,
    -- before the transaction.
    existed       boolean NOT NULL,
    was_public    boolean NOT NULL,
    -- Set at commit.
    action        text CHECK (action IN
                  ('created', 'updated', 'published', 'unpublished', 'renamed', 'deleted')),
    -- Whether the public can see the resource after the transaction.
    visible       boolean,
    -- Whether the public may read this event: it saw the resource before or
    -- sees it after.
    public        boolean,
    -- The public representation's ETag after the change, when the API made
    -- the change and the public can see the result.
    etag          text,
    committed_at  timestamptz,
    CONSTRAINT changes_once_per_transaction UNIQUE (tx, kind, resource_id),
    CONSTRAINT committed_changes_are_whole CHECK (
        (seq IS NULL) = (action IS NULL) AND (seq IS NULL) = (visible IS NULL)
        AND (seq IS NULL) = (public IS NULL) AND (seq IS NULL) = (committed_at IS NULL))
);
-- What the public reads: its events in order, skipping the editors' own.
CREATE INDEX changes_public_idx ON changes (seq) WHERE public;

-- Positions are handed out under this row's lock.
CREATE TABLE change_log_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq  bigint NOT NULL
);
INSERT INTO change_log_head (last_seq) VALUES (0);

-- One row per transaction with staged changes, while it runs: inserting it
-- queues the commit-time trigger once.
CREATE TABLE change_commits (
    tx xid8 PRIMARY KEY
);

-- Articles published for a time still to come: when it comes, the public
-- learns of them (`announce_due_publications`, called by every instance).
CREATE TABLE scheduled_publications (
    article_id bigint PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    due_at     timestamptz NOT NULL
);
CREATE INDEX scheduled_publications_due_idx ON scheduled_publications (due_at);

-- The public's rule (src/visibility.rs), at a given time.
CREATE FUNCTION article_is_public(status text, published_at timestamptz, at timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT status = 'published' AND published_at IS NOT NULL AND published_at <= at;
$$;

CREATE FUNCTION article_id_is_public(article bigint, at timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM articles a
                    WHERE a.id = article AND article_is_public(a.status, a.published_at, at));
$$;

-- Notes that this transaction touched a resource. The first note of a
-- resource in a transaction wins: it holds the state before the transaction.
CREATE FUNCTION stage_change(
    p_kind text, p_id bigint, p_parent bigint, p_article bigint, p_slug text,
    p_existed boolean, p_was_public boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO changes (kind, resource_id, parent_id, article_id, slug, existed, was_public)
    VALUES (p_kind, p_id, p_parent, p_article, p_slug, p_existed, p_was_public)
    ON CONFLICT ON CONSTRAINT changes_once_per_transaction DO NOTHING;
    INSERT INTO change_commits (tx) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
END $$;

-- The links of a roundup show its title, and a roundup shows its links.
CREATE FUNCTION stage_links_of_roundup(roundup bigint, article bigint, was_public boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stage_change('roundup_link', l.id, l.roundup_id, article, NULL, true, was_public)
       FROM roundup_links l WHERE l.roundup_id = roundup ORDER BY l.position;
END $$;

-- Everything an article holds shows the article's slug and title, and the
-- public sees it exactly when it sees the article.
CREATE FUNCTION stage_children_of_article(article bigint, was_public boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stage_change('excerpt', e.id, article, article, NULL, true, was_public)
       FROM excerpts e WHERE e.article_id = article ORDER BY e.position;
    PERFORM stage_change('roundup', r.id, article, article, NULL, true, was_public),
            stage_links_of_roundup(r.id, article, was_public)
       FROM roundups r WHERE r.article_id = article ORDER BY r.position;
END $$;

CREATE FUNCTION stage_article_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stage_change('article', NEW.id, NULL, NEW.id, NEW.slug, false, false);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stage_change('article', OLD.id, NULL, OLD.id, OLD.slug, true,
            article_is_public(OLD.status, OLD.published_at, statement_timestamp()));
    ELSE
        -- `revised_at` moves whenever anything the article shows changes,
        -- its children and the outlets and tags they name included.
        IF NEW.revised_at IS NOT DISTINCT FROM OLD.revised_at THEN
            RETURN NULL;
        END IF;
        -- A scheduled post whose time has come is public before the log
        -- says so; until it has been announced, a write to it announces it,
        -- with what it holds, or the log would never tell of its rows.
        was := article_is_public(OLD.status, OLD.published_at, statement_timestamp())
               AND NOT EXISTS (SELECT 1 FROM scheduled_publications s WHERE s.article_id = OLD.id);
        PERFORM stage_change('article', NEW.id, NULL, NEW.id, OLD.slug, true, was);
        IF was IS DISTINCT FROM article_is_public(NEW.status, NEW.published_at, statement_timestamp())
           OR NEW.slug IS DISTINCT FROM OLD.slug OR NEW.title IS DISTINCT FROM OLD.title THEN
            PERFORM stage_children_of_article(NEW.id, was);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER articles_changes
    AFTER INSERT OR UPDATE OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION stage_article_change();

-- Excerpts and roundups. A row deleted with its article finds no article:
-- the commit takes what the public saw from the article's own note.
CREATE FUNCTION stage_child_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kind text := CASE TG_TABLE_NAME WHEN 'excerpts' THEN 'excerpt' ELSE 'roundup' END;
    was boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stage_change(kind, NEW.id, NEW.article_id, NEW.article_id, NULL, false, false);
        RETURN NULL;
    END IF;
    was := article_id_is_public(OLD.article_id, statement_timestamp());
    PERFORM stage_change(kind, OLD.id, OLD.article_id, OLD.article_id, NULL, true, was);
    IF TG_OP = 'UPDATE' AND kind = 'roundup' THEN
        IF NEW.title IS DISTINCT FROM OLD.title THEN
            PERFORM stage_links_of_roundup(NEW.id, NEW.article_id, was);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER excerpts_changes
    AFTER INSERT OR DELETE ON excerpts
    FOR EACH ROW EXECUTE FUNCTION stage_child_change();
CREATE TRIGGER excerpts_changes_updated
    AFTER UPDATE ON excerpts
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION stage_child_change();
CREATE TRIGGER roundups_changes
    AFTER INSERT OR DELETE ON roundups
    FOR EACH ROW EXECUTE FUNCTION stage_child_change();
CREATE TRIGGER roundups_changes_updated
    AFTER UPDATE ON roundups
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION stage_child_change();

-- Press links, which also change the roundup that shows them.
CREATE FUNCTION stage_link_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    link roundup_links;
    article bigint;
    was boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        link := OLD;
    ELSE
        link := NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.roundup_id IS DISTINCT FROM NEW.roundup_id THEN
            -- Moved: the roundup it left shows it no more.
            SELECT r.article_id INTO article FROM roundups r WHERE r.id = OLD.roundup_id;
            IF FOUND THEN
                PERFORM stage_change('roundup', OLD.roundup_id, article, article, NULL, true,
                    article_id_is_public(article, statement_timestamp()));
            END IF;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT r.article_id INTO article FROM roundups r WHERE r.id = OLD.roundup_id;
        was := article IS NOT NULL AND article_id_is_public(article, statement_timestamp());
    ELSE
        SELECT r.article_id INTO article FROM roundups r WHERE r.id = NEW.roundup_id;
        was := false;
    END IF;
    PERFORM stage_change('roundup_link', link.id, link.roundup_id, article, NULL,
        TG_OP <> 'INSERT', was);
    SELECT r.article_id INTO article FROM roundups r WHERE r.id = link.roundup_id;
    IF FOUND THEN
        PERFORM stage_change('roundup', link.roundup_id, article, article, NULL, true,
            article_id_is_public(article, statement_timestamp()));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER roundup_links_changes
    AFTER INSERT OR DELETE ON roundup_links
    FOR EACH ROW EXECUTE FUNCTION stage_link_change();
CREATE TRIGGER roundup_links_changes_updated
    AFTER UPDATE ON roundup_links
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION stage_link_change();

-- Outlets are public from their creation; the excerpts and links citing one
-- show its slug, name, home page and country.
CREATE FUNCTION stage_outlet_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM stage_change('outlet', NEW.id, NULL, NULL, NEW.slug, false, false);
        RETURN NULL;
    END IF;
    PERFORM stage_change('outlet', OLD.id, NULL, NULL, OLD.slug, true, true);
    IF TG_OP = 'DELETE' THEN
        RETURN NULL;
    END IF;
    IF (NEW.slug, NEW.name, NEW.home_url, NEW.country_code)
            IS DISTINCT FROM (OLD.slug, OLD.name, OLD.home_url, OLD.country_code) THEN
        PERFORM stage_change('excerpt', e.id, e.article_id, e.article_id, NULL, true,
                    article_id_is_public(e.article_id, statement_timestamp()))
           FROM excerpts e WHERE e.outlet_id = NEW.id;
        PERFORM stage_change('roundup_link', l.id, l.roundup_id, r.article_id, NULL, true,
                    article_id_is_public(r.article_id, statement_timestamp())),
                stage_change('roundup', r.id, r.article_id, r.article_id, NULL, true,
                    article_id_is_public(r.article_id, statement_timestamp()))
           FROM roundup_links l JOIN roundups r ON r.id = l.roundup_id
          WHERE l.outlet_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER outlets_changes
    AFTER INSERT OR DELETE ON outlets
    FOR EACH ROW EXECUTE FUNCTION stage_outlet_change();
-- Only what an outlet shows: an import rewrites every outlet it names,
-- moving `updated_at` alone when nothing else differs.
CREATE TRIGGER outlets_changes_updated
    AFTER UPDATE ON outlets
    FOR EACH ROW WHEN ((OLD.slug, OLD.name, OLD.home_url, OLD.country_code)
                       IS DISTINCT FROM (NEW.slug, NEW.name, NEW.home_url, NEW.country_code))
    EXECUTE FUNCTION stage_outlet_change();

-- At commit: what happened to each staged resource, who may know, and its
-- position. Runs once per transaction (the `change_commits` row), last.
CREATE FUNCTION commit_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c changes;
    head bigint;
    now_at timestamptz;
    committed timestamptz;
    found_now boolean;
    slug_now text;
    parent_now bigint;
    article_now bigint;
    visible_now boolean;
    scheduled_at timestamptz;
    was boolean;
    ancestor bigint;
    parent_was boolean;
    parent_article bigint;
    act text;
BEGIN
    now_at := clock_timestamp();
    -- Which posts are scheduled, before taking the head: the announcer
    -- holds the rows of the posts it announces until it commits, and needs
    -- the head to commit, so waiting for one of them while holding the head
    -- would deadlock. Visibility below is decided at the same instant, so a
    -- post not yet due here is left to the announcer, never announced twice.
    FOR c IN SELECT * FROM changes
              WHERE tx = NEW.tx AND seq IS NULL AND kind = 'article'
              ORDER BY resource_id LOOP
        scheduled_at := NULL;
        SELECT CASE WHEN a.status = 'published' AND a.published_at > now_at THEN a.published_at END
          INTO scheduled_at
          FROM articles a WHERE a.id = c.resource_id;
        IF scheduled_at IS NOT NULL THEN
            INSERT INTO scheduled_publications (article_id, due_at)
            VALUES (c.resource_id, scheduled_at)
            ON CONFLICT (article_id) DO UPDATE SET due_at = EXCLUDED.due_at;
        ELSE
            DELETE FROM scheduled_publications WHERE article_id = c.resource_id;
        END IF;
    END LOOP;

    -- Held until this transaction has committed: the next one to commit
    -- changes waits here, so positions follow commit order.
    SELECT last_seq INTO head FROM change_log_head FOR UPDATE;
    committed := clock_timestamp();

    FOR c IN SELECT * FROM changes WHERE tx = NEW.tx AND seq IS NULL ORDER BY id LOOP
        found_now := false;
        slug_now := NULL;
        parent_now := NULL;
        article_now := NULL;
        visible_now := false;
        IF c.kind = 'article' THEN
            SELECT true, a.slug, a.id, article_is_public(a.status, a.published_at, now_at)
              INTO found_now, slug_now, article_now, visible_now
              FROM articles a WHERE a.id = c.resource_id;
        ELSIF c.kind = 'excerpt' THEN
            SELECT true, e.article_id, e.article_id INTO found_now, parent_now, article_now
              FROM excerpts e WHERE e.id = c.resource_id;
        ELSIF c.kind = 'roundup' THEN
            SELECT true, r.article_id, r.article_id INTO found_now, parent_now, article_now
              FROM roundups r WHERE r.id = c.resource_id;
        ELSIF c.kind = 'roundup_link' THEN
            SELECT true, l.roundup_id, r.article_id INTO found_now, parent_now, article_now
              FROM roundup_links l JOIN roundups r ON r.id = l.roundup_id
             WHERE l.id = c.resource_id;
        ELSE
            SELECT true, o.slug INTO found_now, slug_now FROM outlets o WHERE o.id = c.resource_id;
            visible_now := coalesce(found_now, false);
        END IF;
        found_now := coalesce(found_now, false);
        visible_now := coalesce(visible_now, false);

        -- A row deleted with its article (or its roundup) could not see
        -- what the public saw of it: its parent's note tells. One index
        -- probe each, so that a transaction of thousands of rows (an
        -- import) stays linear.
        was := c.was_public;
        ancestor := c.article_id;
        IF c.kind = 'roundup_link' THEN
            SELECT s.was_public, s.article_id INTO parent_was, parent_article
              FROM changes s
             WHERE s.tx = NEW.tx AND s.kind = 'roundup' AND s.resource_id = c.parent_id;
            IF FOUND THEN
                was := was OR parent_was;
                ancestor := coalesce(ancestor, parent_article);
            END IF;
        END IF;
        IF c.kind IN ('excerpt', 'roundup', 'roundup_link') AND NOT was THEN
            was := EXISTS (SELECT 1 FROM changes s
                            WHERE s.tx = NEW.tx AND s.kind = 'article'
                              AND s.resource_id = ancestor AND s.was_public);
        END IF;
        IF found_now AND c.kind IN ('excerpt', 'roundup', 'roundup_link') THEN
            visible_now := article_id_is_public(article_now, now_at);
        END IF;

        IF NOT found_now AND NOT c.existed THEN
            -- Created and deleted in one transaction: nothing to tell.
            DELETE FROM changes WHERE id = c.id;
            CONTINUE;
        END IF;

        act := CASE
            WHEN NOT found_now THEN 'deleted'
            WHEN NOT c.existed THEN 'created'
            WHEN was AND NOT visible_now THEN 'unpublished'
            WHEN visible_now AND NOT was THEN 'published'
            WHEN slug_now IS DISTINCT FROM c.slug THEN 'renamed'
            ELSE 'updated' END;
        head := head + 1;
        UPDATE changes SET
            seq = head,
            action = act,
            visible = visible_now,
            was_public = was,
            public = was OR visible_now,
            slug = coalesce(slug_now, c.slug),
            previous_slug = CASE WHEN found_now AND c.existed AND slug_now IS DISTINCT FROM c.slug
                                 THEN c.slug END,
            parent_id = coalesce(parent_now, c.parent_id),
            article_id = coalesce(article_now, ancestor),
            etag = CASE WHEN visible_now THEN c.etag END,
            committed_at = committed
         WHERE id = c.id;
    END LOOP;

    UPDATE change_log_head SET last_seq = head;
    DELETE FROM change_commits WHERE tx = NEW.tx;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER change_commits_committed
    AFTER INSERT ON change_commits
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION commit_changes();

-- Scheduled posts whose time has come: the public learns of each (and of
-- what it holds) in a transaction of its own. Every instance calls this;
-- a post is announced by whichever takes it first.
CREATE FUNCTION announce_due_publications() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    due record;
    announced integer := 0;
BEGIN
    FOR due IN
        DELETE FROM scheduled_publications s
         WHERE s.article_id IN (SELECT article_id FROM scheduled_publications
                                 WHERE due_at <= clock_timestamp()
                                 ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
        RETURNING s.article_id
    LOOP
        PERFORM stage_change('article', a.id, NULL, a.id, a.slug, true, false),
                stage_children_of_article(a.id, false)
           FROM articles a WHERE a.id = due.article_id;
        announced := announced + 1;
    END LOOP;
    RETURN announced;
END $$;

-- What existed before the log: created, in an order a mirror can follow
-- (outlets before the articles citing them, an article before its rows).
SELECT stage_change('outlet', id, NULL, NULL, slug, false, false) FROM outlets ORDER BY id;
SELECT stage_change('article', id, NULL, id, slug, false, false) FROM articles ORDER BY id;
SELECT stage_change('excerpt', id, article_id, article_id, NULL, false, false)
  FROM excerpts ORDER BY article_id, position;
SELECT stage_change('roundup', id, article_id, article_id, NULL, false, false)
  FROM roundups ORDER BY article_id, position;
SELECT stage_change('roundup_link', l.id, l.roundup_id, r.article_id, NULL, false, false)
  FROM roundup_links l JOIN roundups r ON r.id = l.roundup_id ORDER BY l.roundup_id, l.position;

-- Editorial writes: API keys, slug history, revisions and idempotent creates.

CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (length(btrim(name)) > 0 AND length(name) <= 100),
    role         text NOT NULL CHECK (role IN ('editor', 'admin')),
    -- The public half of a key, used to find its row; the secret half is
    -- stored only as a SHA-256 digest and compared in constant time.
    lookup       text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL CHECK (length(secret_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Slugs an article answered to before it was renamed. A slug is either an
-- article's current slug or one article's old slug, never both: the triggers
-- below refuse a rename onto another article's old slug and an old slug that
-- is another article's current one.
CREATE TABLE article_slug_history (
    slug       text PRIMARY KEY
               CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 200),
    article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    retired_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX article_slug_history_article_idx ON article_slug_history (article_id);

CREATE FUNCTION refuse_slug_of_another_article() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Writers of one slug take turns, so that each check below sees what the
    -- other committed: without this, a create and a concurrent rename could
    -- both pass their check and one slug would end up in both tables.
    PERFORM pg_advisory_xact_lock(hashtext('broadsheet.slug'), hashtext(NEW.slug));
    IF TG_TABLE_NAME = 'articles' THEN
        IF EXISTS (SELECT 1 FROM article_slug_history h
                   WHERE h.slug = NEW.slug AND h.article_id <> NEW.id) THEN
            RAISE EXCEPTION 'slug "%" is an old slug of another article', NEW.slug
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'article_slug_history_pkey';
        END IF;
    ELSE
        IF EXISTS (SELECT 1 FROM articles a
                   WHERE a.slug = NEW.slug AND a.id <> NEW.article_id) THEN
            RAISE EXCEPTION 'slug "%" is the slug of another article', NEW.slug
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'articles_slug_key';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER articles_slug_not_retired
    BEFORE INSERT OR UPDATE OF slug ON articles
    FOR EACH ROW EXECUTE FUNCTION refuse_slug_of_another_article();
CREATE TRIGGER history_slug_not_current
    BEFORE INSERT OR UPDATE ON article_slug_history
    FOR EACH ROW EXECUTE FUNCTION refuse_slug_of_another_article();

-- The state of an article before each update, to list and restore.
CREATE TABLE article_revisions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text,
    snapshot   jsonb NOT NULL
);
CREATE INDEX article_revisions_article_idx ON article_revisions (article_id, id DESC);

-- The first response to each Idempotency-Key, per API key, so that a retried
-- create returns it again instead of creating twice. Written in the same
-- transaction as the create it records.
CREATE TABLE idempotent_requests (
    api_key_id      bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    bytea NOT NULL,
    status          smallint NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}',
    body            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, idempotency_key)
);
CREATE INDEX idempotent_requests_created_idx ON idempotent_requests (created_at);

-- Editors list drafts and scheduled posts newest first.
CREATE INDEX articles_status_idx ON articles (status, published_at DESC, id DESC);
CREATE INDEX articles_updated_idx ON articles (updated_at DESC, id DESC);

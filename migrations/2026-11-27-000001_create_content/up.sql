-- Broadsheet's content model. Integrity lives here: every relation is a
-- foreign key, every natural key is unique, every enumerated or shaped value
-- is checked, so no client of the database can store what the API cannot serve.

CREATE TABLE outlets (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         text NOT NULL UNIQUE
                 CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
    name         text NOT NULL CHECK (length(btrim(name)) > 0),
    home_url     text NOT NULL CHECK (home_url ~ '^https?://[^\s]+$'),
    country_code text CHECK (country_code ~ '^[A-Z]{2}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE articles (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         text NOT NULL UNIQUE
                 CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 200),
    title        text NOT NULL CHECK (length(btrim(title)) > 0),
    summary      text,
    body         text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    published_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT published_articles_have_a_date
        CHECK (status = 'draft' OR published_at IS NOT NULL)
);

-- The public list: published articles, newest first, keyset-paged on (published_at, id).
CREATE INDEX articles_published_idx
    ON articles (published_at DESC, id DESC) WHERE status = 'published';

CREATE TABLE tags (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL UNIQUE
         CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
    name text NOT NULL CHECK (length(btrim(name)) > 0)
);

CREATE TABLE article_tags (
    article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag_id     bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, tag_id)
);
-- Serves the tag filter and the per-tag counts.
CREATE INDEX article_tags_tag_idx ON article_tags (tag_id, article_id);

CREATE TABLE excerpts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id          bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position            integer NOT NULL CHECK (position >= 1),
    headline            text NOT NULL CHECK (length(btrim(headline)) > 0),
    bylines             text[] NOT NULL DEFAULT '{}',
    outlet_id           bigint NOT NULL REFERENCES outlets (id) ON DELETE RESTRICT,
    source_published_on date,
    source_url          text NOT NULL CHECK (source_url ~ '^https?://[^\s]+$'),
    call_to_action      text,
    body                text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- Deferrable so that a reorder can swap positions inside one transaction.
    CONSTRAINT excerpts_article_position_key
        UNIQUE (article_id, position) DEFERRABLE INITIALLY IMMEDIATE
);
-- Serves the outlet filter (articles, excerpts) and the outlet citation counts.
CREATE INDEX excerpts_outlet_idx ON excerpts (outlet_id, id);

CREATE TABLE roundups (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position   integer NOT NULL CHECK (position >= 1),
    title      text NOT NULL CHECK (length(btrim(title)) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roundups_article_position_key
        UNIQUE (article_id, position) DEFERRABLE INITIALLY IMMEDIATE
);

CREATE TABLE roundup_links (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    roundup_id bigint NOT NULL REFERENCES roundups (id) ON DELETE CASCADE,
    position   integer NOT NULL CHECK (position >= 1),
    headline   text NOT NULL CHECK (length(btrim(headline)) > 0),
    outlet_id  bigint NOT NULL REFERENCES outlets (id) ON DELETE RESTRICT,
    url        text NOT NULL CHECK (url ~ '^https?://[^\s]+$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roundup_links_roundup_position_key
        UNIQUE (roundup_id, position) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX roundup_links_outlet_idx ON roundup_links (outlet_id, id);

-- Views per article per time bucket: hourly buckets for recent days, daily
-- buckets once rolled up. Counts only ever grow by additive upserts, so several
-- instances can write to one table and the totals stay exact sums.
CREATE TABLE view_counts (
    article_id   bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    granularity  text NOT NULL CHECK (granularity IN ('hour', 'day')),
    bucket_start timestamptz NOT NULL,
    views        bigint NOT NULL CHECK (views >= 0),
    PRIMARY KEY (article_id, granularity, bucket_start),
    CONSTRAINT bucket_start_is_aligned CHECK (
        date_trunc(granularity, bucket_start AT TIME ZONE 'UTC') = bucket_start AT TIME ZONE 'UTC'
    )
);
-- Serves windowed rankings: an index-only range scan over recent buckets.
CREATE INDEX view_counts_window_idx ON view_counts (bucket_start, article_id) INCLUDE (views);

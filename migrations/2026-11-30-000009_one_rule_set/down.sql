ALTER TABLE roundup_links
    DROP CONSTRAINT roundup_links_url_check,
    DROP CONSTRAINT roundup_links_headline_check;
ALTER TABLE roundup_links
    ADD CONSTRAINT roundup_links_url_check CHECK (url ~ '^https?://[^\s]+$'),
    ADD CONSTRAINT roundup_links_headline_check CHECK (length(btrim(headline)) > 0);

ALTER TABLE roundups DROP CONSTRAINT roundups_title_check;
ALTER TABLE roundups
    ADD CONSTRAINT roundups_title_check CHECK (length(btrim(title)) > 0);

ALTER TABLE excerpts
    DROP CONSTRAINT excerpts_source_url_check,
    DROP CONSTRAINT excerpts_call_to_action_check,
    DROP CONSTRAINT excerpts_bylines_check,
    DROP CONSTRAINT excerpts_headline_check;
ALTER TABLE excerpts
    ADD CONSTRAINT excerpts_source_url_check CHECK (source_url ~ '^https?://[^\s]+$'),
    ADD CONSTRAINT excerpts_headline_check CHECK (length(btrim(headline)) > 0);

ALTER TABLE articles
    DROP CONSTRAINT articles_summary_check,
    DROP CONSTRAINT articles_title_check;
ALTER TABLE articles
    ADD CONSTRAINT articles_title_check CHECK (length(btrim(title)) > 0);

ALTER TABLE tags DROP CONSTRAINT tags_name_check;
ALTER TABLE tags ADD CONSTRAINT tags_name_check CHECK (length(btrim(name)) > 0);

ALTER TABLE outlets
    DROP CONSTRAINT outlets_home_url_check,
    DROP CONSTRAINT outlets_name_check;
ALTER TABLE outlets ADD CONSTRAINT outlets_home_url_check CHECK (home_url ~ '^https?://[^\s]+$'), ADD CONSTRAINT outlets_name_check CHECK (length(btrim(name)) > 0);

DROP FUNCTION broadsheet_texts_fit(text[], integer);
DROP FUNCTION broadsheet_blank(text);

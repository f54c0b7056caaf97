-- One rule set for text: the database refuses exactly what the API and the
-- import refuse (`src/validate.rs`), so that nothing one side accepts the
-- other refuses.
--
-- Blank: the first migration's `length(btrim(x)) > 0` trims spaces only,
-- while Rust's `char::is_whitespace` (Unicode White_Space) also calls tabs,
-- line breaks, U+00A0, U+3000 and the like blank. `broadsheet_blank` spells
-- that class out character by character, as `validate::NOT_BLANK_PATTERN`
-- does; neither relies on a locale's notion of a space.
--
-- Links: the API stores a link in the form the WHATWG URL parser writes it
-- (`validate::http_url`), which is printable ASCII without spaces; the old
-- `[^\s]` let U+00A0 and other characters through that the parser never
-- writes, and no longer does.
--
-- Lengths are caps in characters (`char_length`, Rust's `chars().count()`):
-- titles and headlines 500, a summary 2000, bylines and a call to action 200,
-- outlet and tag names 200, links 2048 as stored (2000 as a client sends
-- them: the stored form of a URI is at most one character longer).
--
-- The new constraints are NOT VALID: they hold for every row written or
-- updated from now on, while rows stored before that break them stay
-- readable (and exportable) as they are. A write to such a row must bring
-- it within the rules, as the API's checks already require of the whole
-- resource. `broadsheet import --lenient` repairs what can be repaired.

CREATE FUNCTION broadsheet_blank(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT value ~ '^[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$'
    $$;

-- Every item of a list of texts is not blank and at most `max` characters.
CREATE FUNCTION broadsheet_texts_fit(items text[], max integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT NOT EXISTS (
            SELECT FROM unnest(items) AS item
            WHERE item IS NULL OR broadsheet_blank(item) OR char_length(item) > max
        )
    $$;

ALTER TABLE outlets DROP CONSTRAINT outlets_home_url_check, DROP CONSTRAINT outlets_name_check;
ALTER TABLE outlets
    ADD CONSTRAINT outlets_name_check
        CHECK (NOT broadsheet_blank(name) AND char_length(name) <= 200) NOT VALID,
    ADD CONSTRAINT outlets_home_url_check
        CHECK (home_url ~ '^https?://[!-~]+$' AND char_length(home_url) <= 2048) NOT VALID;

ALTER TABLE tags DROP CONSTRAINT tags_name_check;
ALTER TABLE tags
    ADD CONSTRAINT tags_name_check
        CHECK (NOT broadsheet_blank(name) AND char_length(name) <= 200) NOT VALID;

ALTER TABLE articles DROP CONSTRAINT articles_title_check;
ALTER TABLE articles
    ADD CONSTRAINT articles_title_check
        CHECK (NOT broadsheet_blank(title) AND char_length(title) <= 500) NOT VALID,
    ADD CONSTRAINT articles_summary_check
        CHECK (char_length(summary) <= 2000) NOT VALID;

ALTER TABLE excerpts DROP CONSTRAINT excerpts_source_url_check, DROP CONSTRAINT excerpts_headline_check;
ALTER TABLE excerpts
    ADD CONSTRAINT excerpts_headline_check
        CHECK (NOT broadsheet_blank(headline) AND char_length(headline) <= 500) NOT VALID,
    ADD CONSTRAINT excerpts_bylines_check
        CHECK (broadsheet_texts_fit(bylines, 200)) NOT VALID,
    ADD CONSTRAINT excerpts_call_to_action_check
        CHECK (NOT broadsheet_blank(call_to_action) AND char_length(call_to_action) <= 200) NOT VALID,
    ADD CONSTRAINT excerpts_source_url_check
        CHECK (source_url ~ '^https?://[!-~]+$' AND char_length(source_url) <= 2048) NOT VALID;

ALTER TABLE roundups DROP CONSTRAINT roundups_title_check;
ALTER TABLE roundups
    ADD CONSTRAINT roundups_title_check
        CHECK (NOT broadsheet_blank(title) AND char_length(title) <= 500) NOT VALID;

ALTER TABLE roundup_links DROP CONSTRAINT roundup_links_url_check, DROP CONSTRAINT roundup_links_headline_check;
ALTER TABLE roundup_links
    ADD CONSTRAINT roundup_links_headline_check
        CHECK (NOT broadsheet_blank(headline) AND char_length(headline) <= 500) NOT VALID,
    ADD CONSTRAINT roundup_links_url_check
        CHECK (url ~ '^https?://[!-~]+$' AND char_length(url) <= 2048) NOT VALID;

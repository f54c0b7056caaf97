-- GET /v1/search?q=talks (the first page, limit 20): the removal watermark
-- and the search itself, one pipelined batch. The search is one statement:
-- the 1,000 most recently published matches in `article_search` (down its
-- recency index, or through the GIN index for a rarer word), ranked; the
-- page (21 rows: one past it says whether there is a next); and for its
-- rows the snippet (ts_headline) and the tags.
--
-- bench/reads runs one copy of this script per word of
-- `bench/generate --search-words` (frequent, middling and rare), `talks`
-- replaced, drawn per transaction as the search phase draws its words per
-- request; each copy is planned for its own word, as the server plans each
-- search (it does not keep the statement prepared). The server binds the
-- words, the time of the request, the snippet options and the limit; here
-- the time is now().
\startpipeline
SELECT "publication_removals"."removed_at" FROM "publication_removals";
WITH candidates AS ( SELECT s.article_id, s.document FROM article_search s WHERE s.document @@ websearch_to_tsquery('english', 'talks') AND s.published_at <= now() ORDER BY s.published_at DESC, s.article_id DESC LIMIT 1000 ), ranked AS ( SELECT c.article_id AS id, ts_rank('{0.1, 0.2, 0.4, 1.0}', c.document, websearch_to_tsquery('english', 'talks')) AS rank FROM candidates c ), page AS ( SELECT r.id, r.rank FROM ranked r  ORDER BY r.rank DESC, r.id DESC LIMIT 21 ) SELECT a.id, a.slug, a.title, a.summary, a.status, a.published_at, a.updated_at, a.revised_at, p.rank, ts_headline('english', translate(left(concat_ws(E'\n\n', a.summary, a.body, x.excerpts), 32768), E'\uE000\uE001', ''), websearch_to_tsquery('english', 'talks'), E'StartSel=\uE000, StopSel=\uE001, MaxFragments=2, MaxWords=30, MinWords=12, FragmentDelimiter=" … "') AS snippet, ARRAY(SELECT t.id FROM article_tags at JOIN tags t ON t.id = at.tag_id WHERE at.article_id = a.id ORDER BY t.slug) AS tag_ids, ARRAY(SELECT t.slug FROM article_tags at JOIN tags t ON t.id = at.tag_id WHERE at.article_id = a.id ORDER BY t.slug) AS tag_slugs, ARRAY(SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id WHERE at.article_id = a.id ORDER BY t.slug) AS tag_names FROM page p JOIN articles a ON a.id = p.id CROSS JOIN LATERAL ( SELECT string_agg(e.headline || E'\n' || e.body, E'\n\n' ORDER BY e.position) AS excerpts FROM (SELECT headline, body, position FROM excerpts WHERE article_id = a.id ORDER BY position LIMIT 100) e ) x ORDER BY p.rank DESC, p.id DESC;
\endpipeline

-- GET /v1/articles (the first page, limit 20, no filter, no include): the
-- list's context (the removal watermark and the ids of the tag and outlet
-- filtered by, none here), the page's rows (21: one past the page says
-- whether there is a next) and the tags of its 20 articles, named by the
-- page's own query: one pipelined batch, one round trip. The page is a walk
-- of the (published_at, id) index, never OFFSET or COUNT.
--
-- The server binds the time of the request and the limits; here the time is
-- now(). With include=excerpts,roundups, the three part queries of
-- feed.sql (excerpts, roundups, links) join the batch.
\startpipeline
SELECT "publication_removals"."removed_at", (SELECT "tags"."id" FROM "tags" WHERE ("tags"."slug" = NULL) LIMIT 1), (SELECT "outlets"."id" FROM "outlets" WHERE ("outlets"."slug" = NULL) LIMIT 1) FROM "publication_removals";
SELECT "articles"."id", "articles"."slug", "articles"."title", "articles"."summary", "articles"."status", "articles"."published_at", "articles"."updated_at", "articles"."revised_at" FROM "articles" WHERE (("articles"."status" = 'published') AND ("articles"."published_at" <= now())) ORDER BY "articles"."published_at" DESC, "articles"."id" DESC LIMIT 21;
SELECT "article_tags"."article_id", "tags"."id", "tags"."slug", "tags"."name" FROM ("article_tags" INNER JOIN "tags" ON ("article_tags"."tag_id" = "tags"."id")) WHERE ("article_tags"."article_id" = ANY(SELECT "articles"."id" FROM "articles" WHERE (("articles"."status" = 'published') AND ("articles"."published_at" <= now())) ORDER BY "articles"."published_at" DESC, "articles"."id" DESC LIMIT 20)) ORDER BY "article_tags"."article_id", "tags"."slug";
\endpipeline

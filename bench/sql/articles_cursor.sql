-- GET /v1/articles?cursor=… (a later page, limit 20): as articles_page.sql,
-- resuming after the cursor's position by a row comparison, so that the
-- page is still a walk of the (published_at, id) index from that point.
--
-- The cursor is the position of article n (its publication time and id),
-- read first (outside the batch, which stays one round trip: the server
-- takes it from the sealed cursor, without a query).
\set n random(1, :articles)
SELECT "articles"."published_at" AS at, "articles"."id" AS id FROM "articles" WHERE "articles"."slug" = 'bench-' || :n \gset
\startpipeline
SELECT "publication_removals"."removed_at", (SELECT "tags"."id" FROM "tags" WHERE ("tags"."slug" = NULL) LIMIT 1), (SELECT "outlets"."id" FROM "outlets" WHERE ("outlets"."slug" = NULL) LIMIT 1) FROM "publication_removals";
SELECT "articles"."id", "articles"."slug", "articles"."title", "articles"."summary", "articles"."status", "articles"."published_at", "articles"."updated_at", "articles"."revised_at" FROM "articles" WHERE ((("articles"."status" = 'published') AND ("articles"."published_at" <= now())) AND (articles.published_at, articles.id) < (:at, :id)) ORDER BY "articles"."published_at" DESC, "articles"."id" DESC LIMIT 21;
SELECT "article_tags"."article_id", "tags"."id", "tags"."slug", "tags"."name" FROM ("article_tags" INNER JOIN "tags" ON ("article_tags"."tag_id" = "tags"."id")) WHERE ("article_tags"."article_id" = ANY(SELECT "articles"."id" FROM "articles" WHERE ((("articles"."status" = 'published') AND ("articles"."published_at" <= now())) AND (articles.published_at, articles.id) < (:at, :id)) ORDER BY "articles"."published_at" DESC, "articles"."id" DESC LIMIT 20)) ORDER BY "article_tags"."article_id", "tags"."slug";
\endpipeline

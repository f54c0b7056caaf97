DROP INDEX articles_updated_idx;
DROP INDEX articles_status_idx;
DROP TABLE idempotent_requests;
DROP TABLE article_revisions;
DROP TRIGGER history_slug_not_current ON article_slug_history;
DROP TRIGGER articles_slug_not_retired ON articles;
DROP FUNCTION refuse_slug_of_another_article();
DROP TABLE article_slug_history;
DROP TABLE api_keys;

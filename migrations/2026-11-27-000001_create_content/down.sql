DROP TABLE view_counts;
DROP TABLE roundup_links;
DROP TABLE roundups;
DROP TABLE excerpts;
DROP TABLE article_tags;
DROP TABLE tags;
DROP TABLE articles;
DROP TABLE outlets;

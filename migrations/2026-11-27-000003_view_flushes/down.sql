DROP TABLE view_flushes;

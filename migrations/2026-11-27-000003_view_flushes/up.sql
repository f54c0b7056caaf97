-- Each batch of counted views carries an id, recorded in the same statement
-- that adds its counts. A batch whose outcome was unknown (the connection
-- dropped mid-write) can then be retried without counting it twice.
CREATE TABLE view_flushes (
    batch      text PRIMARY KEY,
    flushed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX view_flushes_flushed_idx ON view_flushes (flushed_at);

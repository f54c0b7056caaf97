-- Each article's views in every ranking window, kept current as views are
-- written, so that a ranking refresh reads one row an article (and, through
-- the indexes, only the top of each ranking) instead of summing its whole
-- view history on every refresh.
--
-- The windows count back from the hour held in `view_windows_clock`: a
-- bucket starts on a whole hour, so which buckets a window holds changes
-- only when the hour does. A write to `view_counts` adds its difference to
-- each window holding that bucket (the trigger below, in the writer's
-- transaction); moving the clock to a later hour adds and subtracts the
-- buckets that crossed a window's edge (`advance_view_windows`), which reads
-- only the buckets within the hours that passed at each edge.

CREATE TABLE view_windows_clock (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    as_of timestamptz NOT NULL
        CHECK (date_trunc('hour', as_of AT TIME ZONE 'UTC') = as_of AT TIME ZONE 'UTC')
);

-- Views of buckets starting after the hour less a window's length (ending
-- now); the `_before` columns hold the window of the same length before it,
-- `trend_base` the 7 days before the last 24 hours.
CREATE TABLE view_windows (
    article_id   bigint PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    all_time     bigint NOT NULL DEFAULT 0,
    day          bigint NOT NULL DEFAULT 0,
    day_before   bigint NOT NULL DEFAULT 0,
    week         bigint NOT NULL DEFAULT 0,
    week_before  bigint NOT NULL DEFAULT 0,
    month        bigint NOT NULL DEFAULT 0,
    month_before bigint NOT NULL DEFAULT 0,
    trend_base   bigint NOT NULL DEFAULT 0
);
-- Each ranking reads the top of its window's index, and each previous rank
-- counts the articles above it in the previous window.
CREATE INDEX view_windows_day_idx ON view_windows (day) WHERE day > 0;
CREATE INDEX view_windows_week_idx ON view_windows (week) WHERE week > 0;
CREATE INDEX view_windows_month_idx ON view_windows (month) WHERE month > 0;
CREATE INDEX view_windows_all_time_idx ON view_windows (all_time) WHERE all_time > 0;
CREATE INDEX view_windows_day_before_idx ON view_windows (day_before) WHERE day_before > 0;
CREATE INDEX view_windows_week_before_idx ON view_windows (week_before) WHERE week_before > 0;
CREATE INDEX view_windows_month_before_idx ON view_windows (month_before) WHERE month_before > 0;

-- What `views` in a bucket starting at `started` adds to each window, with
-- the windows counted back from `at_hour`. Lengths are in hours: an interval
-- in days would follow the session's time zone across a DST change.
CREATE FUNCTION view_window_shares(at_hour timestamptz, started timestamptz, views bigint)
RETURNS TABLE (day bigint, day_before bigint, week bigint, week_before bigint,
               month bigint, month_before bigint, trend_base bigint)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN started > at_hour - interval '24 hours' THEN views ELSE 0 END,
           CASE WHEN started > at_hour - interval '48 hours'
                 AND started <= at_hour - interval '24 hours' THEN views ELSE 0 END,
           CASE WHEN started > at_hour - interval '168 hours' THEN views ELSE 0 END,
           CASE WHEN started > at_hour - interval '336 hours'
                 AND started <= at_hour - interval '168 hours' THEN views ELSE 0 END,
           CASE WHEN started > at_hour - interval '720 hours' THEN views ELSE 0 END,
           CASE WHEN started > at_hour - interval '1440 hours'
                 AND started <= at_hour - interval '720 hours' THEN views ELSE 0 END,
           CASE WHEN started > at_hour - interval '192 hours'
                 AND started <= at_hour - interval '24 hours' THEN views ELSE 0 END
$$;

-- Adds changed buckets (views negative for removed ones) to their articles'
-- windows. The clock is held shared until the writer commits, so that it
-- cannot move between this and the commit. Articles deleted meanwhile are
-- left out, as the flush leaves out their views.
CREATE FUNCTION add_to_view_windows(ids bigint[], starts timestamptz[], counts bigint[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    at_hour timestamptz;
BEGIN
    SELECT c.as_of INTO at_hour FROM view_windows_clock c FOR SHARE;
    INSERT INTO view_windows AS w (article_id, all_time, day, day_before, week, week_before,
                                   month, month_before, trend_base)
    SELECT c.article_id, SUM(c.views), SUM(s.day), SUM(s.day_before), SUM(s.week),
           SUM(s.week_before), SUM(s.month), SUM(s.month_before), SUM(s.trend_base)
      FROM unnest(ids, starts, counts) AS c (article_id, started, views)
      CROSS JOIN LATERAL view_window_shares(at_hour, c.started, c.views) AS s
     WHERE EXISTS (SELECT 1 FROM articles a WHERE a.id = c.article_id)
     GROUP BY c.article_id
     -- Writers that update shared rows in one order cannot deadlock on them.
     ORDER BY c.article_id
    ON CONFLICT (article_id) DO UPDATE SET
        all_time = w.all_time + excluded.all_time,
        day = w.day + excluded.day,
        day_before = w.day_before + excluded.day_before,
        week = w.week + excluded.week,
        week_before = w.week_before + excluded.week_before,
        month = w.month + excluded.month,
        month_before = w.month_before + excluded.month_before,
        trend_base = w.trend_base + excluded.trend_base;
END $$;

-- Statement-level, with transition tables: a flush or an import adds its
-- thousands of buckets in one statement. An update counts as the old row
-- removed and the new one added.
CREATE FUNCTION view_windows_after_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM add_to_view_windows(array_agg(n.article_id), array_agg(n.bucket_start),
                                    array_agg(n.views))
           FROM new_rows n HAVING count(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM add_to_view_windows(array_agg(o.article_id), array_agg(o.bucket_start),
                                    array_agg(-o.views))
           FROM old_rows o HAVING count(*) > 0;
    ELSE
        PERFORM add_to_view_windows(array_agg(c.article_id), array_agg(c.bucket_start),
                                    array_agg(c.views))
           FROM (SELECT n.article_id, n.bucket_start, n.views FROM new_rows n
                 UNION ALL
                 SELECT o.article_id, o.bucket_start, -o.views FROM old_rows o) AS c
         HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER view_windows_counts_insert AFTER INSERT ON view_counts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION view_windows_after_counts();
CREATE TRIGGER view_windows_counts_update AFTER UPDATE ON view_counts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION view_windows_after_counts();
CREATE TRIGGER view_windows_counts_delete AFTER DELETE ON view_counts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION view_windows_after_counts();

-- Moves the windows to the hour of `target`, unless they are there or past
-- it already. Only buckets within the hours that passed at some window's
-- edge can enter or leave a window: each is counted out of the windows it
-- was in and into those it is in now. Several instances may call it at
-- once: the first moves the clock, the others find it moved.
CREATE FUNCTION advance_view_windows(target timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    to_hour timestamptz := date_trunc('hour', target AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    from_hour timestamptz;
BEGIN
    SELECT c.as_of INTO from_hour FROM view_windows_clock c;
    IF to_hour <= from_hour THEN
        RETURN;
    END IF;
    SELECT c.as_of INTO from_hour FROM view_windows_clock c FOR UPDATE;
    IF to_hour <= from_hour THEN
        RETURN;
    END IF;
    UPDATE view_windows w SET
        day = w.day + d.day,
        day_before = w.day_before + d.day_before,
        week = w.week + d.week,
        week_before = w.week_before + d.week_before,
        month = w.month + d.month,
        month_before = w.month_before + d.month_before,
        trend_base = w.trend_base + d.trend_base
      FROM (SELECT v.article_id,
                   SUM(n.day - o.day) AS day, SUM(n.day_before - o.day_before) AS day_before,
                   SUM(n.week - o.week) AS week, SUM(n.week_before - o.week_before) AS week_before,
                   SUM(n.month - o.month) AS month,
                   SUM(n.month_before - o.month_before) AS month_before,
                   SUM(n.trend_base - o.trend_base) AS trend_base
              FROM view_counts v
             CROSS JOIN LATERAL view_window_shares(to_hour, v.bucket_start, v.views) AS n
             CROSS JOIN LATERAL view_window_shares(from_hour, v.bucket_start, v.views) AS o
             -- One range of the bucket index for each edge.
             WHERE (v.bucket_start > from_hour - interval '24 hours' AND v.bucket_start <= to_hour - interval '24 hours')
                OR (v.bucket_start > from_hour - interval '48 hours' AND v.bucket_start <= to_hour - interval '48 hours')
                OR (v.bucket_start > from_hour - interval '168 hours' AND v.bucket_start <= to_hour - interval '168 hours')
                OR (v.bucket_start > from_hour - interval '192 hours' AND v.bucket_start <= to_hour - interval '192 hours')
                OR (v.bucket_start > from_hour - interval '336 hours' AND v.bucket_start <= to_hour - interval '336 hours')
                OR (v.bucket_start > from_hour - interval '720 hours' AND v.bucket_start <= to_hour - interval '720 hours')
                OR (v.bucket_start > from_hour - interval '1440 hours' AND v.bucket_start <= to_hour - interval '1440 hours')
             GROUP BY v.article_id
             ORDER BY v.article_id) AS d
     WHERE w.article_id = d.article_id
       AND (d.day, d.day_before, d.week, d.week_before, d.month, d.month_before, d.trend_base)
           IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0);
    UPDATE view_windows_clock SET as_of = to_hour;
END $$;

INSERT INTO view_windows_clock (as_of)
VALUES (date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC');

INSERT INTO view_windows (article_id, all_time, day, day_before, week, week_before, month,
                          month_before, trend_base)
SELECT v.article_id, SUM(v.views), SUM(s.day), SUM(s.day_before), SUM(s.week),
       SUM(s.week_before), SUM(s.month), SUM(s.month_before), SUM(s.trend_base)
  FROM view_counts v
 CROSS JOIN view_windows_clock c
 CROSS JOIN LATERAL view_window_shares(c.as_of, v.bucket_start, v.views) AS s
 GROUP BY v.article_id;

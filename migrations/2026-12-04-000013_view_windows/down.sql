DROP FUNCTION advance_view_windows(timestamptz);
DROP TRIGGER view_windows_counts_delete ON view_counts;
DROP TRIGGER view_windows_counts_update ON view_counts;
DROP TRIGGER view_windows_counts_insert ON view_counts;
DROP FUNCTION view_windows_after_counts();
DROP FUNCTION add_to_view_windows(bigint[], timestamptz[], bigint[]);
DROP FUNCTION view_window_shares(timestamptz, timestamptz, bigint);
DROP TABLE view_windows;
DROP TABLE view_windows_clock;

-- Every instance's response cache follows the change log. When a
-- transaction commits events, the log's head moves, and listeners on
-- `broadsheet_changes` are told with the commit (a notification is sent
-- only if the transaction commits). The payload is the new head; a
-- listener reads the log itself, so a missed notification loses nothing.
CREATE FUNCTION notify_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('broadsheet_changes', NEW.last_seq::text);
    RETURN NULL;
END $$;

CREATE TRIGGER change_log_head_notify
    AFTER UPDATE ON change_log_head
    FOR EACH ROW WHEN (NEW.last_seq > OLD.last_seq)
    EXECUTE FUNCTION notify_changes();

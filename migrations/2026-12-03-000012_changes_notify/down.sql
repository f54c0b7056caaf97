DROP TRIGGER change_log_head_notify ON change_log_head;
DROP FUNCTION notify_changes();

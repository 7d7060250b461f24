-- A known file's newest event is looked up by name (a repeated announcement answers with it);
-- without this index that is a scan of the whole log.
CREATE INDEX IF NOT EXISTS file_events_by_file ON file_events (file_name, seq);

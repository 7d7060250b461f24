-- Newest arrivals first (the status API's file list) pages by (ingested_at, file_name).
CREATE INDEX IF NOT EXISTS indexed_files_by_arrival ON indexed_files (ingested_at, file_name);

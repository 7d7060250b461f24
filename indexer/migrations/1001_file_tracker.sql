-- The file tracker: one row per archive object with a valid mission file name.
CREATE TABLE IF NOT EXISTS indexed_files (
    file_name TEXT PRIMARY KEY,
    archive_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    instrument TEXT NOT NULL,
    data_level TEXT NOT NULL,
    descriptor TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    repointing BIGINT,
    cr BIGINT,
    version TEXT NOT NULL,
    version_major BIGINT NOT NULL,
    version_minor BIGINT NOT NULL,
    extension TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    ingested_at BIGINT NOT NULL,
    ingestion_date TEXT NOT NULL,
    produced_by_job TEXT NOT NULL,
    parent_files TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS indexed_files_series
    ON indexed_files (instrument, data_level, descriptor, start_date);

-- The durable, append-only log of FileIndexed events; consumers keep their own cursor.
CREATE TABLE IF NOT EXISTS file_events (
    seq BIGINT PRIMARY KEY,
    file_name TEXT NOT NULL,
    traceparent TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);

-- Refused files and why; the bytes are kept aside, never dropped.
CREATE TABLE IF NOT EXISTS quarantined_files (
    id TEXT PRIMARY KEY,
    original_key TEXT NOT NULL,
    quarantine_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);

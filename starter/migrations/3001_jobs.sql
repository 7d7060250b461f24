-- One row per job. The two unique keys are the database's guarantee, on SQLite and PostgreSQL
-- alike, that a (product, time, exact input set) runs once and that versions are never reused.
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    instrument TEXT NOT NULL,
    data_level TEXT NOT NULL,
    descriptor TEXT NOT NULL,
    start_date TEXT NOT NULL,
    repointing BIGINT NOT NULL,
    input_hash TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    version TEXT NOT NULL,
    version_major BIGINT NOT NULL,
    version_minor BIGINT NOT NULL,
    -- The resolved inputs (provenance), as hex of length-delimited protobuf ResolvedInput messages.
    inputs TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    lease_owner TEXT NOT NULL,
    lease_expires_at BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    error TEXT NOT NULL,
    log TEXT NOT NULL,
    outputs TEXT NOT NULL,
    traceparent TEXT NOT NULL,
    UNIQUE (instrument, data_level, descriptor, start_date, repointing, input_hash, campaign_id),
    UNIQUE (instrument, data_level, descriptor, start_date, repointing, version)
);

CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, not_before, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_instrument ON jobs (instrument, state);

-- How far each event consumer has read the indexer's log.
CREATE TABLE IF NOT EXISTS consumer_cursors (
    consumer TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- Reprocessing campaigns and what they planned.
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    instrument TEXT NOT NULL,
    data_level TEXT NOT NULL,
    descriptor TEXT NOT NULL,
    planned_runs BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Trigger evaluations a peer refused permanently (an invalid request, an unknown product, a job
-- that cannot be created), kept with the reason so nothing is dropped silently while the
-- instrument's queue moves on. An event replayed after a restart records the same refusal once.
CREATE TABLE IF NOT EXISTS dead_evaluations (
    id TEXT PRIMARY KEY,
    instrument TEXT NOT NULL,
    data_level TEXT NOT NULL,
    descriptor TEXT NOT NULL,
    start_date TEXT NOT NULL,
    repointing BIGINT NOT NULL,
    event_seq BIGINT NOT NULL,
    campaign_id TEXT NOT NULL,
    step TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    UNIQUE (event_seq, campaign_id, instrument, data_level, descriptor, start_date, repointing, step)
);

CREATE INDEX IF NOT EXISTS dead_evaluations_by_instrument ON dead_evaluations (instrument, recorded_at);

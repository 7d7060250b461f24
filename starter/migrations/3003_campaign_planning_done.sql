-- When the last candidate a campaign planned was evaluated (milliseconds); 0 while planning is
-- still under way. Planned runs live only on in-memory queues, so on start the runs of every
-- campaign without it are planned again (job deduplication makes that harmless).
ALTER TABLE campaigns ADD COLUMN planning_done BIGINT NOT NULL DEFAULT 0;

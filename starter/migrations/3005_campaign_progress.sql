-- Campaigns are planned a chunk of days at a time: the last day (YYYYMMDD) whose runs have all
-- been evaluated, '' before the first chunk is. A restart goes on from the day after.
ALTER TABLE campaigns ADD COLUMN planned_through TEXT NOT NULL DEFAULT '';

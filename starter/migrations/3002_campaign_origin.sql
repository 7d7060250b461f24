-- What started a campaign: an operator's request or a configured schedule. A scheduled run's
-- campaign id names the schedule and the firing time, so a run fires at most once.
ALTER TABLE campaigns ADD COLUMN origin TEXT NOT NULL DEFAULT 'request';

-- The claim takes the oldest queued job that may run: with (state, created_at, id) it walks the
-- queued jobs in that order and stops at the first that may, instead of reading and sorting every
-- queued job (and counting its instrument's running jobs) on each claim. With 25,000 jobs queued
-- that sort held a saturated trickle to 39 jobs/s. The other state queries use the state prefix.
DROP INDEX IF EXISTS jobs_by_state;
CREATE INDEX IF NOT EXISTS jobs_queue_order ON jobs (state, created_at, id);

-- The two indexes the worker's scans use hold only the rows those scans look for: open runs, active jobs. A send
-- is recorded as a done job with an ended run (or one already prepared, which leaves the index when it ends), so
-- it no longer dirties a page of each index for every key in a group commit (docs/service.md, "Benchmark").
-- A query meant to use one of these indexes states its condition word for word: SQLite does not infer
-- `state IN ('pending', ...)` from `state = 'pending'`.
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (key_id, state, next_run_at) WHERE state = 'active';
DROP INDEX runs_open;
CREATE INDEX runs_open ON runs (key_id, state, slot) WHERE state IN ('pending', 'prepared', 'submitted');

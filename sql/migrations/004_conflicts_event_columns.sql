-- reads: conflicts
-- makes: conflicts.event_seq and logged_at, from which the view events derives each conflict's
--        conflict_detected event; for warehouses created before (their runs' conflict events
--        stay stored in logged_events, and these columns NULL)
ALTER TABLE conflicts ADD COLUMN IF NOT EXISTS event_seq BIGINT;
ALTER TABLE conflicts ADD COLUMN IF NOT EXISTS logged_at TIMESTAMP;

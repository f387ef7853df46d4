-- reads: events
-- makes: a run's audit trail as the lines of its JSONL file, in order (parameters: run_id)
SELECT payload FROM events WHERE run_id = ? ORDER BY seq;

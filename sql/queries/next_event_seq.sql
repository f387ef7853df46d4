-- reads: events
-- makes: the seq a run's next audit event takes: one past its last, or 0 (parameters: run_id)
SELECT coalesce(max(seq) + 1, 0)
FROM events
WHERE run_id = ?;

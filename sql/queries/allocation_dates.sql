-- reads: allocation_targets
-- makes: a run's allocations, one row per sleeve per allocation date: bar, ts, strategy_id,
--        policy, share_before, target, statistic (parameters: run_id)
SELECT bar, ts, strategy_id, policy, share_before, target, statistic
FROM allocation_targets
WHERE run_id = ?
ORDER BY bar, strategy_id;

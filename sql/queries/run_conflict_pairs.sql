-- reads: conflict_pairs
-- makes: a run's rows of the conflict_pairs view, the pairs that met most first
--        (parameters: run_id)
SELECT strategy_a, strategy_b, conflicts, opposing, a_stood_alone, b_stood_alone, both_cancelled
FROM conflict_pairs
WHERE run_id = ?
ORDER BY conflicts DESC, strategy_a, strategy_b;

-- reads: grid_pbo_splits, grid_results
-- makes: the trials that were a CSCV split's in-sample best, most often first: how many splits
--        chose each, its parameters, the mean of its in-sample and out-of-sample Sharpe ratios
--        and out-of-sample rank over those splits, and how many of them had a logit <= 0
--        (parameters: run_id)
SELECT s.strategy_id, s.combination, r.params, count(*) AS splits,
       avg(s.in_sample_sharpe_ratio) AS in_sample_sharpe_ratio,
       avg(s.out_of_sample_sharpe_ratio) AS out_of_sample_sharpe_ratio,
       avg(s.out_of_sample_rank) AS out_of_sample_rank,
       count(*) FILTER (WHERE s.logit <= 0) AS overfit_splits
FROM grid_pbo_splits AS s
LEFT JOIN grid_results AS r
    ON r.run_id = s.run_id AND r.strategy_id = s.strategy_id AND r.combination = s.combination
WHERE s.run_id = ?
GROUP BY s.strategy_id, s.combination, r.params
ORDER BY splits DESC, s.strategy_id, s.combination;

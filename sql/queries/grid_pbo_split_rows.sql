-- reads: grid_pbo_splits
-- makes: a grid search's CSCV splits, in order: each split's in-sample best trial, its in-sample
--        and out-of-sample Sharpe ratios, out-of-sample rank and logit (parameters: run_id)
SELECT split, strategy_id, combination, in_sample_sharpe_ratio, out_of_sample_sharpe_ratio,
       out_of_sample_rank, logit
FROM grid_pbo_splits
WHERE run_id = ?
ORDER BY split;

-- reads: grid_runs, grid_results
-- makes: the research-validation columns of grid_runs (study, min_trades, pbo_blocks, trials,
--        deflated_sharpe_ratio, probabilistic_sharpe_ratio, pbo) and the trial columns of
--        grid_results (return_count, mean_return, stdev_return, skewness, kurtosis,
--        probabilistic_sharpe_ratio, closed_trade_count), for warehouses created before trials
--        existed (their searches' values stay NULL and they belong to no study)
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS study VARCHAR;
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS min_trades INTEGER;
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS pbo_blocks INTEGER;
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS trials BIGINT;
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS deflated_sharpe_ratio DOUBLE;
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS probabilistic_sharpe_ratio DOUBLE;
ALTER TABLE grid_runs ADD COLUMN IF NOT EXISTS pbo DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS return_count BIGINT;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS mean_return DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS stdev_return DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS skewness DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS kurtosis DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS probabilistic_sharpe_ratio DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS closed_trade_count BIGINT;

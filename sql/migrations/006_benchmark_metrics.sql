-- reads: runs, metrics, grid_results
-- makes: runs.risk_free_rate and the benchmark metrics (alpha, beta, tracking_error,
--        information_ratio) of metrics and grid_results, for warehouses created before
--        benchmarks existed (their runs' values stay NULL: no benchmark, a risk-free rate of 0)
ALTER TABLE runs ADD COLUMN IF NOT EXISTS risk_free_rate DOUBLE;
ALTER TABLE metrics ADD COLUMN IF NOT EXISTS alpha DOUBLE;
ALTER TABLE metrics ADD COLUMN IF NOT EXISTS beta DOUBLE;
ALTER TABLE metrics ADD COLUMN IF NOT EXISTS tracking_error DOUBLE;
ALTER TABLE metrics ADD COLUMN IF NOT EXISTS information_ratio DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS alpha DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS beta DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS tracking_error DOUBLE;
ALTER TABLE grid_results ADD COLUMN IF NOT EXISTS information_ratio DOUBLE;

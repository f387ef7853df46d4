-- reads: metrics, run_strategies
-- makes: strategy_metrics, the performance of each strategy (sleeve) of every run
CREATE OR REPLACE VIEW strategy_metrics AS
SELECT m.run_id, m.series AS strategy_id, s.weight,
       m.* EXCLUDE (run_id, series)
FROM metrics m
JOIN run_strategies s ON s.run_id = m.run_id AND s.strategy_id = m.series;

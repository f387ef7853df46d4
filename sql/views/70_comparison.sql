-- reads: strategy_metrics, portfolio_metrics, run_strategies, runs
-- makes: comparison, the side-by-side table of a run: one row per strategy in list order,
--        then the portfolio; contribution = (final - starting sleeve equity) / portfolio capital,
--        so the strategies' contributions add up to the portfolio's total return; then alpha,
--        beta, tracking_error and information_ratio against the run's benchmark (NULL without one)
CREATE OR REPLACE VIEW comparison AS
SELECT m.run_id, m.strategy_id, s.position, m.weight::DOUBLE AS weight,
       m.total_return, m.cagr, m.sharpe_ratio, m.sortino_ratio, m.max_drawdown, m.win_rate,
       m.trade_count, (m.final_equity - s.initial_capital::DOUBLE) / r.initial_capital::DOUBLE AS contribution,
       m.alpha, m.beta, m.tracking_error, m.information_ratio
FROM strategy_metrics m
JOIN run_strategies s ON s.run_id = m.run_id AND s.strategy_id = m.strategy_id
JOIN runs r ON r.run_id = m.run_id
UNION ALL
SELECT p.run_id, 'portfolio', NULL,
       (r.initial_capital - r.unallocated_capital)::DOUBLE / r.initial_capital::DOUBLE,
       p.total_return, p.cagr, p.sharpe_ratio, p.sortino_ratio, p.max_drawdown, p.win_rate,
       p.trade_count, p.total_return, p.alpha, p.beta, p.tracking_error, p.information_ratio
FROM portfolio_metrics p
JOIN runs r ON r.run_id = p.run_id;

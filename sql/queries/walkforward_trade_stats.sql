-- reads: walkforward_folds, trades
-- makes: per strategy of a walk-forward, its test runs' round trips together: trades, closed,
--        winning closed, gross profit and gross loss (DOUBLE) (parameters: run_id)
SELECT f.strategy_id,
       count(t.run_id) AS trades,
       count(*) FILTER (WHERE t.status = 'closed') AS closed,
       count(*) FILTER (WHERE t.status = 'closed' AND t.pnl > 0) AS wins,
       coalesce(sum(t.pnl) FILTER (WHERE t.status = 'closed' AND t.pnl > 0), 0)::DOUBLE AS gross_profit,
       coalesce(-sum(t.pnl) FILTER (WHERE t.status = 'closed' AND t.pnl < 0), 0)::DOUBLE AS gross_loss
FROM walkforward_folds f
LEFT JOIN trades t ON t.run_id = f.test_run_id AND t.strategy_id = f.strategy_id
WHERE f.run_id = ?
GROUP BY f.strategy_id;

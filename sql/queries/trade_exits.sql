-- reads: trades
-- makes: how a run's round trips ended, per strategy and exit type (signal, stop_loss,
--        take_profit, trailing_stop, rebalance, open): trades, winning closed trades and P&L
--        (DOUBLE, open trades at their last mark) (parameters: run_id)
SELECT strategy_id,
       exit_type,
       count(*) AS trades,
       count(*) FILTER (WHERE status = 'closed' AND pnl > 0) AS wins,
       sum(pnl)::DOUBLE AS pnl
FROM trades
WHERE run_id = ?
GROUP BY strategy_id, exit_type
ORDER BY strategy_id, exit_type;

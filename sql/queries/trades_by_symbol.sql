-- reads: trades
-- makes: a run's round trips summed per symbol over every sleeve: trades, closed trades, winning
--        closed trades, P&L (DOUBLE, open trades at their last mark) and the average bars held,
--        the largest P&L first (parameters: run_id)
SELECT symbol,
       count(*) AS trades,
       count(*) FILTER (WHERE status = 'closed') AS closed,
       count(*) FILTER (WHERE status = 'closed' AND pnl > 0) AS wins,
       sum(pnl)::DOUBLE AS pnl,
       avg(bars_held)::DOUBLE AS average_bars
FROM trades
WHERE run_id = ?
GROUP BY symbol
ORDER BY pnl DESC, symbol;

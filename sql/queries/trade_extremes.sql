-- reads: trades
-- makes: a run's best and worst round trips by P&L (open ones at their last mark): at most $most
--        winners (side 'best', largest P&L first) and $most losers (side 'worst', largest loss
--        first), with strategy, symbol, direction, status, entry and exit time, bars held, return,
--        P&L (DOUBLE) and how the trade ended (exit_type) (parameters: run_id, most)
WITH ranked AS (
    SELECT *, row_number() OVER (ORDER BY pnl DESC, entry_bar, strategy_id, symbol) AS from_top,
              row_number() OVER (ORDER BY pnl ASC, entry_bar, strategy_id, symbol) AS from_bottom
    FROM trades
    WHERE run_id = $run_id
)
SELECT CASE WHEN pnl > 0 THEN 'best' ELSE 'worst' END AS side,
       strategy_id, symbol, direction, status, entry_ts, exit_ts, bars_held, return, pnl::DOUBLE AS pnl,
       exit_type
FROM ranked
WHERE (pnl > 0 AND from_top <= $most) OR (pnl < 0 AND from_bottom <= $most)
ORDER BY side, abs(pnl) DESC;

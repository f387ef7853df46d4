-- reads: trades
-- makes: per strategy of a run, how long its round trips were held in bars (open ones to the
--        last bar): trades, median, average and longest, and the median of winning and of losing
--        closed trades (parameters: run_id)
SELECT strategy_id,
       count(*) AS trades,
       median(bars_held)::DOUBLE AS median_bars,
       avg(bars_held)::DOUBLE AS average_bars,
       max(bars_held) AS longest_bars,
       median(bars_held) FILTER (WHERE status = 'closed' AND pnl > 0)::DOUBLE AS median_winner_bars,
       median(bars_held) FILTER (WHERE status = 'closed' AND pnl < 0)::DOUBLE AS median_loser_bars
FROM trades
WHERE run_id = ?
GROUP BY strategy_id;

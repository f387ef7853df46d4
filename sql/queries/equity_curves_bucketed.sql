-- reads: drawdowns
-- makes: a run's equity curves and drawdowns for charts: per series and bucket of $step bars,
--        the bucket's last bar (ts, equity as DOUBLE) and its deepest drawdown
--        (parameters: run_id, step)
SELECT series, max(ts) AS ts, arg_max(equity, bar_index)::DOUBLE AS equity, min(drawdown) AS drawdown
FROM drawdowns
WHERE run_id = $run_id
GROUP BY series, bar_index // $step
ORDER BY series, ts;

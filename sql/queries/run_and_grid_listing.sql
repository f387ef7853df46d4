-- reads: runs, grid_runs
-- makes: the runs `sqlorch runs` lists, newest first: backtests, grid searches (kind grid) and
--        combination searches (kind combination),
--        with the columns of run_listing.sql (parameters: limit)
SELECT run_id, status, kind, started_at, round(duration_seconds, 2) AS seconds,
       strategy_count AS strategies, symbol_count AS symbols, bars_processed AS bars, pid, hostname, error
FROM runs
UNION ALL
SELECT run_id, status, coalesce(kind, 'grid'), started_at, round(duration_seconds, 2), strategy_count,
       symbol_count, bar_count, pid, hostname, error
FROM grid_runs
ORDER BY started_at DESC, run_id DESC
LIMIT ?;

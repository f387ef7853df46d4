-- reads: runs
-- makes: the backtest runs `sqlorch runs` lists, newest first, for a warehouse without grid
--        tables (run_and_grid_listing.sql is the same list with grid searches) (parameters: limit)
SELECT run_id, status, kind, started_at, round(duration_seconds, 2) AS seconds,
       strategy_count AS strategies, symbol_count AS symbols, bars_processed AS bars, pid, hostname, error
FROM runs
ORDER BY started_at DESC, run_id DESC
LIMIT ?;

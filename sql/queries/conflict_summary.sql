-- reads: conflicts
-- makes: a run's conflicts per conflict mode, most first: how many, on how many symbols, the
--        orders cancelled, the quantity crossed, the commission saved, the first and last bar
--        (parameters: run_id)
SELECT mode, count(*) AS conflicts, count(DISTINCT symbol) AS symbols,
       sum(len(strategies) - len(standing)) AS cancelled_orders,
       sum(crossed_quantity)::DOUBLE AS crossed_quantity,
       sum(commission_saved)::DOUBLE AS commission_saved,
       min(ts) AS first_ts, max(ts) AS last_ts
FROM conflicts
WHERE run_id = ?
GROUP BY mode
ORDER BY conflicts DESC, mode;

-- reads: allocations (through the macro ratio)
-- makes: how a run's sleeves used their capital, in one scan of allocations: per strategy and
--        bucket of $step bars (whole_run false), and per strategy over the whole run (whole_run
--        true): the last bar's ts, average_use and peak_use (used / allocated capital), and the
--        allocated, used and available capital at the last bar (parameters: run_id, step)
WITH a AS (
    SELECT strategy_id, bar_index, bar_index // $step AS bucket, ts,
           allocated_capital, used_capital, available_capital,
           ratio(used_capital::DOUBLE, allocated_capital::DOUBLE) AS share
    FROM allocations
    WHERE run_id = $run_id
)
SELECT strategy_id, grouping(bucket) = 1 AS whole_run,
       max(ts) AS ts,
       avg(share) AS average_use, max(share) AS peak_use,
       arg_max(allocated_capital, bar_index)::DOUBLE AS allocated_capital,
       arg_max(used_capital, bar_index)::DOUBLE AS used_capital,
       arg_max(available_capital, bar_index)::DOUBLE AS available_capital
FROM a
GROUP BY GROUPING SETS ((strategy_id, bucket), (strategy_id))
ORDER BY strategy_id, ts;

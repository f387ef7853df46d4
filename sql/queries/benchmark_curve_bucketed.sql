-- reads: benchmarks, runs
-- makes: a run's benchmark bought and held for charts: per bucket of $step bars, the bucket's
--        last bar (ts) and the value of the run's initial capital put into the benchmark at its
--        first close on the clock (DOUBLE), with its symbol; no rows without a benchmark, none
--        for bars before its first close (parameters: run_id, step)
WITH held AS (
    SELECT symbol, bar_index, ts,
           r.initial_capital::DOUBLE * close::DOUBLE
               / first_value(close::DOUBLE IGNORE NULLS) OVER (ORDER BY bar_index
                                                                ROWS BETWEEN UNBOUNDED PRECEDING
                                                                AND UNBOUNDED FOLLOWING) AS equity
    FROM benchmarks b
    JOIN runs r USING (run_id)
    WHERE b.run_id = $run_id AND b.bar_index < r.bars_processed
)
SELECT any_value(symbol) AS symbol, max(ts) AS ts, arg_max(equity, bar_index) AS equity
FROM held
WHERE equity IS NOT NULL
GROUP BY bar_index // $step
ORDER BY ts;

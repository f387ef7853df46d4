-- reads: equity_curves
-- makes: daily_returns, per series (each strategy_id, and 'portfolio') and calendar day: the
--        equity at the day's last bar and its return on the previous day's, from the second day
--        on. Intraday bars are resampled to daily; for daily bars ret equals `returns.ret`.
CREATE OR REPLACE VIEW daily_returns AS
WITH days AS (
    SELECT run_id, series, ts::DATE AS day,
           max(bar_index) AS bar_index,
           arg_max(equity, bar_index) AS equity
    FROM equity_curves
    GROUP BY run_id, series, ts::DATE
), chained AS (
    SELECT *,
           lag(equity) OVER w AS previous_equity,
           row_number() OVER w AS day_number
    FROM days
    WINDOW w AS (PARTITION BY run_id, series ORDER BY day)
)
SELECT run_id, series, day, bar_index, equity,
       ratio(equity::DOUBLE, previous_equity::DOUBLE) - 1 AS ret
FROM chained
WHERE day_number > 1;

-- reads: combination_curves
-- makes: each line-up strategy's daily returns in combination search $1 (equity at each calendar
--        day's last bar against the previous day's, as the view daily_returns has them for runs),
--        strategies in line-up order and each day by day: strategy_id, position, day, ret
WITH days AS (
    SELECT strategy_id, position, ts::DATE AS day, arg_max(equity, bar_index) AS equity
    FROM combination_curves
    WHERE run_id = $1
    GROUP BY strategy_id, position, ts::DATE
), chained AS (
    SELECT *, lag(equity) OVER (PARTITION BY strategy_id ORDER BY day) AS previous_equity,
           row_number() OVER (PARTITION BY strategy_id ORDER BY day) AS day_number
    FROM days
)
SELECT strategy_id, position, day, ratio(equity::DOUBLE, previous_equity::DOUBLE) - 1 AS ret
FROM chained
WHERE day_number > 1
ORDER BY position, day;

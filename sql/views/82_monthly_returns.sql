-- reads: equity_curves
-- makes: monthly_returns, per series and calendar month: the equity at the month's last bar and
--        its return on the previous month's (on the starting capital for the first month), so
--        the months compound to the series' total_return
CREATE OR REPLACE VIEW monthly_returns AS
WITH months AS (
    SELECT run_id, series, date_trunc('month', ts)::DATE AS month,
           arg_max(equity, bar_index) AS equity,
           any_value(initial_capital) AS initial_capital
    FROM equity_curves
    GROUP BY run_id, series, date_trunc('month', ts)::DATE
)
SELECT run_id, series, month, year(month) AS year, month(month) AS month_of_year, equity,
       ratio(equity::DOUBLE, coalesce(lag(equity) OVER (
           PARTITION BY run_id, series ORDER BY month), initial_capital)::DOUBLE) - 1 AS ret
FROM months;

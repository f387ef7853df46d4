-- reads: monthly_returns
-- makes: annual_returns, per series and calendar year: the year's monthly returns compounded
--        (= the year-end equity on the previous year-end's, or on the starting capital)
CREATE OR REPLACE VIEW annual_returns AS
SELECT run_id, series, year, count(*) AS months,
       arg_max(equity, month) AS equity,
       product(1 + ret) - 1 AS ret
FROM monthly_returns
GROUP BY run_id, series, year;

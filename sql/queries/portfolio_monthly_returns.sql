-- reads: monthly_returns
-- makes: the portfolio's monthly returns of a run (year, month_of_year, ret) with year_ret, the
--        year's months compounded as the annual_returns view does (one scan instead of two)
--        (parameters: run_id)
SELECT year, month_of_year, ret, product(1 + ret) OVER (PARTITION BY year) - 1 AS year_ret
FROM monthly_returns
WHERE run_id = ? AND series = 'portfolio'
ORDER BY month;

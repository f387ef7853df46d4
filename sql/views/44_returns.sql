-- reads: equity_curves
-- makes: returns, per series the per-bar return r_t = E_t / E_(t-1) - 1, from the second bar on
CREATE OR REPLACE VIEW returns AS
SELECT run_id, series, bar_index, ts, ratio(equity::DOUBLE, previous::DOUBLE) - 1 AS ret
FROM (
    SELECT run_id, series, bar_index, ts, equity,
           lag(equity) OVER (PARTITION BY run_id, series ORDER BY bar_index) AS previous
    FROM equity_curves
)
WHERE bar_index > 0;

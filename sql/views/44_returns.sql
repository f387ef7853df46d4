-- reads: equity_curves
-- makes: returns, per series the per-bar return r_t = E_t / E_(t-1) - 1, from the second bar on
CREATE OR REPLACE VIEW returns AS
SELECT run_id, series, bar_index, ts, ret
FROM (
    SELECT run_id, series, bar_index, ts,
           ratio(equity::DOUBLE, lag(equity) OVER (
               PARTITION BY run_id, series ORDER BY bar_index)::DOUBLE) - 1 AS ret
    FROM equity_curves
)
WHERE bar_index > 0;

-- reads: equity_curves
-- makes: drawdowns, per series and bar: running peak equity and drawdown (equity / peak - 1)
CREATE OR REPLACE VIEW drawdowns AS
SELECT run_id, series, bar_index, ts, equity, peak,
       ratio(equity::DOUBLE, peak::DOUBLE) - 1 AS drawdown
FROM (
    SELECT run_id, series, bar_index, ts, equity,
           max(equity) OVER (PARTITION BY run_id, series ORDER BY bar_index
                             ROWS UNBOUNDED PRECEDING) AS peak
    FROM equity_curves
);

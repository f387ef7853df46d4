-- reads: daily_returns, run_strategies
-- makes: strategy_correlations, the Pearson correlation of two strategies' daily returns over
--        the days both have, for every ordered pair of a run's strategies (diagonal included, so
--        it pivots into the matrix; position_a < position_b lists each pair once). correlation
--        is NULL when undefined (a flat series, fewer than two days); flag (NULL on the diagonal) is
--        correlation_flag(correlation): 'diversifying', 'high' or NULL (thresholds in that macro).
CREATE OR REPLACE VIEW strategy_correlations AS
WITH sleeve_returns AS (
    SELECT d.run_id, d.series AS strategy_id, s.position, d.day, d.ret
    FROM daily_returns d
    JOIN run_strategies s ON s.run_id = d.run_id AND s.strategy_id = d.series
), pairs AS (
    SELECT a.run_id, a.strategy_id AS strategy_a, b.strategy_id AS strategy_b,
           a.position AS position_a, b.position AS position_b,
           count(*) AS days,
           corr(a.ret, b.ret) AS rho
    FROM sleeve_returns a
    JOIN sleeve_returns b ON b.run_id = a.run_id AND b.day = a.day
    GROUP BY a.run_id, a.strategy_id, b.strategy_id, a.position, b.position
), defined AS (
    SELECT *, CASE WHEN NOT isnan(rho) THEN rho END AS correlation  -- corr() gives NaN when undefined
    FROM pairs
)
SELECT run_id, strategy_a, strategy_b, position_a, position_b, days, correlation,
       CASE WHEN position_a <> position_b THEN correlation_flag(correlation) END AS flag
FROM defined;

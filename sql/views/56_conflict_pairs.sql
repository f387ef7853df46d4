-- reads: conflict_orders, run_strategies
-- makes: conflict_pairs, per run and pair of strategies (in list order): how often their orders
--        met on a symbol and bar, how often in opposite directions, and whose order stood
CREATE OR REPLACE VIEW conflict_pairs AS
WITH members AS (
    SELECT o.*, s.position
    FROM conflict_orders o
    JOIN run_strategies s ON s.run_id = o.run_id AND s.strategy_id = o.strategy_id
)
SELECT a.run_id, a.strategy_id AS strategy_a, b.strategy_id AS strategy_b,
       count(*) AS conflicts,
       count(*) FILTER (WHERE sign(a.quantity) <> sign(b.quantity)) AS opposing,
       count(*) FILTER (WHERE a.stood AND NOT b.stood) AS a_stood_alone,
       count(*) FILTER (WHERE b.stood AND NOT a.stood) AS b_stood_alone,
       count(*) FILTER (WHERE NOT a.stood AND NOT b.stood) AS both_cancelled
FROM members a
JOIN members b ON b.run_id = a.run_id AND b.conflict_id = a.conflict_id AND b.position > a.position
GROUP BY a.run_id, a.strategy_id, b.strategy_id;

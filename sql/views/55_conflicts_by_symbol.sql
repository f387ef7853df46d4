-- reads: conflicts
-- makes: conflicts_by_symbol, per run and symbol: how many conflicts, how many were netted,
--        the quantity crossed internally and the commission that saved
CREATE OR REPLACE VIEW conflicts_by_symbol AS
SELECT run_id, symbol,
       count(*) AS conflicts,
       count(*) FILTER (WHERE crossed_quantity > 0) AS netted,
       sum(crossed_quantity) AS crossed_quantity,
       sum(commission_saved) AS commission_saved,
       min(ts) AS first_ts,
       max(ts) AS last_ts
FROM conflicts
GROUP BY run_id, symbol;

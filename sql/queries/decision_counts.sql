-- reads: decisions
-- makes: per strategy and kind of decision of a run: how many orders, and the quantity they
--        asked for but did not fill (blocked_quantity, DOUBLE) (parameters: run_id)
SELECT strategy_id, kind, count(*) AS orders,
       sum(abs(requested_quantity) - abs(coalesce(filled_quantity, 0)))::DOUBLE AS blocked_quantity
FROM decisions
WHERE run_id = ?
GROUP BY strategy_id, kind;

-- reads: fills
-- makes: one strategy's fills in a run, in the order they were booked: ts, strategy_id, symbol,
--        quantity (signed), price, commission, realized_pnl, order_id, order_type (parameters: run_id,
--        strategy_id)
SELECT ts, strategy_id, symbol, quantity, price, commission, realized_pnl, order_id, order_type
FROM fills
WHERE run_id = ? AND strategy_id = ?
ORDER BY fill_id;

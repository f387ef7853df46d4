-- reads: fills
-- makes: every sleeve's fills in a run, in the order they were booked, with the columns of
--        strategy_fills.sql (parameters: run_id)
SELECT ts, strategy_id, symbol, quantity, price, commission, realized_pnl, order_id, order_type
FROM fills
WHERE run_id = ?
ORDER BY fill_id;

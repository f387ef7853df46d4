-- reads: fills, decisions, runs, marks (of run $run_id)
-- makes: the rows of trades for run $run_id, one per round trip: from a position leaving zero
--        until it is zero again. pnl includes every commission of the trade; an open trade is
--        valued at the last mark. exit_type is how it ended, from the fill that closed it: its
--        order_type if a protective order (stop_loss, take_profit, trailing_stop), 'rebalance'
--        if a rebalance placed its order (decisions.rebalance_id), else 'signal' (a strategy's
--        order: an exit, a sell, a smaller target); 'open' while open. (Windows and groups need
--        no run_id: one run's fills.)
INSERT INTO trades
WITH walk AS (
    SELECT *, sum(quantity) OVER (
        PARTITION BY strategy_id, symbol ORDER BY fill_id ROWS UNBOUNDED PRECEDING) AS position_after
    FROM fills
    WHERE run_id = $run_id
), numbered AS (
    SELECT *, sum(CASE WHEN position_after = quantity THEN 1 ELSE 0 END) OVER (
        PARTITION BY strategy_id, symbol ORDER BY fill_id ROWS UNBOUNDED PRECEDING) AS trade_no
    FROM walk
), round_trips AS (
    SELECT run_id, strategy_id, symbol, trade_no,
           arg_min(sign(quantity), fill_id) AS direction,
           min(bar_index) AS entry_bar,
           min(ts) AS entry_ts,
           max(bar_index) FILTER (WHERE position_after = 0) AS exit_bar,
           max(ts) FILTER (WHERE position_after = 0) AS exit_ts,
           arg_max(position_after, fill_id) AS open_quantity,
           arg_max(order_type, fill_id) FILTER (WHERE position_after = 0) AS exit_order_type,
           arg_max(order_id, fill_id) FILTER (WHERE position_after = 0) AS exit_order_id,
           max(abs(position_after)) AS max_quantity,
           count(*) AS fill_count,
           sum(-notional(quantity, price)) AS cash_flow,
           sum(commission) AS commission,
           sum(abs(notional(quantity, price))) FILTER (WHERE position_after * sign(quantity) > 0) AS entry_value,
           sum(abs(quantity)) FILTER (WHERE position_after * sign(quantity) > 0) AS entry_quantity,
           sum(abs(notional(quantity, price))) FILTER (WHERE position_after * sign(quantity) <= 0) AS exit_value,
           sum(abs(quantity)) FILTER (WHERE position_after * sign(quantity) <= 0) AS exit_quantity
    FROM numbered
    GROUP BY run_id, strategy_id, symbol, trade_no
)
SELECT t.run_id, t.strategy_id, t.symbol, t.trade_no::BIGINT,
       CASE WHEN t.direction > 0 THEN 'long' ELSE 'short' END AS direction,
       CASE WHEN t.exit_bar IS NULL THEN 'open' ELSE 'closed' END AS status,
       t.entry_ts, t.exit_ts, t.entry_bar, t.exit_bar,
       coalesce(t.exit_bar, r.bars_processed - 1) - t.entry_bar AS bars_held,
       t.max_quantity AS quantity,
       t.entry_value / t.entry_quantity AS entry_price,
       t.exit_value / t.exit_quantity AS exit_price,
       t.commission,
       t.cash_flow - t.commission
           + CASE WHEN t.exit_bar IS NULL THEN t.open_quantity::DECIMAL(38, 6) * m.close ELSE 0 END AS pnl,
       ((t.cash_flow - t.commission
           + CASE WHEN t.exit_bar IS NULL THEN t.open_quantity::DECIMAL(38, 6) * m.close ELSE 0 END)
        / t.entry_value)::DOUBLE AS return,
       t.fill_count,
       CASE WHEN t.exit_bar IS NULL THEN 'open'
            WHEN t.exit_order_type IN ('stop_loss', 'take_profit', 'trailing_stop') THEN t.exit_order_type
            WHEN EXISTS (SELECT 1 FROM decisions d WHERE d.run_id = t.run_id AND d.order_id = t.exit_order_id
                                                     AND d.rebalance_id IS NOT NULL) THEN 'rebalance'
            ELSE 'signal' END AS exit_type
FROM round_trips t
JOIN runs r ON r.run_id = t.run_id
LEFT JOIN marks m ON m.dataset_id = r.dataset_id AND m.symbol = t.symbol
                 AND m.bar_index = r.bars_processed - 1 AND t.exit_bar IS NULL;

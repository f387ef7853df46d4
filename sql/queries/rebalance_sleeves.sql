-- reads: rebalances
-- makes: per sleeve of a run that was rebalanced: how often, the net cash moved and the net
--        position trade (parameters: run_id)
SELECT strategy_id, count(*) AS rebalances, sum(cash_moved)::DOUBLE AS net_cash,
       sum(position_trade)::DOUBLE AS net_position_trade
FROM rebalances
WHERE run_id = ?
GROUP BY strategy_id;

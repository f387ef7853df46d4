-- reads: rebalances
-- makes: one row per rebalance of a run: its first bar, how many sleeves, the largest drift
--        from a target share, the cash moved into sleeves and the positions traded
--        (parameters: run_id)
SELECT rebalance_id, min(ts) AS ts, count(*) AS sleeves,
       max(abs(share_before - target_share)) AS max_drift,
       sum(greatest(cash_moved, 0))::DOUBLE AS cash_moved,
       sum(abs(position_trade))::DOUBLE AS positions_traded
FROM rebalances
WHERE run_id = ?
GROUP BY rebalance_id
ORDER BY rebalance_id;

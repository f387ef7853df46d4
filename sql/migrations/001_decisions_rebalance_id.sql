-- reads: decisions
-- makes: decisions.rebalance_id, the rebalance that placed an order (NULL for strategy orders);
--        for warehouses created before rebalancing existed
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS rebalance_id BIGINT;

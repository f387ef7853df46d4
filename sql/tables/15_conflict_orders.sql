-- reads: nothing
-- makes: conflict_orders, the orders that met in each conflict: who asked for what, and whether
--        the order stood or was cancelled by the resolver
CREATE TABLE IF NOT EXISTS conflict_orders (
    run_id      VARCHAR,
    conflict_id BIGINT,
    strategy_id VARCHAR,
    order_id    BIGINT,
    quantity    DECIMAL(18, 6),     -- requested, signed
    stood       BOOLEAN
);

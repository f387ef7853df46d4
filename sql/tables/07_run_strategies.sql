-- reads: nothing
-- makes: run_strategies, each run's strategies in list order with weight and sleeve capital
CREATE TABLE IF NOT EXISTS run_strategies (
    run_id          VARCHAR,
    strategy_id     VARCHAR,
    position        INTEGER,
    class_name      VARCHAR,
    params          VARCHAR,        -- constructor parameters as JSON, when known
    weight          DECIMAL(18, 12),
    initial_capital DECIMAL(38, 6)
);

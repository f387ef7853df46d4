-- reads: nothing
-- makes: grid_results, one row per combination of a grid run: its strategy and parameters,
--        whether it completed or failed (and why), its rank by the run's metric within its
--        strategy (1 = best), and its metrics as for a standalone backtest of those parameters
CREATE TABLE IF NOT EXISTS grid_results (
    run_id        VARCHAR,
    strategy_id   VARCHAR,
    class_name    VARCHAR,
    combination   INTEGER,        -- 1, 2, ... in grid order within the strategy
    params        VARCHAR,        -- JSON object, e.g. {"fast":10,"slow":50}; see grid_parameters
    status        VARCHAR,        -- completed or failed
    error         VARCHAR,
    rank          INTEGER,        -- NULL if failed or the metric is undefined
    total_return  DOUBLE,
    cagr          DOUBLE,
    volatility    DOUBLE,
    sharpe_ratio  DOUBLE,
    sortino_ratio DOUBLE,
    max_drawdown  DOUBLE,
    calmar_ratio  DOUBLE,
    win_rate      DOUBLE,
    profit_factor DOUBLE,
    trade_count   BIGINT,
    exposure      DOUBLE,
    final_equity  DECIMAL(38, 6),
    -- against the run's benchmark (NULL without one), after final_equity: as migration 006 adds them
    alpha             DOUBLE,
    beta              DOUBLE,
    tracking_error    DOUBLE,
    information_ratio DOUBLE
);

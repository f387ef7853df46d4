-- reads: nothing
-- makes: grid_results, one row per combination of a grid run: its strategy and parameters,
--        whether it completed or failed (and why), its rank by the run's metric within its
--        strategy (1 = best), its metrics as for a standalone backtest of those parameters, and,
--        as a trial, its closed trades and the moments of its per-bar returns
CREATE TABLE IF NOT EXISTS grid_results (
    run_id        VARCHAR,
    strategy_id   VARCHAR,
    class_name    VARCHAR,
    combination   INTEGER,        -- 1, 2, ... in grid order within the strategy
    params        VARCHAR,        -- JSON object, e.g. {"fast":10,"slow":50}; see grid_parameters
    status        VARCHAR,        -- completed or failed
    error         VARCHAR,
    rank          INTEGER,        -- NULL if failed, the metric is undefined, or fewer closed trades than min_trades
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
    information_ratio DOUBLE,
    -- a trial's (SPEC §9), after information_ratio: as migration 007 adds them
    return_count               BIGINT,  -- per-bar returns (bars - 1)
    mean_return                DOUBLE,
    stdev_return               DOUBLE,  -- ddof 1
    skewness                   DOUBLE,  -- m3 / m2^1.5 (population moments)
    kurtosis                   DOUBLE,  -- m4 / m2^2, not excess (3 for a normal distribution)
    probabilistic_sharpe_ratio DOUBLE,  -- PSR(0): probability that its true Sharpe ratio is above 0
    closed_trade_count         BIGINT   -- round trips closed (min_trades counts these)
);

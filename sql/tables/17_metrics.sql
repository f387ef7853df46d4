-- reads: nothing (filled by load/metrics.sql when a run is written)
-- makes: metrics, the performance of every series of a run (each strategy and 'portfolio'),
--        as computed by load/metrics.sql
CREATE TABLE IF NOT EXISTS metrics (
    run_id        VARCHAR,
    series        VARCHAR,
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
    final_equity  DOUBLE,
    -- against the run's benchmark (NULL without one), after final_equity: as migration 006 adds them
    alpha             DOUBLE,
    beta              DOUBLE,
    tracking_error    DOUBLE,
    information_ratio DOUBLE
);

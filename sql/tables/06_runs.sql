-- reads: nothing
-- makes: runs, one row per backtest; status running -> completed | failed | incomplete
CREATE TABLE IF NOT EXISTS runs (
    run_id              VARCHAR,
    kind                VARCHAR,        -- backtest (one strategy) or orchestrator
    status              VARCHAR,        -- running, completed, failed, incomplete (process died)
    started_at          TIMESTAMP,
    finished_at         TIMESTAMP,
    duration_seconds    DOUBLE,
    dataset_id          VARCHAR,
    initial_capital     DECIMAL(38, 6),
    unallocated_capital DECIMAL(38, 6),
    periods_per_year    INTEGER,
    bar_count           INTEGER,        -- bars on the clock
    bars_processed      INTEGER,        -- bars stepped; a failed run stops at (and includes) the bar
                                        -- that failed, whose opening fills stand
    strategy_count      INTEGER,
    symbol_count        INTEGER,
    config              VARCHAR,        -- the run's configuration as JSON
    error               VARCHAR,
    pid                 INTEGER,
    hostname            VARCHAR,
    sqlorch_version     VARCHAR,
    risk_free_rate      DOUBLE          -- annual; NULL (runs of earlier versions) counts as 0
);

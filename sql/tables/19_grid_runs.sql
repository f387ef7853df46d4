-- reads: nothing
-- makes: grid_runs, one row per parameter grid search: status (running, completed, failed),
--        the data and settings, how it ran, how many combinations ran, failed or were dropped
--        by a constraint, the best parameters of each strategy by the ranking metric, and how
--        much of the best is luck: its study, trials, deflated and probabilistic Sharpe ratios, PBO;
--        and its kind: a parameter grid search ('grid') or a combination search ('combination',
--        every subset of a line-up of strategies under each allocation policy)
CREATE TABLE IF NOT EXISTS grid_runs (
    run_id            VARCHAR,
    status            VARCHAR,        -- running, completed, failed (a run that stopped, not a combination)
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    duration_seconds  DOUBLE,
    dataset_id        VARCHAR,
    source            VARCHAR,        -- the configuration file, or python
    metric            VARCHAR,        -- the ranking metric (higher is better, except volatility)
    executor          VARCHAR,        -- local or ray
    workers           INTEGER,        -- processes (local) or cluster CPUs (ray)
    batches           INTEGER,
    strategy_count    INTEGER,
    combination_count INTEGER,        -- combinations run (after constraints)
    completed_count   INTEGER,
    failed_count      INTEGER,
    dropped_count     INTEGER,        -- combinations a constraint dropped
    initial_capital   DECIMAL(38, 6), -- every combination's capital
    periods_per_year  INTEGER,
    bar_count         INTEGER,
    symbol_count      INTEGER,
    grids             VARCHAR,        -- JSON: per strategy, its class, values per parameter, constraint
    best              VARCHAR,        -- JSON: per strategy, the best parameters
    config            VARCHAR,        -- the settings as JSON
    error             VARCHAR,
    pid               INTEGER,
    hostname          VARCHAR,
    sqlorch_version   VARCHAR,
    -- research validation (SPEC §9), after sqlorch_version: as migration 007 adds them
    study                      VARCHAR, -- the study whose trials it adds to; NULL: its own study
    min_trades                 INTEGER, -- combinations with fewer closed trades are not ranked
    pbo_blocks                 INTEGER, -- CSCV's blocks S
    trials                     BIGINT,  -- N: the study's completed trials when it finished, its own included
    deflated_sharpe_ratio      DOUBLE,  -- of the best trial, against N trials; NULL if undefined
    probabilistic_sharpe_ratio DOUBLE,  -- PSR(0) of the best trial
    pbo                        DOUBLE,  -- probability of backtest overfitting of its completed trials (CSCV)
    -- after pbo: as migration 010 adds it
    kind                       VARCHAR DEFAULT 'grid' -- grid, or combination (sqlorch combine)
);

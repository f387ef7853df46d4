-- reads: nothing
-- makes: grid_runs, one row per parameter grid search: status (running, completed, failed),
--        the data and settings, how it ran, how many combinations ran, failed or were dropped
--        by a constraint, and the best parameters of each strategy by the ranking metric
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
    sqlorch_version   VARCHAR
);

-- reads: nothing
-- makes: walkforward_runs, one row per walk-forward optimisation: status (running, completed,
--        failed), the spans, the ranking metric, how many folds, and the settings
CREATE TABLE IF NOT EXISTS walkforward_runs (
    run_id           VARCHAR,
    status           VARCHAR,   -- running, completed, failed
    started_at       TIMESTAMP,
    finished_at      TIMESTAMP,
    duration_seconds DOUBLE,
    source           VARCHAR,   -- the configuration file, or python
    metric           VARCHAR,   -- what chooses each fold's parameters on its train span
    train            VARCHAR,   -- the train span: 3y, 18m, 90d, 2w, or a number of bars
    test             VARCHAR,   -- the test span
    step             VARCHAR,   -- how far each fold moves on (the test span when not given)
    anchored         BOOLEAN,   -- every train span starts at the first bar
    fold_count       INTEGER,
    strategy_count   INTEGER,
    initial_capital  DECIMAL(38, 6), -- the first fold's capital
    periods_per_year INTEGER,        -- of the bars, for the stitched curves' metrics
    grids            VARCHAR,   -- JSON: per strategy, its class and values per parameter
    config           VARCHAR,   -- the settings as JSON
    error            VARCHAR,
    sqlorch_version  VARCHAR
);

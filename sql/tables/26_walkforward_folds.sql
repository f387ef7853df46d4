-- reads: nothing
-- makes: walkforward_folds, one row per fold and strategy of a walk-forward: its train and test
--        spans, the grid search on the train span (grid_runs) and the parameters it chose, the
--        runs of those on the train span and on the test span (runs), their in-sample and out-of-sample metric values
--        the search's deflated Sharpe ratio and PBO, and the test run's starting and final equity
--        (the previous fold's final equity)
CREATE TABLE IF NOT EXISTS walkforward_folds (
    run_id          VARCHAR,          -- walkforward_runs.run_id
    strategy_id     VARCHAR,
    fold            INTEGER,          -- 1, 2, ... in time order
    train_start     TIMESTAMP,
    train_end       TIMESTAMP,        -- inclusive: the train span's last bar
    test_start      TIMESTAMP,
    test_end        TIMESTAMP,        -- inclusive
    grid_run_id     VARCHAR,          -- the search on the train span
    train_run_id    VARCHAR,          -- the chosen parameters run on the train span: the in-sample curve
    test_run_id     VARCHAR,          -- the chosen parameters run on the test span (NULL: none chosen)
    params          VARCHAR,          -- JSON: the chosen parameters
    in_sample       DOUBLE,           -- the metric of the chosen combination on the train span
    out_of_sample   DOUBLE,           -- the same metric of its test run
    in_sample_cagr  DOUBLE,
    deflated_sharpe_ratio DOUBLE,     -- of the train span's search (grid_runs): how much of its best is luck
    pbo             DOUBLE,           -- its probability of backtest overfitting
    start_equity    DECIMAL(38, 6),
    final_equity    DECIMAL(38, 6)
);

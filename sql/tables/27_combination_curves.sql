-- reads: nothing
-- makes: combination_curves, one row per bar and strategy of a combination search's line-up: the
--        strategy's equity run alone with the search's whole capital (the search's one-member
--        subsets under `fixed`), from which the report correlates the members' daily returns
CREATE TABLE IF NOT EXISTS combination_curves (
    run_id      VARCHAR,        -- the combination search (grid_runs.run_id, kind 'combination')
    strategy_id VARCHAR,        -- as in grid_results.params ->> 'strategies'
    position    INTEGER,        -- 1, 2, ... in the line-up's order
    bar_index   INTEGER,
    ts          TIMESTAMP,
    equity      DECIMAL(38, 6)
);

-- reads: nothing
-- makes: grid_pbo_splits, one row per CSCV split of a grid run's probability of backtest
--        overfitting (SPEC §9): the trial with the best in-sample Sharpe ratio, its in-sample and
--        out-of-sample Sharpe ratios (annualised as sharpe_ratio), its out-of-sample rank among the
--        run's completed trials and the logit of that rank; the run's pbo is the share of logits <= 0
CREATE TABLE IF NOT EXISTS grid_pbo_splits (
    run_id                     VARCHAR,
    split                      INTEGER, -- 1 .. C(S, S/2), the in-sample blocks in lexicographic order
    strategy_id                VARCHAR, -- the in-sample best trial
    combination                INTEGER,
    in_sample_sharpe_ratio     DOUBLE,
    out_of_sample_sharpe_ratio DOUBLE,
    out_of_sample_rank         DOUBLE,  -- 1 = worst of N, ties averaged
    logit                      DOUBLE   -- ln(w / (1 - w)), w = rank / (N + 1)
);
